/**
 * The `local` backend: vision-language models run in this process on ONNX Runtime (CPU or
 * CUDA) through @huggingface/transformers 4.3.2, with model files from @semclip/hub's cache.
 */
import os from 'node:os';
import path from 'node:path';
import { SemclipError, defineRunner, isSemclipError, throwIfAborted } from '@semclip/core';
import type { AnswerRequest, ChooseRequest, EncodedImage, RawImage, Size, VlmAnswer, VlmCapabilities, VlmChoice, VlmRunner } from '@semclip/core';
import { ensureModel, getManifest } from '@semclip/hub';
import type { ModelManifest } from '@semclip/hub';
import { buildPrompt } from '../_prompt.js';
import type { BuiltPrompt, PromptTemplates } from '../_prompt.js';
import { argmax } from '../_choose.js';
import type { TopLogprob } from '../_choose.js';
import type { AnswerLogprobs, AnswerLogprobsRequest } from '../_answer-logprobs.js';
import { Semaphore } from '../_semaphore.js';
import { assertFinite, loadTransformers, pretrainedSessionOptions, resolveDevice } from '../backends/onnx.js';
import type { Device, ResolvedDevice, Warn } from '../backends/onnx.js';
import { familyOf } from './_families.js';
import type { Any, Family, FamilyContext, FamilyName } from './_families.js';
import { LOCAL_DTYPES, findChatTemplate, isDirectory, isDirectoryPath, pickDtypes, readJson } from './_files.js';
import type { LocalDtype } from './_files.js';
import { toRgb } from './_pixels.js';
import type { RgbPixels } from './_pixels.js';
import { logProbAt, logitsOf, pastFrom } from './_score.js';
import { hiddenStateOutput, lastTokenState, meanPoolGroups } from './_embed.js';
import type { TextRepresentation } from './_embed.js';

export type { LocalDtype } from './_files.js';
export type { TextRepresentation } from './_embed.js';
export type { AnswerLogprobs, AnswerLogprobsRequest } from '../_answer-logprobs.js';
export type { FamilyName as LocalModelFamily } from './_families.js';
export type { Device, ResolvedDevice } from '../backends/onnx.js';

/** The three ONNX sessions of an image-text-to-text model, as transformers.js names them. */
export type LocalSession = 'vision_encoder' | 'embed_tokens' | 'decoder_model_merged';
const SESSIONS: readonly LocalSession[] = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];
/** The session names `dtype` may be given per. */
export const LOCAL_SESSIONS: readonly LocalSession[] = SESSIONS;
export { LOCAL_DTYPES } from './_files.js';

/**
 * Reads a dtype as written on a command line: one variant for every session (`q4`), or
 * `session=variant` pairs separated by commas (`vision_encoder=fp16,decoder_model_merged=q4`).
 * INVALID_ARGUMENT names what is wrong.
 *
 * @example
 * ```ts
 * parseDtypeSpec('q4'); // 'q4'
 * parseDtypeSpec('vision_encoder=fp16,decoder_model_merged=q4'); // { vision_encoder: 'fp16', decoder_model_merged: 'q4' }
 * ```
 */
export function parseDtypeSpec(text: string): LocalDtype | Partial<Record<LocalSession, LocalDtype>> {
  const value = typeof text === 'string' ? text.trim() : '';
  const expected = `one of ${LOCAL_DTYPES.join(', ')}, or session=dtype pairs like vision_encoder=fp16,decoder_model_merged=q4 (sessions: ${SESSIONS.join(', ')})`;
  const isDtype = (d: string): d is LocalDtype => (LOCAL_DTYPES as readonly string[]).includes(d);
  if (!value.includes('=')) {
    if (isDtype(value)) return value;
    throw new SemclipError('INVALID_ARGUMENT', `dtype "${value}" is not a weight variant.`, { expected });
  }
  const out: Partial<Record<LocalSession, LocalDtype>> = {};
  for (const part of value.split(',')) {
    const [session = '', dtype = '', ...extra] = part.split('=').map((x) => x.trim());
    if (extra.length > 0 || !(SESSIONS as readonly string[]).includes(session) || !isDtype(dtype) || Object.hasOwn(out, session)) {
      throw new SemclipError('INVALID_ARGUMENT', `dtype "${value}" is not valid at "${part.trim()}".`, { expected });
    }
    out[session as LocalSession] = dtype;
  }
  return out;
}

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
  readonly signal?: AbortSignal;
}

/** What `embedImages` returns. */
export interface ImageEmbeddings {
  /**
   * One vector per image, in order: the mean over the image's visual tokens of what the vision
   * encoder (with the projector) returns, i.e. the features merged into the language model's
   * input embeddings. Not normalised.
   */
  readonly vectors: readonly Float32Array[];
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

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) {
    throw new SemclipError('INVALID_ARGUMENT', `Local runner option ${name} is ${String(value)}.`, { expected: 'an integer of at least 1' });
  }
  return v;
}

interface ResolvedModel {
  readonly dir: string;
  readonly label: string;
  readonly manifest?: ModelManifest;
  readonly pullHint: string;
}

async function resolveModel(options: LocalRunnerOptions): Promise<ResolvedModel> {
  const model = options.model;
  if (typeof model === 'string' && isDirectoryPath(model.trim())) {
    const raw = model.trim();
    const dir = path.resolve(raw.startsWith('~/') ? path.join(os.homedir(), raw.slice(2)) : raw);
    if (!isDirectory(dir)) {
      throw new SemclipError('MODEL_NOT_DOWNLOADED', `There is no model directory at ${dir}.`, {
        expected: 'a folder with config.json, the tokenizer files and onnx/*.onnx, or a model id from `semclip models list`',
        hint: 'Check the path, or pass a model id and run: semclip models pull <id>',
        details: { dir },
      });
    }
    return { dir, label: dir, pullHint: `Put the missing files into ${dir}` };
  }
  if (typeof model === 'string' && !model.trim()) {
    throw new SemclipError('INVALID_ARGUMENT', 'The local runner needs a model.', { expected: 'a model id like llava-interleave-qwen-0.5b, or a model folder path' });
  }
  const hubOptions = {
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    ...(options.offline === undefined ? {} : { offline: options.offline }),
  };
  const manifest = typeof model === 'string' ? getManifest(model.trim()) : model;
  const dir = await ensureModel(manifest, hubOptions);
  return { dir, label: manifest.id, manifest, pullHint: `Run: semclip models pull ${manifest.id}` };
}

function loadError(label: string, what: string, cause: unknown, hint: string): SemclipError {
  if (isSemclipError(cause)) return cause;
  return new SemclipError('MODEL_INVALID', `Model ${label}: transformers.js could not load the ${what}: ${(cause as Error)?.message ?? String(cause)}.`, {
    cause,
    hint,
  });
}

function countToken(ids: ArrayLike<bigint | number>, token: number): number {
  let n = 0;
  for (let i = 0; i < ids.length; i++) if (Number(ids[i]) === token) n++;
  return n;
}

/**
 * A `VlmRunner` that runs a vision-language model in this process: LLaVA-1.5 / LLaVA-interleave
 * (LlavaForConditionalGeneration), LLaVA-OneVision, SmolVLM / Idefics3 and Qwen2-VL, on
 * onnxruntime-node (CPU, or CUDA where its provider is installed). Greedy and deterministic;
 * the overview and the selected regions go into one prompt as separate images; `choose`
 * scores options by log-likelihood. Calls are serialised (one forward pass at a time).
 *
 * @example
 * ```ts
 * import { createLocalRunner } from '@semclip/vlm-runner/local';
 *
 * const runner = await createLocalRunner({ model: 'llava-interleave-qwen-0.5b', device: 'auto' });
 * const { text } = await runner.answer({
 *   images: [{ role: 'overview', image: overview }, { role: 'region', image: crop, position: 'top-right' }],
 *   question: 'What does the sign say?',
 * });
 * const choice = await runner.choose({ images: [{ role: 'overview', image: overview }], question: 'Which colour?', options: ['red', 'blue'] });
 * choice.index; // argmax of choice.scores (summed log-probabilities)
 * await runner.dispose();
 * ```
 */
export async function createLocalRunner(options: LocalRunnerOptions): Promise<LocalRunner> {
  if (!options || (typeof options.model !== 'string' && (typeof options.model !== 'object' || options.model === null))) {
    throw new SemclipError('INVALID_ARGUMENT', 'The local runner needs a model.', { expected: 'model: a model id like llava-interleave-qwen-0.5b, or a model folder path' });
  }
  const defaultMaxTokens = positiveInt('maxTokens', options.maxTokens, 128);
  const imageSide = positiveInt('imageSide', options.imageSide, 448);
  const chooseBy = options.chooseBy ?? 'letter';
  if (chooseBy !== 'letter' && chooseBy !== 'text') {
    throw new SemclipError('INVALID_ARGUMENT', `chooseBy "${String(chooseBy)}" is not known.`, { expected: "'letter' or 'text'" });
  }
  if (options.intraOpNumThreads !== undefined) positiveInt('intraOpNumThreads', options.intraOpNumThreads, 1);
  const device = resolveDevice(options.device ?? 'auto', options.warn);

  const resolved = await resolveModel(options);
  const { dir, label, pullHint } = resolved;
  const config = readJson(dir, 'config.json');
  if (!config) {
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `Model ${label} has no config.json in ${dir}.`, { hint: pullHint, details: { dir } });
  }
  const family: Family = familyOf(config, dir);
  const manifestDtype = resolved.manifest?.defaultDtype as LocalDtype | undefined;
  const dtypes = pickDtypes(dir, SESSIONS, options.dtype, manifestDtype, label, pullHint) as Record<LocalSession, LocalDtype>;

  const tf = await loadTransformers();
  const fileOptions = { local_files_only: true };
  const hint = `Re-download the model (semclip models verify ${label}, then semclip models pull ${label})`;
  const loaded = await Promise.allSettled([
    (tf as Any)[family.processorClass].from_pretrained(dir, fileOptions).catch((e: unknown) => {
      throw loadError(label, 'processor (preprocessor_config.json)', e, hint);
    }),
    family.processorClass === 'AutoImageProcessor'
      ? (tf as Any).AutoTokenizer.from_pretrained(dir, fileOptions).catch((e: unknown) => {
          throw loadError(label, 'tokenizer (tokenizer.json, tokenizer_config.json)', e, hint);
        })
      : Promise.resolve(null),
    (tf as Any)[family.modelClass]
      .from_pretrained(dir, {
        ...fileOptions,
        dtype: dtypes,
        ...pretrainedSessionOptions({ device, ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}) }),
      })
      .catch((e: unknown) => {
        throw loadError(label, `ONNX sessions (${SESSIONS.map((s) => `onnx/${s}`).join(', ')}) on ${device}`, e, hint);
      }),
  ]);
  const failed = loaded.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Never leave sessions open behind an error.
    const sessions = loaded[2];
    if (sessions.status === 'fulfilled') await sessions.value.dispose().catch(() => undefined);
    throw failed.reason;
  }
  const [processor, tokenizerOrNull, model] = loaded.map((r) => (r as PromiseFulfilledResult<Any>).value) as [Any, Any, Any];
  let disposed = false;
  try {
    const tokenizer: Any = tokenizerOrNull ?? processor.tokenizer;
    if (!tokenizer) throw new SemclipError('MODEL_INVALID', `Model ${label} has no tokenizer.`, { hint });
    const chatTemplate = tokenizer.chat_template ? undefined : findChatTemplate(dir, undefined);
    if (!tokenizer.chat_template && !chatTemplate) {
      throw new SemclipError('MODEL_INVALID', `Model ${label} has no chat template (tokenizer_config.json chat_template, chat_template.jinja or chat_template.json).`, {
        hint,
      });
    }
    const ctx: FamilyContext = { tf, config, tokenizer, processor, imageSide };
    const imageTokenId = family.imageTokenId(ctx);

    // Mixed weight variants (an fp16 vision encoder and embeddings with a q4 decoder saves
    // memory) need the fp16 outputs widened to the decoder's float32 input: transformers.js
    // copies feature bits into the embeddings as they are.
    const embedsType: string =
      model.sessions.decoder_model_merged?.inputMetadata?.find((m: Any) => m?.name === 'inputs_embeds')?.type ?? 'float32';
    const halfActivations = (d: LocalDtype) => d === 'fp16' || d === 'q4f16';
    if (embedsType === 'float16' && (!halfActivations(dtypes.embed_tokens) || !halfActivations(dtypes.vision_encoder))) {
      throw new SemclipError('INVALID_ARGUMENT', `Model ${label}: the ${dtypes.decoder_model_merged} decoder takes float16 embeddings but embed_tokens is ${dtypes.embed_tokens} and vision_encoder ${dtypes.vision_encoder}.`, {
        expected: 'fp16 or q4f16 for every session with an fp16 or q4f16 decoder',
        hint: 'Pass dtype fp16 (or a float32 decoder variant such as q4 or q8)',
        details: { dtypes },
      });
    }
    const widen = (t: Any) => (t?.type === 'float16' && embedsType === 'float32' ? t.to('float32') : t);
    const encodeText = model.encode_text.bind(model);
    model.encode_text = async (inputs: Any) => widen(await encodeText(inputs));

    // Checks what the vision encoder returns against the placeholders, and reports it.
    let expectedFeatureTokens: number | undefined;
    const encodeImageRaw = model.encode_image.bind(model);
    const encodeImage = async (inputs: Any) => widen(await encodeImageRaw(inputs));
    model.encode_image = async (inputs: Any) => {
      const features = await encodeImage(inputs);
      const dims: number[] = features.dims;
      const featureTokens = dims.slice(0, -1).reduce((a, b) => a * b, 1);
      options.onTrace?.({ kind: 'vision', batch: inputs.pixel_values?.dims?.[0] ?? 0, featureTokens });
      if (expectedFeatureTokens !== undefined && featureTokens !== expectedFeatureTokens) {
        throw new SemclipError('MODEL_INVALID', `Model ${label}: the vision encoder returned ${featureTokens} feature vectors but the prompt has ${expectedFeatureTokens} image tokens.`, {
          hint: 'The ONNX vision encoder and the model configs disagree on tokens per image; re-download the model or report it',
          details: { featureTokens, expected: expectedFeatureTokens },
        });
      }
      return features;
    };

    let tokensPerImage = family.tokensPerImage(ctx);
    if (family.processorClass === 'AutoImageProcessor') {
      // LLaVA placeholders are expanded here, so the count must match the export exactly:
      // encode one blank image and count. The config's value is only a cross-check (configs
      // have shipped with the wrong feature-select strategy), and OneVision's has none.
      const blank: RgbPixels = { data: new Uint8Array(64 * 64 * 3).fill(128), width: 64, height: 64, channels: 3 };
      let probed: number;
      try {
        const probe = await family.prepare(ctx, '', [blank], 0);
        const features = await encodeImage({ pixel_values: probe.pixel_values });
        probed = (features.dims as number[]).slice(0, -1).reduce((a, b) => a * b, 1);
      } catch (cause) {
        throw loadError(label, `vision encoder on a test image (onnx/vision_encoder, ${dtypes.vision_encoder})`, cause, hint);
      }
      if (tokensPerImage !== undefined && tokensPerImage !== probed) {
        (options.warn ?? ((m: string) => process.emitWarning(m, { code: 'SEMCLIP_MODEL' })))(
          `SemClip: model ${label}: config.json implies ${tokensPerImage} visual tokens per image but its vision encoder returns ${probed}; using ${probed}.`,
        );
      }
      tokensPerImage = probed;
    }
    if (tokensPerImage === undefined || !(tokensPerImage > 0)) {
      throw new SemclipError('MODEL_INVALID', `Model ${label}: cannot tell how many visual tokens one image takes.`, {
        hint: `Its configs lack ${family.name === 'idefics3' ? 'processor_config.json image_seq_len' : 'the vision image and patch sizes'}; re-download the model`,
      });
    }
    const visualTokensPerImage = tokensPerImage;
    const multiImage = family.multiImage(config);
    const lock = new Semaphore(1);
    const id = options.id ?? `local:${typeof options.model === 'string' ? options.model : options.model.id}`;
    const AbortCriteria = class extends (tf as Any).StoppingCriteria {
      constructor(private readonly signal: AbortSignal | undefined) {
        super();
      }
      _call(inputIds: unknown[]): boolean[] {
        return inputIds.map(() => this.signal?.aborted ?? false);
      }
    };

    const checkOpen = (signal: AbortSignal | undefined): void => {
      if (disposed) throw new SemclipError('INVALID_ARGUMENT', `Runner ${id} was disposed; its ONNX sessions are closed.`, { hint: 'Create a new runner with createRunner()' });
      throwIfAborted(signal);
    };

    /** Chat template -> tokens with expanded image placeholders -> model inputs. */
    const prepareCall = async (prompt: BuiltPrompt, call: 'answer' | 'choose' | 'answerLogprobs', signal: AbortSignal | undefined) => {
      const images = await Promise.all(prompt.images.map((p, i) => toRgb(p.image, i)));
      throwIfAborted(signal);
      const messages = [{ role: 'user', content: [...images.map(() => ({ type: 'image' })), { type: 'text', text: prompt.text }] }];
      const text: string = tokenizer.apply_chat_template(messages, {
        tokenize: false,
        add_generation_prompt: true,
        ...(chatTemplate ? { chat_template: chatTemplate } : {}),
      });
      const inputs = await family.prepare(ctx, text, images, visualTokensPerImage);
      const ids = inputs.input_ids.data as BigInt64Array;
      const imageTokens = countToken(ids, imageTokenId);
      if (imageTokens !== images.length * visualTokensPerImage) {
        throw new SemclipError('MODEL_INVALID', `Model ${label}: the prompt has ${imageTokens} image tokens for ${images.length} image(s), expected ${images.length * visualTokensPerImage}.`, {
          hint: "The model's chat template does not place one image placeholder per image; use another model revision or report it",
          details: { imageTokens, images: images.length, visualTokensPerImage },
        });
      }
      expectedFeatureTokens = imageTokens;
      options.onTrace?.({ kind: 'prompt', call, images: images.length, promptTokens: ids.length, imageTokens, inputIds: Array.from(ids, Number) });
      return { inputs, promptTokens: ids.length, imageTokens };
    };

    const wrapRunError = (err: unknown, what: string): unknown => {
      if (isSemclipError(err)) return err;
      return new SemclipError('INTERNAL', `Model ${label}: ${what} failed: ${(err as Error)?.message ?? String(err)}.`, {
        cause: err,
        hint: 'If the model files are intact (semclip models verify), this is a bug; please report it with --verbose output',
      });
    };

    const buildOptions = { layout: 'separate' as const, ...(options.templates ? { templates: options.templates } : {}) };

    const hiddenOutput = hiddenStateOutput(model.sessions.decoder_model_merged?.outputNames);
    const textRepresentation: TextRepresentation = hiddenOutput ? 'last-hidden-state' : 'mean-input-embeddings';
    const floatData = (t: Any): Float32Array => (t.type === 'float32' ? t.data : t.to('float32').data) as Float32Array;
    const int64 = (rows: readonly (readonly bigint[])[]) => {
      const width = rows[0]?.length ?? 0;
      const data = new BigInt64Array(rows.length * width);
      rows.forEach((row, i) => data.set(row, i * width));
      return new tf.Tensor('int64', data, [rows.length, width]);
    };
    const ones = (batch: number, n: number) => new tf.Tensor('int64', new BigInt64Array(batch * n).fill(1n), [batch, n]);

    const runner: LocalRunner = defineRunner({
      kind: 'local' as const,
      id,
      model: label,
      family: family.name,
      device,
      dtypes,
      dir,
      visualTokensPerImage,
      textRepresentation,
      capabilities: { multiImage, logprobs: true, embeddings: true } satisfies VlmCapabilities,

      async answer(request: AnswerRequest & LocalRequestExtras): Promise<VlmAnswer> {
        checkOpen(request.signal);
        const start = performance.now();
        const maxTokens = positiveInt('maxTokens', request.maxTokens, defaultMaxTokens);
        const prompt = buildPrompt(request, buildOptions);
        return lock.run(async () => {
          checkOpen(request.signal);
          const { inputs, promptTokens, imageTokens } = await prepareCall(prompt, 'answer', request.signal);
          let sequences: Any;
          try {
            sequences = await model.generate({
              ...inputs,
              max_new_tokens: maxTokens,
              do_sample: false,
              stopping_criteria: [new AbortCriteria(request.signal)],
            });
          } catch (err) {
            throw wrapRunError(err, 'generation');
          } finally {
            expectedFeatureTokens = undefined;
          }
          throwIfAborted(request.signal);
          const generated = sequences.slice(null, [promptTokens, null]);
          const completion: number = generated.dims[1];
          const [decoded] = tokenizer.batch_decode(generated, { skip_special_tokens: true }) as string[];
          return {
            text: (decoded ?? '').trim(),
            usage: { prompt: promptTokens, completion, visual: imageTokens },
            latencyMs: performance.now() - start,
          };
        }, request.signal);
      },

      async choose(request: ChooseRequest & LocalRequestExtras): Promise<VlmChoice> {
        checkOpen(request.signal);
        const start = performance.now();
        if (!Array.isArray(request.options)) {
          throw new SemclipError('INVALID_ARGUMENT', 'choose() needs options.', { expected: 'options like ["red", "blue"]' });
        }
        const prompt = buildPrompt(request, buildOptions);
        const answers = chooseBy === 'letter' ? [...prompt.letters] : request.options.map((o) => o.trim());
        const answerIds = answers.map((a) => Array.from(tokenizer.encode(a, { add_special_tokens: false }) as number[], Number));
        answerIds.forEach((ids, i) => {
          if (ids.length === 0) throw new SemclipError('INVALID_ARGUMENT', `Option ${i + 1} tokenises to nothing.`, { expected: 'non-empty option text' });
        });
        return lock.run(async () => {
          checkOpen(request.signal);
          const { inputs, promptTokens, imageTokens } = await prepareCall(prompt, 'choose', request.signal);
          const scores: number[] = [];
          try {
            const prefill = await model(inputs);
            expectedFeatureTokens = undefined;
            const prefillLogits = logitsOf(prefill, `Model ${label}`);
            const promptIds = Array.from(inputs.input_ids.data as BigInt64Array);
            for (const ids of answerIds) {
              throwIfAborted(request.signal);
              let score = logProbAt(prefillLogits, promptTokens - 1, ids[0]!, `Model ${label}`);
              if (ids.length > 1) {
                const rest = ids.slice(0, -1).map(BigInt);
                const ones = (n: number) => new tf.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
                let out: Any;
                let offset: number;
                if (family.cacheContinuation) {
                  // Continue from the prompt's KV cache: only the answer tokens are run.
                  out = await model({
                    input_ids: new tf.Tensor('int64', BigInt64Array.from(rest), [1, rest.length]),
                    attention_mask: ones(promptTokens + rest.length),
                    past_key_values: pastFrom(prefill),
                  });
                  offset = 0;
                } else {
                  const all = BigInt64Array.from([...promptIds, ...rest]);
                  out = await model({ ...inputs, input_ids: new tf.Tensor('int64', all, [1, all.length]), attention_mask: ones(all.length) });
                  offset = promptTokens - 1;
                }
                const logits = logitsOf(out, `Model ${label}`);
                for (let j = 1; j < ids.length; j++) score += logProbAt(logits, offset + j - 1, ids[j]!, `Model ${label}`);
              }
              scores.push(score);
            }
          } catch (err) {
            throw wrapRunError(err, 'scoring the options');
          } finally {
            expectedFeatureTokens = undefined;
          }
          const index = argmax(scores);
          return {
            index,
            scores,
            method: 'loglikelihood' as const,
            text: answers[index],
            usage: { prompt: promptTokens, visual: imageTokens },
            latencyMs: performance.now() - start,
          };
        }, request.signal);
      },

      async embedImages(images: readonly (RawImage | EncodedImage)[], embedOptions: EmbedImagesOptions = {}): Promise<ImageEmbeddings> {
        const signal = embedOptions.signal;
        checkOpen(signal);
        const start = performance.now();
        if (!Array.isArray(images) || images.length === 0) {
          throw new SemclipError('INVALID_ARGUMENT', 'embedImages() needs at least one image.', { expected: 'an array of RawImage or EncodedImage' });
        }
        const rgb = await Promise.all(images.map((im, i) => toRgb(im, i)));
        throwIfAborted(signal);
        return lock.run(async () => {
          checkOpen(signal);
          let features: Any;
          // The wrapped encode_image checks the count and reports the batch to onTrace.
          expectedFeatureTokens = rgb.length * visualTokensPerImage;
          try {
            features = await model.encode_image(await family.visionInputs(ctx, rgb));
          } catch (err) {
            throw wrapRunError(err, 'encoding images');
          } finally {
            expectedFeatureTokens = undefined;
          }
          const dims: number[] = features.dims;
          const dim = dims.at(-1) as number;
          const data = floatData(features);
          assertFinite(data, `Model ${label}: the image features`);
          return {
            vectors: meanPoolGroups(data, rgb.length, visualTokensPerImage, dim),
            dim,
            tokensPerImage: visualTokensPerImage,
            visionRuns: 1,
            latencyMs: performance.now() - start,
          };
        }, signal);
      },

      async embedText(text: string, embedOptions: EmbedTextOptions = {}): Promise<TextEmbedding> {
        const signal = embedOptions.signal;
        checkOpen(signal);
        const start = performance.now();
        const trimmed = typeof text === 'string' ? text.trim() : '';
        if (!trimmed) throw new SemclipError('INVALID_QUESTION', 'The text to embed is empty.', { expected: 'a non-empty string' });
        const wanted = embedOptions.representation ?? 'auto';
        if (wanted !== 'auto' && wanted !== 'last-hidden-state' && wanted !== 'mean-input-embeddings') {
          throw new SemclipError('INVALID_ARGUMENT', `Text representation "${String(wanted)}" is not known.`, {
            expected: "'auto', 'last-hidden-state' or 'mean-input-embeddings'",
          });
        }
        const representation: TextRepresentation = wanted === 'auto' ? textRepresentation : wanted;
        if (representation === 'last-hidden-state' && !hiddenOutput) {
          throw new SemclipError('UNSUPPORTED_CAPABILITY', `Model ${label}: its ONNX decoder has no hidden-state output (last_hidden_state or hidden_states).`, {
            hint: "Use representation 'mean-input-embeddings' (or 'auto'), or export the decoder with hidden states",
            details: { outputs: model.sessions.decoder_model_merged?.outputNames },
          });
        }
        return lock.run(async () => {
          checkOpen(signal);
          // The mean of input embeddings leaves out special tokens (a BOS would pull every
          // question the same way); the decoder sees the text as the tokenizer writes it.
          const encoded = tokenizer(trimmed, representation === 'mean-input-embeddings' ? { add_special_tokens: false } : {});
          const tokens: number = encoded.input_ids.dims[1];
          if (!(tokens > 0)) throw new SemclipError('INVALID_QUESTION', 'The text to embed tokenises to nothing.', { expected: 'a non-empty string' });
          let vector: Float32Array;
          try {
            if (representation === 'mean-input-embeddings') {
              const embeds = await model.encode_text({ input_ids: encoded.input_ids });
              const dims: number[] = embeds.dims;
              const data = floatData(embeds);
              assertFinite(data, `Model ${label}: the input embeddings`);
              vector = meanPoolGroups(data, 1, tokens, dims.at(-1) as number)[0]!;
            } else {
              const out = await model({ input_ids: encoded.input_ids, attention_mask: encoded.attention_mask ?? ones(1, tokens) });
              const states = out[hiddenOutput as string];
              if (!states) throw new SemclipError('MODEL_OUTPUT_INVALID', `Model ${label}: the decoder returned no ${hiddenOutput}.`);
              const data = floatData(states);
              assertFinite(data, `Model ${label}: the decoder's ${hiddenOutput}`);
              vector = lastTokenState(states.dims, data, `Model ${label}: the decoder's ${hiddenOutput}`);
            }
          } catch (err) {
            throw wrapRunError(err, 'embedding the text');
          }
          return { vector, representation, tokens, latencyMs: performance.now() - start };
        }, signal);
      },

      async answerLogprobs(request: AnswerLogprobsRequest): Promise<AnswerLogprobs[]> {
        const signal = request?.signal;
        checkOpen(signal);
        if (!request || !Array.isArray(request.prompts) || request.prompts.length === 0) {
          throw new SemclipError('INVALID_ARGUMENT', 'answerLogprobs() needs at least one prompt.', { expected: 'prompts: an array of image lists' });
        }
        if (!Array.isArray(request.candidates) || request.candidates.length === 0 || request.candidates.some((c) => typeof c !== 'string' || c === '')) {
          throw new SemclipError('INVALID_ARGUMENT', 'answerLogprobs() needs candidate answers.', { expected: 'candidates like ["Yes", "No"]' });
        }
        const batchSize = positiveInt('batchSize', request.batchSize, 4);
        // Spellings with the same tokens are scored once.
        const spellings = request.candidates.map((c) => ({ text: c, ids: Array.from(tokenizer.encode(c, { add_special_tokens: false }) as number[], Number) }));
        const sequences = [...new Map(spellings.map((s) => [s.ids.join(','), s.ids])).values()];
        if (sequences.some((ids) => ids.length === 0)) {
          throw new SemclipError('INVALID_ARGUMENT', 'A candidate answer tokenises to nothing.', { expected: 'non-empty candidates' });
        }
        const prompts = request.prompts.map((images) =>
          buildPrompt(
            {
              images,
              question: request.question,
              ...(request.instruction === undefined ? {} : { instruction: request.instruction }),
              ...(request.imageSize ? { imageSize: request.imageSize } : {}),
            },
            buildOptions,
          ),
        );
        return lock.run(async () => {
          checkOpen(signal);
          try {
            return await scoreBatches();
          } finally {
            expectedFeatureTokens = undefined;
          }
        }, signal);

        async function scoreBatches(): Promise<AnswerLogprobs[]> {
          const results: AnswerLogprobs[] = [];
          type Prepared = { inputs: Record<string, Any>; promptTokens: number; imageTokens: number; ids: bigint[] };
          let carried: Prepared | undefined;
          let next = 0;
          while (carried || next < prompts.length) {
            throwIfAborted(signal);
            // A batch: up to batchSize consecutive prompts with identical tokens (same text, same
            // image token counts); a prompt that differs starts the next batch.
            const batch: Prepared[] = carried ? [carried] : [];
            carried = undefined;
            while (next < prompts.length && batch.length < batchSize) {
              const prepared = await prepareCall(prompts[next]!, 'answerLogprobs', signal);
              next++;
              const entry = { ...prepared, ids: Array.from(prepared.inputs.input_ids.data as BigInt64Array) };
              if (batch.length > 0 && entry.ids.join(',') !== batch[0]!.ids.join(',')) {
                carried = entry;
                break;
              }
              batch.push(entry);
            }
            const B = batch.length;
            const T = batch[0]!.promptTokens;
            const first = batch[0]!.inputs;
            const inputs: Record<string, Any> = {};
            for (const [key, value] of Object.entries(first)) {
              if (key === 'input_ids' || key === 'attention_mask') continue;
              inputs[key] = B === 1 ? value : value?.dims ? tf.cat(batch.map((b) => b.inputs[key]), 0) : value;
            }
            inputs.input_ids = int64(batch.map((b) => b.ids));
            inputs.attention_mask = ones(B, T);
            expectedFeatureTokens = batch.reduce((n, b) => n + b.imageTokens, 0);
            const scores: number[][] = batch.map(() => sequences.map(() => 0));
            const argmaxIds: number[] = [];
            try {
              const prefill = await model(inputs);
              expectedFeatureTokens = undefined;
              const logits = logitsOf(prefill, `Model ${label}`);
              for (let b = 0; b < B; b++) {
                const row = b * T + T - 1;
                sequences.forEach((ids, k) => (scores[b]![k] = logProbAt(logits, row, ids[0]!, `Model ${label}`)));
                const offset = row * logits.vocab;
                let best = 0;
                for (let v = 1; v < logits.vocab; v++) if (logits.data[offset + v]! > logits.data[offset + best]!) best = v;
                argmaxIds.push(best);
              }
              for (const [k, ids] of sequences.entries()) {
                if (ids.length === 1) continue;
                throwIfAborted(signal);
                const rest = ids.slice(0, -1).map(BigInt);
                let out: Any;
                let offset: number;
                let seq: number;
                if (family.cacheContinuation) {
                  // Continue from the prompts' KV cache: only the candidate's tokens are run.
                  out = await model({ input_ids: int64(batch.map(() => rest)), attention_mask: ones(B, T + rest.length), past_key_values: pastFrom(prefill) });
                  offset = 0;
                  seq = rest.length;
                } else {
                  out = await model({ ...inputs, input_ids: int64(batch.map((b) => [...b.ids, ...rest])), attention_mask: ones(B, T + rest.length) });
                  offset = T - 1;
                  seq = T + rest.length;
                }
                const more = logitsOf(out, `Model ${label}`);
                for (let b = 0; b < B; b++) {
                  for (let j = 1; j < ids.length; j++) scores[b]![k]! += logProbAt(more, b * seq + offset + j - 1, ids[j]!, `Model ${label}`);
                }
              }
            } catch (err) {
              throw wrapRunError(err, 'scoring the answers');
            } finally {
              expectedFeatureTokens = undefined;
            }
            batch.forEach((b, i) => {
              const logprobs: TopLogprob[] = spellings.map((s) => ({ token: s.text, logprob: scores[i]![sequences.findIndex((ids) => ids.join(',') === s.ids.join(','))]! }));
              const text = String(tokenizer.decode([argmaxIds[i]!], { skip_special_tokens: true }) ?? '');
              results.push({ method: 'logits', logprobs, text, usage: { prompt: b.promptTokens, visual: b.imageTokens } });
            });
          }
          return results;
        }
      },

      async dispose(): Promise<void> {
        if (disposed) return;
        disposed = true;
        // Let a call in flight finish before its sessions go away.
        await lock.run(async () => {
          await model.dispose();
        });
      },
    });
    return runner;
  } catch (err) {
    disposed = true;
    await model.dispose().catch(() => undefined);
    throw err;
  }
}
