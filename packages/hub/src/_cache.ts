import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SemclipError } from '@semclip/core';
import { SIDECAR_NAME, type ModelManifest } from './_manifest.js';
import { resolveManifest } from './_registry.js';

/** Options every cache function takes. */
export interface CacheOptions {
  /** Overrides `SEMCLIP_CACHE_DIR` and the default location. */
  readonly cacheDir?: string;
  /** Environment to read `SEMCLIP_*`, `XDG_CACHE_HOME`, `HF_*` from (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The SemClip cache directory: `SEMCLIP_CACHE_DIR` if set, else `$XDG_CACHE_HOME/semclip`,
 * else `~/.cache/semclip` (`%LOCALAPPDATA%\semclip` on Windows). Always absolute. A path
 * inside a `node_modules` folder is refused (INVALID_ARGUMENT): package managers delete it.
 *
 * @example
 * ```ts
 * resolveCacheDir();                                    // /home/me/.cache/semclip
 * resolveCacheDir({ SEMCLIP_CACHE_DIR: '/data/semclip' }); // /data/semclip
 * ```
 */
export function resolveCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  let dir: string;
  if (env.SEMCLIP_CACHE_DIR && env.SEMCLIP_CACHE_DIR.trim() !== '') dir = path.resolve(env.SEMCLIP_CACHE_DIR);
  else if (env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME)) dir = path.join(env.XDG_CACHE_HOME, 'semclip');
  else if (process.platform === 'win32' && env.LOCALAPPDATA) dir = path.join(env.LOCALAPPDATA, 'semclip');
  else dir = path.join(env.HOME && path.isAbsolute(env.HOME) ? env.HOME : os.homedir(), '.cache', 'semclip');
  return checkCacheDir(dir);
}

function checkCacheDir(dir: string): string {
  if (dir.split(/[\\/]/).includes('node_modules')) {
    throw new SemclipError('INVALID_ARGUMENT', `The model cache ${dir} is inside node_modules, which package managers delete and rewrite.`, {
      expected: 'a directory outside node_modules',
      hint: 'Set SEMCLIP_CACHE_DIR to another directory, e.g. ~/.cache/semclip',
      details: { cacheDir: dir },
    });
  }
  return dir;
}

/** The cache directory for these options (explicit `cacheDir` first). */
export function cacheDirFor(options: CacheOptions = {}): string {
  return options.cacheDir ? checkCacheDir(path.resolve(options.cacheDir)) : resolveCacheDir(options.env ?? process.env);
}

/**
 * The folder to give transformers.js as `env.localModelPath`: model files live at
 * `<modelsRoot>/<repo>/<path>`, exactly where transformers.js looks for model id `repo`.
 *
 * @example
 * ```ts
 * import { env } from '@huggingface/transformers';
 * env.localModelPath = modelsRoot();
 * env.allowRemoteModels = false;
 * ```
 */
export function modelsRoot(options: CacheOptions = {}): string {
  return path.join(cacheDirFor(options), 'models');
}

/**
 * Where a model's files are (or will be): `<cacheDir>/models/<repo>`. Does not check that
 * they exist; see `ensureModel`.
 *
 * @example
 * ```ts
 * modelDir('clip-vit-base-patch32'); // ~/.cache/semclip/models/Xenova/clip-vit-base-patch32
 * ```
 */
export function modelDir(idOrManifest: string | ModelManifest, options: CacheOptions = {}): string {
  const m = resolveManifest(idOrManifest, options);
  return repoDir(m, options);
}

export function repoDir(m: ModelManifest, options: CacheOptions = {}): string {
  return path.join(modelsRoot(options), ...m.repo.split('/'));
}

export function filePath(dir: string, repoPath: string): string {
  return path.join(dir, ...repoPath.split('/'));
}

/** What the cache knows about one file: the hash it was verified (or first seen) with. */
export interface SidecarFile {
  readonly size: number;
  readonly sha256: string;
  readonly revision: string;
  /** `manifest`: matched the published hash; `first-download`: recorded on trust. */
  readonly source: 'manifest' | 'first-download';
  readonly at: string;
}

/** `<cacheDir>/models/<repo>/.semclip.json` */
export interface Sidecar {
  readonly schema: 1;
  readonly repo: string;
  /** Revision of the most recent pull. */
  readonly revision: string;
  readonly files: Record<string, SidecarFile>;
  /** Model ids pulled into this folder (several manifests can share one repository). */
  readonly models: string[];
}

export async function readSidecar(dir: string, repo: string): Promise<Sidecar | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, SIDECAR_NAME), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const json = JSON.parse(text) as Sidecar;
    if (json && json.schema === 1 && json.repo === repo && typeof json.files === 'object' && json.files !== null) {
      return { ...json, models: Array.isArray(json.models) ? json.models : [] };
    }
  } catch {
    // A torn or hand-edited sidecar is treated as absent: files get re-verified.
  }
  return undefined;
}

export async function writeSidecar(dir: string, sidecar: Sidecar): Promise<void> {
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, SIDECAR_NAME);
  const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(sidecar, null, 2)}\n`);
  await rename(tmp, target);
}

export function emptySidecar(m: ModelManifest): Sidecar {
  return { schema: 1, repo: m.repo, revision: m.revision, files: {}, models: [] };
}
