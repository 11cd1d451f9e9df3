import type { Box, EncodedImage, RawImage, Size } from './_image.js';

/** An image in a VLM prompt: the overview first, then zoomed-in regions of it. */
export interface PromptImage {
  readonly role: 'overview' | 'region';
  readonly image: RawImage | EncodedImage;
  /** For regions: where the crop lies in the original image. */
  readonly box?: Box;
  /** For regions: a human-readable position like "top-right". */
  readonly position?: string;
}

export interface AnswerRequest {
  readonly images: readonly PromptImage[];
  readonly question: string;
  /** Benchmark- or user-specific answer instruction appended to the question. */
  readonly instruction?: string;
  readonly maxTokens?: number;
  /** Size of the original image the regions were cut from: lets prompts name where a region lies. */
  readonly imageSize?: Size;
  readonly signal?: AbortSignal;
}

export interface ChooseRequest extends Omit<AnswerRequest, 'maxTokens'> {
  readonly options: readonly string[];
}

export interface TokenUsage {
  readonly prompt?: number;
  readonly completion?: number;
  readonly visual: number;
}

export interface VlmAnswer {
  readonly text: string;
  readonly usage: TokenUsage;
  readonly latencyMs: number;
}

export interface VlmChoice {
  /** Index into `options` of the chosen one. */
  readonly index: number;
  /** One score per option (log-likelihood or log-probability; higher is better). */
  readonly scores: readonly number[];
  readonly method: 'loglikelihood' | 'logprobs' | 'letter';
  /** Raw text when the choice was parsed from a generated answer. */
  readonly text?: string;
  readonly usage: TokenUsage;
  readonly latencyMs: number;
}

export interface VlmCapabilities {
  readonly multiImage: boolean;
  readonly logprobs: boolean;
  readonly embeddings: boolean;
  readonly maxImages?: number;
}

/**
 * Drives one vision-language model. Greedy and deterministic. Plain objects; `dispose()`
 * releases sessions and connections.
 */
export interface VlmRunner {
  readonly id: string;
  readonly model: string;
  readonly visualTokensPerImage: number;
  readonly capabilities: VlmCapabilities;
  answer(request: AnswerRequest): Promise<VlmAnswer>;
  choose(request: ChooseRequest): Promise<VlmChoice>;
  dispose(): void | Promise<void>;
}

/** Identity helper that gives a runner literal full type inference. */
export function defineRunner<T extends VlmRunner>(runner: T): T {
  return runner;
}
