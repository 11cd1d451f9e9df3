/**
 * The on-disk form of a trained relevance head: `<cacheDir>/heads/<name>/head.json` (this schema)
 * next to `head.onnx`. `@semclip/trainer` writes it; the distant scorer reads it. The schema lives
 * here, in the package that reads it, so the scorer never depends on the trainer.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { SemclipError } from '@semclip/core';
import type { TrainedOn } from '@semclip/core';
import { resolveCacheDir } from '@semclip/hub';
import type { ChoiceMode } from '../clip/_text.js';

export const HEAD_MANIFEST_FILE = 'head.json';
export const HEAD_ONNX_FILE = 'head.onnx';
export const HEAD_SCHEMA = 1;
export const HEAD_KIND = 'semclip-relevance-head';
/** ONNX input and output names of every head graph. */
export const HEAD_IO = { text: 'text_embeds', image: 'image_embeds', output: 'scores' } as const;
/** Added to squared norms before the square root, in the graph and in the trainer's forward pass alike. */
export const HEAD_NORM_EPS = 1e-12;
export const HEAD_TYPES = ['linear'] as const;
export type HeadType = (typeof HEAD_TYPES)[number];

/** The frozen base model a head was trained on. */
export interface HeadBase {
  readonly family: 'clip' | 'siglip';
  /** Hub manifest id (`clip-vit-base-patch32`), or the folder for towers given as `modelPath`. */
  readonly model: string;
  readonly repo?: string;
  /** The manifest revision the embeddings came from; loading checks the registry still pins it. */
  readonly revision?: string;
  readonly dtype: string;
  /** A folder of (possibly externally fine-tuned) towers in the Hugging Face layout, instead of a hub model. */
  readonly modelPath?: string;
}

/**
 * `head.json`. `type: 'linear'`: one `dim x dim` projection per tower, score =
 * cosine(W_t t, W_v v) over the base model's L2-normalised embeddings `t` (question) and `v` (tile).
 */
export interface HeadManifest {
  readonly schema: 1;
  readonly kind: typeof HEAD_KIND;
  /** The head's name (its folder under `<cacheDir>/heads/`). */
  readonly name: string;
  readonly type: HeadType;
  readonly dim: number;
  /** The ONNX file, relative to head.json. */
  readonly file: string;
  /** sha256 of the ONNX file, checked on load. */
  readonly sha256: string;
  readonly base: HeadBase;
  /** How the question becomes the text embedding; the scorer must do as training did. */
  readonly query: { readonly choices: ChoiceMode; readonly template?: string };
  readonly createdAt: string;
  /** Hyperparameters, data and metrics of the run that made it (free-form, for people). */
  readonly training?: Readonly<Record<string, unknown>>;
  /**
   * The benchmark items of the labels file (trained on or used to pick the epoch), so that an
   * evaluation can warn when it scores them. Absent in heads written before it was recorded.
   */
  readonly trainedOn?: TrainedOn;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Checks a head name (a folder name under `heads/`); INVALID_ARGUMENT otherwise.
 *
 * @example
 * ```ts
 * checkHeadName('sqa-clip-b32'); // 'sqa-clip-b32'
 * checkHeadName('../x');         // throws INVALID_ARGUMENT
 * ```
 */
export function checkHeadName(name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.includes('..')) {
    throw new SemclipError('INVALID_ARGUMENT', `Head name ${JSON.stringify(name)} is not valid.`, {
      expected: 'letters, digits, ".", "_" and "-", starting with a letter or digit (at most 128 characters), like sqa-clip-b32',
    });
  }
  return name;
}

/**
 * Where trained heads live: `<cacheDir>/heads` (cacheDir: the option, else SEMCLIP_CACHE_DIR or
 * the user cache, as for models).
 *
 * @example
 * ```ts
 * headsRoot(); // ~/.cache/semclip/heads
 * ```
 */
export function headsRoot(options: { readonly cacheDir?: string; readonly env?: NodeJS.ProcessEnv } = {}): string {
  const root = options.cacheDir ? path.resolve(options.cacheDir) : resolveCacheDir(options.env ?? process.env);
  return path.join(root, 'heads');
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * Finds a head's `head.json`: a path to a head.json file or to a folder holding one, else a
 * name under `headsRoot()`. MODEL_NOT_DOWNLOADED errors name `semclip train`.
 *
 * @example
 * ```ts
 * await resolveHeadManifestPath('sqa-clip-b32');    // ~/.cache/semclip/heads/sqa-clip-b32/head.json
 * await resolveHeadManifestPath('./my-head');       // ./my-head/head.json
 * ```
 */
export async function resolveHeadManifestPath(
  nameOrPath: string,
  options: { readonly cacheDir?: string; readonly env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  if (typeof nameOrPath !== 'string' || nameOrPath.trim() === '') {
    throw new SemclipError('INVALID_ARGUMENT', 'The distant scorer needs a trained head.', {
      expected: 'a head name (a folder under <cache>/heads) or a path to a head folder or head.json',
      hint: 'Train one with `semclip train --labels labels.jsonl --base clip-vit-base-patch32 --out my-head`, then pass --model my-head',
    });
  }
  const given = nameOrPath.trim();
  const asPath = path.resolve(given);
  if (given.endsWith('.json') && (await isFile(asPath))) return asPath;
  if ((given.includes('/') || given.includes(path.sep) || given.startsWith('.')) && (await isDir(asPath))) {
    const file = path.join(asPath, HEAD_MANIFEST_FILE);
    if (await isFile(file)) return file;
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `${asPath} holds no ${HEAD_MANIFEST_FILE}.`, {
      expected: 'a folder written by `semclip train` (head.json + head.onnx)',
      details: { path: asPath },
    });
  }
  const root = headsRoot(options);
  let name: string;
  try {
    name = checkHeadName(given);
  } catch (err) {
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `There is no head folder ${asPath}, and ${JSON.stringify(given)} is not a head name.`, {
      cause: err,
      expected: 'a head name (a folder under <cache>/heads) or a path to a head folder or head.json',
    });
  }
  const file = path.join(root, name, HEAD_MANIFEST_FILE);
  if (await isFile(file)) return file;
  throw new SemclipError('MODEL_NOT_DOWNLOADED', `There is no trained head called "${name}" (looked for ${file}).`, {
    hint: `Train it: semclip train --labels labels.jsonl --base clip-vit-base-patch32 --out ${name}`,
    details: { name, path: file, root },
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a parsed head.json; MODEL_INVALID lists every problem.
 *
 * @example
 * ```ts
 * const manifest = parseHeadManifest(JSON.parse(text), 'head.json');
 * ```
 */
export function parseHeadManifest(value: unknown, source = HEAD_MANIFEST_FILE): HeadManifest {
  const problems: string[] = [];
  if (!isRecord(value)) {
    throw new SemclipError('MODEL_INVALID', `${source} is not a JSON object.`, { expected: 'a head.json written by semclip train' });
  }
  const v = value;
  if (v.schema !== HEAD_SCHEMA) problems.push(`schema must be ${HEAD_SCHEMA} (got ${JSON.stringify(v.schema)}; written by a newer SemClip?)`);
  if (v.kind !== HEAD_KIND) problems.push(`kind must be "${HEAD_KIND}"`);
  if (typeof v.name !== 'string' || !NAME_RE.test(v.name)) problems.push('name must be a head name');
  if (!(HEAD_TYPES as readonly unknown[]).includes(v.type)) problems.push(`type must be one of ${HEAD_TYPES.join(', ')} (got ${JSON.stringify(v.type)})`);
  if (typeof v.dim !== 'number' || !Number.isInteger(v.dim) || v.dim < 1 || v.dim > 65536) problems.push('dim must be a positive integer');
  if (typeof v.file !== 'string' || v.file === '' || v.file.includes('..') || path.isAbsolute(v.file)) problems.push('file must be a relative file name');
  if (typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256)) problems.push('sha256 must be 64 lowercase hex characters');
  const base = v.base;
  if (!isRecord(base)) problems.push('base must be an object { family, model, dtype, ... }');
  else {
    if (base.family !== 'clip' && base.family !== 'siglip') problems.push(`base.family must be clip or siglip (got ${JSON.stringify(base.family)})`);
    if (typeof base.model !== 'string' || base.model === '') problems.push('base.model must be a model id or folder');
    if (typeof base.dtype !== 'string' || base.dtype === '') problems.push('base.dtype must be a dtype like fp32');
    for (const k of ['repo', 'revision', 'modelPath'] as const) {
      if (base[k] !== undefined && (typeof base[k] !== 'string' || base[k] === '')) problems.push(`base.${k} must be a non-empty string when present`);
    }
  }
  const query = v.query;
  if (!isRecord(query) || !['average', 'append', 'ignore'].includes(query.choices as string)) problems.push('query.choices must be average, append or ignore');
  else if (query.template !== undefined && (typeof query.template !== 'string' || !query.template.includes('{}')))
    problems.push('query.template must contain "{}"');
  if (typeof v.createdAt !== 'string') problems.push('createdAt must be a date string');
  if (v.training !== undefined && !isRecord(v.training)) problems.push('training must be an object when present');
  const on = v.trainedOn;
  if (on !== undefined) {
    if (!isRecord(on)) problems.push('trainedOn must be an object { benchmark, split, items } when present');
    else {
      if (typeof on.benchmark !== 'string' || on.benchmark === '') problems.push('trainedOn.benchmark must be a benchmark name');
      if (on.split !== null && (typeof on.split !== 'string' || on.split === '')) problems.push('trainedOn.split must be a split name or null');
      if (!Array.isArray(on.items) || !on.items.every((id) => typeof id === 'string')) problems.push('trainedOn.items must be an array of item ids');
    }
  }
  if (problems.length > 0) {
    throw new SemclipError('MODEL_INVALID', `The head manifest ${source} is invalid: ${problems.join('; ')}.`, {
      expected: 'a head.json written by semclip train',
      hint: 'Train the head again (semclip train), or fix the listed fields',
      details: { source, problems },
    });
  }
  return v as unknown as HeadManifest;
}

/**
 * Reads and validates a head.json.
 *
 * @example
 * ```ts
 * const m = await readHeadManifest(await resolveHeadManifestPath('sqa-clip-b32'));
 * console.log(m.base.model, m.base.revision, m.training?.bestEpoch);
 * ```
 */
export async function readHeadManifest(file: string): Promise<HeadManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `Cannot read the head manifest ${file}: ${(cause as Error).message}.`, { cause, details: { path: file } });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SemclipError('MODEL_INVALID', `The head manifest ${file} is not valid JSON: ${(cause as Error).message}.`, {
      cause,
      hint: 'Train the head again (semclip train)',
    });
  }
  return parseHeadManifest(json, file);
}

/** Reads the head's ONNX bytes and checks them against the manifest's sha256. */
export async function readHeadOnnx(manifestFile: string, manifest: HeadManifest): Promise<Uint8Array> {
  const file = path.join(path.dirname(manifestFile), manifest.file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (cause) {
    throw new SemclipError('MODEL_NOT_DOWNLOADED', `The head graph ${file} named by ${manifestFile} cannot be read: ${(cause as Error).message}.`, {
      cause,
      hint: 'Train the head again (semclip train)',
      details: { path: file },
    });
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== manifest.sha256) {
    throw new SemclipError(
      'MODEL_CHECKSUM_MISMATCH',
      `The head graph ${file} does not match ${manifestFile} (sha256 ${sha.slice(0, 12)}..., expected ${manifest.sha256.slice(0, 12)}...).`,
      {
        hint: 'The files were changed or copied partly; train the head again or copy the whole head folder',
        details: { path: file, sha256: sha, expected: manifest.sha256 },
      },
    );
  }
  return bytes;
}
