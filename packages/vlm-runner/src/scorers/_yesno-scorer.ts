/**
 * `vlm-yesno`: asks the VLM, tile by tile, whether the tile holds what the question needs, and
 * scores it by P(Yes) normalised over Yes and No. Local runners give exact log-likelihoods of
 * the answer spellings (batched forward passes); OpenAI-compatible servers give the first
 * token's top log-probabilities (requests in flight bounded by the runner's concurrency); a
 * server without logprobs, or any other runner, gives only its answer, read as 1 (yes) or 0 (no).
 */
import { Semaphore, SemclipError, defineScorer, throwIfAborted } from '@semclip/core';
import type { PromptImage, RelevanceScorer, ScoreOptions, ScoreQuery, TileScores, TileSource, VlmRunner } from '@semclip/core';
import type { AnswerLogprobs, AnswerLogprobsRunner } from '../_answer-logprobs.js';
import { NO_SPELLINGS, YES_SPELLINGS, parseYesNo, yesProbability } from './_math.js';
import { resolveRunner, scorerIntOption } from './_runner.js';
import type { VlmScorerRunnerOptions } from './_runner.js';

/** The question put to the VLM for every tile; `{question}` is the user's question (with its options). */
export const DEFAULT_YESNO_PROMPT = "Does this image contain the information needed to answer the question: '{question}'? Answer Yes or No.";

/** Score given to a tile whose answer says neither yes nor no (text fallback): between the two. */
export const UNPARSED_SCORE = 0.5;

export interface VlmYesNoScorerOptions extends VlmScorerRunnerOptions {
  /** The yes/no question asked per tile, with `{question}`. Default `DEFAULT_YESNO_PROMPT`. */
  readonly prompt?: string;
  /** Tiles are cut at native resolution, the long side capped here. Default 1024. */
  readonly tileMaxSide?: number;
  /** Local runners: tiles per forward pass. Default 4. */
  readonly batchSize?: number;
  /** Runners without `answerLogprobs` (answer() only): requests in flight at once. Default 4. */
  readonly concurrency?: number;
  /** Tokens generated where the answer text is read (no logprobs). Default 3. */
  readonly maxTokens?: number;
}

/** How each tile was scored: `logits` (local), `logprobs` (server log-probabilities), `text` (the answer read as 1/0). */
export type YesNoMethod = AnswerLogprobs['method'];

/** What `score()` puts in `meta`. */
export interface VlmYesNoMeta {
  readonly model: string;
  readonly runner: string;
  /** The one method every tile was scored by, or `mixed`. */
  readonly method: YesNoMethod | 'mixed';
  /** Per tile. */
  readonly methods: readonly YesNoMethod[];
  /** Tiles scored by text whose answer said neither yes nor no (scored UNPARSED_SCORE). */
  readonly unparsed: readonly number[];
  /** The question put to the VLM for every tile. */
  readonly prompt: string;
  /** The start of each tile's answer. */
  readonly answers: readonly string[];
}

export interface VlmYesNoScorer extends RelevanceScorer {
  readonly id: 'vlm-yesno';
  readonly runner: VlmRunner;
}

function hasAnswerLogprobs(r: VlmRunner): r is VlmRunner & AnswerLogprobsRunner {
  return typeof (r as Partial<AnswerLogprobsRunner>).answerLogprobs === 'function';
}

/**
 * The per-tile prompt text for a query.
 *
 * @example
 * ```ts
 * yesNoPrompt(DEFAULT_YESNO_PROMPT, { question: 'Which colour?', options: ['red', 'blue'] });
 * // "Does this image contain the information needed to answer the question: 'Which colour? (options: red; blue)'? Answer Yes or No."
 * ```
 */
export function yesNoPrompt(template: string, query: ScoreQuery): string {
  const question = typeof query?.question === 'string' ? query.question.trim() : '';
  if (!question) throw new SemclipError('INVALID_QUESTION', 'The question is empty.', { expected: 'a non-empty question string' });
  const options = Array.isArray(query.options) ? query.options.filter((o) => typeof o === 'string' && o.trim()).map((o) => o.trim()) : [];
  const full = options.length > 0 ? `${question} (options: ${options.join('; ')})` : question;
  return template.split('{question}').join(full);
}

/**
 * Creates the `vlm-yesno` scorer: for every tile, P("Yes") that it holds what is needed to
 * answer the question, normalised as P(Yes) / (P(Yes) + P(No)) over every spelling of each
 * ("Yes", " yes", "YES"...). Local runners: exact log-likelihoods from the logits, tiles
 * batched per forward pass. OpenAI-compatible servers: the first answer token's
 * `top_logprobs` (a side absent from them counts as 0), requests bounded by the runner's
 * concurrency; without logprobs the answer is read as 1 (yes) or 0 (no), and `meta.method`
 * says so.
 *
 * @example
 * ```ts
 * import { createRunner } from '@semclip/vlm-runner';
 * import { createVlmYesNoScorer } from '@semclip/vlm-runner/scorers';
 *
 * const runner = await createRunner('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf', { concurrency: 8 });
 * const scorer = await createVlmYesNoScorer({ runner });
 * const { scores, meta } = await scorer.score({ question: 'What is the wait time?' }, tiled);
 * meta?.method; // 'logprobs' (vLLM), 'text' (a server without logprobs)
 * await scorer.dispose(); // the runner stays open: it was passed in
 * ```
 */
export async function createVlmYesNoScorer(options: VlmYesNoScorerOptions): Promise<VlmYesNoScorer> {
  if (!options || typeof options !== 'object') {
    throw new SemclipError('INVALID_ARGUMENT', 'createVlmYesNoScorer() needs options.', { expected: '{ runner } or { vlm: "<spec>" }' });
  }
  const template = options.prompt ?? DEFAULT_YESNO_PROMPT;
  if (typeof template !== 'string' || !template.includes('{question}')) {
    throw new SemclipError('INVALID_ARGUMENT', 'The vlm-yesno prompt has no {question} placeholder.', {
      expected: `a template like "${DEFAULT_YESNO_PROMPT}"`,
    });
  }
  const tileMaxSide = scorerIntOption('tileMaxSide', options.tileMaxSide, 1024, 16);
  const batchSize = scorerIntOption('batchSize', options.batchSize, 4);
  const maxTokens = scorerIntOption('maxTokens', options.maxTokens, 3);
  const textOnlySlots = new Semaphore(scorerIntOption('concurrency', options.concurrency, 4));
  const { runner, owned } = await resolveRunner(options, 'vlm-yesno');
  const candidates = [...YES_SPELLINGS, ...NO_SPELLINGS];
  let disposed = false;

  async function answerEach(prompts: PromptImage[][], question: string, signal: AbortSignal | undefined): Promise<AnswerLogprobs[]> {
    if (hasAnswerLogprobs(runner)) {
      return runner.answerLogprobs({ prompts, question, candidates, batchSize, maxTokens, ...(signal ? { signal } : {}) });
    }
    // Any other runner: its answer is all there is.
    return Promise.all(
      prompts.map((images) =>
        textOnlySlots.run(async () => {
          const answer = await runner.answer({ images, question, maxTokens, ...(signal ? { signal } : {}) });
          return { method: 'text' as const, logprobs: undefined, text: answer.text, usage: answer.usage };
        }, signal),
      ),
    );
  }

  const scorer: VlmYesNoScorer = defineScorer({
    id: 'vlm-yesno' as const,
    runner,
    async score(query: ScoreQuery, source: TileSource, scoreOptions: ScoreOptions = {}): Promise<TileScores> {
      if (disposed) throw new SemclipError('INVALID_ARGUMENT', 'This vlm-yesno scorer was disposed.', { hint: 'Create a new scorer to score again' });
      const signal = scoreOptions.signal;
      throwIfAborted(signal);
      const question = yesNoPrompt(template, query);
      if (!source?.grid || !Array.isArray(source.grid.tiles) || typeof source.crop !== 'function') {
        throw new SemclipError('INVALID_ARGUMENT', 'The tile source is not a TileSource.', { hint: 'Pass the result of tileImage() from @semclip/tiling' });
      }
      const timings = { preprocess: 0, encode: 0, score: 0 };
      let start = performance.now();
      const crops = await Promise.all(source.grid.tiles.map((t) => source.crop(t.box, { maxSide: tileMaxSide })));
      timings.preprocess = performance.now() - start;
      throwIfAborted(signal);
      start = performance.now();
      const answers = await answerEach(
        crops.map((image) => [{ role: 'overview' as const, image }]),
        question,
        signal,
      );
      timings.encode = performance.now() - start;
      if (answers.length !== crops.length) {
        throw new SemclipError('MODEL_OUTPUT_INVALID', `Runner ${runner.id} answered ${answers.length} of ${crops.length} tiles.`);
      }
      start = performance.now();
      const methods: YesNoMethod[] = [];
      const unparsed: number[] = [];
      const scores = answers.map((a, i) => {
        const p = a.method === 'text' ? undefined : yesProbability(a.logprobs);
        if (p !== undefined) {
          methods.push(a.method);
          return p;
        }
        // No yes/no among the log-probabilities (or none at all): read the answer.
        methods.push('text');
        const parsed = parseYesNo(a.text);
        if (parsed === undefined) unparsed.push(i);
        return parsed ?? UNPARSED_SCORE;
      });
      timings.score = performance.now() - start;
      const distinct = [...new Set(methods)];
      const meta: VlmYesNoMeta = {
        model: runner.model,
        runner: runner.id,
        method: distinct.length === 1 ? distinct[0]! : 'mixed',
        methods,
        unparsed,
        prompt: question,
        answers: answers.map((a) => (a.text.length > 80 ? `${a.text.slice(0, 80)}\u2026` : a.text)),
      };
      return { scorer: 'vlm-yesno', scores, timings, meta: { ...meta } };
    },
    async dispose(): Promise<void> {
      if (disposed) return;
      disposed = true;
      if (owned) await runner.dispose();
    },
  });
  return scorer;
}
