/**
 * Loading a local model: finding its folder, picking the weight variant per session, loading
 * the processor, tokenizer and ONNX sessions through transformers.js on the resolved device,
 * and checking what the calls rely on (tokenizer, chat template, float16 plumbing, visual
 * tokens per image). Sessions are released when anything fails.
 */
import os from 'node:os';
import path from 'node:path';
import { SemclipError, isSemclipError } from '@semclip/core';
import { ensureModel, getManifest } from '@semclip/hub';
import type { ModelManifest } from '@semclip/hub';
import type { ResolvedDevice } from '@semclip/runtime';
import { gpuUnavailable, transformersSessionSettings } from '@semclip/runtime/onnx';
import { loadTransformers } from '../backends/onnx.js';
import type { FeatureCheck } from './_context.js';
import { familyOf } from './_families.js';
import type { Any, Family, FamilyContext } from './_families.js';
import { LOCAL_SESSIONS, findChatTemplate, isDirectory, isDirectoryPath, pickDtypes, readJson } from './_files.js';
import type { LocalDtype, LocalSession } from './_files.js';
import type { RgbPixels } from './_pixels.js';
import type { LocalRunnerOptions } from './_types.js';

const SESSIONS = LOCAL_SESSIONS;

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
    throw new SemclipError('INVALID_ARGUMENT', 'The local runner needs a model.', {
      expected: 'a model id like llava-interleave-qwen-0.5b, or a model folder path',
    });
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

/** A loaded, checked model: what the runner's calls need. */
export interface LoadedModel {
  readonly dir: string;
  readonly label: string;
  readonly config: Record<string, Any>;
  readonly family: Family;
  readonly dtypes: Record<LocalSession, LocalDtype>;
  readonly tf: Any;
  readonly tokenizer: Any;
  /** transformers.js model; `encode_image` and `encode_text` are wrapped (float16 widening, the feature check). */
  readonly model: Any;
  readonly chatTemplate: string | undefined;
  readonly familyContext: FamilyContext;
  readonly imageTokenId: number;
  readonly visualTokensPerImage: number;
  /** Armed by calls, checked by the wrapped vision encoder. */
  readonly features: FeatureCheck;
}

/**
 * Loads the model `options` name on `device`. Throws what the user can fix (MODEL_NOT_DOWNLOADED,
 * MODEL_INVALID, INVALID_ARGUMENT for dtype mixes), never leaving sessions open.
 */
export async function loadModel(options: LocalRunnerOptions, device: ResolvedDevice, imageSide: number): Promise<LoadedModel> {
  const resolved = await resolveModel(options);
  const { dir, label, pullHint } = resolved;
  const config = readJson(dir, 'config.json');
  if (!config) {
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `Model ${label} has no config.json in ${dir}.`, { hint: pullHint, details: { dir } });
  }
  const family: Family = familyOf(config, dir);
  const manifestDtype = resolved.manifest?.defaultDtype as LocalDtype | undefined;
  const dtypes = pickDtypes(dir, SESSIONS, options.dtype, manifestDtype, label, pullHint) as Record<LocalSession, LocalDtype>;
  const hint = `Re-download the model (semclip models verify ${label}, then semclip models pull ${label})`;
  const { tf, processor, tokenizer: tokenizerOrNull, model } = await loadParts(options, dir, label, family, dtypes, device, hint);
  try {
    return await checkModel({ options, dir, label, config, family, dtypes, tf, processor, tokenizerOrNull, model, imageSide, hint });
  } catch (err) {
    await model.dispose().catch(() => undefined);
    throw err;
  }
}

/** Processor, tokenizer (LLaVA families load it separately) and the ONNX sessions, in parallel. */
async function loadParts(
  options: LocalRunnerOptions,
  dir: string,
  label: string,
  family: Family,
  dtypes: Record<LocalSession, LocalDtype>,
  device: ResolvedDevice,
  hint: string,
): Promise<{ tf: Any; processor: Any; tokenizer: Any; model: Any }> {
  const tf = await loadTransformers();
  const fileOptions = { local_files_only: true };
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
        ...transformersSessionSettings(device, { dtype: dtypes, ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}) }),
      })
      .catch((e: unknown) => {
        // No WebGPU adapter is a device problem, not a broken model.
        throw (
          (device === 'webgpu' ? gpuUnavailable(device, e) : undefined) ??
          loadError(label, `ONNX sessions (${SESSIONS.map((s) => `onnx/${s}`).join(', ')}) on ${device}`, e, hint)
        );
      }),
  ]);
  const failed = loaded.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Never leave sessions open behind an error.
    const sessions = loaded[2];
    if (sessions.status === 'fulfilled') await sessions.value.dispose().catch(() => undefined);
    throw failed.reason;
  }
  const [processor, tokenizer, model] = loaded.map((r) => (r as PromiseFulfilledResult<Any>).value) as [Any, Any, Any];
  return { tf, processor, tokenizer, model };
}

/** What loading gives before the checks: the same parts, the tokenizer not yet found. */
interface Loaded extends Pick<LoadedModel, 'dir' | 'label' | 'config' | 'family' | 'dtypes' | 'tf'> {
  readonly options: LocalRunnerOptions;
  readonly processor: Any;
  readonly tokenizerOrNull: Any;
  readonly model: Any;
  readonly imageSide: number;
  readonly hint: string;
}

/** Checks the loaded parts, wraps the encoders, and counts the visual tokens of one image. */
async function checkModel(loaded: Loaded): Promise<LoadedModel> {
  const { options, dir, label, config, family, dtypes, tf, processor, model, imageSide, hint } = loaded;
  const tokenizer: Any = loaded.tokenizerOrNull ?? processor.tokenizer;
  if (!tokenizer) throw new SemclipError('MODEL_INVALID', `Model ${label} has no tokenizer.`, { hint });
  const chatTemplate = tokenizer.chat_template ? undefined : findChatTemplate(dir, undefined);
  if (!tokenizer.chat_template && !chatTemplate) {
    throw new SemclipError(
      'MODEL_INVALID',
      `Model ${label} has no chat template (tokenizer_config.json chat_template, chat_template.jinja or chat_template.json).`,
      {
        hint,
      },
    );
  }
  const familyContext: FamilyContext = { tf, config, tokenizer, processor, imageSide };
  const imageTokenId = family.imageTokenId(familyContext);
  const features: FeatureCheck = { expected: undefined };
  const encodeImage = wrapEncoders(model, label, dtypes, features, options.onTrace);
  const visualTokensPerImage = await countVisualTokens(loaded, familyContext, encodeImage);
  return { dir, label, config, family, dtypes, tf, tokenizer, model, chatTemplate, familyContext, imageTokenId, visualTokensPerImage, features };
}

/**
 * Wraps `encode_text` / `encode_image` in place: float16 outputs widened for a float32 decoder,
 * and every vision run reported to `onTrace` and checked against `check.expected`. Returns
 * the widening vision encoder without the check (for the probe).
 */
function wrapEncoders(
  model: Any,
  label: string,
  dtypes: Record<LocalSession, LocalDtype>,
  check: FeatureCheck,
  onTrace: LocalRunnerOptions['onTrace'],
): (inputs: Any) => Promise<Any> {
  // Mixed weight variants (an fp16 vision encoder and embeddings with a q4 decoder saves
  // memory) need the fp16 outputs widened to the decoder's float32 input: transformers.js
  // copies feature bits into the embeddings as they are.
  const embedsType: string = model.sessions.decoder_model_merged?.inputMetadata?.find((m: Any) => m?.name === 'inputs_embeds')?.type ?? 'float32';
  const halfActivations = (d: LocalDtype) => d === 'fp16' || d === 'q4f16';
  if (embedsType === 'float16' && (!halfActivations(dtypes.embed_tokens) || !halfActivations(dtypes.vision_encoder))) {
    throw new SemclipError(
      'INVALID_ARGUMENT',
      `Model ${label}: the ${dtypes.decoder_model_merged} decoder takes float16 embeddings but embed_tokens is ${dtypes.embed_tokens} and vision_encoder ${dtypes.vision_encoder}.`,
      {
        expected: 'fp16 or q4f16 for every session with an fp16 or q4f16 decoder',
        hint: 'Pass dtype fp16 (or a float32 decoder variant such as q4 or q8)',
        details: { dtypes },
      },
    );
  }
  const widen = (t: Any) => (t?.type === 'float16' && embedsType === 'float32' ? t.to('float32') : t);
  const encodeText = model.encode_text.bind(model);
  model.encode_text = async (inputs: Any) => widen(await encodeText(inputs));

  // Checks what the vision encoder returns against the placeholders, and reports it.
  const encodeImageRaw = model.encode_image.bind(model);
  const encodeImage = async (inputs: Any) => widen(await encodeImageRaw(inputs));
  model.encode_image = async (inputs: Any) => {
    const features = await encodeImage(inputs);
    const dims: number[] = features.dims;
    const featureTokens = dims.slice(0, -1).reduce((a, b) => a * b, 1);
    onTrace?.({ kind: 'vision', batch: inputs.pixel_values?.dims?.[0] ?? 0, featureTokens });
    if (check.expected !== undefined && featureTokens !== check.expected) {
      throw new SemclipError(
        'MODEL_INVALID',
        `Model ${label}: the vision encoder returned ${featureTokens} feature vectors but the prompt has ${check.expected} image tokens.`,
        {
          hint: 'The ONNX vision encoder and the model configs disagree on tokens per image; re-download the model or report it',
          details: { featureTokens, expected: check.expected },
        },
      );
    }
    return features;
  };
  return encodeImage;
}

/** Visual tokens one image costs: from the configs, or (LLaVA families) counted on a blank image. */
async function countVisualTokens(loaded: Loaded, ctx: FamilyContext, encodeImage: (inputs: Any) => Promise<Any>): Promise<number> {
  const { options, label, family, dtypes, hint } = loaded;
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
  return tokensPerImage;
}
