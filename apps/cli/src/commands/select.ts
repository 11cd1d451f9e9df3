import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { defineCommand } from 'citty';
import { SemclipError, isSemclipError } from '@semclip/core';
import type { CommonScorerOptions, PipelineOptions, PipelineStage } from '@semclip/pipeline';
import type { LocalRunnerOptions, RunnerConfig } from '@semclip/vlm-runner';
import { choiceArg, commonArgs, gridArgs, gridOptions, intArg, questionArg, refuseRunnerFlags, selectArgs, selectOptionsFrom } from '../_args.js';
import { createProgress, note, printJson, progressEnabled } from '../_output.js';
import { printSelection, selectionJson, selectionReport } from '../_selection-view.js';
import type { SelectionReport } from '../_selection-view.js';
import { cliSignal } from '../_signal.js';

/** The VLM scorer flags, shared with `semclip ask`. */
export const vlmScorerArgs = {
  scorer: {
    ...selectArgs.scorer,
    description:
      'Relevance scorer id: random, ocr, clip, siglip, distant, or vlm-embed, vlm-yesno (scored by the VLM given by --vlm). Default: ocr when available, else random',
  },
  dtype: {
    type: 'string',
    description: 'Local VLM weight variant: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4, or per session like vision_encoder=fp16,decoder_model_merged=q4',
    valueHint: 'DTYPE',
  },
} as const;

/** `--dtype` as the local runner takes it; `undefined` stays `undefined`. */
export async function dtypeArg(value: unknown): Promise<LocalRunnerOptions['dtype']> {
  if (value === undefined) return undefined;
  const { parseDtypeSpec } = await import('@semclip/vlm-runner/local');
  return parseDtypeSpec(String(value));
}

/**
 * Parses the spec of the VLM that scores and checks, in the pipeline's registry, that the
 * scorer can score with that kind of runner (vlm-embed reads embeddings, which only a local
 * runner gives), before any work. The error names `flag`.
 */
export async function scoringVlmConfig(scorerId: string, spec: string, flag: string): Promise<RunnerConfig> {
  const [{ parseRunnerSpec }, { checkScorerOptions, getScorerFamily }] = await Promise.all([import('@semclip/vlm-runner'), import('@semclip/pipeline')]);
  const config = parseRunnerSpec(spec);
  try {
    checkScorerOptions(scorerId, { vlm: config });
  } catch (err) {
    if (!isSemclipError(err, 'INVALID_ARGUMENT') || err.details?.runner === undefined) throw err;
    // A flag combination that cannot work: a usage error (exit 2) that says which flag to change.
    throw new SemclipError(
      'INVALID_ARGUMENT',
      `--scorer ${scorerId} needs a ${(getScorerFamily(scorerId).runners ?? []).join(' or ')}: VLM, not ${config.kind}:.`,
      {
        hint: `Pass ${flag} local:<model-id> (its embeddings are read in this process), or use --scorer vlm-yesno with an HTTP server`,
        details: { scorer: scorerId, runner: config.kind },
      },
    );
  }
  return config;
}

/** `--model` with a VLM scorer: the VLM is named by its spec. */
export function refuseModelForVlmScorer(scorerId: string, model: unknown, flag: string): void {
  if (model !== undefined) {
    throw new SemclipError('INVALID_ARGUMENT', `--model does not apply to --scorer ${scorerId}.`, { hint: `Name the VLM with ${flag} local:<model-id>` });
  }
}

/** The options of a scorer with its own model (random, ocr, clip...) from the flags. */
export function lightScorerOptions(flags: {
  readonly model?: string | undefined;
  readonly seed?: number | undefined;
  readonly device?: CommonScorerOptions['device'];
}): NonNullable<PipelineOptions['scorerOptions']> {
  return {
    ...(flags.model === undefined ? {} : { model: flags.model }),
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
    ...(flags.device === undefined ? {} : { device: flags.device }),
    warn: note,
  };
}

interface SelectScorerFlags {
  readonly scorer?: string | undefined;
  readonly model?: string | undefined;
  readonly seed?: string | undefined;
  readonly device?: string | undefined;
  readonly dtype?: string | undefined;
  readonly vlm?: string | undefined;
}

/**
 * `--scorer` and its flags as the pipeline takes them, checked against the one scorer registry
 * before the image is read: UNKNOWN_SCORER lists every scorer (the VLM ones too); a VLM scorer
 * gets the VLM that scores from `--vlm` (it creates and disposes that runner itself).
 */
async function scorerFromFlags(args: SelectScorerFlags): Promise<Pick<PipelineOptions, 'scorer' | 'scorerOptions'>> {
  const seed = intArg('seed', args.seed, Number.MIN_SAFE_INTEGER);
  const device = choiceArg('device', args.device, ['cpu', 'cuda', 'webgpu', 'auto'] as const);
  const { defaultScorerId, isVlmScorer } = await import('@semclip/pipeline');
  const scorer = args.scorer ?? defaultScorerId();
  if (!isVlmScorer(scorer)) {
    for (const flag of ['vlm', 'dtype'] as const) {
      if (args[flag] !== undefined) {
        throw new SemclipError('INVALID_ARGUMENT', `--${flag} only applies with --scorer vlm-embed or vlm-yesno.`, {
          hint: `Drop --${flag}, or pick a VLM scorer`,
        });
      }
    }
    return { scorer, scorerOptions: lightScorerOptions({ model: args.model, seed, device }) };
  }
  const spec = args.vlm ?? process.env.SEMCLIP_VLM;
  if (!spec) {
    throw new SemclipError('INVALID_ARGUMENT', `--scorer ${scorer} needs the VLM that scores.`, {
      expected: '--vlm local:<model-id> or --vlm openai:<base-url>#<model>',
      hint: 'Pass --vlm or set SEMCLIP_VLM',
    });
  }
  refuseModelForVlmScorer(scorer, args.model, '--vlm');
  const vlm = await scoringVlmConfig(scorer, spec, '--vlm');
  refuseRunnerFlags(args, [vlm.kind], ['dtype', 'device']);
  const dtype = await dtypeArg(args.dtype);
  return { scorer, scorerOptions: { vlm, ...(device === undefined ? {} : { device }), ...(dtype === undefined ? {} : { dtype }), warn: note } };
}

export interface SelectionInput {
  /** A file path. */
  readonly image: string;
  readonly question: string;
  /** Scorer, grid and selection; checked when the pipeline is created, before the image is read. */
  readonly pipeline: Pick<PipelineOptions, 'scorer' | 'scorerOptions' | 'grid' | 'overlap' | 'levels' | 'select'>;
  /** Where to write the heat-map overlay PNG; none when omitted. */
  readonly overlay?: string;
  readonly progress: boolean;
  readonly signal: AbortSignal;
}

/** open -> score -> select (-> overlay) through `@semclip/pipeline`: what `select` and `demo` report. */
export async function runSelection(input: SelectionInput): Promise<SelectionReport> {
  const { createPipeline } = await import('@semclip/pipeline');
  const steps = input.overlay ? 4 : 3;
  const step: Partial<Record<PipelineStage, number>> = { open: 0, score: 1, select: 2, overlay: 3 };
  // Bad options throw here, before the progress bar is drawn or the image is read.
  const pipeline = createPipeline({
    ...input.pipeline,
    onStage: (stage, detail) => {
      const at = step[stage];
      if (at !== undefined) bar.update(at, detail);
    },
  });
  const bar = createProgress('semclip', steps, { enabled: input.progress });
  try {
    const run = await pipeline.run({ image: input.image, question: input.question, signal: input.signal });
    let overlayMs = 0;
    if (input.overlay) {
      const started = performance.now();
      // The scorer's account (what was read and matched) goes under the question in the header.
      const summary = typeof run.scores.meta?.summary === 'string' ? run.scores.meta.summary : undefined;
      const png = await pipeline.overlay(run, summary ? { title: `${run.question}\n${summary}` } : {});
      await mkdir(dirname(input.overlay), { recursive: true });
      await writeFile(input.overlay, png);
      overlayMs = performance.now() - started;
    }
    bar.update(steps, 'done');
    return selectionReport(run, { imagePath: input.image, overlay: input.overlay ?? null, overlayMs });
  } finally {
    bar.done();
    await pipeline.dispose();
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
    strategy: {
      type: 'string',
      description: 'topk (default) or adaptive (same as --adaptive); zoom and pack ask a VLM, so they run with semclip ask --strategy',
      valueHint: 'topk|adaptive',
    },
    ...commonArgs,
  },
  async run({ args }) {
    const strategy = choiceArg('strategy', args.strategy, ['topk', 'adaptive', 'zoom', 'pack'] as const);
    if (strategy === 'zoom' || strategy === 'pack') {
      throw new SemclipError(
        'INVALID_ARGUMENT',
        `--strategy ${strategy} needs a VLM (it ${strategy === 'zoom' ? "reads the VLM's confidence" : 'sends a packed image'}), which select does not call.`,
        {
          hint: `Run semclip ask IMAGE QUESTION --strategy ${strategy} --vlm SPEC`,
        },
      );
    }
    if (strategy === 'adaptive') (args as { adaptive?: boolean }).adaptive = true;
    if (strategy === 'topk' && args.adaptive === true) {
      throw new SemclipError('INVALID_ARGUMENT', '--adaptive and --strategy topk cannot be combined.', { hint: 'Drop one of them' });
    }
    const question = questionArg(args.question);
    const { overlap, levels } = gridOptions(args);
    const scorer = await scorerFromFlags(args);
    const result = await runSelection({
      image: args.image,
      question,
      pipeline: { ...scorer, grid: args.grid, overlap, levels, select: selectOptionsFrom(args) },
      ...(args.overlay ? { overlay: args.overlay } : {}),
      progress: progressEnabled(args),
      signal: cliSignal(),
    });
    if (args.json) printJson(selectionJson(result));
    else printSelection(result, { verbose: Boolean(args.verbose) });
  },
});
