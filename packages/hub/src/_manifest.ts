import { SemclipError } from '@semclip/core';

/** Model families SemClip knows how to drive. */
export const MODEL_FAMILIES = ['clip', 'siglip', 'llava', 'relevance', 'ocr', 'other'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** ONNX weight variants as transformers.js names them (`dtype` option). */
export const MODEL_DTYPES = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];

/**
 * One file of a model, relative to the repository root.
 *
 * `size` and `sha256` are `null` when no trustworthy published value exists: the file is then
 * "trust on first download" (TOFU): the first pull records its hash in the cache and every
 * later check compares against that record.
 */
export interface ModelFile {
  readonly path: string;
  readonly size: number | null;
  readonly sha256: string | null;
}

/** A supported model pinned to one commit of a Hugging Face repository. */
export interface ModelManifest {
  /** Short id used on the command line, e.g. `clip-vit-base-patch32`. */
  readonly id: string;
  /** Hugging Face repository transformers.js loads, e.g. `Xenova/clip-vit-base-patch32`. */
  readonly repo: string;
  /** Full 40-hex commit sha: the bytes behind it never change. */
  readonly revision: string;
  /** Hugging Face task tag, e.g. `zero-shot-image-classification`. */
  readonly task: string;
  readonly family: ModelFamily;
  /** SPDX id (or short name) of the weights' licence. */
  readonly license: string;
  /** The weight variant whose ONNX files `files` lists. */
  readonly defaultDtype: ModelDtype;
  /** `true` only when every file has a published size and sha256. */
  readonly verified: boolean;
  readonly files: readonly ModelFile[];
  /** The original (non-ONNX) model, e.g. `openai/clip-vit-base-patch32`. */
  readonly upstream?: string;
  readonly description?: string;
  /** Other names `getManifest` accepts. */
  readonly aliases?: readonly string[];
  /** Where the pinned values come from. */
  readonly provenance?: string;
  /** Set by the registry: `bundled`, or the path of the user manifest file it came from. */
  readonly origin?: string;
}

/** What `defineManifest` accepts: `verified` may be left out (it is then derived). */
export type ModelManifestInput = Omit<ModelManifest, 'verified'> & { readonly verified?: boolean };

const ID_RE = /^[a-z0-9][a-z0-9._-]{0,127}$/;
// Mirrors transformers.js's own repo id rule (REPO_ID_REGEX + no "--"/".."), so anything we
// accept is a path transformers.js will look up under env.localModelPath.
const REPO_PART_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,95}$/;
const REVISION_RE = /^[0-9a-f]{40}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const PATH_SEGMENT_RE = /^[A-Za-z0-9_.@+=-][A-Za-z0-9_.@+= -]*$/;

/** Names the cache keeps for itself next to model files; a manifest may not claim them. */
export const RESERVED_SUFFIXES = ['.partial'] as const;
export const SIDECAR_NAME = '.semclip.json';
export const LOCK_NAME = '.semclip.lock';

class Problems {
  readonly list: string[] = [];
  add(where: string, what: string): void {
    this.list.push(`${where}: ${what}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isValidRepoId(repo: string): boolean {
  const parts = repo.split('/');
  if (parts.length !== 2) return false;
  if (repo.includes('..') || repo.includes('--')) return false;
  return parts.every((p) => REPO_PART_RE.test(p) && !p.endsWith('.') && !p.endsWith('-') && !p.endsWith('.git'));
}

function checkPath(path: string, where: string, problems: Problems): void {
  if (path.length === 0 || path.length > 512) {
    problems.add(where, 'must be a non-empty relative path (at most 512 characters)');
    return;
  }
  if (path.startsWith('/') || path.includes('\\') || /^[A-Za-z]:/.test(path)) {
    problems.add(where, `"${path}" must be a relative POSIX path inside the repository`);
    return;
  }
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.' || seg === '..' || !PATH_SEGMENT_RE.test(seg)) {
      problems.add(where, `"${path}" has an invalid path segment "${seg}" (no empty, ".", ".." or unusual characters)`);
      return;
    }
  }
  const base = path.split('/').pop()!;
  if (base === SIDECAR_NAME || base === LOCK_NAME || RESERVED_SUFFIXES.some((s) => base.endsWith(s))) {
    problems.add(where, `"${path}" collides with a name the cache reserves (${SIDECAR_NAME}, ${LOCK_NAME}, *.partial)`);
  }
}

function optionalString(obj: Record<string, unknown>, key: string, problems: Problems): void {
  if (obj[key] !== undefined && (typeof obj[key] !== 'string' || (obj[key] as string).trim() === '')) {
    problems.add(key, 'must be a non-empty string when present');
  }
}

/**
 * Checks an unknown value against the manifest schema and returns the normalised manifest.
 * Throws MODEL_INVALID listing every problem, prefixed with `source` (a file path or a label).
 *
 * @example
 * ```ts
 * import { readFileSync } from 'node:fs';
 * import { parseManifest } from '@semclip/hub';
 *
 * const m = parseManifest(JSON.parse(readFileSync('my-model.json', 'utf8')), 'my-model.json');
 * ```
 */
export function parseManifest(value: unknown, source = 'manifest'): ModelManifest {
  const problems = new Problems();
  if (!isRecord(value)) {
    throw invalid(source, [`expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`]);
  }
  const v = value;
  const known = new Set([
    'id',
    'repo',
    'revision',
    'task',
    'family',
    'license',
    'defaultDtype',
    'verified',
    'files',
    'upstream',
    'description',
    'aliases',
    'provenance',
    'origin',
    '$schema',
  ]);
  for (const key of Object.keys(v)) if (!known.has(key)) problems.add(key, 'is not a manifest field (typo?)');

  if (typeof v.id !== 'string' || !ID_RE.test(v.id)) {
    problems.add('id', `must be a short lowercase id like "clip-vit-base-patch32" (got ${JSON.stringify(v.id)})`);
  }
  if (typeof v.repo !== 'string' || !isValidRepoId(v.repo)) {
    problems.add('repo', `must be a Hugging Face repository id "owner/name" (got ${JSON.stringify(v.repo)})`);
  }
  if (typeof v.revision !== 'string' || !REVISION_RE.test(v.revision)) {
    problems.add('revision', `must be a full 40-character lowercase commit sha, not a branch or tag (got ${JSON.stringify(v.revision)})`);
  }
  if (typeof v.task !== 'string' || v.task.trim() === '') problems.add('task', 'must be a non-empty string such as "zero-shot-image-classification"');
  if (typeof v.family !== 'string' || !(MODEL_FAMILIES as readonly string[]).includes(v.family)) {
    problems.add('family', `must be one of ${MODEL_FAMILIES.join(', ')} (got ${JSON.stringify(v.family)})`);
  }
  if (typeof v.license !== 'string' || v.license.trim() === '') problems.add('license', 'must be a non-empty string (an SPDX id such as "MIT")');
  if (typeof v.defaultDtype !== 'string' || !(MODEL_DTYPES as readonly string[]).includes(v.defaultDtype)) {
    problems.add('defaultDtype', `must be one of ${MODEL_DTYPES.join(', ')} (got ${JSON.stringify(v.defaultDtype)})`);
  }
  for (const key of ['upstream', 'description', 'provenance', 'origin']) optionalString(v, key, problems);
  if (v.upstream !== undefined && typeof v.upstream === 'string' && !isValidRepoId(v.upstream)) {
    problems.add('upstream', `must be a Hugging Face repository id "owner/name" (got ${JSON.stringify(v.upstream)})`);
  }
  if (v.aliases !== undefined) {
    if (!Array.isArray(v.aliases) || v.aliases.some((a) => typeof a !== 'string' || a.trim() === '')) {
      problems.add('aliases', 'must be an array of non-empty strings');
    }
  }

  const files: ModelFile[] = [];
  if (!Array.isArray(v.files) || v.files.length === 0) {
    problems.add('files', 'must be a non-empty array of { path, size, sha256 }');
  } else {
    const seen = new Set<string>();
    v.files.forEach((f: unknown, i: number) => {
      const where = `files[${i}]`;
      if (!isRecord(f)) return problems.add(where, 'must be an object { path, size, sha256 }');
      for (const key of Object.keys(f)) if (!['path', 'size', 'sha256'].includes(key)) problems.add(`${where}.${key}`, 'is not a file field');
      if (typeof f.path !== 'string') problems.add(`${where}.path`, 'must be a string');
      else {
        checkPath(f.path, `${where}.path`, problems);
        if (seen.has(f.path)) problems.add(`${where}.path`, `"${f.path}" is listed twice`);
        seen.add(f.path);
      }
      if (!(f.size === null || (typeof f.size === 'number' && Number.isSafeInteger(f.size) && f.size >= 0))) {
        problems.add(`${where}.size`, `must be a byte count (non-negative integer) or null when unknown (got ${JSON.stringify(f.size)})`);
      }
      if (!(f.sha256 === null || (typeof f.sha256 === 'string' && SHA256_RE.test(f.sha256)))) {
        problems.add(`${where}.sha256`, `must be 64 lowercase hex characters or null when unknown (got ${JSON.stringify(f.sha256)})`);
      }
      if (f.size === undefined) problems.add(`${where}.size`, 'is required (use null when unknown)');
      if (f.sha256 === undefined) problems.add(`${where}.sha256`, 'is required (use null for trust-on-first-download)');
      if (typeof f.path === 'string') {
        files.push({ path: f.path, size: (f.size ?? null) as number | null, sha256: (f.sha256 ?? null) as string | null });
      }
    });
  }

  const complete = files.length > 0 && files.every((f) => f.size !== null && f.sha256 !== null);
  let verified = complete;
  if (v.verified !== undefined) {
    if (typeof v.verified !== 'boolean') problems.add('verified', 'must be true or false');
    else if (v.verified && !complete) {
      problems.add('verified', 'is true but some files have a null size or sha256; set it to false (trust on first download) or fill in the values');
    } else verified = v.verified;
  }

  if (problems.list.length > 0) throw invalid(source, problems.list);

  return {
    id: v.id as string,
    repo: v.repo as string,
    revision: v.revision as string,
    task: v.task as string,
    family: v.family as ModelFamily,
    license: v.license as string,
    defaultDtype: v.defaultDtype as ModelDtype,
    verified,
    files,
    ...(v.upstream === undefined ? {} : { upstream: v.upstream as string }),
    ...(v.description === undefined ? {} : { description: v.description as string }),
    ...(v.aliases === undefined ? {} : { aliases: [...(v.aliases as string[])] }),
    ...(v.provenance === undefined ? {} : { provenance: v.provenance as string }),
    ...(v.origin === undefined ? {} : { origin: v.origin as string }),
  };
}

function invalid(source: string, problems: string[]): SemclipError {
  const shown = problems.slice(0, 12);
  const more = problems.length > shown.length ? ` (and ${problems.length - shown.length} more)` : '';
  return new SemclipError('MODEL_INVALID', `The model manifest ${source} is invalid: ${shown.join('; ')}${more}.`, {
    expected:
      'a manifest like models/clip-vit-base-patch32.json: { id, repo, revision (40-hex commit), task, family, license, defaultDtype, verified, files: [{ path, size, sha256 }] }',
    hint: 'Fix the listed fields; see the @semclip/hub README, "Manifest format"',
    details: { source, problems },
  });
}

/**
 * Validates a manifest written in code and returns it typed. `verified` defaults to whether
 * every file has a size and sha256. Throws MODEL_INVALID on any schema problem.
 *
 * @example
 * ```ts
 * import { defineManifest, pullModel } from '@semclip/hub';
 *
 * const tiny = defineManifest({
 *   id: 'my-clip',
 *   repo: 'me/my-clip-onnx',
 *   revision: '0123456789abcdef0123456789abcdef01234567',
 *   task: 'zero-shot-image-classification',
 *   family: 'clip',
 *   license: 'MIT',
 *   defaultDtype: 'fp32',
 *   files: [{ path: 'config.json', size: null, sha256: null }],
 * });
 * await pullModel(tiny);
 * ```
 */
export function defineManifest<const T extends ModelManifestInput>(manifest: T): ModelManifest & Omit<T, 'verified'> {
  return parseManifest(manifest, `"${String((manifest as { id?: unknown }).id)}"`) as ModelManifest & Omit<T, 'verified'>;
}
