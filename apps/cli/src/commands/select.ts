import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { defineCommand } from 'citty';
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { RelevanceScorer, VlmRunner } from '@semclip/core';
import type { SelectOptions } from '@semclip/selector';
import { choiceArg, commonArgs, gridArgs, gridOptions, intArg, questionArg, selectArgs, selectOptionsFrom } from '../_args.js';
import { createProgress, note, printJson, progressEnabled } from '../_output.js';
import { runPipeline } from '../_pipeline.js';
import type { PipelineResult } from '../_pipeline.js';
import { printSelection, selectionJson } from '../_selection-view.js';
import { cliSignal } from '../_signal.js';

/** The VLM scorer flags, shared with `semclip ask`. */
export const vlmScorerArgs = {
  scorer: {
    ...selectArgs.scorer,
    description:
      'Relevance scorer id: random, ocr, clip, siglip, distant (@semclip/scorers), or vlm-embed, vlm-yesno (scored by the VLM given by --vlm). Default: ocr when available, else random',
  },
  dtype: {
    type: 'string',
    description: 'Local VLM weight variant: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4, or per session like vision_encoder=fp16,decoder_model_merged=q4',
    valueHint: 'DTYPE',
  },
} as const;

/**
 * The scorer id if any registry knows it: @semclip/scorers' light scorers or the VLM scorers of
 * @semclip/vlm-runner/scorers. UNKNOWN_SCORER lists both tables.
 */
export async function checkScorerId(id: string): Promise<{ id: string; vlm: boolean }> {
  const [{ listScorers }, { VLM_SCORERS, isVlmScorerId }] = await Promise.all([import('@semclip/scorers'), import('@semclip/vlm-runner/scorers')]);
  if (isVlmScorerId(id)) return { id, vlm: true };
  const valid = [...listScorers().map((s) => s.id), ...Object.keys(VLM_SCORERS)];
  if (!valid.includes(id)) {
    throw new SemclipError('UNKNOWN_SCORER', `There is no scorer called "${id}".`, {
      expected: `one of ${valid.join(', ')}`,
      hint: 'vlm-embed and vlm-yesno score with the VLM given by --vlm',
      details: { valid },
    });
  }
  return { id, vlm: false };
}

/** `--dtype` as the local runner takes it; `undefined` stays `undefined`. */
export async function dtypeArg(value: unknown): Promise<import('@semclip/vlm-runner').LocalRunnerOptions['dtype']> {
  if (value === undefined) return undefined;
  const { parseDtypeSpec } = await import('@semclip/vlm-runner/local');
  return parseDtypeSpec(String(value));
}

/**
 * Parses the spec of the VLM that scores and checks it suits the scorer, before any work:
 * vlm-embed needs the VLM's embeddings, which only a local runner gives.
 */
export async function scoringRunnerConfig(scorerId: string, spec: string, flag: string): Promise<import('@semclip/vlm-runner').RunnerConfig> {
  const [{ parseRunnerSpec }, { getVlmScorerEntry }] = await Promise.all([import('@semclip/vlm-runner'), import('@semclip/vlm-runner/scorers')]);
  const config = parseRunnerSpec(spec);
  const entry = getVlmScorerEntry(scorerId);
  if (!(entry.runners as readonly string[]).includes(config.kind)) {
    // A flag combination that cannot work: a usage error (exit 2), like the scorer's UNSUPPORTED_CAPABILITY would be later.
    throw new SemclipError('INVALID_ARGUMENT', `--scorer ${scorerId} needs a ${entry.runners.join(' or ')}: VLM, not ${config.kind}:.`, {
      hint: `Pass ${flag} local:<model-id> (its embeddings are read in this process), or use --scorer vlm-yesno with an HTTP server`,
      details: { scorer: scorerId, runner: config.kind },
    });
  }
  return config;
}

interface VlmSelectInput {
  readonly image: string;
  readonly question: string;
  readonly scorer: string;
  readonly spec: string;
  readonly device?: 'cpu' | 'cuda' | 'auto';
  readonly dtype?: import('@semclip/vlm-runner').LocalRunnerOptions['dtype'];
  readonly grid: string;
  readonly overlap: number;
  readonly levels: 1 | 2;
  readonly select: SelectOptions;
  readonly overlay?: string;
  readonly progress: boolean;
  readonly signal: AbortSignal;
}

/**
 * tile -> score with a VLM scorer -> select -> overlay: the same stages and result as
 * `runPipeline`, with the scoring runner created from `--vlm` (and disposed) here.
 */
async function runVlmPipeline(input: VlmSelectInput): Promise<PipelineResult> {
  const [{ tileImage, renderOverlay }, { select, defineSelectOptions }, vlmRunner, { createVlmScorer }] = await Promise.all([
    import('@semclip/tiling'),
    import('@semclip/selector'),
    import('@semclip/vlm-runner'),
    import('@semclip/vlm-runner/scorers'),
  ]);
  defineSelectOptions(input.select);
  const config = await scoringRunnerConfig(input.scorer, input.spec, '--vlm');
  if (config.kind !== 'local' && (input.dtype !== undefined || input.device !== undefined)) {
    throw new SemclipError('INVALID_ARGUMENT', `--${input.dtype !== undefined ? 'dtype' : 'device'} only applies to local: VLMs, not ${config.kind}:.`, {
      hint: `Drop --${input.dtype !== undefined ? 'dtype' : 'device'}`,
    });
  }
  const steps = input.overlay ? 5 : 4;
  const bar = createProgress('semclip', steps, { enabled: input.progress });
  const t0 = performance.now();
  let runner: VlmRunner | undefined;
  let scorer: RelevanceScorer | undefined;
  try {
    bar.update(0, 'reading image');
    const tiled = await tileImage(input.image, { grid: input.grid, overlap: input.overlap, levels: input.levels });
    await tiled.overview({ width: 32, height: 32 });
    const t1 = performance.now();
    throwIfAborted(input.signal);

    bar.update(1, `loading ${input.spec}`);
    runner = await vlmRunner.createRunner(
      config,
      config.kind === 'local'
        ? { ...(input.device === undefined ? {} : { device: input.device }), ...(input.dtype === undefined ? {} : { dtype: input.dtype }), warn: note }
        : {},
    );
    scorer = await createVlmScorer(input.scorer, { runner });
    bar.update(2, `scoring (${input.scorer}, ${tiled.grid.tiles.length} tiles)`);
    const scored = await scorer.score({ question: input.question }, tiled, { signal: input.signal });
    const t2 = performance.now();
    throwIfAborted(input.signal);

    bar.update(3, 'selecting');
    const selection = select(scored, tiled.grid, input.select);
    const t3 = performance.now();
    let overlay: string | null = null;
    if (input.overlay) {
      bar.update(4, 'drawing overlay');
      const selected = selection.regions.flatMap((r) => r.tiles);
      const png = await renderOverlay(tiled, { scores: selection.scores, selected, maxSide: 1600, title: input.question });
      await mkdir(dirname(input.overlay), { recursive: true });
      await writeFile(input.overlay, png);
      overlay = input.overlay;
    }
    const t4 = performance.now();
    bar.update(steps, 'done');
    return {
      image: { path: input.image, width: tiled.size.width, height: tiled.size.height, format: tiled.format, id: tiled.id },
      grid: {
        rows: tiled.grid.rows,
        cols: tiled.grid.cols,
        levels: tiled.grid.levels,
        overlap: tiled.grid.overlap,
        key: tiled.gridKey,
        tiles: tiled.grid.tiles.map((t) => ({ index: t.index, row: t.row, col: t.col, level: t.level, ...(t.parent === undefined ? {} : { parent: t.parent }), box: { ...t.box } })),
      },
      question: input.question,
      scorer: { id: scored.scorer, meta: { ...(scored.meta ?? {}), timings: scored.timings } },
      selection,
      overlay,
      timings: { tile: t1 - t0, score: t2 - t1, select: t3 - t2, overlay: t4 - t3, total: t4 - t0 },
    };
  } finally {
    bar.done();
    await scorer?.dispose();
    await runner?.dispose();
  }
}

export default defineCommand({
  meta: {
    name: 'select',
    description: 'Tile an image, score every tile against a question and select the tiles a VLM should see.',
  },
  args: {
    image: { type: 'positional', description: 'Image file', required: true },
    question: { type: 'positional', description: 'The question about the image (quote it)', required: true },
    ...gridArgs,
    ...selectArgs,
    ...vlmScorerArgs,
    vlm: {
      type: 'string',
      description: 'With --scorer vlm-embed|vlm-yesno: the VLM that scores, local:<model-id> or openai:<base-url>#<model>. Default: $SEMCLIP_VLM',
      valueHint: 'SPEC',
    },
    overlay: { type: 'string', description: 'Write a heat-map PNG of the scores with the selected tiles outlined', valueHint: 'FILE' },
    ...commonArgs,
  },
  async run({ args }) {
    const question = questionArg(args.question);
    const { overlap, levels } = gridOptions(args);
    const seed = intArg('seed', args.seed, Number.MIN_SAFE_INTEGER);
    const device = choiceArg('device', args.device, ['cpu', 'cuda', 'auto'] as const);
    const scorer = args.scorer === undefined ? undefined : await checkScorerId(args.scorer);
    const select = selectOptionsFrom(args);
    const signal = cliSignal();
    let result: PipelineResult;
    if (scorer?.vlm) {
      const spec = args.vlm ?? process.env.SEMCLIP_VLM;
      if (!spec) {
        throw new SemclipError('INVALID_ARGUMENT', `--scorer ${scorer.id} needs the VLM that scores.`, {
          expected: '--vlm local:<model-id> or --vlm openai:<base-url>#<model>',
          hint: 'Pass --vlm or set SEMCLIP_VLM',
        });
      }
      if (args.model !== undefined) {
        throw new SemclipError('INVALID_ARGUMENT', `--model does not apply to --scorer ${scorer.id}.`, { hint: 'Name the VLM with --vlm local:<model-id>' });
      }
      const dtype = await dtypeArg(args.dtype);
      result = await runVlmPipeline({
        image: args.image,
        question,
        scorer: scorer.id,
        spec,
        ...(device === undefined ? {} : { device }),
        ...(dtype === undefined ? {} : { dtype }),
        grid: args.grid,
        overlap,
        levels,
        select,
        ...(args.overlay ? { overlay: args.overlay } : {}),
        progress: progressEnabled(args),
        signal,
      });
    } else {
      for (const flag of ['vlm', 'dtype'] as const) {
        if (args[flag] !== undefined) {
          throw new SemclipError('INVALID_ARGUMENT', `--${flag} only applies with --scorer vlm-embed or vlm-yesno.`, { hint: `Drop --${flag}, or pick a VLM scorer` });
        }
      }
      result = await runPipeline({
        image: args.image,
        question,
        ...(scorer === undefined ? {} : { scorer: scorer.id }),
        ...(args.model === undefined ? {} : { model: args.model }),
        ...(seed === undefined ? {} : { seed }),
        ...(device === undefined ? {} : { device }),
        grid: args.grid,
        overlap,
        levels,
        select,
        ...(args.overlay ? { overlay: args.overlay } : {}),
        progress: progressEnabled(args),
        signal,
        warn: note,
      });
    }
    if (args.json) printJson(selectionJson(result));
    else printSelection(result);
  },
});
