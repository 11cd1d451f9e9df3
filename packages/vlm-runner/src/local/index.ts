/**
 * The `local` backend: vision-language models run in this process on ONNX Runtime (CPU or
 * CUDA) through @huggingface/transformers 4.3.2, with model files from @semclip/hub's cache.
 */
import os from 'node:os';
import path from 'node:path';
import { SemclipError, defineRunner, isSemclipError, throwIfAborted } from '@semclip/core';
import type { AnswerRequest, ChooseRequest, Size, VlmAnswer, VlmCapabilities, VlmChoice, VlmRunner } from '@semclip/core';
import { ensureModel, getManifest } from '@semclip/hub';
import type { ModelManifest } from '@semclip/hub';
import { buildPrompt } from '../_prompt.js';
import type { BuiltPrompt, PromptTemplates } from '../_prompt.js';
import { argmax } from '../_choose.js';
import { Semaphore } from '../_semaphore.js';
import { loadTransformers, pretrainedSessionOptions, resolveDevice } from '../backends/onnx.js';
import type { Device, ResolvedDevice, Warn } from '../backends/onnx.js';
import { familyOf } from './_families.js';
import type { Any, Family, FamilyContext, FamilyName } from './_families.js';
import { findChatTemplate, isDirectory, isDirectoryPath, pickDtypes, readJson } from './_files.js';
import type { LocalDtype } from './_files.js';
import { toRgb } from './_pixels.js';
import type { RgbPixels } from './_pixels.js';
import { logProbAt, logitsOf, pastFrom } from './_score.js';

export type { LocalDtype } from './_files.js';
export type { FamilyName as LocalModelFamily } from './_families.js';
export type { Device, ResolvedDevice } from '../backends/onnx.js';

/** The three ONNX sessions of an image-text-to-text model, as transformers.js names them. */
export type LocalSession = 'vision_encoder' | 'embed_tokens' | 'decoder_model_merged';
const SESSIONS: readonly LocalSession[] = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];

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
      readonly call: 'answer' | 'choose';
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

/** The runner this backend returns: a `VlmRunner` plus what it loaded. */
export interface LocalRunner extends VlmRunner {
  readonly kind: 'local';
  readonly family: FamilyName;
  readonly device: ResolvedDevice;
  /** Weight variant loaded per session. */
  readonly dtypes: Readonly<Record<LocalSession, LocalDtype>>;
  /** The folder the model files were loaded from. */
  readonly dir: string;
  answer(request: AnswerRequest & LocalRequestExtras): Promise<VlmAnswer>;
  choose(request: ChooseRequest & LocalRequestExtras): Promise<VlmChoice>;
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
    const prepareCall = async (prompt: BuiltPrompt, call: 'answer' | 'choose', signal: AbortSignal | undefined) => {
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

    const runner: LocalRunner = defineRunner({
      kind: 'local' as const,
      id,
      model: label,
      family: family.name,
      device,
      dtypes,
      dir,
      visualTokensPerImage,
      capabilities: { multiImage, logprobs: true, embeddings: false } satisfies VlmCapabilities,

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
