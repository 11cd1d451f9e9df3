import { createRequire } from 'node:module';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, extname } from 'node:path';
import { defineCommand } from 'citty';
import { SemclipError } from '@semclip/core';
import type { Box, VlmRunner } from '@semclip/core';
import type { EvalStrategyInput } from '@semclip/eval';
import type { AskResult, CommonScorerOptions, Pipeline } from '@semclip/pipeline';
import type { LocalRunnerOptions, RunnerConfig } from '@semclip/vlm-runner';
import {
  choiceArg,
  commonArgs,
  gridArgs,
  gridOptions,
  httpVlmArgs,
  httpVlmOptions,
  intArg,
  numberArg,
  padArg,
  padArgs,
  selectArgs,
  selectOptionsFrom,
} from '../_args.js';
import { createProgress, fmtMs, note, print, printJson, progressEnabled, warning } from '../_output.js';
import type { Progress } from '../_output.js';
import { cliSignal } from '../_signal.js';

const score = defineCommand({
  meta: {
    name: 'score',
    description:
      "Score a prediction file against a benchmark's questions, with the benchmark's own answer parsing and metrics (LLaVA conventions). " +
      'Example: semclip eval score --benchmark pope --data pope/rev_e3e3926 --predictions answers.jsonl',
  },
  args: {
    benchmark: {
      type: 'string',
      required: true,
      description: 'Benchmark: pope, gqa, scienceqa, vstar, mmbench, mmstar or seedbench',
      valueHint: 'pope|gqa|scienceqa|vstar|mmbench|mmstar|seedbench',
    },
    data: {
      type: 'string',
      required: true,
      description:
        'Question file or folder as the benchmark ships it (POPE folder or llava_pope_test.jsonl, GQA testdev_balanced_questions.json, ScienceQA folder or llava_test_CQM-A.json, V* folder or annotation JSONL, MMBench/MMStar TSV, SEED-Bench.json)',
      valueHint: 'PATH',
    },
    predictions: {
      type: 'string',
      required: true,
      description:
        "Answers: JSON lines with question_id and text (LLaVA answer files) or prediction; ScienceQA's result JSON; V*'s annotation file with output",
      valueHint: 'FILE',
    },
    annotations: {
      type: 'string',
      description:
        "Ground truth for LLaVA's POPE/GQA question files (POPE: folder of coco_pope_*.json; GQA: testdev_balanced_questions.json). Default: looked for beside --data",
      valueHint: 'PATH',
    },
    split: { type: 'string', description: 'ScienceQA problems.json: split of pid_splits.json (default test)', valueHint: 'NAME' },
    'allow-mismatch': {
      type: 'boolean',
      description: 'Score even when predictions were made for different questions than --data has under their ids (reported as mismatched)',
    },
    strict: {
      type: 'boolean',
      description:
        'Refuse an MMBench/MMStar/SEED-Bench file with rows that cannot be used (listing them) instead of scoring every other row and reporting those',
    },
    ...commonArgs,
  },
  async run({ args }) {
    const { scorePredictions, scoreToJSON, formatScoreTable } = await import('@semclip/eval');
    const report = await scorePredictions({
      benchmark: args.benchmark,
      data: args.data,
      predictions: args.predictions,
      dataOptions: {
        ...(args.annotations ? { annotations: args.annotations } : {}),
        ...(args.split ? { split: args.split } : {}),
        ...(args.strict ? { strict: true } : {}),
      },
      onMismatch: args['allow-mismatch'] ? 'warn' : 'error',
    });
    if (args.json) printJson(scoreToJSON(report));
    else print(formatScoreTable(report));
  },
});

/** Versions of the packages a run used, recorded in the results header (not compared). */
function versions(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const out: Record<string, string> = {};
  for (const name of ['@semclip/eval', '@semclip/pipeline', '@semclip/vlm-runner', '@semclip/scorers', '@semclip/tiling', '@semclip/selector']) {
    try {
      out[name] = (require(`${name}/package.json`) as { version: string }).version;
    } catch {
      // A package without ./package.json in its exports: leave it out.
    }
  }
  return out;
}

function fmtEta(ms: number | null): string {
  if (ms === null) return 'ETA ?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `ETA ${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `ETA ${m}m${String(s % 60).padStart(2, '0')}s` : `ETA ${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

const { seed: _scorerSeed, ...selectionArgs } = selectArgs;

/** `kind:model`, as runners name themselves (`openai:<model>`, `local:<model-id>`): the URL is not part of it. */
function runnerLabel(config: RunnerConfig): string {
  return `${config.kind}:${typeof config.model === 'string' ? config.model : config.model.id}`;
}

/** What `--scorer`, `--scorer-vlm`, `--model` and `--dtype` ask for, checked before any work. */
interface ScorerChoice {
  readonly id: string;
  /** VLM scorers: the VLM that scores; `shared` when it is the answering runner. */
  readonly vlm?: { readonly config: RunnerConfig; readonly shared: boolean };
  readonly dtype?: LocalRunnerOptions['dtype'];
  /** vlm-embed: how tiles are represented (`--embed-pool`); undefined: the scorer's default (auto). */
  readonly pool?: 'auto' | 'cls' | 'mean';
}

async function scorerChoice(
  args: {
    readonly scorer?: string;
    readonly model?: string;
    readonly dtype?: string;
    readonly 'scorer-vlm'?: string;
    readonly 'embed-pool'?: string;
  },
  runnerConfig: RunnerConfig,
  pipelinePkg: typeof import('@semclip/pipeline'),
  parseRunnerSpec: (spec: string) => RunnerConfig,
): Promise<ScorerChoice> {
  const id = args.scorer ?? pipelinePkg.defaultScorerId();
  // UNKNOWN_SCORER lists every registered id.
  const vlmScorer = pipelinePkg.isVlmScorer(id);
  if (!vlmScorer && args['scorer-vlm'] !== undefined) {
    throw new SemclipError('INVALID_ARGUMENT', '--scorer-vlm only applies with --scorer vlm-embed or vlm-yesno.', {
      hint: 'Drop --scorer-vlm, or pick a VLM scorer',
    });
  }
  if (vlmScorer && args.model !== undefined) {
    throw new SemclipError('INVALID_ARGUMENT', `--model names a light scorer's model; ${id} scores with a VLM.`, {
      hint: 'Name the scoring VLM with --scorer-vlm local:<model-id> (default: the --vlm that answers)',
    });
  }
  const vlm = vlmScorer
    ? args['scorer-vlm'] === undefined
      ? { config: runnerConfig, shared: true }
      : { config: parseRunnerSpec(args['scorer-vlm']), shared: false }
    : undefined;
  // vlm-embed reads the VLM's embeddings, which only a local runner gives.
  if (vlm) pipelinePkg.checkScorerOptions(id, { runnerKind: vlm.config.kind });
  let dtype: LocalRunnerOptions['dtype'];
  if (args.dtype !== undefined) {
    if (runnerConfig.kind !== 'local' && vlm?.config.kind !== 'local') {
      throw new SemclipError('INVALID_ARGUMENT', `--dtype only applies to local: VLMs, not ${runnerConfig.kind}:.`, { hint: 'Drop --dtype' });
    }
    const { parseDtypeSpec } = await import('@semclip/vlm-runner/local');
    dtype = parseDtypeSpec(args.dtype);
  }
  const pool = choiceArg('embed-pool', args['embed-pool'], ['auto', 'cls', 'mean'] as const);
  if (pool !== undefined && id !== 'vlm-embed') {
    throw new SemclipError('INVALID_ARGUMENT', '--embed-pool only applies with --scorer vlm-embed.', { hint: 'Drop --embed-pool, or use --scorer vlm-embed' });
  }
  return { id, ...(vlm ? { vlm } : {}), ...(dtype === undefined ? {} : { dtype }), ...(pool === undefined ? {} : { pool }) };
}

/** The pipeline's scorer options: a light scorer's model and seed, or the VLM that scores. */
function scorerOptionsFor(
  choice: ScorerChoice,
  answering: VlmRunner,
  flags: { readonly model?: string; readonly seed: number; readonly device?: 'cpu' | 'cuda' | 'webgpu' | 'auto' },
): CommonScorerOptions & Readonly<Record<string, unknown>> {
  const device = flags.device === undefined ? {} : { device: flags.device };
  if (!choice.vlm) return { ...(flags.model === undefined ? {} : { model: flags.model }), seed: flags.seed, ...device, warn: note };
  // Scoring with the answering runner shares it (the pipeline never disposes it); another VLM is
  // created by the scorer and disposed with it.
  const pool = choice.pool === undefined ? {} : { pool: choice.pool };
  if (choice.vlm.shared) return { runner: answering, ...pool, warn: note };
  const local = choice.vlm.config.kind === 'local';
  return {
    vlm: choice.vlm.config,
    ...(local ? device : {}),
    ...(local && choice.dtype !== undefined ? { dtype: choice.dtype } : {}),
    ...pool,
    warn: note,
  };
}

type RunSummary = import('@semclip/eval').RunSummary;
type RunFailure = RunSummary['failures'][number];

/** What to do about failed rows, per cause: the message names what went wrong and how to fix it. */
const FAILURE_ADVICE: Readonly<Record<RunFailure['cause'], (f: RunFailure) => string>> = {
  'missing-image': (f) =>
    `${f.items} questions have no image (${f.code}): point --images at the benchmark's image folder (or --data at the folder that holds the images)`,
  'bad-image': (f) => `${f.items} questions have an image that cannot be read (${f.code}): check or replace those files`,
  'model-output': (f) => `${f.rows} answers could not be read from the VLM's replies (${f.code}): check the model and its server (--logprobs, --max-tokens)`,
  other: (f) => `${f.rows} rows failed with ${f.code}`,
};

/** One stderr line per error code: rows, cause, a fix, the first item ids and the first message. */
function failureLines(summary: RunSummary): string[] {
  return summary.failures.map(
    (f) => `${FAILURE_ADVICE[f.cause](f)}; e.g. ${f.examples.join(', ')}${f.items > f.examples.length ? ', ...' : ''} (${f.message.replace(/\.$/, '')})`,
  );
}

function printRunSummary(summary: RunSummary, report: import('@semclip/eval').EvalReport, evalPkg: typeof import('@semclip/eval'), json: boolean): void {
  if (json) {
    printJson({
      out: summary.out,
      benchmark: summary.benchmark,
      methods: summary.methods,
      items: summary.items,
      keys: summary.keys,
      written: summary.written,
      skipped: summary.skipped,
      vlm_calls: summary.vlmCalls,
      errors: summary.errors,
      failed: summary.failed,
      failed_fraction: summary.failedFraction,
      failures: summary.failures.map((f) => ({ code: f.code, cause: f.cause, rows: f.rows, items: f.items, examples: [...f.examples], message: f.message })),
      retried: summary.retried,
      kept_failed: summary.keptFailed,
      repaired_bytes: summary.repairedBytes,
      duplicates: summary.duplicates,
      extra_headers: summary.extraHeaders,
      replaced_lock: summary.replacedLock,
      resumed: summary.resumed,
      training_overlap: summary.trainingOverlap
        ? {
            scorer: summary.trainingOverlap.scorer,
            trained_on: summary.trainingOverlap.trainedOn,
            overlapping: summary.trainingOverlap.overlapping,
            examples: [...summary.trainingOverlap.examples],
          }
        : null,
      elapsed_ms: summary.elapsedMs,
      report: evalPkg.reportToJSON(report),
    });
    return;
  }
  if (summary.repairedBytes > 0) note(`dropped a half-written last line (${summary.repairedBytes} bytes) from ${summary.out}; its item was run again`);
  if (summary.duplicates > 0 || summary.extraHeaders > 0) {
    const what = [
      ...(summary.duplicates > 0 ? [`${summary.duplicates} repeated rows (the last of each counts)`] : []),
      ...(summary.extraHeaders > 0 ? [`${summary.extraHeaders} repeated header line${summary.extraHeaders === 1 ? '' : 's'} (ignored)`] : []),
    ];
    note(`${summary.out} holds ${what.join(' and ')}: two runs wrote it at once (an older SemClip without the writer lock); nothing was asked again`);
  }
  const retried = summary.retried > 0 ? ` (${summary.retried} failed rows asked again)` : '';
  const failed = summary.failed > 0 ? `, ${summary.failed} of them FAILED` : '';
  print(
    `${summary.benchmark}: ${summary.items} questions x ${summary.methods.join(', ')}: wrote ${summary.written} results${failed}${retried}, ${summary.skipped} already in ${summary.out}; ${summary.vlmCalls} VLM calls in ${fmtMs(summary.elapsedMs)}`,
  );
  for (const line of failureLines(summary)) note(line);
  if (summary.failed > 0) note('failed rows count as wrong; rerun the same command to ask them again (--no-retry-failed keeps them)');
  if (summary.keptFailed > 0) note(`${summary.keptFailed} failed rows already in ${summary.out} were kept (--no-retry-failed); they count as wrong`);
  print();
  print(evalPkg.formatReportMarkdown(report).trimEnd());
}

/**
 * A run where more than `max` of its rows failed is an error (RESULTS_INVALID: the results are
 * not usable as they stand), thrown after every row and the report were written.
 */
function checkFailures(summary: RunSummary, max: number): void {
  if (summary.failed === 0 || summary.failedFraction <= max) return;
  const byCode = summary.failures.map((f) => `${f.code}: ${f.rows}`).join(', ');
  const missing = summary.failures.some((f) => f.cause === 'missing-image');
  throw new SemclipError(
    'RESULTS_INVALID',
    `${summary.failed} of the ${summary.written} results this run wrote failed (${(100 * summary.failedFraction).toFixed(1)}%, over --max-failed-fraction ${max}): ${byCode}. They are in ${summary.out}, counted as wrong.`,
    {
      hint: missing
        ? 'Point --images at the benchmark image folder and rerun the same command: the failed rows are asked again'
        : 'Fix the cause above and rerun the same command: the failed rows are asked again (or raise --max-failed-fraction)',
      details: {
        path: summary.out,
        failed: summary.failed,
        written: summary.written,
        failures: summary.failures.map((f) => ({ code: f.code, cause: f.cause, rows: f.rows, examples: f.examples })),
      },
    },
  );
}

const run = defineCommand({
  meta: {
    name: 'run',
    description:
      'Run methods on a benchmark against a VLM and append one result per (item, method, seed) to a JSON-lines file; rerun the same command to resume. ' +
      'Example: semclip eval run --benchmark vstar --data vstar_bench --vlm openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf --method all --out vstar.jsonl',
  },
  args: {
    benchmark: { type: 'string', required: true, description: 'Benchmark: vstar, gqa, scienceqa, pope, mmbench, mmstar or seedbench', valueHint: 'NAME' },
    data: {
      type: 'string',
      required: true,
      description: 'Question file or folder as the benchmark ships it (see semclip eval score --help)',
      valueHint: 'PATH',
    },
    vlm: { type: 'string', description: 'The VLM: openai:<base-url>#<model> or local:<model>. Default: $SEMCLIP_VLM', valueHint: 'SPEC' },
    method: {
      type: 'string',
      default: 'baseline,semclip',
      description:
        'Methods, comma-separated, or all: baseline, semclip, random, majority, subimage-only, oracle, all-tiles; and by name only: zoom (confidence-gated quadtree search, --max-calls), pack (best cells in their original arrangement, --pack-k/--pack-budget)',
      valueHint: 'M[,M...]|all',
    },
    strategy: {
      type: 'string',
      description: 'topk (default) or adaptive: the selection of the semclip method; zoom or pack: adds that method',
      valueHint: 'topk|adaptive|zoom|pack',
    },
    'max-calls': { type: 'string', description: 'zoom: most VLM calls per question, the answer included (default 12)', valueHint: 'N' },
    'pack-k': {
      type: 'string',
      description: "pack: cells to keep (default: each named object's best cell, then more while they fit --pack-budget)",
      valueHint: 'N',
    },
    'pack-budget': { type: 'string', description: "pack: visual tokens for overview + packed image (default 2880, LLaVA-NeXT's 5 x 576)", valueHint: 'TOKENS' },
    out: { type: 'string', default: 'results.jsonl', description: 'Results file (JSON lines); an existing one is resumed', valueHint: 'FILE' },
    seed: { type: 'string', default: '0', description: 'Seed of the random sub-images (seeds S..S+R-1) and of the random scorer', valueHint: 'S' },
    repeats: { type: 'string', default: '3', description: 'Random sub-image repeats (mean and std over them)', valueHint: 'R' },
    limit: { type: 'string', description: 'Only the first N questions (before sharding)', valueHint: 'N' },
    shard: {
      type: 'string',
      description: 'Run shard i of n (1-based, by a stable hash of the question id); merge the files with semclip eval report',
      valueHint: 'i/n',
    },
    concurrency: { type: 'string', default: '4', description: 'VLM requests in flight at once', valueHint: 'C' },
    annotations: { type: 'string', description: "Ground truth for LLaVA's POPE/GQA question files (default: beside --data)", valueHint: 'PATH' },
    images: { type: 'string', description: 'Image folder, when not where the benchmark keeps it', valueHint: 'DIR' },
    split: { type: 'string', description: 'ScienceQA problems.json: split of pid_splits.json (default test)', valueHint: 'NAME' },
    subset: { type: 'string', description: 'ScienceQA: img (questions with an image, SQA-IMG) or all', valueHint: 'img|all' },
    'max-tokens': { type: 'string', description: 'Longest free-text answer in tokens (default: the runner default)', valueHint: 'N' },
    'retry-failed': {
      type: 'boolean',
      default: true,
      description: 'On resume, ask again the rows that failed (missing image, unreadable reply...)',
      negativeDescription: 'Keep the failed rows of the results file as they are',
    },
    'max-failed-fraction': {
      type: 'string',
      default: '0.05',
      description: "Exit with an error (after writing every result and the report) when more than this fraction of this run's rows failed",
      valueHint: 'F',
    },
    'vstar-protocol': {
      type: 'string',
      default: 'letters',
      description:
        "V* only. letters: options listed (in a seeded order per question, recorded per row) and the letter asked for; likelihood: V*'s own protocol (vstar_bench_eval.py), the question alone and the option text the model finds most likely (local: VLMs only)",
      valueHint: 'letters|likelihood',
    },
    strict: {
      type: 'boolean',
      description: 'Refuse an MMBench/MMStar/SEED-Bench file with rows that cannot be used (listing them) instead of running every other row',
    },
    'force-unlock': {
      type: 'boolean',
      description:
        'Take --out even when another run holds its lock (<out>.lock): only when that run is gone, e.g. its machine was lost. A lock left by a killed run on this machine is taken over without it',
    },
    ...httpVlmArgs,
    ...padArgs,
    ...gridArgs,
    ...selectionArgs,
    scorer: {
      ...selectionArgs.scorer,
      description:
        'Relevance scorer id: random, ocr, clip, siglip, distant, or vlm-embed, vlm-yesno (scored by the VLM that answers, or --scorer-vlm). Default: ocr when available, else random',
    },
    'scorer-vlm': {
      type: 'string',
      description:
        'With --scorer vlm-embed|vlm-yesno: the VLM that scores, if not the one that answers (e.g. local:<model-id> for vlm-embed with an openai: --vlm)',
      valueHint: 'SPEC',
    },
    'embed-pool': {
      type: 'string',
      description:
        "With --scorer vlm-embed: each tile as its projected CLS token (cls, the paper's; the export must give it), the mean of its visual tokens (mean), or auto (cls where the export gives it, else mean with a notice). The report names the representation used",
      valueHint: 'auto|cls|mean',
    },
    dtype: {
      type: 'string',
      description:
        'Local VLM weight variant (the local: --vlm or --scorer-vlm): fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4, or per session like vision_encoder=fp16,decoder_model_merged=q4',
      valueHint: 'DTYPE',
    },
    ...commonArgs,
  },
  async run({ args }) {
    const evalPkg = await import('@semclip/eval');
    const benchmark = evalPkg.assertBenchmark(args.benchmark);
    const strategy = choiceArg('strategy', args.strategy, ['topk', 'adaptive', 'zoom', 'pack'] as const);
    if (strategy === 'adaptive' && args.adaptive !== true) (args as { adaptive?: boolean }).adaptive = true;
    const methods = evalPkg.parseMethods(
      strategy === 'zoom' || strategy === 'pack' ? `${args.method ?? 'baseline,semclip'},${strategy}` : (args.method ?? 'baseline,semclip'),
    );
    const maxCalls = intArg('max-calls', args['max-calls'], 1, 1000);
    const packK = intArg('pack-k', args['pack-k'], 1, 64);
    const packBudget = intArg('pack-budget', args['pack-budget'], 1);
    if (maxCalls !== undefined && !methods.includes('zoom')) {
      throw new SemclipError('INVALID_ARGUMENT', '--max-calls applies to the zoom method only.', { hint: 'Add zoom to --method, or drop --max-calls' });
    }
    if ((packK !== undefined || packBudget !== undefined) && !methods.includes('pack')) {
      throw new SemclipError('INVALID_ARGUMENT', '--pack-k and --pack-budget apply to the pack method only.', { hint: 'Add pack to --method' });
    }
    const seed = intArg('seed', args.seed ?? '0', Number.MIN_SAFE_INTEGER) as number;
    const repeats = intArg('repeats', args.repeats ?? '3', 1, 1000) as number;
    const limit = intArg('limit', args.limit, 1);
    const shard = args.shard === undefined ? undefined : evalPkg.parseShard(args.shard);
    const concurrency = intArg('concurrency', args.concurrency ?? '4', 1, 1024) as number;
    const { overlap, levels } = gridOptions(args);
    const selectOptions = selectOptionsFrom(args);
    const device = choiceArg('device', args.device, ['cpu', 'cuda', 'webgpu', 'auto'] as const);
    const http = httpVlmOptions(args);
    const { logprobs } = http;
    const padding = padArg(args.pad);
    const subset = choiceArg('subset', args.subset, ['img', 'all'] as const);
    const maxTokens = intArg('max-tokens', args['max-tokens'], 1, 65536);
    const maxFailedFraction = numberArg('max-failed-fraction', args['max-failed-fraction'] ?? '0.05', 0, 1, 'a fraction from 0 to 1, e.g. 0.05') as number;
    const vstarProtocol = choiceArg('vstar-protocol', args['vstar-protocol'] ?? 'letters', ['letters', 'likelihood'] as const);
    if (vstarProtocol === 'likelihood' && benchmark !== 'vstar') {
      throw new SemclipError('INVALID_ARGUMENT', `--vstar-protocol likelihood applies to --benchmark vstar only, not ${benchmark}.`, {
        hint: 'Drop --vstar-protocol',
      });
    }
    const spec = args.vlm ?? process.env.SEMCLIP_VLM;
    if (!spec) {
      throw new SemclipError('INVALID_ARGUMENT', 'No VLM given.', {
        expected: '--vlm openai:<base-url>#<model>, e.g. --vlm openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf',
        hint: 'Pass --vlm or set SEMCLIP_VLM',
      });
    }
    const [pipelinePkg, vlmRunner] = await Promise.all([import('@semclip/pipeline'), import('@semclip/vlm-runner')]);
    // Everything the flags can get wrong fails before the data is read or the server is called.
    const runnerConfig = vlmRunner.parseRunnerSpec(spec);
    const selection = pipelinePkg.describeSelectOptions(selectOptions);
    pipelinePkg.resolveImageFormat(http.image);
    const scorer = await scorerChoice(args, runnerConfig, pipelinePkg, vlmRunner.parseRunnerSpec);
    const grid = args.grid ?? '2x2';
    const needsScorer = methods.some((m) => evalPkg.SCORED_METHODS.includes(m));

    const dataset = await evalPkg.loadBenchmark(benchmark, args.data, {
      ...(args.annotations ? { annotations: args.annotations } : {}),
      ...(args.images ? { images: args.images } : {}),
      ...(args.split ? { split: args.split } : {}),
      ...(subset ? { subset } : {}),
      ...(args.strict ? { strict: true } : {}),
    });
    for (const w of dataset.warnings) note(w);

    const signal = cliSignal();
    const showProgress = progressEnabled(args);
    let bar: Progress | undefined;
    let runner: VlmRunner | undefined;
    let pipeline: Pipeline | undefined;
    try {
      runner = await vlmRunner.createRunner(
        runnerConfig,
        runnerConfig.kind === 'openai'
          ? {
              concurrency,
              ...http.overrides,
              onRetry: (info) => note(`VLM request failed (${info.reason}); retry ${info.attempt} in ${fmtMs(info.delayMs)}`),
            }
          : { ...(device === undefined ? {} : { device }), ...(scorer.dtype === undefined ? {} : { dtype: scorer.dtype }), warn: note },
      );
      pipeline = pipelinePkg.createPipeline({
        scorer: scorer.id,
        scorerOptions: scorerOptionsFor(scorer, runner, {
          ...(args.model === undefined ? {} : { model: args.model }),
          seed,
          ...(device === undefined ? {} : { device }),
        }),
        grid,
        overlap,
        levels,
        select: selectOptions,
        runner,
        imageFormat: http.image,
        // The padding applied (by the model family, or --pad) goes into the results header.
        padding,
      });
      // A scorer that cannot load (weights not pulled...) fails before the results file is written.
      // How it represents tiles and questions (vlm-embed: CLS or mean...) goes into the setup.
      const representation = needsScorer ? (await pipeline.scorer()).representation : undefined;
      const strategyPipeline = pipeline;
      const strategyRunner = runner;
      const packOptions = { ...(packK === undefined ? {} : { k: packK }), ...(packBudget === undefined ? {} : { budget: packBudget }) };
      const strategies = {
        zoom: async (input: EvalStrategyInput) => {
          const r = await pipelinePkg.zoomAsk(strategyPipeline, { ...input, runner: strategyRunner }, maxCalls === undefined ? {} : { maxCalls });
          return strategyOutcome(r.answer, r.visualTokens, r.calls, r.box ? [r.box] : []);
        },
        pack: async (input: EvalStrategyInput) => {
          const r = await pipelinePkg.packAsk(strategyPipeline, { ...input, runner: strategyRunner }, packOptions);
          return strategyOutcome(
            r.answer,
            r.visualTokens,
            1,
            r.cells.map((c) => c.cell.box),
          );
        },
      };
      const summary = await evalPkg.runEvaluation({
        dataset,
        methods,
        runner,
        pipeline,
        strategies,
        out: args.out ?? 'results.jsonl',
        seed,
        repeats,
        concurrency,
        ...(limit === undefined ? {} : { limit }),
        ...(shard === undefined ? {} : { shard }),
        ...(maxTokens === undefined ? {} : { maxTokens }),
        retryFailed: args['retry-failed'] !== false,
        ...(benchmark === 'vstar' ? { vstarProtocol: vstarProtocol ?? 'letters' } : {}),
        // What the results depend on beyond the engine's own config; a resume must match it.
        setup: {
          grid,
          overlap,
          levels,
          scorer: scorer.id,
          ...(args.model === undefined ? {} : { scorerModel: args.model }),
          ...(scorer.vlm ? { scorerVlm: runnerLabel(scorer.vlm.config) } : {}),
          ...(args.dtype === undefined ? {} : { dtype: args.dtype }),
          ...(representation === undefined ? {} : { scorerRepresentation: representation }),
          selection,
          composite: args.composite === true,
          logprobs,
          ...(methods.includes('zoom') ? { zoom: { maxCalls: maxCalls ?? 12 } } : {}),
          ...(methods.includes('pack') ? { pack: { k: packK ?? null, budget: packBudget ?? 5 * 576 } } : {}),
        },
        info: {
          vlm: runnerConfig.kind === 'openai' ? `openai:${runnerConfig.baseUrl}#${runnerConfig.model}` : spec,
          ...(scorer.vlm && !scorer.vlm.shared ? { scorerVlm: args['scorer-vlm'] ?? null } : {}),
          versions: versions(),
          command: `semclip eval ${process.argv.slice(3).join(' ')}`.trim(),
        },
        signal,
        ...(args['force-unlock'] ? { forceUnlock: true } : {}),
        onWarning: warning,
        onNote: note,
        onProgress: (p) => {
          if (!showProgress) return;
          bar ??= createProgress('eval', p.itemsTotal, { enabled: true });
          bar.update(p.itemsDone, `${p.rate > 0 ? `${p.rate.toFixed(p.rate < 10 ? 2 : 1)} items/s` : '- items/s'}, ${fmtEta(p.etaMs)}, ${p.vlmCalls} calls`);
        },
      });
      bar?.done();
      printRunSummary(summary, await evalPkg.loadReport([summary.out]), evalPkg, args.json === true);
      checkFailures(summary, maxFailedFraction);
    } finally {
      bar?.done();
      await pipeline?.dispose();
      await runner?.dispose();
    }
  },
});

/** Writes the chart: SVG, plus PNG via sharp (FILE.png beside FILE.svg, or the other way round). */
async function writeChart(file: string, svg: string): Promise<string[]> {
  const ext = extname(file).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') {
    throw new SemclipError('INVALID_ARGUMENT', `--chart ${JSON.stringify(file)} is neither .svg nor .png.`, { expected: 'a file name ending in .svg or .png' });
  }
  const base = file.slice(0, file.length - ext.length);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${base}.svg`, svg);
  const written = [`${base}.svg`];
  try {
    const { default: sharp } = await import('sharp');
    await sharp(Buffer.from(svg), { density: 144 }).png().toFile(`${base}.png`);
    written.push(`${base}.png`);
  } catch (err) {
    if (ext === '.png')
      throw new SemclipError('INTERNAL', `Could not render ${file}: ${err instanceof Error ? err.message : String(err)}.`, {
        cause: err,
        hint: `The SVG is in ${base}.svg`,
      });
    note(`no PNG chart (sharp could not render it: ${err instanceof Error ? err.message : String(err)}); the SVG is in ${base}.svg`);
  }
  return written;
}

const report = defineCommand({
  meta: {
    name: 'report',
    description:
      'Tabulate results files (shards, resumed runs, several benchmarks) like the paper: methods as rows, benchmarks as columns plus Avg, then visual tokens vs accuracy. ' +
      'Example: semclip eval report vstar-1.jsonl vstar-2.jsonl pope.jsonl --chart chart.svg',
  },
  args: {
    files: { type: 'positional', required: true, description: 'Results files written by semclip eval run', valueHint: 'FILE...' },
    format: { type: 'string', default: 'md', description: 'md (markdown tables) or json', valueHint: 'md|json' },
    chart: {
      type: 'string',
      description: 'Also draw accuracy against visual tokens: FILE.svg, and FILE.png beside it (or FILE.png and FILE.svg)',
      valueHint: 'FILE',
    },
    ...commonArgs,
  },
  async run({ args }) {
    const format = args.json ? 'json' : choiceArg('format', args.format ?? 'md', ['md', 'json'] as const);
    const files = (args._ as string[] | undefined)?.length ? (args._ as string[]) : [args.files];
    const { loadReport, reportToJSON, formatReportMarkdown, renderReportChart } = await import('@semclip/eval');
    const report = await loadReport(files);
    const charts = args.chart ? await writeChart(args.chart, renderReportChart(report)) : [];
    if (format === 'json') {
      printJson({ ...reportToJSON(report), charts });
      return;
    }
    print(formatReportMarkdown(report).trimEnd());
    for (const c of charts) note(`chart written to ${c}`);
  },
});

/** `semclip eval`: benchmark evaluation. `run` evaluates methods against a VLM, `report` tabulates results, `score` grades existing prediction files. */
/** A strategy's answer as the eval engine records it. */
function strategyOutcome(answer: AskResult, visualTokens: number, vlmCalls: number, boxes: Box[]) {
  return {
    reply: answer.kind === 'choice' ? { index: answer.index } : answer.text,
    visualTokens,
    vlmCalls,
    images: answer.images.length,
    boxes,
  };
}

const synth = defineCommand({
  meta: {
    name: 'synth',
    description:
      "Write a perception-limited benchmark in V* Bench's folder layout: photos with small shapes, words and left/right word pairs composited at known boxes (unreadable in a 336-px overview), easy large-target items included, and synth.json for a simulated VLM. " +
      'Example: semclip eval synth --out synth --count 200, then semclip eval run --benchmark vstar --data synth --method baseline,semclip,zoom,pack ...',
  },
  args: {
    out: { type: 'string', required: true, description: 'Folder to write (created)', valueHint: 'DIR' },
    count: { type: 'string', default: '200', description: 'Items', valueHint: 'N' },
    seed: { type: 'string', default: '1', description: 'Seed (the same seed and photos give the same items)', valueHint: 'S' },
    photos: {
      type: 'string',
      description: 'Folder of photos to composite onto (default: ../shared/data/images beside the clone when present, else a generated stand-in)',
      valueHint: 'DIR',
    },
    'long-side': { type: 'string', default: '2400', description: 'Long side of every item image in pixels', valueHint: 'PX' },
    easy: { type: 'string', default: '0.2', description: 'Share of easy (large-target) items', valueHint: 'F' },
    relative: { type: 'string', default: '0.3', description: 'Share of relative-position (left/right) items', valueHint: 'F' },
    ...commonArgs,
  },
  async run({ args }) {
    const { readdir } = await import('node:fs/promises');
    const { existsSync } = await import('node:fs');
    const { join, resolve } = await import('node:path');
    const count = intArg('count', args.count ?? '200', 1, 100000) as number;
    const seed = intArg('seed', args.seed ?? '1', Number.MIN_SAFE_INTEGER) as number;
    const longSide = intArg('long-side', args['long-side'] ?? '2400', 400, 8000) as number;
    const easyFraction = numberArg('easy', args.easy ?? '0.2', 0, 1, 'a fraction from 0 to 1') as number;
    const relativeFraction = numberArg('relative', args.relative ?? '0.3', 0, 1, 'a fraction from 0 to 1') as number;
    const shared = process.env.SEMCLIP_SHARED_DATA ?? resolve(process.env.INIT_CWD ?? process.cwd(), '..', 'shared', 'data');
    const dir = args.photos ?? (existsSync(join(shared, 'images')) ? join(shared, 'images') : undefined);
    const photos = dir
      ? (await readdir(dir))
          .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
          .sort()
          .map((f) => join(dir, f))
      : [];
    if (args.photos && photos.length === 0) {
      throw new SemclipError('INVALID_ARGUMENT', `--photos ${args.photos} holds no JPEG, PNG or WebP photo.`, { hint: 'Point --photos at a folder of photos' });
    }
    const { generateSynthBenchmark } = await import('@semclip/tiling');
    const manifest = await generateSynthBenchmark({ out: args.out, photos, count, seed, longSide, easyFraction, relativeFraction });
    const by = (f: (i: (typeof manifest.items)[number]) => boolean) => manifest.items.filter(f).length;
    const summary = {
      out: args.out,
      items: manifest.items.length,
      colour: by((i) => i.type === 'colour'),
      text: by((i) => i.type === 'text'),
      relative: by((i) => i.type === 'relative'),
      easy: by((i) => i.easy),
      photos: photos.length ? photos.length : 'generated stand-in',
      manifest: join(args.out, 'synth.json'),
    };
    if (args.json) printJson(summary);
    else {
      print(
        `Wrote ${summary.items} items to ${args.out} (${summary.colour} colour, ${summary.text} text, ${summary.relative} left/right; ${summary.easy} easy) on ${photos.length ? `${photos.length} photos` : 'a generated stand-in photo'}; manifest ${summary.manifest}`,
      );
      print(`Evaluate: semclip eval run --benchmark vstar --data ${args.out} --method baseline,semclip,zoom,pack --vlm <spec>`);
    }
  },
});

export const evalCommand = defineCommand({
  meta: { name: 'eval', description: 'Evaluate on benchmarks (V*, GQA, ScienceQA, POPE, MMBench, MMStar, SEED-Bench)' },
  subCommands: { run, report, score, synth },
});

export default evalCommand;
