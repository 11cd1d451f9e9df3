import type { TileSource } from './_tiles.js';

/** What a tile is scored against: the question, and for multiple choice its options. */
export interface ScoreQuery {
  readonly question: string;
  readonly options?: readonly string[];
}

/** Milliseconds spent per stage; scorers fill what applies. */
export interface StageTimings {
  preprocess: number;
  encode: number;
  score: number;
  [stage: string]: number;
}

export interface TileScores {
  /** Id of the scorer that produced these scores. */
  readonly scorer: string;
  /** One finite score per tile, aligned with `source.grid.tiles`. Higher = more relevant. */
  readonly scores: readonly number[];
  readonly timings: StageTimings;
  /** Scorer-specific facts (model id, cache hits, which representation was used...). */
  readonly meta?: Readonly<Record<string, unknown>>;
}

export interface ScoreOptions {
  readonly signal?: AbortSignal;
}

/**
 * Scores how relevant each tile of an image is to a question. Scorers are plain objects;
 * anything holding a model session releases it in `dispose()`.
 *
 * @example
 * ```ts
 * const scorer = defineScorer({
 *   id: 'brightness',
 *   async score(query, source) {
 *     const scores = await Promise.all(source.grid.tiles.map(async (t) => {
 *       const px = await source.crop(t.box, { size: { width: 8, height: 8 } });
 *       return px.data.reduce((a, b) => a + b, 0) / px.data.length;
 *     }));
 *     return { scorer: 'brightness', scores, timings: { preprocess: 0, encode: 0, score: 0 } };
 *   },
 *   dispose() {},
 * });
 * ```
 */
export interface RelevanceScorer {
  readonly id: string;
  /**
   * For scorers trained on benchmark items (the distant scorer's head): which items, so an
   * evaluation can warn when it scores items the scorer was trained on. `null`: trained, but
   * the items were not recorded (heads from older versions). Absent: not trained on items.
   */
  readonly trainedOn?: TrainedOn | null;
  /**
   * How the scorer represents tiles and questions, in one line, when that depends on the model
   * it loaded (vlm-embed: the projected CLS token or the mean of the visual tokens, the last
   * hidden state or the mean input embeddings); long runs record it and reports show it.
   */
  readonly representation?: string;
  score(query: ScoreQuery, source: TileSource, options?: ScoreOptions): Promise<TileScores>;
  dispose(): void | Promise<void>;
}

/** The benchmark items a trained scorer learnt from (see `RelevanceScorer.trainedOn`). */
export interface TrainedOn {
  readonly benchmark: string;
  /** The official split the items are in (`null` when the data could not say). */
  readonly split: string | null;
  /** The items' ids, as the benchmark loader gives them (`BenchmarkItem.id`). */
  readonly items: readonly string[];
}

/** Identity helper that gives a scorer literal full type inference. */
export function defineScorer<T extends RelevanceScorer>(scorer: T): T {
  return scorer;
}
