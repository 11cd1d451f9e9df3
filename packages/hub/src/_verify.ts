import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { throwIfAborted } from '@semclip/core';
import type { ModelFile, ModelManifest } from './_manifest.js';
import { filePath, readSidecar, repoDir, type CacheOptions, type Sidecar } from './_cache.js';
import { resolveManifest } from './_registry.js';

export type FileStatus = 'ok' | 'missing' | 'size-mismatch' | 'hash-mismatch' | 'unverified';

/** Where the hash a file is checked against comes from. */
export type HashSource = 'manifest' | 'first-download' | 'none';

export interface FileReport {
  readonly path: string;
  readonly status: FileStatus;
  readonly expected: { readonly size: number | null; readonly sha256: string | null; readonly source: HashSource };
  /** `size` is null when the file is missing; `sha256` only when the file was hashed. */
  readonly actual: { readonly size: number | null; readonly sha256?: string };
}

/** The result of `verifyModel`: one entry per manifest file. */
export interface VerifyReport {
  readonly id: string;
  readonly repo: string;
  readonly revision: string;
  readonly dir: string;
  /** True when every file is present and matches its expected size and hash. */
  readonly ok: boolean;
  /** The manifest's `verified` flag: false means some hashes are trust-on-first-download. */
  readonly manifestVerified: boolean;
  readonly files: readonly FileReport[];
}

export interface VerifyProgress {
  readonly id: string;
  readonly file: string;
  readonly fileIndex: number;
  readonly fileCount: number;
  readonly fileBytes: number;
  readonly fileTotal: number | null;
}

export interface VerifyOptions extends CacheOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: VerifyProgress) => void;
}

export async function sha256File(file: string, signal?: AbortSignal, onBytes?: (done: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(file, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) });
    s.on('data', (chunk) => {
      hash.update(chunk);
      done += chunk.length;
      onBytes?.(done);
    });
    s.on('error', reject);
    s.on('end', resolve);
  }).catch((err: unknown) => {
    if (signal?.aborted) throwIfAborted(signal);
    throw err;
  });
  return hash.digest('hex');
}

/** The size and hash to hold `file` to: the manifest's, else the first-download record for this revision. */
export function expectationFor(
  m: ModelManifest,
  file: ModelFile,
  sidecar: Sidecar | undefined,
): { size: number | null; sha256: string | null; source: HashSource } {
  const rec = sidecar?.files[file.path];
  const recUsable = rec !== undefined && rec.revision === m.revision;
  if (file.sha256 !== null) {
    return { size: file.size ?? (recUsable && rec.sha256 === file.sha256 ? rec.size : null), sha256: file.sha256, source: 'manifest' };
  }
  if (recUsable) return { size: file.size ?? rec.size, sha256: rec.sha256, source: 'first-download' };
  return { size: file.size, sha256: null, source: 'none' };
}

/**
 * Checks one file. With `hash: false` only presence and size are checked (fast, for
 * `ensureModel`); a file with nothing to check its hash against is `unverified`.
 */
export async function checkFile(
  m: ModelManifest,
  dir: string,
  file: ModelFile,
  sidecar: Sidecar | undefined,
  options: { hash: boolean; signal?: AbortSignal | undefined; onBytes?: ((done: number, total: number | null) => void) | undefined },
): Promise<FileReport> {
  const expected = expectationFor(m, file, sidecar);
  const p = filePath(dir, file.path);
  let size: number;
  try {
    const s = await stat(p);
    if (!s.isFile()) return { path: file.path, status: 'missing', expected, actual: { size: null } };
    size = s.size;
  } catch {
    return { path: file.path, status: 'missing', expected, actual: { size: null } };
  }
  if (expected.size !== null && size !== expected.size) {
    return { path: file.path, status: 'size-mismatch', expected, actual: { size } };
  }
  if (!options.hash) {
    if (expected.sha256 === null) return { path: file.path, status: 'unverified', expected, actual: { size } };
    // A matching record from an earlier verified pull at this revision is as good as a hash.
    return { path: file.path, status: 'ok', expected, actual: { size } };
  }
  const sha = await sha256File(p, options.signal, (done) => options.onBytes?.(done, size));
  if (expected.sha256 === null) return { path: file.path, status: 'unverified', expected, actual: { size, sha256: sha } };
  return { path: file.path, status: sha === expected.sha256 ? 'ok' : 'hash-mismatch', expected, actual: { size, sha256: sha } };
}

/**
 * Hashes every file of a model in the cache and reports each one as `ok`, `missing`,
 * `size-mismatch`, `hash-mismatch` or `unverified` (trust-on-first-download file with no
 * record of its first download). Never touches the network.
 *
 * @example
 * ```ts
 * const report = await verifyModel('clip-vit-base-patch32');
 * if (!report.ok) console.table(report.files.filter((f) => f.status !== 'ok'));
 * ```
 */
export async function verifyModel(idOrManifest: string | ModelManifest, options: VerifyOptions = {}): Promise<VerifyReport> {
  const m = resolveManifest(idOrManifest, options);
  const dir = repoDir(m, options);
  const sidecar = await readSidecar(dir, m.repo);
  const files: FileReport[] = [];
  for (const [i, file] of m.files.entries()) {
    throwIfAborted(options.signal);
    const report = await checkFile(m, dir, file, sidecar, {
      hash: true,
      signal: options.signal,
      onBytes: (done, total) => options.onProgress?.({ id: m.id, file: file.path, fileIndex: i, fileCount: m.files.length, fileBytes: done, fileTotal: total }),
    });
    files.push(report);
  }
  return {
    id: m.id,
    repo: m.repo,
    revision: m.revision,
    dir,
    ok: files.every((f) => f.status === 'ok'),
    manifestVerified: m.verified,
    files,
  };
}

export function describeProblems(files: readonly FileReport[], limit = 6): string {
  const bad = files.filter((f) => f.status !== 'ok');
  const shown = bad.slice(0, limit).map((f) => `${f.path} (${f.status})`);
  return bad.length > limit ? `${shown.join(', ')} and ${bad.length - limit} more` : shown.join(', ');
}
