import { defineCommand } from 'citty';
import { SemclipError } from '@semclip/core';
import type { VlmRunner } from '@semclip/core';
import { choiceArg, commonArgs, gridArgs, gridOptions, intArg, questionArg, selectArgs, selectOptionsFrom } from '../_args.js';
import { note, printJson, progressEnabled } from '../_output.js';
import { runPipeline } from '../_pipeline.js';
import type { PipelineInput, PipelineResult } from '../_pipeline.js';
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

interface VlmSelectInput extends Omit<PipelineInput, 'scorer' | 'openScorer' | 'warn' | 'model' | 'seed'> {
  readonly scorer: string;
  readonly spec: string;
  readonly dtype?: import('@semclip/vlm-runner').LocalRunnerOptions['dtype'];
}

/**
 * `runPipeline` with a VLM scorer: the scoring runner is created from `--vlm` when scoring
 * starts and disposed with the scorer.
 */
async function runVlmPipeline(input: VlmSelectInput): Promise<PipelineResult> {
  const config = await scoringRunnerConfig(input.scorer, input.spec, '--vlm');
  if (config.kind !== 'local' && (input.dtype !== undefined || input.device !== undefined)) {
    throw new SemclipError('INVALID_ARGUMENT', `--${input.dtype !== undefined ? 'dtype' : 'device'} only applies to local: VLMs, not ${config.kind}:.`, {
      hint: `Drop --${input.dtype !== undefined ? 'dtype' : 'device'}`,
    });
  }
  const { spec: _spec, dtype, device, ...rest } = input;
  return runPipeline({
    ...rest,
    warn: note,
    openScorer: async () => {
      const [{ createRunner }, { createVlmScorer }] = await Promise.all([import('@semclip/vlm-runner'), import('@semclip/vlm-runner/scorers')]);
      const runner: VlmRunner = await createRunner(
        config,
        config.kind === 'local' ? { ...(device === undefined ? {} : { device }), ...(dtype === undefined ? {} : { dtype }), warn: note } : {},
      );
      try {
        const scorer = await createVlmScorer(input.scorer, { runner });
        return {
          scorer,
          close: async () => {
            await scorer.dispose();
            await runner.dispose();
          },
        };
      } catch (err) {
        await runner.dispose();
        throw err;
      }
    },
  });
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
    // What both scorer kinds share: the image, the grid, the selection and the output.
    const stages = {
      image: args.image,
      question,
      ...(device === undefined ? {} : { device }),
      grid: args.grid,
      overlap,
      levels,
      select,
      ...(args.overlay ? { overlay: args.overlay } : {}),
      progress: progressEnabled(args),
      signal,
    };
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
      result = await runVlmPipeline({ ...stages, scorer: scorer.id, spec, ...(dtype === undefined ? {} : { dtype }) });
    } else {
      for (const flag of ['vlm', 'dtype'] as const) {
        if (args[flag] !== undefined) {
          throw new SemclipError('INVALID_ARGUMENT', `--${flag} only applies with --scorer vlm-embed or vlm-yesno.`, { hint: `Drop --${flag}, or pick a VLM scorer` });
        }
      }
      result = await runPipeline({
        ...stages,
        ...(scorer === undefined ? {} : { scorer: scorer.id }),
        ...(args.model === undefined ? {} : { model: args.model }),
        ...(seed === undefined ? {} : { seed }),
        warn: note,
      });
    }
    if (args.json) printJson(selectionJson(result));
    else printSelection(result);
  },
});
