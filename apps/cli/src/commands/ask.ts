/**
 * `semclip ask`: tile -> score -> select -> ask a VLM through `@semclip/pipeline`, with the
 * chosen tiles, visual tokens (the model family's formula) and time per stage. The VLM is any
 * runner spec `@semclip/vlm-runner` knows, e.g. `openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf`.
 *
 * One function per job: `askFlags` parses and checks every flag (nothing is read or called
 * before it returns), `createAnswerer` builds the runner, `askImage` runs the pipeline and asks,
 * `printAskJson` / `printAskText` report.
 */
import { defineCommand } from 'citty';
import type { ParsedArgs } from 'citty';
import { SemclipError, optionLetters } from '@semclip/core';
import type { Box, VlmRunner } from '@semclip/core';
import type { AskMode, AskResult, PackResult, Pipeline, PipelineOptions, PipelineRun, PipelineStage, ZoomResult } from '@semclip/pipeline';
import type { TiledImage } from '@semclip/tiling';
import type { LocalRunnerOptions, RunnerConfig } from '@semclip/vlm-runner';
import {
  HTTP_ONLY_FLAGS,
  choiceArg,
  commonArgs,
  gridArgs,
  gridOptions,
  httpVlmArgs,
  httpVlmOptions,
  intArg,
  padArg,
  padArgs,
  questionArg,
  refuseRunnerFlags,
  selectArgs,
  selectOptionsFrom,
} from '../_args.js';
import type { HttpVlmFlags } from '../_args.js';
import { createProgress, fmtMs, fmtNumber, note, print, printJson, printTable, progressEnabled } from '../_output.js';
import type { Progress } from '../_output.js';
import { cliSignal } from '../_signal.js';
import { dtypeArg, lightScorerOptions, refuseModelForVlmScorer, scoringVlmConfig, vlmScorerArgs } from './select.js';

const MODES = ['baseline', 'semclip', 'all-tiles'] as const satisfies readonly AskMode[];
/** How regions are chosen in `semclip` mode: top-k or adaptive selection, the zoom search, or packing. */
export const STRATEGIES = ['topk', 'adaptive', 'zoom', 'pack'] as const;
export type Strategy = (typeof STRATEGIES)[number];

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

const askArgs = {
  image: { type: 'positional', description: 'Image file', required: true },
  question: { type: 'positional', description: 'The question about the image (quote it)', required: true },
  options: { type: 'string', description: 'Multiple choice: the options separated by "|"; prints the chosen one', valueHint: 'A|B|C' },
  vlm: {
    type: 'string',
    description: 'The VLM: openai:<base-url>#<model> (vLLM, llama-server, Ollama /v1...) or local:<model-id> where registered. Default: $SEMCLIP_VLM',
    valueHint: 'SPEC',
  },
  mode: {
    type: 'string',
    description: 'baseline (overview only), semclip (overview + selected tiles) or all-tiles',
    default: 'semclip',
    valueHint: 'baseline|semclip|all-tiles',
  },
  strategy: {
    type: 'string',
    description:
      'semclip mode: topk (the --k best tiles, default), adaptive (same as --adaptive), zoom (confidence-gated quadtree search, several VLM calls up to --max-calls) or pack (the best cells pasted in their original arrangement into one image; --k cells or as many as fit --budget)',
    valueHint: 'topk|adaptive|zoom|pack',
  },
  'max-calls': { type: 'string', description: 'zoom: most VLM calls per question, the answer included (default 12)', valueHint: 'N' },
  overlay: {
    type: 'string',
    description: 'Write a PNG: zoom draws its search path (each box asked, numbered by call, heat = confidence), topk/adaptive the tile scores and selection',
    valueHint: 'FILE',
  },
  instruction: { type: 'string', description: 'Answer instruction appended to the question, e.g. "Answer with a single word."', valueHint: 'TEXT' },
  'max-tokens': { type: 'string', description: 'Longest answer in tokens (default 256)', valueHint: 'N' },
  ...httpVlmArgs,
  ...padArgs,
  ...gridArgs,
  ...selectArgs,
  ...vlmScorerArgs,
  device: {
    ...selectArgs.device,
    description:
      'Where local models run (the local: VLM and model-backed scorers): cpu, cuda, webgpu or auto (CUDA when installed, else a WebGPU adapter, else CPU)',
  },
  'scorer-vlm': {
    type: 'string',
    description:
      'With --scorer vlm-embed|vlm-yesno: the VLM that scores, if not the one that answers (e.g. local:<model-id> for vlm-embed with an openai: --vlm)',
    valueHint: 'SPEC',
  },
  ...commonArgs,
} as const;

type AskArgs = ParsedArgs<typeof askArgs>;
type Dtype = LocalRunnerOptions['dtype'];

/** How the tiles are scored in `semclip` mode. */
type ScorerPlan =
  /** A scorer with its own model (random, ocr, clip...). */
  | { readonly id: string; readonly vlm: false; readonly options: PipelineOptions['scorerOptions'] }
  /** A VLM scorer: with `--scorer-vlm` (`config`, created and disposed by the scorer), else with the runner that answers. */
  | { readonly id: string; readonly vlm: true; readonly config?: RunnerConfig };

/** Everything the flags say, parsed and checked. */
interface AskFlags {
  readonly image: string;
  readonly question: string;
  readonly options: string[] | undefined;
  readonly mode: AskMode;
  readonly strategy: Strategy;
  readonly maxCalls: number | undefined;
  readonly overlay: string | undefined;
  readonly pack: { readonly k?: number; readonly budget?: number };
  readonly spec: string;
  readonly runner: RunnerConfig;
  readonly http: HttpVlmFlags;
  readonly device: 'cpu' | 'cuda' | 'webgpu' | 'auto' | undefined;
  readonly dtype: Dtype;
  readonly instruction: string | undefined;
  readonly maxTokens: number | undefined;
  /** `undefined` outside `semclip` mode (nothing is scored). */
  readonly scorer: ScorerPlan | undefined;
  /** Grid, selection and padding; the pipeline checks them when created. */
  readonly pipeline: Pick<PipelineOptions, 'grid' | 'overlap' | 'levels' | 'select' | 'padding'>;
  readonly composite: boolean;
  readonly json: boolean;
  readonly progress: boolean;
}

/** Local runners' loading options from `--device` and `--dtype`. */
function localOptions(flags: Pick<AskFlags, 'device' | 'dtype'>) {
  return { ...(flags.device === undefined ? {} : { device: flags.device }), ...(flags.dtype === undefined ? {} : { dtype: flags.dtype }), warn: note };
}

/** The scorer and its options as the pipeline takes them; a VLM scorer without `--scorer-vlm` scores with `runner`. */
function scorerOptions(flags: AskFlags, runner: VlmRunner): Pick<PipelineOptions, 'scorer' | 'scorerOptions'> {
  const plan = flags.scorer;
  if (!plan) return { scorer: false };
  if (!plan.vlm) return { scorer: plan.id, ...(plan.options ? { scorerOptions: plan.options } : {}) };
  if (!plan.config) return { scorer: plan.id, scorerOptions: { runner, warn: note } };
  return { scorer: plan.id, scorerOptions: { vlm: plan.config, ...(plan.config.kind === 'local' ? localOptions(flags) : { warn: note }) } };
}

/**
 * Parses and checks every flag: the VLM spec, the flags that only suit some runners, the scorer
 * against the pipeline's registry (and the VLM that scores against the scorer), the grid and the
 * selection. Nothing is read, loaded or called before this returns.
 */
async function askFlags(args: AskArgs): Promise<AskFlags> {
  const question = questionArg(args.question);
  const options = parseOptionsArg(args.options);
  const mode = choiceArg('mode', args.mode ?? 'semclip', MODES) as AskMode;
  const strategy = choiceArg('strategy', args.strategy ?? (args.adaptive === true ? 'adaptive' : 'topk'), STRATEGIES) as Strategy;
  if ((strategy === 'zoom' || strategy === 'pack') && mode !== 'semclip') {
    throw new SemclipError('INVALID_ARGUMENT', `--strategy ${strategy} applies to --mode semclip only.`, { hint: 'Drop --mode, or --strategy' });
  }
  if (args.adaptive === true && strategy !== 'adaptive') {
    throw new SemclipError('INVALID_ARGUMENT', `--adaptive and --strategy ${strategy} cannot be combined.`, { hint: 'Use --strategy adaptive' });
  }
  const maxCalls = intArg('max-calls', args['max-calls'], 1, 1000);
  if (maxCalls !== undefined && strategy !== 'zoom') {
    throw new SemclipError('INVALID_ARGUMENT', '--max-calls applies to --strategy zoom only.', { hint: 'Add --strategy zoom, or drop --max-calls' });
  }
  const http = httpVlmOptions(args);
  const { overlap, levels } = gridOptions(args);
  const select = selectOptionsFrom(strategy === 'adaptive' ? { ...args, adaptive: true } : args);
  const packK = strategy === 'pack' ? intArg('k', args.k, 1, 64) : undefined;
  const packBudget = strategy === 'pack' ? intArg('budget', args.budget, 1) : undefined;
  const seed = intArg('seed', args.seed, Number.MIN_SAFE_INTEGER);
  const device = choiceArg('device', args.device, ['cpu', 'cuda', 'webgpu', 'auto'] as const);
  const maxTokens = intArg('max-tokens', args['max-tokens'], 1, 65536);
  const dtype = await dtypeArg(args.dtype);
  const spec = args.vlm ?? process.env.SEMCLIP_VLM;
  if (!spec) {
    throw new SemclipError('INVALID_ARGUMENT', 'No VLM given.', {
      expected: '--vlm openai:<base-url>#<model>, e.g. --vlm openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf',
      hint: 'Pass --vlm or set SEMCLIP_VLM',
    });
  }
  const [{ parseRunnerSpec }, { createPipeline, defaultScorerId, isVlmScorer }] = await Promise.all([
    import('@semclip/vlm-runner'),
    import('@semclip/pipeline'),
  ]);
  const runner = parseRunnerSpec(spec);
  refuseRunnerFlags(args, [runner.kind], HTTP_ONLY_FLAGS);

  let scorer: ScorerPlan | undefined;
  if (mode === 'semclip') {
    const id = args.scorer ?? defaultScorerId();
    // isVlmScorer looks the id up: UNKNOWN_SCORER lists every registered scorer.
    if (isVlmScorer(id)) {
      refuseModelForVlmScorer(id, args.model, '--scorer-vlm');
      // The VLM that scores: --scorer-vlm, else the one that answers; either must suit the scorer.
      const given = args['scorer-vlm'];
      const config = await scoringVlmConfig(id, given ?? spec, '--scorer-vlm');
      scorer = { id, vlm: true, ...(given === undefined ? {} : { config }) };
    } else {
      scorer = { id, vlm: false, options: lightScorerOptions({ model: args.model, seed, device }) };
    }
  }
  if (args['scorer-vlm'] !== undefined && !scorer?.vlm) {
    throw new SemclipError('INVALID_ARGUMENT', '--scorer-vlm only applies with --scorer vlm-embed or vlm-yesno (and --mode semclip).', {
      hint: 'Drop --scorer-vlm, or pick a VLM scorer',
    });
  }
  refuseRunnerFlags(args, [runner.kind, ...(scorer?.vlm && scorer.config ? [scorer.config.kind] : [])], ['dtype']);

  const pipeline = { grid: args.grid, overlap, levels, select, padding: padArg(args.pad) };
  // The grid, the selection and the scorer's options fail here, before the runner is built
  // (that pipeline only checks: the one that runs needs the runner, for its model's token costs).
  createPipeline({
    ...pipeline,
    ...(scorer && !scorer.vlm ? { scorer: scorer.id, ...(scorer.options ? { scorerOptions: scorer.options } : {}) } : { scorer: false }),
  });

  return {
    image: args.image,
    question,
    options,
    mode,
    strategy,
    maxCalls,
    overlay: args.overlay,
    pack: { ...(packK === undefined ? {} : { k: packK }), ...(packBudget === undefined ? {} : { budget: packBudget }) },
    spec,
    runner,
    http,
    device,
    dtype,
    instruction: args.instruction,
    maxTokens,
    scorer,
    pipeline,
    composite: args.composite === true,
    json: args.json === true,
    progress: progressEnabled(args),
  };
}

/** The runner that answers: the openai runner with the HTTP flags (retries noted on stderr), or a local one with --device/--dtype. */
async function createAnswerer(flags: AskFlags): Promise<VlmRunner> {
  const { createRunner } = await import('@semclip/vlm-runner');
  return createRunner(
    flags.runner,
    flags.runner.kind === 'openai'
      ? { ...flags.http.overrides, onRetry: (info) => note(`VLM request failed (${info.reason}); retry ${info.attempt} in ${fmtMs(info.delayMs)}`) }
      : localOptions(flags),
  );
}

/** What one ask found and sent. */
interface Asked {
  readonly source: TiledImage;
  /** The pipeline run in `semclip` mode. */
  readonly run: PipelineRun | undefined;
  readonly result: AskResult;
  /** How the images were padded (`pipeline.padding`). */
  readonly padding: Pipeline['padding'];
  /**
   * `imagesSent`: what reached the VLM (with `--composite`, the runner's count: one composite
   * of `parts` images); `parts`: the images the pipeline prepared (overview and regions).
   */
  readonly tokens: { visual: number; perImage: number; imagesSent: number; parts: number; baseline: number; allTiles: number };
  readonly timings: { tile: number; score: number; select: number; encode: number; vlm: number; total: number };
  /** zoom: the search; pack: the cells kept. */
  readonly search?: ZoomResult | PackResult;
}

/** Visual tokens of what was sent, and of the overview alone and of every tile, by the model family's formula. */
function tokenCounts(pipeline: Pipeline, source: TiledImage, result: AskResult, runner: VlmRunner, composite: boolean): Asked['tokens'] {
  const tiles = source.grid.tiles.filter((t) => t.level === 1).map((t) => ({ box: t.box }));
  // Composite packs every image into one: the runner counts what it sent.
  const usage = result.kind === 'answer' ? result.answer.usage : result.choice.usage;
  const perImage = runner.visualTokensPerImage;
  return {
    visual: composite ? usage.visual : result.visualTokens,
    perImage,
    imagesSent: composite && perImage > 0 ? Math.round(usage.visual / perImage) : result.images.length,
    parts: result.images.length,
    baseline: pipeline.planTokens(source, { overview: true, regions: [] }),
    allTiles: pipeline.planTokens(source, { overview: true, regions: tiles }),
  };
}

/** Opens (and in `semclip` mode scores and selects) the image through the pipeline, then asks the VLM. */
async function askImage(flags: AskFlags, pipeline: Pipeline, runner: VlmRunner, signal: AbortSignal): Promise<Asked> {
  const t0 = performance.now();
  let run: PipelineRun | undefined;
  let source: TiledImage;
  if (flags.strategy === 'zoom' || flags.strategy === 'pack') {
    const { packAsk, zoomAsk } = await import('@semclip/pipeline');
    source = await pipeline.open(flags.image, { signal });
    const t1 = performance.now();
    const input = {
      runner,
      source,
      question: flags.question,
      ...(flags.options ? { options: flags.options } : {}),
      ...(flags.instruction === undefined ? {} : { instruction: flags.instruction }),
      signal,
    };
    const search =
      flags.strategy === 'zoom'
        ? await zoomAsk(pipeline, input, flags.maxCalls === undefined ? {} : { maxCalls: flags.maxCalls })
        : await packAsk(pipeline, input, flags.pack);
    const result = search.answer;
    const t2 = performance.now();
    return {
      source,
      run: undefined,
      result,
      padding: pipeline.padding,
      tokens: { ...tokenCounts(pipeline, source, result, runner, false), visual: search.visualTokens },
      timings: { tile: t1 - t0, score: 0, select: 0, encode: result.timings.encode, vlm: t2 - t1 - result.timings.encode, total: t2 - t0 },
      search,
    };
  }
  if (flags.mode === 'semclip') {
    run = await pipeline.run({ image: flags.image, question: flags.question, ...(flags.options ? { options: flags.options } : {}), signal });
    source = run.source;
  } else {
    source = await pipeline.open(flags.image, { signal });
  }
  const t1 = performance.now();
  const result = await pipeline.ask({
    runner,
    from: run ?? { source },
    question: flags.question,
    ...(flags.options ? { options: flags.options } : {}),
    ...(flags.instruction === undefined ? {} : { instruction: flags.instruction }),
    ...(flags.maxTokens === undefined ? {} : { maxTokens: flags.maxTokens }),
    mode: flags.mode,
    signal,
  });
  const t2 = performance.now();
  return {
    source,
    run,
    result,
    padding: pipeline.padding,
    tokens: tokenCounts(pipeline, source, result, runner, flags.composite),
    timings: {
      tile: run ? run.timings.open : t1 - t0,
      score: run?.timings.score ?? 0,
      select: run?.timings.select ?? 0,
      encode: result.timings.encode,
      vlm: result.timings.vlm,
      total: t2 - t0,
    },
  };
}

/** The VLM as reported: its id, model and spec (an openai: spec without extras). */
function vlmInfo(flags: AskFlags, runner: VlmRunner) {
  const c = flags.runner;
  return { id: runner.id, model: runner.model, spec: c.kind === 'openai' ? `openai:${c.baseUrl}#${c.model}` : flags.spec, composite: flags.composite };
}

function scorerInfo(asked: Asked): { id: string; meta: Record<string, unknown> } | null {
  const scores = asked.run?.scores;
  return scores ? { id: scores.scorer, meta: { ...(scores.meta ?? {}), timings: scores.timings } } : null;
}

function printAskJson(flags: AskFlags, runner: VlmRunner, asked: Asked): void {
  const { result, source: tiled } = asked;
  printJson({
    kind: result.kind,
    ...(result.kind === 'answer'
      ? { answer: result.text, usage: result.answer.usage }
      : {
          choice: {
            index: result.index,
            letter: result.letter,
            option: result.option,
            method: result.choice.method,
            scores: result.choice.scores,
            text: result.choice.text,
          },
          usage: result.choice.usage,
        }),
    question: flags.question,
    ...(flags.options ? { options: flags.options } : {}),
    mode: flags.mode,
    strategy: flags.strategy,
    vlmCalls: asked.search?.calls ?? 1,
    ...(asked.search?.strategy === 'zoom'
      ? {
          search: {
            stoppedBy: asked.search.stoppedBy,
            confidence: asked.search.confidence,
            box: asked.search.box,
            ...(asked.search.targets ? { targets: asked.search.targets } : {}),
            steps: asked.search.steps,
          },
        }
      : {}),
    ...(asked.search?.strategy === 'pack'
      ? {
          pack: {
            k: asked.search.k,
            grid: asked.search.grid,
            size: asked.search.size,
            phrases: asked.search.phrases,
            cells: asked.search.cells.map((c) => ({
              row: c.cell.row,
              col: c.cell.col,
              box: c.cell.box,
              x: c.x,
              y: c.y,
              score: c.score,
              ...(c.phrase ? { phrase: c.phrase } : {}),
            })),
          },
        }
      : {}),
    vlm: vlmInfo(flags, runner),
    image: { path: flags.image, width: tiled.size.width, height: tiled.size.height, format: tiled.format, id: tiled.id },
    grid: { rows: tiled.grid.rows, cols: tiled.grid.cols, levels: tiled.grid.levels, overlap: tiled.grid.overlap, key: tiled.gridKey },
    scorer: scorerInfo(asked),
    selection: asked.run?.selection ?? null,
    padding: asked.padding,
    images: result.images,
    tokens: asked.tokens,
    timings: asked.timings,
  });
}

function printAskText(flags: AskFlags, runner: VlmRunner, asked: Asked): void {
  const { result, source: tiled, tokens, timings } = asked;
  const vlm = vlmInfo(flags, runner);
  const letters = optionLetters(flags.options?.length ?? 0);
  print(`Image     ${flags.image} (${tiled.size.width}x${tiled.size.height} ${tiled.format}), grid ${tiled.grid.rows}x${tiled.grid.cols}`);
  print(`Question  ${flags.question}`);
  if (flags.options) print(`Options   ${flags.options.map((o, i) => `${letters[i] ?? '?'}. ${o}`).join('  ')}`);
  print(`VLM       ${vlm.spec}${vlm.composite ? ' (composite)' : ''}, mode ${flags.mode}${asked.run ? `, scorer ${asked.run.scores.scorer}` : ''}`);
  print();
  const sentRows = result.images.map((im, i) => ({ ...im, n: i + 1 }));
  const whole: Box = { x: 0, y: 0, ...tiled.size };
  // With --composite the rows are the parts the runner packs into one image and re-encodes; the
  // bytes of that composite are not reported, so the parts' own sizes are labelled as such.
  printTable(
    [
      { header: flags.composite ? 'part' : 'image', value: (r: (typeof sentRows)[number]) => r.n },
      { header: 'what', value: (r) => (r.role === 'overview' ? 'overview' : `tile${(r.tiles?.length ?? 0) > 1 ? 's' : ''} ${r.tiles?.join('+') ?? ''}`) },
      { header: 'position', value: (r) => r.position ?? 'whole image' },
      { header: 'score', value: (r) => (r.score === undefined ? '' : fmtNumber(r.score)), align: 'right' },
      { header: 'box (x,y wxh)', value: (r) => boxText(r.box ?? whole) },
      { header: flags.composite ? 'part size' : 'sent', value: (r) => `${r.width}x${r.height} ${Math.round(r.bytes / 1024)} KiB` },
      { header: 'tokens', value: (r) => r.tokens, align: 'right' },
    ],
    sentRows,
  );
  if (flags.composite && tokens.parts > 1) {
    const m = tokens.imagesSent;
    print(
      `Sent      ${m} composite image${m === 1 ? '' : 's'} of the ${tokens.parts} part${tokens.parts === 1 ? '' : 's'} above side by side, made and re-encoded by the runner (its size is not reported; the part sizes are before compositing)`,
    );
  }
  if (asked.padding.mode === 'pad-square') {
    print(`Padding   every image padded to a square of (${asked.padding.colour.join(', ')}), as the model family expects (--pad none to send them as cut)`);
  }
  if (asked.run) print(`Selection ${asked.run.selection.reason}`);
  const search = asked.search;
  if (search?.strategy === 'zoom') {
    print(
      `Zoom      ${search.calls} VLM call${search.calls === 1 ? '' : 's'}, stopped: ${search.stoppedBy}, confidence ${fmtNumber(search.confidence)}, answered with ${search.box ? boxText(search.box) : 'the overview alone'}`,
    );
    printTable(
      [
        { header: 'call', value: (r: ZoomResult['steps'][number]) => r.call ?? '' },
        { header: 'step', value: (r) => (r.packed ? 'answer (packed)' : r.action) },
        ...(search.targets ? [{ header: 'object', value: (r: ZoomResult['steps'][number]) => r.target ?? '' }] : []),
        { header: 'node', value: (r) => `${r.node}${r.parent === undefined ? '' : ` <- ${r.parent}`}` },
        { header: 'depth', value: (r) => r.depth, align: 'right' },
        { header: 'box (x,y wxh)', value: (r) => boxText(r.box) },
        { header: 'score', value: (r) => (r.score === undefined ? '' : fmtNumber(r.score)), align: 'right' },
        { header: 'confidence', value: (r) => (r.confidence === undefined ? '' : fmtNumber(r.confidence)), align: 'right' },
        { header: 'tau', value: (r) => fmtNumber(r.tau), align: 'right' },
        { header: 'answer', value: (r) => r.answer ?? '' },
      ],
      search.steps,
    );
    for (const t of search.targets ?? []) {
      print(`Object    ${t.target}: ${boxText(t.box)}, P(clearly visible) ${fmtNumber(t.confidence)}, ${t.calls} call${t.calls === 1 ? '' : 's'}`);
    }
  }
  if (search?.strategy === 'pack') {
    print(
      `Pack      ${search.k} of ${search.grid.rows}x${search.grid.cols} cells into one ${search.size.width}x${search.size.height} image, arrangement kept: ${search.cells.map((c) => `r${c.cell.row}c${c.cell.col}${c.phrase ? ` (${c.phrase})` : ''}`).join(', ')}`,
    );
  }
  const n = flags.composite ? tokens.imagesSent : result.images.length;
  const perImage = new Set(result.images.map((im) => im.tokens));
  // One cost per image (LLaVA-1.5, a fixed count) reads "x 576"; families whose cost follows the size list each image.
  const sent =
    flags.composite || perImage.size <= 1
      ? `x ${flags.composite ? tokens.perImage : (result.images[0]?.tokens ?? tokens.perImage)}`
      : `= ${result.images.map((im) => im.tokens).join(' + ')}`;
  print(
    `Tokens    ${tokens.visual} visual (${n} image${n === 1 ? '' : 's'} sent ${sent}${flags.composite ? ', composite' : ''}); overview only ${tokens.baseline}, all tiles ${tokens.allTiles}`,
  );
  print(
    `Time      ${fmtMs(timings.total)} (tile ${fmtMs(timings.tile)}, score ${fmtMs(timings.score)}, select ${fmtMs(timings.select)}, vlm ${fmtMs(timings.encode + timings.vlm)}, of which encode ${fmtMs(timings.encode)})`,
  );
  print();
  if (result.kind === 'answer') {
    print(`Answer    ${result.text}`);
  } else {
    const scores =
      result.choice.method === 'logprobs'
        ? ` (logprobs: ${result.choice.scores.map((s, i) => `${letters[i] ?? '?'} ${s <= -1e4 ? '-inf' : fmtNumber(s)}`).join(', ')})`
        : ` (from the answer "${result.choice.text ?? ''}")`;
    print(`Choice    ${result.letter}. ${result.option}${scores}`);
  }
}

/** The overlay: zoom's search path, or the scores and selection of a scored run; pack and the baseline have none. */
async function writeAskOverlay(flags: AskFlags, pipeline: Pipeline, asked: Asked): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const { zoomOverlay } = await import('@semclip/pipeline');
  const file = flags.overlay as string;
  if (asked.search?.strategy === 'zoom') await writeFile(file, await zoomOverlay(asked.source, asked.search, { title: flags.question }));
  else if (asked.run) await writeFile(file, await pipeline.overlay(asked.run));
  else {
    note(`--overlay: nothing to draw for ${asked.search ? `--strategy ${flags.strategy}` : `--mode ${flags.mode}`}; no file written`);
    return;
  }
  note(`Overlay written to ${file}`);
}

/** Progress steps per pipeline stage: read, score, select, ask (read and ask without scoring). */
function progressFor(flags: AskFlags): { bar: Progress; steps: number; onStage: NonNullable<PipelineOptions['onStage']> } {
  const steps = flags.mode === 'semclip' ? 4 : 2;
  const bar = createProgress('ask', steps, { enabled: flags.progress });
  const step: Partial<Record<PipelineStage, number>> = { open: 0, score: 1, select: 2, ask: steps - 1 };
  return {
    bar,
    steps,
    onStage: (stage, detail) => {
      const at = step[stage];
      if (at !== undefined) bar.update(at, detail);
    },
  };
}

export const askCommand = defineCommand({
  meta: {
    name: 'ask',
    description: 'Ask a vision-language model about an image, giving it the overview plus the sub-images most relevant to the question.',
  },
  args: askArgs,
  async run({ args }) {
    const flags = await askFlags(args);
    const signal = cliSignal();
    const { createPipeline } = await import('@semclip/pipeline');
    const progress = progressFor(flags);
    let runner: VlmRunner | undefined;
    let pipeline: Pipeline | undefined;
    try {
      runner = await createAnswerer(flags);
      pipeline = createPipeline({ ...flags.pipeline, ...scorerOptions(flags, runner), runner, imageFormat: flags.http.image, onStage: progress.onStage });
      const asked = await askImage(flags, pipeline, runner, signal);
      if (flags.overlay !== undefined) await writeAskOverlay(flags, pipeline, asked);
      progress.bar.update(progress.steps, 'done');
      progress.bar.done();
      if (flags.json) printAskJson(flags, runner, asked);
      else printAskText(flags, runner, asked);
    } finally {
      progress.bar.done();
      // The pipeline disposes the scorer it opened (and the scoring VLM that scorer created); the answering runner is ours.
      await pipeline?.dispose();
      await runner?.dispose();
    }
  },
});

export default askCommand;
