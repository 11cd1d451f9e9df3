/**
 * `semclip ask`: tile -> score -> select -> ask a VLM, with the chosen tiles, visual tokens
 * and time per stage. The VLM is any runner spec `@semclip/vlm-runner` knows, e.g.
 * `openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf`.
 */
import { defineCommand } from 'citty';
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { RelevanceScorer, Selection, VlmRunner } from '@semclip/core';
import { choiceArg, commonArgs, gridArgs, gridOptions, httpVlmArgs, httpVlmOptions, intArg, questionArg, selectArgs, selectOptionsFrom } from '../_args.js';
import { createProgress, fmtMs, fmtNumber, note, print, printJson, printTable, progressEnabled } from '../_output.js';
import { defaultScorerId } from '../_pipeline.js';
import { cliSignal } from '../_signal.js';
import { checkScorerId, dtypeArg, scoringRunnerConfig, vlmScorerArgs } from './select.js';

const MODES = ['baseline', 'semclip', 'all-tiles'] as const;

/** `"red|green|blue"` -> options; `undefined` stays `undefined`. */
export function parseOptionsArg(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const options = String(value)
    .split('|')
    .map((o) => o.trim());
  if (options.length < 2 || options.some((o) => o === '')) {
    throw new SemclipError('INVALID_ARGUMENT', `--options ${JSON.stringify(String(value))} is not a list of choices.`, {
      expected: 'two or more non-empty choices separated by "|", like "red|green|blue"',
      details: { flag: 'options', value: String(value) },
    });
  }
  return options;
}

function boxText(b: { x: number; y: number; width: number; height: number }): string {
  return `${b.x},${b.y} ${b.width}x${b.height}`;
}

export const askCommand = defineCommand({
  meta: {
    name: 'ask',
    description: 'Ask a vision-language model about an image, giving it the overview plus the sub-images most relevant to the question.',
  },
  args: {
    image: { type: 'positional', description: 'Image file', required: true },
    question: { type: 'positional', description: 'The question about the image (quote it)', required: true },
    options: { type: 'string', description: 'Multiple choice: the options separated by "|"; prints the chosen one', valueHint: 'A|B|C' },
    vlm: {
      type: 'string',
      description: 'The VLM: openai:<base-url>#<model> (vLLM, llama-server, Ollama /v1...) or local:<model-id> where registered. Default: $SEMCLIP_VLM',
      valueHint: 'SPEC',
    },
    mode: { type: 'string', description: 'baseline (overview only), semclip (overview + selected tiles) or all-tiles', default: 'semclip', valueHint: 'baseline|semclip|all-tiles' },
    instruction: { type: 'string', description: 'Answer instruction appended to the question, e.g. "Answer with a single word."', valueHint: 'TEXT' },
    'max-tokens': { type: 'string', description: 'Longest answer in tokens (default 256)', valueHint: 'N' },
    ...httpVlmArgs,
    ...gridArgs,
    ...selectArgs,
    ...vlmScorerArgs,
    device: { ...selectArgs.device, description: 'Where local models run (the local: VLM and model-backed scorers): cpu, cuda or auto (CUDA when installed, else CPU)' },
    'scorer-vlm': {
      type: 'string',
      description: 'With --scorer vlm-embed|vlm-yesno: the VLM that scores, if not the one that answers (e.g. local:<model-id> for vlm-embed with an openai: --vlm)',
      valueHint: 'SPEC',
    },
    ...commonArgs,
  },
  async run({ args }) {
    const question = questionArg(args.question);
    const options = parseOptionsArg(args.options);
    const mode = choiceArg('mode', args.mode ?? 'semclip', MODES) as (typeof MODES)[number];
    const http = httpVlmOptions(args);
    const { logprobs } = http;
    const { overlap, levels } = gridOptions(args);
    const selectOptions = selectOptionsFrom(args);
    const seed = intArg('seed', args.seed, Number.MIN_SAFE_INTEGER);
    const device = choiceArg('device', args.device, ['cpu', 'cuda', 'auto'] as const);
    const maxTokens = intArg('max-tokens', args['max-tokens'], 1, 65536);
    const dtype = await dtypeArg(args.dtype);
    const spec = args.vlm ?? process.env.SEMCLIP_VLM;
    if (!spec) {
      throw new SemclipError('INVALID_ARGUMENT', 'No VLM given.', {
        expected: '--vlm openai:<base-url>#<model>, e.g. --vlm openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf',
        hint: 'Pass --vlm or set SEMCLIP_VLM',
      });
    }

    const [{ tileImage }, { createScorer }, { select, defineSelectOptions }, vlmRunner] = await Promise.all([
      import('@semclip/tiling'),
      import('@semclip/scorers'),
      import('@semclip/selector'),
      import('@semclip/vlm-runner'),
    ]);
    // Everything the flags can get wrong fails before the image is read or the server is called.
    const runnerConfig = vlmRunner.parseRunnerSpec(spec);
    if (runnerConfig.kind !== 'openai') {
      const httpOnly = (['composite', 'timeout', 'retries', 'quality'] as const).filter((f) => args[f] !== undefined && args[f] !== false);
      if (args.logprobs !== undefined && args.logprobs !== 'auto') httpOnly.push('logprobs' as never);
      if (httpOnly.length > 0) {
        throw new SemclipError('INVALID_ARGUMENT', `--${httpOnly.join(', --')} only appl${httpOnly.length === 1 ? 'ies' : 'y'} to openai: runners, not ${runnerConfig.kind}:.`, {
          hint: `Drop --${httpOnly.join(', --')}`,
        });
      }
    }
    defineSelectOptions(selectOptions);
    const scorerId = mode === 'semclip' ? (args.scorer ?? (await defaultScorerId())) : undefined;
    const vlmScorer = scorerId ? (await checkScorerId(scorerId)).vlm : false;
    if (!vlmScorer && args['scorer-vlm'] !== undefined) {
      throw new SemclipError('INVALID_ARGUMENT', '--scorer-vlm only applies with --scorer vlm-embed or vlm-yesno (and --mode semclip).', { hint: 'Drop --scorer-vlm, or pick a VLM scorer' });
    }
    // The scoring VLM: --scorer-vlm, else the runner that answers.
    const scorerSpec = vlmScorer ? (args['scorer-vlm'] ?? spec) : undefined;
    const scorerConfig = scorerId && scorerSpec ? await scoringRunnerConfig(scorerId, scorerSpec, '--scorer-vlm') : undefined;
    const anyLocal = runnerConfig.kind === 'local' || scorerConfig?.kind === 'local';
    if (dtype !== undefined && !anyLocal) {
      throw new SemclipError('INVALID_ARGUMENT', `--dtype only applies to local: VLMs, not ${runnerConfig.kind}:.`, { hint: 'Drop --dtype' });
    }
    const localOverrides = { ...(device === undefined ? {} : { device }), ...(dtype === undefined ? {} : { dtype }), warn: note };

    const signal = cliSignal();
    const steps = mode === 'semclip' ? 4 : 2;
    const bar = createProgress('ask', steps, { enabled: progressEnabled(args) });
    let scorer: RelevanceScorer | undefined;
    let runner: VlmRunner | undefined;
    let scoringRunner: VlmRunner | undefined;
    const t0 = performance.now();
    try {
      const vlmInstance = await vlmRunner.createRunner(
        runnerConfig,
        runnerConfig.kind === 'openai'
          ? {
              ...http.overrides,
              onRetry: (info) => note(`VLM request failed (${info.reason}); retry ${info.attempt} in ${fmtMs(info.delayMs)}`),
            }
          : localOverrides,
      );
      runner = vlmInstance;

      bar.update(0, 'reading image');
      const tiled = await tileImage(args.image, { grid: args.grid, overlap, levels });
      // Force the decode so a damaged file fails here, before the VLM is called.
      await tiled.overview({ width: 32, height: 32 });
      const t1 = performance.now();
      throwIfAborted(signal);

      let selection: Selection | undefined;
      let scorerMeta: Record<string, unknown> | undefined;
      let t2 = t1;
      let t3 = t1;
      if (mode === 'semclip' && scorerId) {
        bar.update(1, `scoring (${scorerId})`);
        if (vlmScorer && scorerConfig) {
          const { createVlmScorer } = await import('@semclip/vlm-runner/scorers');
          if (args['scorer-vlm'] !== undefined) {
            scoringRunner = await vlmRunner.createRunner(scorerConfig, scorerConfig.kind === 'local' ? localOverrides : {});
          }
          scorer = await createVlmScorer(scorerId, { runner: scoringRunner ?? vlmInstance });
        } else {
          scorer = await createScorer(scorerId, {
            ...(args.model === undefined ? {} : { model: args.model }),
            ...(seed === undefined ? {} : { seed }),
            ...(device === undefined ? {} : { device }),
            warn: note,
          });
        }
        const scored = await scorer.score({ question, ...(options ? { options } : {}) }, tiled, { signal });
        scorerMeta = { ...(scored.meta ?? {}), timings: scored.timings };
        t2 = performance.now();
        throwIfAborted(signal);
        bar.update(2, 'selecting');
        selection = select(scored, tiled.grid, { ...selectOptions, tokensPerImage: vlmInstance.visualTokensPerImage });
        t3 = performance.now();
      }

      bar.update(steps - 1, `asking ${vlmInstance.model}`);
      const result = await vlmRunner.askWithSelection({
        runner: vlmInstance,
        source: tiled,
        ...(selection ? { selection } : {}),
        question,
        ...(options ? { options } : {}),
        ...(args.instruction === undefined ? {} : { instruction: args.instruction }),
        ...(maxTokens === undefined ? {} : { maxTokens }),
        mode,
        imageFormat: http.image,
        signal,
      });
      const t4 = performance.now();
      bar.update(steps, 'done');
      bar.done();

      const perImage = vlmInstance.visualTokensPerImage;
      const level1 = tiled.grid.tiles.filter((t) => t.level === 1).length;
      const tokens = {
        visual: result.visualTokens,
        perImage,
        imagesSent: result.images.length,
        baseline: perImage,
        allTiles: perImage * (1 + level1),
      };
      const timings = {
        tile: t1 - t0,
        score: t2 - t1,
        select: t3 - t2,
        encode: result.timings.encode,
        vlm: result.timings.vlm,
        total: t4 - t0,
      };
      const vlm = { id: vlmInstance.id, model: vlmInstance.model, spec: runnerConfig.kind === 'openai' ? `openai:${runnerConfig.baseUrl}#${runnerConfig.model}` : spec, composite: args.composite === true };

      if (args.json) {
        printJson({
          kind: result.kind,
          ...(result.kind === 'answer'
            ? { answer: result.text, usage: result.answer.usage }
            : {
                choice: { index: result.index, letter: result.letter, option: result.option, method: result.choice.method, scores: result.choice.scores, text: result.choice.text },
                usage: result.choice.usage,
              }),
          question,
          ...(options ? { options } : {}),
          mode,
          vlm,
          image: { path: args.image, width: tiled.size.width, height: tiled.size.height, format: tiled.format, id: tiled.id },
          grid: { rows: tiled.grid.rows, cols: tiled.grid.cols, levels: tiled.grid.levels, overlap: tiled.grid.overlap, key: tiled.gridKey },
          scorer: scorerId ? { id: scorerId, meta: scorerMeta } : null,
          selection: selection ?? null,
          images: result.images,
          tokens,
          timings,
        });
        return;
      }

      print(`Image     ${args.image} (${tiled.size.width}x${tiled.size.height} ${tiled.format}), grid ${tiled.grid.rows}x${tiled.grid.cols}`);
      print(`Question  ${question}`);
      if (options) print(`Options   ${options.map((o, i) => `${String.fromCharCode(65 + i)}. ${o}`).join('  ')}`);
      print(`VLM       ${vlm.spec}${vlm.composite ? ' (composite)' : ''}, mode ${mode}${scorerId ? `, scorer ${scorerId}` : ''}`);
      print();
      const sentRows = result.images.map((im, i) => ({ ...im, n: i + 1 }));
      printTable(
        [
          { header: 'image', value: (r: (typeof sentRows)[number]) => r.n },
          { header: 'what', value: (r) => (r.role === 'overview' ? 'overview' : `tile${(r.tiles?.length ?? 0) > 1 ? 's' : ''} ${r.tiles?.join('+') ?? ''}`) },
          { header: 'position', value: (r) => r.position ?? 'whole image' },
          { header: 'score', value: (r) => (r.score === undefined ? '' : fmtNumber(r.score)), align: 'right' },
          { header: 'box (x,y wxh)', value: (r) => (r.box ? boxText(r.box) : boxText({ x: 0, y: 0, ...tiled.size })) },
          { header: 'sent', value: (r) => `${r.width}x${r.height} ${Math.round(r.bytes / 1024)} KiB` },
        ],
        sentRows,
      );
      if (selection) print(`Selection ${selection.reason}`);
      print(
        `Tokens    ${tokens.visual} visual (${result.images.length} image${result.images.length === 1 ? '' : 's'} sent x ${perImage}${args.composite ? ', composite' : ''}); overview only ${tokens.baseline}, all tiles ${tokens.allTiles}`,
      );
      print(
        `Time      ${fmtMs(timings.total)} (tile ${fmtMs(timings.tile)}, score ${fmtMs(timings.score)}, select ${fmtMs(timings.select)}, vlm ${fmtMs(timings.encode + timings.vlm)}, of which encode ${fmtMs(timings.encode)})`,
      );
      print();
      if (result.kind === 'answer') {
        print(`Answer    ${result.text}`);
      } else {
        const scores = result.choice.method === 'logprobs' ? ` (logprobs: ${result.choice.scores.map((s, i) => `${String.fromCharCode(65 + i)} ${s <= -1e4 ? '-inf' : fmtNumber(s)}`).join(', ')})` : ` (from the answer "${result.choice.text ?? ''}")`;
        print(`Choice    ${result.letter}. ${result.option}${scores}`);
      }
    } finally {
      bar.done();
      await scorer?.dispose();
      await scoringRunner?.dispose();
      await runner?.dispose();
    }
  },
});

export default askCommand;
