/** The local backend's public types: options, trace events, embedding results, the runner. */
import type { AnswerRequest, ChooseRequest, EncodedImage, RawImage, Size, VlmAnswer, VlmChoice, VlmRunner } from '@semclip/core';
import type { ModelManifest } from '@semclip/hub';
import type { Device, ResolvedDevice, Warn } from '@semclip/runtime';
import type { PromptTemplates } from '../_prompt.js';
import type { AnswerLogprobs, AnswerLogprobsRequest } from '../_answer-logprobs.js';
import type { FamilyName } from './_families.js';
import type { LocalDtype, LocalSession } from './_files.js';
import type { ClsSource, ImagePool, TextRepresentation } from './_embed.js';

/** Options of the local (in-process ONNX) backend. */
export interface LocalRunnerOptions {
  /**
   * What to run: a model id from the registry (`semclip models list`, e.g.
   * `llava-interleave-qwen-0.5b`), a manifest object, or the path of a directory holding a
   * model in the transformers.js layout (config.json, tokenizer, `onnx/*.onnx`).
   */
  readonly model: string | ModelManifest;
  /** `cpu`, `cuda` (fails with DEVICE_UNAVAILABLE without the CUDA provider) or `auto` (default: CUDA if installed, else CPU, said once). */
  readonly device?: Device;
  /**
   * Weight variant per session (`fp32`, `fp16`, `q8`, `q4`, ...), one for all or per session.
   * Default: the manifest's `defaultDtype` where its files are present, else the most precise
   * variant in the model folder.
   */
  readonly dtype?: LocalDtype | Partial<Record<LocalSession, LocalDtype>>;
  /** Model cache directory (default: SEMCLIP_CACHE_DIR or the user cache). */
  readonly cacheDir?: string;
  /** Never touch the network (also SEMCLIP_OFFLINE=1). The local runner never downloads anyway. */
  readonly offline?: boolean;
  /** Default `max_new_tokens` for `answer`. Default 128. */
  readonly maxTokens?: number;
  /**
   * What `choose` scores: `letter` (default) the log-likelihood of the option's letter after
   * the prompt (which lists the options as `A. ...` and asks for the letter), one forward pass
   * for all options; `text` the summed log-likelihood of each option's own text.
   */
  readonly chooseBy?: 'letter' | 'text';
  /** Wording of the region descriptions and the default multiple-choice instruction. */
  readonly templates?: PromptTemplates;
  /** Qwen2-VL only: every image is resized to this square side (pixels) first. Default 448 (256 visual tokens). */
  readonly imageSide?: number;
  /** ONNX Runtime threads per operator. Default: ONNX Runtime's choice. */
  readonly intraOpNumThreads?: number;
  /** Receives one-line notices (device fallback). Default: process.emitWarning. */
  readonly warn?: Warn;
  /** Diagnostics: what each call sent to the model (prompt tokens, image tokens, vision batches). */
  readonly onTrace?: (event: LocalTraceEvent) => void;
  /** Runner id; default `local:<model>`. */
  readonly id?: string;
}

/** What `onTrace` reports. `imageTokens` counts the image placeholders merged with image features. */
export type LocalTraceEvent =
  | {
      readonly kind: 'prompt';
      readonly call: 'answer' | 'choose' | 'answerLogprobs';
      readonly images: number;
      readonly promptTokens: number;
      readonly imageTokens: number;
      readonly inputIds: readonly number[];
    }
  | {
      readonly kind: 'vision';
      /** pixel_values' first dimension: images (LLaVA), prompts (Idefics3), patches (Qwen2-VL). */
      readonly batch: number;
      /** Image feature vectors returned, one per image placeholder token. */
      readonly featureTokens: number;
    };

/** Request extras the local runner understands beyond the core contract. */
export interface LocalRequestExtras {
  /** Size of the original image, so region boxes can be named (top-left ...) in the prompt. */
  readonly imageSize?: Size;
}

/** Options of `embedImages`. */
export interface EmbedImagesOptions {
  /**
   * `mean` (default): the mean of each image's projected visual tokens. `cls`: its projected
   * CLS token, where the export gives it (`LocalRunner.clsSource`); else UNSUPPORTED_CAPABILITY.
   */
  readonly pool?: ImagePool;
  readonly signal?: AbortSignal;
}

/** What `embedImages` returns. */
export interface ImageEmbeddings {
  /**
   * One vector per image, in order, in the language model's input space: the mean over the
   * image's visual tokens of what the vision encoder (with the projector) returns (`mean`), or
   * its projected CLS token (`cls`). Not normalised.
   */
  readonly vectors: readonly Float32Array[];
  /** How each image's vector was made (`cls` or `mean`). */
  readonly pool: ImagePool;
  /** The language model's hidden size. */
  readonly dim: number;
  /** Visual tokens pooled per image. */
  readonly tokensPerImage: number;
  /** Vision-encoder runs it took (1: every image in one batch). */
  readonly visionRuns: number;
  readonly latencyMs: number;
}

/** Options of `embedText`. */
export interface EmbedTextOptions {
  /**
   * `auto` (default): the final layer's hidden state at the last token when the ONNX decoder
   * outputs hidden states (`last_hidden_state` / `hidden_states`), else the mean of the text's
   * input embeddings (embed_tokens). Asking for `last-hidden-state` from a decoder without
   * such an output fails with UNSUPPORTED_CAPABILITY.
   */
  readonly representation?: TextRepresentation | 'auto';
  readonly signal?: AbortSignal;
}

/** What `embedText` returns. */
export interface TextEmbedding {
  /** Not normalised; same length as the image vectors. */
  readonly vector: Float32Array;
  readonly representation: TextRepresentation;
  /** Tokens the text took. */
  readonly tokens: number;
  readonly latencyMs: number;
}

/** The runner this backend returns: a `VlmRunner` plus what it loaded. */
export interface LocalRunner extends VlmRunner {
  readonly kind: 'local';
  readonly family: FamilyName;
  readonly device: ResolvedDevice;
  /** Weight variant loaded per session. */
  readonly dtypes: Readonly<Record<LocalSession, LocalDtype>>;
  /** The folder the model files were loaded from. */
  readonly dir: string;
  /** What `embedText` uses by default: `last-hidden-state` when the decoder outputs hidden states, else `mean-input-embeddings`. */
  readonly textRepresentation: TextRepresentation;
  /**
   * Where this export gives the projected CLS token (`embedImages({ pool: 'cls' })`):
   * `first-token` or `cls_features`; `undefined` for the usual exports, which drop it or have none.
   */
  readonly clsSource: ClsSource | undefined;
  answer(request: AnswerRequest & LocalRequestExtras): Promise<VlmAnswer>;
  choose(request: ChooseRequest & LocalRequestExtras): Promise<VlmChoice>;
  /**
   * Embeds images the way the model sees them: every image through the vision encoder (and
   * projector) in one batched run, each image's visual tokens mean-pooled into one vector in
   * the language model's input space. What the `vlm-embed` scorer compares questions with.
   *
   * @example
   * ```ts
   * const { vectors, dim } = await runner.embedImages([tileA, tileB]); // 2 vectors of length dim
   * ```
   */
  embedImages(images: readonly (RawImage | EncodedImage)[], options?: EmbedImagesOptions): Promise<ImageEmbeddings>;
  /**
   * The model's representation of a text (see `EmbedTextOptions.representation`), in the same
   * space and of the same length as `embedImages`' vectors.
   *
   * @example
   * ```ts
   * const { vector, representation } = await runner.embedText('What is the wait time?');
   * representation; // 'mean-input-embeddings' for the usual exports
   * ```
   */
  embedText(text: string, options?: EmbedTextOptions): Promise<TextEmbedding>;
  /**
   * Scores how likely each candidate answer start is after each prompt (prompts share the text
   * and differ in their images): the exact log-likelihood of every candidate's tokens, prompts
   * batched `batchSize` per forward pass when their tokens agree. What the `vlm-yesno` scorer uses.
   *
   * @example
   * ```ts
   * const [first] = await runner.answerLogprobs({
   *   prompts: [[{ role: 'overview', image: tile }]],
   *   question: 'Is there a dog? Answer Yes or No.',
   *   candidates: ['Yes', 'No'],
   * });
   * first.logprobs; // [{ token: 'Yes', logprob: -0.4 }, { token: 'No', logprob: -1.3 }]
   * ```
   */
  answerLogprobs(request: AnswerLogprobsRequest): Promise<AnswerLogprobs[]>;
}
