/**
 * One benchmark item through every wanted method: prepare it (open, score, select), ask each
 * distinct prompt once (the ask cache), and turn the answers into rows, one function per
 * method family.
 */
import type {
  BenchmarkItem,
  BenchmarkName,
  Box,
  PipelineStages,
  PlannedRegion,
  PromptImage,
  Selection,
  Tile,
  TileScores,
  TileSource,
  VlmRunner,
} from '@semclip/core';
import { IMAGE_ERROR_CODES, type Semaphore, SemclipError, isSemclipError, throwIfAborted } from '@semclip/core';
import { judge } from '../answer/judge.js';
import { fileLetter, reorderItem, vstarOptionOrder } from '../answer/order.js';
import { benchmarkPrompt } from '../answer/prompt.js';
import { ALL_EVAL_METHODS, SCORED_METHODS, type EvalMethod, type StrategyMethod } from './methods.js';
import type { EvalResultRow } from './results.js';
import { stableHash } from './shard.js';
import { majorityVote } from './_vote.js';

/** One row an item still needs: a method, and its seed (`random` has one per repeat). */
export interface Wanted {
  readonly method: EvalMethod;
  readonly seed: number;
}

/** What a strategy method (`zoom`, `pack`) gets for one item: options in the order shown. */
export interface EvalStrategyInput {
  readonly source: TileSource;
  readonly question: string;
  readonly options?: readonly string[];
  readonly instruction?: string;
  readonly maxTokens?: number;
  readonly signal: AbortSignal;
}

/** What a strategy answered and spent. */
export interface EvalStrategyOutcome {
  /** The chosen option's index (multiple choice), or the answer text. */
  readonly reply: { readonly index: number } | string;
  readonly visualTokens: number;
  readonly vlmCalls: number;
  /** Images in the answering call. */
  readonly images: number;
  /** Regions the answer was given with, for the results file. */
  readonly boxes?: readonly Box[];
}

/**
 * Runs one strategy on one item with the run's runner and pipeline (wired by the caller, e.g.
 * the CLI with `zoomAsk` / `packAsk` of @semclip/pipeline), so this package needs no image code.
 */
export type EvalStrategy = (input: EvalStrategyInput) => Promise<EvalStrategyOutcome>;

/** What every item of a run shares. */
export interface ItemContext {
  /** The strategy methods' implementations. */
  readonly strategies?: Partial<Record<StrategyMethod, EvalStrategy>>;
  readonly benchmark: BenchmarkName;
  readonly runner: VlmRunner;
  readonly pipeline: PipelineStages;
  readonly maxTokens: number | null;
  /** VLM calls in flight. */
  readonly calls: Semaphore;
  /** Items scored at once. */
  readonly scoring: Semaphore;
  readonly signal: AbortSignal;
  readonly onCall: () => void;
  readonly onItemError: 'record' | 'throw';
  /**
   * V*: each item's options are shown in `vstarOptionOrder(shuffleSeed, item id)` and asked
   * with `protocol` (`likelihood`: option texts ranked by the runner's `answerLogprobs`).
   */
  readonly vstar?: { readonly protocol: 'letters' | 'likelihood'; readonly shuffleSeed: number };
}

/** A runner that gives exact log-likelihoods of candidate texts after a prompt (the local runner). */
interface TextScoringRunner {
  answerLogprobs(request: {
    readonly prompts: readonly (readonly PromptImage[])[];
    readonly question: string;
    readonly candidates: readonly string[];
    readonly imageSize?: { readonly width: number; readonly height: number };
    readonly batchSize?: number;
    readonly signal?: AbortSignal;
  }): Promise<
    readonly {
      readonly method: string;
      readonly logprobs: readonly { readonly token: string; readonly logprob: number }[] | undefined;
      /** Tokens of each candidate, for the mean log-probability per token. */
      readonly tokenCounts?: readonly number[];
    }[]
  >;
}

/** Errors that belong to one item; anything else (the VLM server down, a bug) stops the run. */
const ITEM_ERRORS = new Set<string>(['DATASET_NOT_FOUND', 'DATASET_INVALID', ...IMAGE_ERROR_CODES, 'MODEL_OUTPUT_INVALID', 'INVALID_QUESTION']);

const isItemError = (err: unknown): err is SemclipError => isSemclipError(err) && ITEM_ERRORS.has(err.code);

const errorInfo = (err: SemclipError) => ({ code: err.code, message: err.message });

/** True when the error is the item's own and the run records it instead of stopping. */
const recordable = (ctx: ItemContext, err: unknown): err is SemclipError => isItemError(err) && ctx.onItemError === 'record';

/**
 * The tile `random` sends for one item and seed: a stable hash, so every resume and shard agrees.
 *
 * @example
 * ```ts
 * randomTile(0, 'vstar', 'direct_attributes/sa_4690', 4); // the same index in 0..3 on every machine
 * ```
 */
export function randomTile(seed: number, benchmark: string, itemId: string, tiles: number): number {
  return stableHash(`${seed}\u0000${benchmark}\u0000${itemId}`) % tiles;
}

// ---------------------------------------------------------------------------------------------
// Prepare: open, score, select.

/** An item ready to ask: its tiled image and, when a scored method is wanted, the selection. */
interface PreparedItem {
  readonly source: TileSource;
  readonly level1: readonly Tile[];
  readonly scored?: { readonly scores: TileScores; readonly selection: Selection; readonly ms: number };
}

async function prepareItem(ctx: ItemContext, item: BenchmarkItem, wanted: readonly Wanted[]): Promise<PreparedItem> {
  throwIfAborted(ctx.signal);
  const source = await ctx.pipeline.open(await item.image(), { signal: ctx.signal });
  const level1 = source.grid.tiles.filter((t) => t.level === 1);
  // The engine checked up front that a scored method comes with a scorer.
  if (!wanted.some((w) => SCORED_METHODS.includes(w.method)) || ctx.pipeline.scorerId === undefined) return { source, level1 };
  const query = { question: item.question, ...(item.options ? { options: item.options } : {}) };
  return ctx.scoring.run(async () => {
    const t0 = performance.now();
    const scores = await ctx.pipeline.score(query, source, { signal: ctx.signal });
    const ms = performance.now() - t0;
    return { source, level1, scored: { scores, selection: ctx.pipeline.select(scores, source), ms } };
  }, ctx.signal);
}

// ---------------------------------------------------------------------------------------------
// The ask cache: each distinct prompt of an item goes to the VLM once.

/** What a prompt sends: the overview or not, then regions (each with the level-1 tiles it covers). */
interface Prompt {
  readonly overview: boolean;
  readonly regions: readonly (PlannedRegion & { readonly tiles: readonly number[] })[];
}

/** One VLM call's answer as rows see it. */
interface Outcome {
  readonly reply?: string | { readonly index: number };
  readonly predicted: string | null;
  readonly correct: boolean;
  readonly via: 'choose' | 'text' | 'likelihood';
  readonly visualTokens: number;
  readonly latencyMs: number;
  readonly images: number;
  readonly error?: { readonly code: string; readonly message: string };
}

const boxKey = (b: Box) => `${b.x},${b.y},${b.width},${b.height}`;

/**
 * V*'s own protocol (`vstar_bench_eval.py`): the question alone, no options listed, and each
 * option's text scored as the answer; the highest mean log-probability per token wins (V*:
 * the lowest mean cross-entropy), ties to the first option shown.
 */
async function chooseByTextLikelihood(ctx: ItemContext, item: BenchmarkItem, options: readonly string[], images: PromptImage[], source: TileSource) {
  const [scored] = await (ctx.runner as unknown as TextScoringRunner).answerLogprobs({
    prompts: [images],
    question: item.question,
    candidates: options,
    imageSize: source.size,
    batchSize: 1,
    signal: ctx.signal,
  });
  const lp = scored?.logprobs;
  if (scored?.method !== 'logits' || !lp || lp.length !== options.length) {
    throw new SemclipError('MODEL_OUTPUT_INVALID', `${ctx.runner.id} gave no log-likelihood per option (method ${scored?.method ?? 'none'}).`, {
      expected: "exact log-likelihoods of each option's text (a local: runner's answerLogprobs)",
    });
  }
  const counts = scored.tokenCounts;
  const scores = lp.map((c, i) => c.logprob / (counts && (counts[i] ?? 0) > 0 ? (counts[i] as number) : 1));
  let index = 0;
  for (let i = 1; i < scores.length; i++) if ((scores[i] as number) > (scores[index] as number)) index = i;
  return index;
}

/** Asks the VLM one prompt's images: `choose` for multiple choice when the runner has logprobs, else `answer`. */
async function callVlm(ctx: ItemContext, item: BenchmarkItem, source: TileSource, images: PromptImage[]): Promise<Outcome> {
  const prompt = benchmarkPrompt(item);
  const options = item.options && item.options.length > 0 ? item.options : undefined;
  const visualTokens = ctx.pipeline.visualTokens(images.map((i) => ({ width: i.image.width, height: i.image.height })));
  const common = { images, instruction: prompt.instruction, imageSize: source.size, signal: ctx.signal };
  throwIfAborted(ctx.signal);
  ctx.onCall();
  const t0 = performance.now();
  try {
    if (options && ctx.vstar?.protocol === 'likelihood') {
      const index = await chooseByTextLikelihood(ctx, item, options, images, source);
      const j = judge(item, { index });
      return {
        reply: { index },
        predicted: j.predicted,
        correct: j.correct,
        via: 'likelihood',
        visualTokens,
        latencyMs: performance.now() - t0,
        images: images.length,
      };
    }
    // Letters with a gap (A, B, D) are asked as text: the runner's choose would letter them A, B, C.
    if (options && ctx.runner.capabilities.logprobs && item.metadata.optionLetters === undefined) {
      const choice = await ctx.runner.choose({ ...common, question: prompt.stem, options });
      const j = judge(item, { index: choice.index });
      const latencyMs = choice.latencyMs ?? performance.now() - t0;
      return { reply: { index: choice.index }, predicted: j.predicted, correct: j.correct, via: 'choose', visualTokens, latencyMs, images: images.length };
    }
    const answer = await ctx.runner.answer({ ...common, question: prompt.question, ...(ctx.maxTokens === null ? {} : { maxTokens: ctx.maxTokens }) });
    const j = judge(item, answer.text);
    const latencyMs = answer.latencyMs ?? performance.now() - t0;
    return { reply: answer.text, predicted: j.predicted, correct: j.correct, via: 'text', visualTokens, latencyMs, images: images.length };
  } catch (err) {
    if (!recordable(ctx, err)) throw err;
    return { predicted: null, correct: false, via: 'text', visualTokens: 0, latencyMs: performance.now() - t0, images: images.length, error: errorInfo(err) };
  }
}

/**
 * The item's ask function: one VLM call per distinct prompt, however many methods send it.
 * Images are built (by the pipeline, each box encoded once) before a call slot is taken.
 */
function createAsker(
  ctx: ItemContext,
  item: BenchmarkItem,
  source: TileSource,
  toFileLetter: (letter: string | null) => string | null = (l) => l,
): (prompt: Prompt) => Promise<Outcome> {
  const asked = new Map<string, Promise<Outcome>>();
  return (prompt) => {
    const key = `${prompt.overview ? 'O' : '-'}|${prompt.regions.map((r) => boxKey(r.box)).join(';')}`;
    let outcome = asked.get(key);
    if (!outcome) {
      outcome = (async (): Promise<Outcome> => {
        let images: PromptImage[];
        try {
          images = await ctx.pipeline.promptImages(source, prompt, { signal: ctx.signal });
        } catch (err) {
          // A crop that cannot be cut or encoded (a damaged image) is the item's own failure.
          if (!recordable(ctx, err)) throw err;
          return { predicted: null, correct: false, via: 'text', visualTokens: 0, latencyMs: 0, images: 0, error: errorInfo(err) };
        }
        const o = await ctx.calls.run(() => callVlm(ctx, item, source, images), ctx.signal);
        // Options shown in another order than the file's: the letter is the file's again.
        return { ...o, predicted: toFileLetter(o.predicted) };
      })();
      asked.set(key, outcome);
    }
    return outcome;
  };
}

// ---------------------------------------------------------------------------------------------
// Rows.

type RowFields = Omit<EvalResultRow, 'type' | 'benchmark' | 'item' | 'method' | 'seed' | 'answer'>;

/** Builds the item's rows: the key and the judge's metadata, then the method's fields. */
function rowMaker(benchmark: BenchmarkName, item: BenchmarkItem, optionOrder?: readonly number[]) {
  const base = judge(item, undefined);
  const meta = {
    answer: item.answer,
    ...(optionOrder ? { optionOrder } : {}),
    ...(base.category !== undefined ? { category: base.category } : {}),
    ...(base.group !== undefined ? { group: base.group } : {}),
    ...(base.hasImage !== undefined ? { hasImage: base.hasImage } : {}),
  };
  return (w: Wanted, fields: RowFields): EvalResultRow => ({ type: 'result', benchmark, item: item.id, method: w.method, seed: w.seed, ...meta, ...fields });
}
type MakeRow = ReturnType<typeof rowMaker>;

/** A single-call method's row: that call's answer, cost and latency (plus scoring for scored methods). */
function outcomeRow(makeRow: MakeRow, w: Wanted, prompt: Prompt, o: Outcome, scoreMs: number): EvalResultRow {
  const scored = SCORED_METHODS.includes(w.method);
  return makeRow(w, {
    predicted: o.predicted,
    correct: o.correct,
    ...(o.reply === undefined ? {} : { reply: o.reply }),
    via: o.via,
    overview: prompt.overview,
    tiles: prompt.regions.flatMap((r) => r.tiles),
    images: o.images,
    visualTokens: o.visualTokens,
    vlmCalls: 1,
    latencyMs: o.latencyMs + (scored ? scoreMs : 0),
    ...(scored ? { scoreMs } : {}),
    ...(o.error ? { error: o.error } : {}),
  });
}

const tilePrompt = (overview: boolean, tiles: readonly Tile[]): Prompt => ({ overview, regions: tiles.map((t) => ({ box: t.box, tiles: [t.index] })) });

/** The best level-1 tile by score (ties: the lower index). */
function topTile(level1: readonly Tile[], scores: TileScores): Tile | undefined {
  let best: Tile | undefined;
  for (const t of level1) {
    if (!best || (scores.scores[t.index] ?? -Infinity) > (scores.scores[best.index] ?? -Infinity)) best = t;
  }
  return best;
}

/** What a single-call method (everything but majority and the oracle) sends. */
function singlePrompt(ctx: ItemContext, item: BenchmarkItem, p: PreparedItem, w: Wanted): Prompt {
  switch (w.method) {
    case 'baseline':
      return { overview: true, regions: [] };
    case 'random':
      return tilePrompt(true, [p.level1[randomTile(w.seed, ctx.benchmark, item.id, p.level1.length)] as Tile]);
    case 'all-tiles':
      return tilePrompt(true, p.level1);
    case 'semclip': {
      const { selection } = p.scored as NonNullable<PreparedItem['scored']>;
      return { overview: selection.includeOverview || selection.regions.length === 0, regions: selection.regions };
    }
    case 'subimage-only': {
      const { selection, scores } = p.scored as NonNullable<PreparedItem['scored']>;
      // Adaptive selection may keep nothing; "sub-image only" then sends the top-ranked tile.
      if (selection.regions.length > 0) return { overview: false, regions: selection.regions };
      const top = topTile(p.level1, scores);
      return tilePrompt(false, top ? [top] : []);
    }
    default:
      throw new SemclipError('INTERNAL', `Method ${w.method} asks more than one prompt.`);
  }
}

/**
 * Majority vote and the oracle: the overview with each tile in turn. Majority is charged every
 * call; the oracle the one call it would make if it knew the right tile.
 */
async function perTileRow(
  ask: (prompt: Prompt) => Promise<Outcome>,
  makeRow: MakeRow,
  item: BenchmarkItem,
  p: PreparedItem,
  w: Wanted,
): Promise<EvalResultRow> {
  const answers = await Promise.all(p.level1.map(async (t) => ({ tile: t.index, o: await ask(tilePrompt(true, [t])) })));
  const vote = majorityVote(answers.map((a) => ({ tile: a.tile, predicted: a.o.predicted, correct: a.o.correct })));
  const failed = answers.every((a) => a.o.error) ? answers[0]?.o.error : undefined;
  if (w.method === 'majority') {
    return makeRow(w, {
      predicted: vote.predicted,
      correct: vote.predicted !== null && item.answer !== '' && vote.predicted === item.answer,
      via: 'vote',
      overview: true,
      tiles: answers.map((a) => a.tile),
      images: answers[0]?.o.images ?? 0,
      visualTokens: answers.reduce((s, a) => s + a.o.visualTokens, 0),
      vlmCalls: answers.length,
      latencyMs: answers.reduce((s, a) => s + a.o.latencyMs, 0),
      votes: vote.votes,
      ...(failed ? { error: failed } : {}),
    });
  }
  const right = answers.find((a) => a.o.correct);
  const rep = right ?? answers[0];
  return makeRow(w, {
    predicted: right ? right.o.predicted : vote.predicted,
    correct: right !== undefined,
    via: 'oracle',
    overview: true,
    tiles: rep ? [rep.tile] : [],
    images: rep?.o.images ?? 0,
    visualTokens: rep?.o.visualTokens ?? 0,
    vlmCalls: answers.length,
    latencyMs: rep?.o.latencyMs ?? 0,
    ...(failed ? { error: failed } : {}),
  });
}

/** A strategy method's row: the injected strategy answers (holding one call slot), the engine judges. */
async function strategyRow(
  ctx: ItemContext,
  makeRow: MakeRow,
  item: BenchmarkItem,
  order: readonly number[] | undefined,
  p: PreparedItem,
  w: Wanted,
): Promise<EvalResultRow> {
  const strategy = ctx.strategies?.[w.method as StrategyMethod];
  if (!strategy) throw new SemclipError('INTERNAL', `Method ${w.method} has no strategy.`);
  const shown = order ? reorderItem(item, order) : item;
  const prompt = benchmarkPrompt(shown);
  const options = shown.options && shown.options.length > 0 ? shown.options : undefined;
  const t0 = performance.now();
  try {
    const o = await ctx.calls.run(
      () =>
        strategy({
          source: p.source,
          question: options ? prompt.stem : prompt.question,
          ...(options ? { options } : {}),
          ...(options ? { instruction: prompt.instruction } : {}),
          ...(ctx.maxTokens === null ? {} : { maxTokens: ctx.maxTokens }),
          signal: ctx.signal,
        }),
      ctx.signal,
    );
    for (let i = 0; i < o.vlmCalls; i++) ctx.onCall();
    const j = judge(shown, o.reply);
    const predicted = order ? fileLetter(item, j.predicted, order) : j.predicted;
    return makeRow(w, {
      predicted,
      correct: j.correct,
      reply: o.reply,
      via: 'strategy',
      overview: true,
      tiles: [],
      images: o.images,
      visualTokens: o.visualTokens,
      vlmCalls: o.vlmCalls,
      latencyMs: performance.now() - t0,
    });
  } catch (err) {
    if (!recordable(ctx, err)) throw err;
    return makeRow(w, {
      predicted: null,
      correct: false,
      via: 'strategy',
      overview: true,
      tiles: [],
      images: 0,
      visualTokens: 0,
      vlmCalls: 0,
      latencyMs: performance.now() - t0,
      error: errorInfo(err),
    });
  }
}

/**
 * Every wanted row of one item, in the canonical method order. An item that cannot be opened
 * or scored gets a wrong row with the error per method (or stops the run: `onItemError: 'throw'`).
 */
export async function evaluateItem(ctx: ItemContext, item: BenchmarkItem, wanted: readonly Wanted[]): Promise<EvalResultRow[]> {
  // V*: the options in the item's own seeded order (the file's puts the right one first).
  const n = item.options?.length ?? 0;
  const order = ctx.vstar && n > 1 ? vstarOptionOrder(ctx.vstar.shuffleSeed, item.id, n) : undefined;
  const makeRow = rowMaker(ctx.benchmark, item, order);
  let p: PreparedItem;
  try {
    p = await prepareItem(ctx, item, wanted);
  } catch (err) {
    if (!recordable(ctx, err)) throw err;
    const error = errorInfo(err);
    return wanted.map((w) =>
      makeRow(w, { predicted: null, correct: false, via: 'text', overview: false, tiles: [], images: 0, visualTokens: 0, vlmCalls: 0, latencyMs: 0, error }),
    );
  }
  const ask = order ? createAsker(ctx, reorderItem(item, order), p.source, (l) => fileLetter(item, l, order)) : createAsker(ctx, item, p.source);
  const rows = await Promise.all(
    wanted.map(async (w) => {
      if (w.method === 'majority' || w.method === 'oracle') return perTileRow(ask, makeRow, item, p, w);
      if (w.method === 'zoom' || w.method === 'pack') return strategyRow(ctx, makeRow, item, order, p, w);
      const prompt = singlePrompt(ctx, item, p, w);
      return outcomeRow(makeRow, w, prompt, await ask(prompt), p.scored?.ms ?? 0);
    }),
  );
  // Keep the canonical method order in the file, whatever finished first.
  return rows.sort((a, b) => ALL_EVAL_METHODS.indexOf(a.method) - ALL_EVAL_METHODS.indexOf(b.method) || a.seed - b.seed);
}
