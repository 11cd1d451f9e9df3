/**
 * Finding, checking and loading a dual-encoder (CLIP or SigLIP) model folder in the Hugging Face /
 * transformers.js layout. The hub (`@semclip/hub`) owns downloads; this module only reads.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { SemclipError, isSemclipError } from '@semclip/core';
import { ensureModel, getManifest, listModels } from '@semclip/hub';
import type { EnsureOptions, ModelDtype, ModelManifest } from '@semclip/hub';
import {
  AutoImageProcessor,
  AutoTokenizer,
  CLIPTextModelWithProjection,
  CLIPVisionModelWithProjection,
  SiglipTextModel,
  SiglipVisionModel,
} from '@huggingface/transformers';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { DTYPES, DTYPE_SUFFIX, isDtype } from '@semclip/runtime';
import type { Dtype, ResolvedDevice } from '@semclip/runtime';
import { gpuUnavailable, transformersSessionSettings } from '@semclip/runtime/onnx';

export type Family = 'clip' | 'siglip';

/** Where the model files come from, as far as errors and cache keys need to know. */
export interface ModelLocation {
  readonly dir: string;
  /** Manifest id, or the folder for `modelPath`. */
  readonly id: string;
  readonly manifest?: ModelManifest;
  readonly dtype: string;
  /** The command that fixes a missing or broken folder. */
  readonly fix: string;
}

export interface LocateOptions {
  readonly model?: string | ModelManifest | undefined;
  readonly modelPath?: string | undefined;
  readonly dtype?: ModelDtype | undefined;
  readonly cacheDir?: string | undefined;
  readonly offline?: boolean | undefined;
  readonly autoPull?: boolean | undefined;
  readonly hub?: Omit<EnsureOptions, 'cacheDir' | 'offline' | 'autoPull'> | undefined;
}

function checkDtype(dtype: string): string {
  if (!isDtype(dtype)) {
    throw new SemclipError('INVALID_ARGUMENT', `Unknown dtype "${dtype}".`, { expected: `one of ${DTYPES.join(', ')}` });
  }
  return dtype;
}

function familyIds(family: Family, env: NodeJS.ProcessEnv | undefined): string[] {
  try {
    return listModels(env ? { env } : {})
      .filter((m) => m.family === family)
      .map((m) => m.id);
  } catch {
    return [];
  }
}

/** Resolves the model to a folder: a `modelPath` as given, or a hub manifest through `ensureModel`. */
export async function locateModel(family: Family, defaultModel: string, options: LocateOptions): Promise<ModelLocation> {
  if (options.modelPath !== undefined) {
    if (typeof options.modelPath !== 'string' || options.modelPath.trim() === '') {
      throw new SemclipError('INVALID_ARGUMENT', 'modelPath must be a folder path.', { expected: 'a folder with config.json, tokenizer.json and onnx/*.onnx' });
    }
    const dir = path.resolve(options.modelPath);
    return {
      dir,
      id: dir,
      dtype: checkDtype(options.dtype ?? 'fp32'),
      fix: `Point modelPath at a folder in the Hugging Face layout (config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json, onnx/text_model.onnx, onnx/vision_model.onnx), e.g. one made by \`semclip models pull ${defaultModel}\``,
    };
  }
  const env = options.hub?.env;
  const requested = options.model ?? defaultModel;
  let manifest: ModelManifest;
  if (typeof requested === 'string') {
    try {
      manifest = getManifest(requested, env ? { env } : {});
    } catch (err) {
      if (isSemclipError(err, 'UNKNOWN_MODEL')) {
        const valid = familyIds(family, env);
        throw new SemclipError('UNKNOWN_MODEL', `There is no ${family} model called "${requested}".`, {
          cause: err,
          expected: `one of ${valid.join(', ')}`,
          hint: 'Run `semclip models list` to see every model, or add a manifest with SEMCLIP_MANIFEST_PATH',
          details: { id: requested, valid },
        });
      }
      throw err;
    }
  } else {
    manifest = requested;
  }
  if (manifest.family !== family) {
    const valid = familyIds(family, env);
    throw new SemclipError('UNKNOWN_MODEL', `Model "${manifest.id}" is a ${manifest.family} model, not a ${family} model.`, {
      expected: `one of ${valid.join(', ')}`,
      hint: `Use the ${manifest.family} scorer for it, or pick a ${family} model`,
      details: { id: manifest.id, family: manifest.family, valid },
    });
  }
  const dir = await ensureModel(manifest, {
    ...(options.hub ?? {}),
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
    ...(options.offline === undefined ? {} : { offline: options.offline }),
    ...(options.autoPull === undefined ? {} : { autoPull: options.autoPull }),
  });
  return {
    dir,
    id: manifest.id,
    manifest,
    dtype: checkDtype(options.dtype ?? manifest.defaultDtype),
    fix: `Run: semclip models verify ${manifest.id}, then semclip models pull ${manifest.id}`,
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The files transformers.js reads for a dual encoder at this dtype. */
export function requiredFiles(dtype: string): string[] {
  const suffix = isDtype(dtype) ? DTYPE_SUFFIX[dtype] : '';
  return [
    'config.json',
    'preprocessor_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    `onnx/text_model${suffix}.onnx`,
    `onnx/vision_model${suffix}.onnx`,
  ];
}

/**
 * Checks the folder before transformers.js touches it, so a missing or wrong file is reported
 * by name with the command that fixes it (transformers.js would say "file was not found locally").
 * Returns the parsed config.json.
 */
export async function checkModelFolder(family: Family, loc: ModelLocation): Promise<Record<string, unknown>> {
  let dirOk = false;
  try {
    dirOk = (await stat(loc.dir)).isDirectory();
  } catch {
    dirOk = false;
  }
  if (!dirOk) {
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `The ${family} model folder ${loc.dir} does not exist.`, {
      hint: loc.manifest ? `Run: semclip models pull ${loc.id}` : loc.fix,
      details: { id: loc.id, dir: loc.dir },
    });
  }
  const files = requiredFiles(loc.dtype);
  const missing: string[] = [];
  for (const f of files) if (!(await exists(path.join(loc.dir, ...f.split('/'))))) missing.push(f);
  if (missing.length > 0) {
    const onnxMissing = missing.some((f) => f.startsWith('onnx/'));
    const dtypeNote =
      onnxMissing && loc.dtype !== 'fp32'
        ? ` (dtype ${loc.dtype} needs the ${DTYPE_SUFFIX[loc.dtype as Dtype]} variants; pick the dtype whose files you downloaded)`
        : '';
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `The ${family} model in ${loc.dir} is incomplete: ${missing.join(', ')} missing${dtypeNote}.`, {
      hint: loc.manifest ? `Run: semclip models pull ${loc.id}` : loc.fix,
      details: { id: loc.id, dir: loc.dir, missing, dtype: loc.dtype },
    });
  }
  const configPath = path.join(loc.dir, 'config.json');
  let config: unknown;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (cause) {
    throw new SemclipError('MODEL_INVALID', `${configPath} is not valid JSON: ${(cause as Error).message}.`, { cause, hint: loc.fix });
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new SemclipError('MODEL_INVALID', `${configPath} is not a model config object.`, { hint: loc.fix });
  }
  const modelType = (config as { model_type?: unknown }).model_type;
  if (modelType !== family) {
    throw new SemclipError('MODEL_INVALID', `${loc.dir} holds a ${JSON.stringify(modelType)} model, not a ${family} model (config.json model_type).`, {
      expected: `model_type "${family}"`,
      hint: modelType === 'clip' || modelType === 'siglip' ? `Use the ${String(modelType)} scorer for this folder` : loc.fix,
      details: { id: loc.id, dir: loc.dir, modelType },
    });
  }
  return config as Record<string, unknown>;
}

/** A loaded transformers.js model: callable on named tensors, with its ONNX session inside. */
export interface TowerModel {
  (inputs: Record<string, unknown>): Promise<Record<string, { dims: readonly number[]; data: ArrayLike<number> }>>;
  readonly sessions: Record<string, { readonly inputNames: readonly string[]; readonly outputNames: readonly string[] }>;
  dispose(): Promise<unknown>;
}

export interface LoadedModel {
  readonly tokenizer: PreTrainedTokenizer;
  readonly processor: Record<string, unknown>;
  readonly text: TowerModel;
  readonly vision: TowerModel;
  readonly config: Record<string, unknown>;
}

const TOWERS = {
  clip: { text: CLIPTextModelWithProjection, vision: CLIPVisionModelWithProjection, textOut: 'text_embeds', visionOut: 'image_embeds' },
  siglip: { text: SiglipTextModel, vision: SiglipVisionModel, textOut: 'pooler_output', visionOut: 'pooler_output' },
} as const;

export function towerOutputs(family: Family): { text: string; vision: string } {
  return { text: TOWERS[family].textOut, vision: TOWERS[family].visionOut };
}

function checkTower(which: 'text' | 'vision', tower: TowerModel, input: string, output: string, loc: ModelLocation): void {
  const session = tower.sessions.model;
  if (!session) throw new SemclipError('MODEL_INVALID', `The ${which} tower in ${loc.dir} did not load a session.`, { hint: loc.fix });
  if (!session.inputNames.includes(input) || !session.outputNames.includes(output)) {
    throw new SemclipError(
      'MODEL_INVALID',
      `The ${which} tower in ${loc.dir} takes [${session.inputNames.join(', ')}] and gives [${session.outputNames.join(', ')}].`,
      { expected: `an input "${input}" and an output "${output}" (the transformers.js export)`, hint: loc.fix, details: { id: loc.id } },
    );
  }
}

/**
 * Tokenizers and image processors are stateless once built, and building CLIP's (49k-token BPE)
 * takes a noticeable moment, so scorers share them. Keyed by the content of the files they are
 * built from, so a changed file is read again and identical copies share one object.
 */
const shared = new Map<string, Promise<unknown>>();
const SHARED_MAX = 8;

async function fileStamp(dir: string, files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const f of files) {
    hash.update(f);
    hash.update(await readFile(path.join(dir, f)));
  }
  return hash.digest('hex');
}

function memo<T>(key: string, load: () => Promise<T>): Promise<T> {
  let p = shared.get(key) as Promise<T> | undefined;
  if (!p) {
    p = load();
    shared.set(key, p);
    p.catch(() => shared.delete(key));
    if (shared.size > SHARED_MAX) shared.delete(shared.keys().next().value as string);
  }
  return p;
}

/** Loads tokenizer, image processor and both towers through transformers.js on the resolved device. */
export async function loadModel(
  family: Family,
  loc: ModelLocation,
  config: Record<string, unknown>,
  device: ResolvedDevice,
  intraOpNumThreads: number | undefined,
): Promise<LoadedModel> {
  const settings = transformersSessionSettings(device, { dtype: loc.dtype, ...(intraOpNumThreads ? { intraOpNumThreads } : {}) });
  const common = { local_files_only: true } as const;
  const towers = TOWERS[family];
  const results = await Promise.allSettled([
    fileStamp(loc.dir, ['tokenizer.json', 'tokenizer_config.json']).then((k) => memo(`tok|${k}`, () => AutoTokenizer.from_pretrained(loc.dir, common))),
    fileStamp(loc.dir, ['preprocessor_config.json']).then((k) => memo(`proc|${k}`, () => AutoImageProcessor.from_pretrained(loc.dir, common))),
    towers.text.from_pretrained(loc.dir, { ...common, ...settings } as never),
    towers.vision.from_pretrained(loc.dir, { ...common, ...settings } as never),
  ]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(
      results.slice(2).map(async (r) => {
        if (r.status === 'fulfilled') await (r.value as unknown as TowerModel).dispose().catch(() => undefined);
      }),
    );
    const cause = (failed as PromiseRejectedResult).reason as Error;
    if (isSemclipError(cause)) throw cause;
    // No WebGPU adapter is a device problem, not a broken model.
    const webgpu = device === 'webgpu' ? gpuUnavailable(device, cause) : undefined;
    if (webgpu) throw webgpu;
    const cuda = device === 'cuda' && /cuda|provider|libcudnn|libcublas/i.test(String(cause?.message));
    throw new SemclipError(
      cuda ? 'DEVICE_UNAVAILABLE' : 'MODEL_INVALID',
      `Loading the ${family} model from ${loc.dir} failed: ${cause?.message ?? String(cause)}`,
      { cause, hint: cuda ? 'Check the CUDA 12 / cuDNN 9 install, or pass --device cpu' : loc.fix, details: { id: loc.id, dtype: loc.dtype } },
    );
  }
  const [tokenizer, processor, text, vision] = results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    PreTrainedTokenizer,
    Record<string, unknown>,
    TowerModel,
    TowerModel,
  ];
  try {
    checkTower('text', text, 'input_ids', towers.textOut, loc);
    checkTower('vision', vision, 'pixel_values', towers.visionOut, loc);
  } catch (err) {
    await Promise.all([text.dispose(), vision.dispose()]).catch(() => undefined);
    throw err;
  }
  return { tokenizer, processor, text, vision, config };
}
