import { readFileSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { SemclipError, isSemclipError } from '@semclip/core';
import { BUNDLED_MANIFESTS } from './_manifests.js';
import { parseManifest, type ModelManifest } from './_manifest.js';

/** Where `listModels` / `getManifest` read the environment from (tests pass their own). */
export interface RegistryOptions {
  readonly env?: NodeJS.ProcessEnv;
}

let bundledCache: readonly ModelManifest[] | undefined;

function bundled(): readonly ModelManifest[] {
  bundledCache ??= BUNDLED_MANIFESTS.map(({ file, manifest }) => ({
    ...parseManifest(manifest, file),
    origin: 'bundled',
  }));
  return bundledCache;
}

function readManifestFile(file: string): ModelManifest[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new SemclipError('MODEL_INVALID', `Cannot read the model manifest ${file}: ${(cause as Error).message}.`, {
      cause,
      hint: 'Check the paths in SEMCLIP_MANIFEST_PATH',
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new SemclipError('MODEL_INVALID', `The model manifest ${file} is not valid JSON: ${(cause as Error).message}.`, {
      cause,
      expected: 'one manifest object, or an array of them',
      hint: 'Fix the JSON syntax (a JSON linter points at the line)',
      details: { source: file },
    });
  }
  const list = Array.isArray(json) ? json : [json];
  return list.map((m, i) => ({
    ...parseManifest(m, Array.isArray(json) ? `${file}[${i}]` : file),
    origin: file,
  }));
}

/** Manifest files named by SEMCLIP_MANIFEST_PATH (files, or directories of *.json). */
function userManifestFiles(env: NodeJS.ProcessEnv): string[] {
  const raw = env.SEMCLIP_MANIFEST_PATH;
  if (!raw) return [];
  const out: string[] = [];
  for (const entry of raw.split(path.delimiter)) {
    if (entry.trim() === '') continue;
    const p = path.resolve(entry);
    let stat: Stats;
    try {
      stat = statSync(p);
    } catch {
      throw new SemclipError('MODEL_INVALID', `SEMCLIP_MANIFEST_PATH names ${p}, which does not exist.`, {
        expected: `a ${path.delimiter}-separated list of manifest JSON files or directories of them`,
        hint: 'Fix or remove that entry of SEMCLIP_MANIFEST_PATH',
        details: { source: p },
      });
    }
    if (stat.isDirectory()) {
      for (const name of readdirSync(p).sort()) if (name.endsWith('.json')) out.push(path.join(p, name));
    } else out.push(p);
  }
  return out;
}

/**
 * Every known model: the manifests bundled with the package, then the user's own from
 * `SEMCLIP_MANIFEST_PATH` (a user manifest with a bundled id replaces the bundled one).
 * Throws MODEL_INVALID naming the file when a user manifest is malformed.
 *
 * @example
 * ```ts
 * import { listModels } from '@semclip/hub';
 * for (const m of listModels()) console.log(m.id, m.repo, m.verified ? 'verified' : 'trust-on-first-download');
 * ```
 */
export function listModels(options: RegistryOptions = {}): ModelManifest[] {
  const env = options.env ?? process.env;
  const byId = new Map<string, ModelManifest>();
  for (const m of bundled()) byId.set(m.id, m);
  const userOrigin = new Map<string, string>();
  for (const file of userManifestFiles(env)) {
    for (const m of readManifestFile(file)) {
      const earlier = userOrigin.get(m.id);
      if (earlier !== undefined) {
        throw new SemclipError('MODEL_INVALID', `Two user manifests define the model id "${m.id}": ${earlier} and ${file}.`, {
          hint: 'Give one of them another id, or drop one from SEMCLIP_MANIFEST_PATH',
          details: { id: m.id, sources: [earlier, file] },
        });
      }
      userOrigin.set(m.id, file);
      byId.set(m.id, m);
    }
  }
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The manifest for a model id (or one of its aliases, or its repository id). Throws
 * UNKNOWN_MODEL listing the valid ids.
 *
 * @example
 * ```ts
 * const m = getManifest('clip-vit-large-patch14');
 * console.log(m.repo, m.revision); // Xenova/clip-vit-large-patch14 c3077901...
 * ```
 */
export function getManifest(id: string, options: RegistryOptions = {}): ModelManifest {
  const models = listModels(options);
  const found =
    models.find((m) => m.id === id) ?? models.find((m) => m.aliases?.includes(id)) ?? models.find((m) => m.repo === id && m.id === defaultForRepo(models, id));
  if (found) return found;
  const ids = models.map((m) => m.id);
  throw new SemclipError('UNKNOWN_MODEL', `Unknown model "${id}".`, {
    expected: `one of ${ids.join(', ')}`,
    hint: 'Run `semclip models list` to see them, or add your own manifest with SEMCLIP_MANIFEST_PATH',
    details: { id, valid: ids },
  });
}

/** For a repository several manifests share, the one without a dtype suffix wins. */
function defaultForRepo(models: readonly ModelManifest[], repo: string): string | undefined {
  const same = models.filter((m) => m.repo === repo);
  return (same.find((m) => m.defaultDtype === 'fp32') ?? same[0])?.id;
}

/** Accepts an id or a manifest object; objects are validated, not looked up. */
export function resolveManifest(idOrManifest: string | ModelManifest, options: RegistryOptions = {}): ModelManifest {
  if (typeof idOrManifest === 'string') return getManifest(idOrManifest, options);
  if (typeof idOrManifest !== 'object' || idOrManifest === null) {
    throw new SemclipError('INVALID_ARGUMENT', `Expected a model id or a manifest object, got ${idOrManifest === null ? 'null' : typeof idOrManifest}.`, {
      hint: 'Pass an id from `semclip models list`, or a manifest made with defineManifest()',
    });
  }
  return parseManifest(idOrManifest, `"${String((idOrManifest as { id?: unknown }).id)}"`);
}

/** True when `id` names a registered model (used to word hints). */
export function isRegistered(id: string, options: RegistryOptions = {}): boolean {
  try {
    return listModels(options).some((m) => m.id === id);
  } catch (err) {
    if (isSemclipError(err)) return false;
    throw err;
  }
}
