import type { PromptImage, Size, TokenUsage } from '@semclip/core';
import type { TopLogprob } from './_choose.js';
import { buildPrompt } from './_prompt.js';
import type { BuiltPrompt, PromptBuildOptions } from './_prompt.js';

/**
 * Several prompts that share one text and differ in their images, scored by how likely each
 * answer starts: what the `vlm-yesno` scorer asks a runner for, one prompt per tile.
 */
export interface AnswerLogprobsRequest {
  /** One entry per prompt: its images (usually one tile, with role `overview`). */
  readonly prompts: readonly (readonly PromptImage[])[];
  /** The text after the images, the same for every prompt. */
  readonly question: string;
  readonly instruction?: string;
  /**
   * Answer spellings to score (`Yes`, ` yes`...). The local runner returns the exact
   * log-likelihood of each as the start of the answer; HTTP runners return the server's
   * `top_logprobs` of the first answer token instead, whatever they contain.
   */
  readonly candidates: readonly string[];
  /** Size of the original image, for region positions in the prompt. */
  readonly imageSize?: Size;
  /** Local runner: prompts per forward pass (default 4). HTTP runners bound requests by their own concurrency. */
  readonly batchSize?: number;
  /** HTTP runners: tokens generated for the text fallback (default 3). */
  readonly maxTokens?: number;
  readonly signal?: AbortSignal;
}

/** How one prompt's answer was scored. */
export interface AnswerLogprobs {
  /**
   * `logits`: the local runner's exact log-likelihood of each candidate; `logprobs`: the
   * server's top log-probabilities of the first token; `text`: neither, only `text`.
   */
  readonly method: 'logits' | 'logprobs' | 'text';
  /** Per candidate (`logits`) or per top token (`logprobs`); `undefined` for `text`. */
  readonly logprobs: readonly TopLogprob[] | undefined;
  /**
   * `logits` only: how many tokens each candidate's text has (in `candidates` order), so a
   * caller can compare candidates of different lengths by mean log-probability per token.
   */
  readonly tokenCounts?: readonly number[];
  /** The start of the greedy answer (local: its first token; HTTP: up to `maxTokens` tokens). */
  readonly text: string;
  readonly usage: TokenUsage;
}

/** A runner that can score answer starts: the local and openai backends. */
export interface AnswerLogprobsRunner {
  answerLogprobs(request: AnswerLogprobsRequest): Promise<AnswerLogprobs[]>;
}

/** One built prompt per entry of the request: the shared text, each entry's images. */
export function buildLogprobPrompts(request: AnswerLogprobsRequest, options: PromptBuildOptions): BuiltPrompt[] {
  return request.prompts.map((images) =>
    buildPrompt(
      {
        images,
        question: request.question,
        ...(request.instruction === undefined ? {} : { instruction: request.instruction }),
        ...(request.imageSize ? { imageSize: request.imageSize } : {}),
      },
      options,
    ),
  );
}
