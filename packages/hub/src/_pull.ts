import type { Dirent } from 'node:fs';
import { mkdir, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { SemclipError, isSemclipError, throwIfAborted } from '@semclip/core';
import { SIDECAR_NAME, type ModelManifest } from './_manifest.js';
import { emptySidecar, filePath, modelsRoot, readSidecar, repoDir, writeSidecar, type CacheOptions, type Sidecar, type SidecarFile } from './_cache.js';
import { asFsError, fetchToPartial, type RetryOptions } from './_download.js';
import { acquireLock } from './_lock.js';
import { isRegistered, resolveManifest } from './_registry.js';
import { checkFile, describeProblems, expectationFor, type FileReport } from './_verify.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
const PROGRESS_INTERVAL_MS = 50;

/** Progress of `pullModel`; `bytes`/`total` cover the files being downloaded in this pull. */
export interface PullProgress {
  readonly id: string;
  /**
   * `waiting`: another process is pulling this model's folder; `checking`: hashing files
   * already in the cache; `downloading`: bytes arriving; `file-done`: a file was verified and
   * moved into place.
   */
  readonly phase: 'waiting' | 'checking' | 'downloading' | 'file-done';
  readonly file?: string;
  readonly fileIndex?: number;
  readonly fileCount: number;
  readonly fileBytes: number;
  readonly fileTotal: number | null;
  readonly bytes: number;
  /** Null while some file's size is still unknown (trust-on-first-download files). */
  readonly total: number | null;
  /** The sizes known so far: equals `total` once every size is known, a lower bound before. */
  readonly knownTotal: number;
}

export interface PullOptions extends CacheOptions {
  /** Hub base URL (default `HF_ENDPOINT`, else https://huggingface.co). */
  readonly endpoint?: string;
  /** Access token (default `HF_TOKEN`). Sent as a Bearer header; never logged or put in errors. */
  readonly token?: string;
  readonly onProgress?: (progress: PullProgress) => void;
  readonly signal?: AbortSignal;
  /** Never touch the network (default: `SEMCLIP_OFFLINE=1` or `HF_HUB_OFFLINE=1`). */
  readonly offline?: boolean;
  /** Download every file again even when the cached copy verifies. */
  readonly force?: boolean;
  readonly retry?: RetryOptions;
}

export interface PulledFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
  /** `cached`: already present and verified; `downloaded`; `resumed`: continued a `.partial`. */
  readonly action: 'cached' | 'downloaded' | 'resumed';
  /** `manifest`: matched the published hash; `recorded`: matched the hash recorded at the first download; `first-download`: recorded now (trust on first use). */
  readonly hashSource: 'manifest' | 'recorded' | 'first-download';
}

interface PullResultBase {
  readonly id: string;
  readonly repo: string;
  readonly revision: string;
  /** `<cacheDir>/models/<repo>`. */
  readonly dir: string;
  /** The `env.localModelPath` for transformers.js. */
  readonly modelsRoot: string;
  readonly files: readonly PulledFile[];
  /** True when every file matched a published hash (no trust-on-first-download). */
  readonly verified: boolean;
}

/** What `pullModel` did; failures throw (DOWNLOAD_FAILED, MODEL_CHECKSUM_MISMATCH, OFFLINE, ABORTED). */
export type PullResult =
  | (PullResultBase & { readonly status: 'up-to-date'; readonly downloadedBytes: 0 })
  | (PullResultBase & { readonly status: 'downloaded'; readonly downloadedBytes: number });

function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'true', 'yes', 'on'].includes(v.trim().toLowerCase());
}

export function isOffline(options: { offline?: boolean; env?: NodeJS.ProcessEnv }): boolean {
  if (options.offline !== undefined) return options.offline;
  const env = options.env ?? process.env;
  return truthy(env.SEMCLIP_OFFLINE) || truthy(env.HF_HUB_OFFLINE);
}

function endpointFor(options: PullOptions): string {
  const env = options.env ?? process.env;
  const raw = (options.endpoint ?? (env.HF_ENDPOINT?.trim() || DEFAULT_ENDPOINT)).replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SemclipError('INVALID_ARGUMENT', `The hub endpoint "${raw}" is not a URL.`, {
      expected: 'an http(s) URL such as https://huggingface.co',
      hint: 'Fix HF_ENDPOINT (or the endpoint option)',
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SemclipError('INVALID_ARGUMENT', `The hub endpoint "${raw}" is not an http(s) URL.`, { hint: 'Fix HF_ENDPOINT (or the endpoint option)' });
  }
  if (url.username || url.password) {
    throw new SemclipError('INVALID_ARGUMENT', 'The hub endpoint must not contain credentials.', { hint: 'Put the token in HF_TOKEN instead' });
  }
  return raw;
}

function tokenFor(options: PullOptions): string | undefined {
  const env = options.env ?? process.env;
  const t = options.token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  return t && t.trim() !== '' ? t.trim() : undefined;
}

export function resolveUrl(endpoint: string, m: ModelManifest, repoPath: string): string {
  const enc = (p: string) => p.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${enc(m.repo)}/resolve/${m.revision}/${enc(repoPath)}`;
}

function pullCommand(m: ModelManifest, options: CacheOptions): string {
  return isRegistered(m.id, options) ? `semclip models pull ${m.id}` : `semclip models pull ${m.id} (after adding its manifest to SEMCLIP_MANIFEST_PATH)`;
}

function offlineError(m: ModelManifest, dir: string, bad: readonly FileReport[], options: CacheOptions): SemclipError {
  const missing = bad.map((f) => f.path);
  return new SemclipError(
    'OFFLINE',
    `Offline mode is on and model ${m.id} (${m.repo}@${m.revision.slice(0, 7)}) is not complete in ${dir}: ${describeProblems(bad)}.`,
    {
      hint: `Run \`${pullCommand(m, options)}\` with network access (unset SEMCLIP_OFFLINE), or copy those files into ${dir}`,
      details: { id: m.id, dir, missing, problems: bad.map((f) => ({ path: f.path, status: f.status })) },
    },
  );
}

/**
 * Downloads a model's files into the cache (`<cacheDir>/models/<repo>/`), resuming partial
 * downloads, verifying each file's sha256 as it streams, and moving it into place atomically.
 * Files already in the cache are re-hashed and kept when they verify. Safe to run from two
 * processes at once: pulls of the same repository take turns on a lock file.
 *
 * @example
 * ```ts
 * import { pullModel } from '@semclip/hub';
 *
 * const result = await pullModel('clip-vit-base-patch32', {
 *   onProgress: (p) => p.total && process.stderr.write(`\r${Math.round((100 * p.bytes) / p.total)}%`),
 * });
 * console.log(result.status, result.dir); // "downloaded" ~/.cache/semclip/models/Xenova/clip-vit-base-patch32
 * ```
 */
export async function pullModel(idOrManifest: string | ModelManifest, options: PullOptions = {}): Promise<PullResult> {
  const m = resolveManifest(idOrManifest, options);
  try {
    return await pullResolved(m, options);
  } catch (err) {
    if (isSemclipError(err)) throw err;
    throw asFsError(err, repoDir(m, options)) ?? err;
  }
}

async function pullResolved(m: ModelManifest, options: PullOptions): Promise<PullResult> {
  const dir = repoDir(m, options);
  const root = modelsRoot(options);
  const offline = isOffline(options);

  if (offline) {
    // No lock, no writes: only look.
    const sidecar = await readSidecar(dir, m.repo);
    const reports: FileReport[] = [];
    for (const file of m.files) reports.push(await checkFile(m, dir, file, sidecar, { hash: true, signal: options.signal }));
    const bad = reports.filter((r) => r.status !== 'ok');
    if (bad.length > 0) throw offlineError(m, dir, bad, options);
    return {
      status: 'up-to-date',
      id: m.id,
      repo: m.repo,
      revision: m.revision,
      dir,
      modelsRoot: root,
      files: reports.map((r) => ({
        path: r.path,
        size: r.actual.size!,
        sha256: r.actual.sha256!,
        action: 'cached' as const,
        hashSource: r.expected.source === 'manifest' ? ('manifest' as const) : ('recorded' as const),
      })),
      verified: reports.every((r) => r.expected.source === 'manifest'),
      downloadedBytes: 0,
    };
  }

  const endpoint = endpointFor(options);
  const token = tokenFor(options);
  const emit = options.onProgress;
  const lock = await acquireLock(dir, {
    ...(options.signal ? { signal: options.signal } : {}),
    onWait: () => emit?.({ id: m.id, phase: 'waiting', fileCount: m.files.length, fileBytes: 0, fileTotal: null, bytes: 0, total: null, knownTotal: 0 }),
  });
  try {
    let sidecar: Sidecar = (await readSidecar(dir, m.repo)) ?? emptySidecar(m);
    const records: Record<string, SidecarFile> = { ...sidecar.files };
    const results: (PulledFile | undefined)[] = new Array(m.files.length).fill(undefined);
    const todo: number[] = [];
    for (const [i, file] of m.files.entries()) {
      throwIfAborted(options.signal);
      if (options.force) {
        todo.push(i);
        continue;
      }
      const r = await checkFile(m, dir, file, sidecar, {
        hash: true,
        signal: options.signal,
        onBytes: (done, total) =>
          emit?.({
            id: m.id,
            phase: 'checking',
            file: file.path,
            fileIndex: i,
            fileCount: m.files.length,
            fileBytes: done,
            fileTotal: total,
            bytes: 0,
            total: null,
            knownTotal: 0,
          }),
      });
      if (r.status === 'ok') {
        results[i] = {
          path: file.path,
          size: r.actual.size!,
          sha256: r.actual.sha256!,
          action: 'cached',
          hashSource: r.expected.source === 'manifest' ? 'manifest' : 'recorded',
        };
        records[file.path] = {
          size: r.actual.size!,
          sha256: r.actual.sha256!,
          revision: m.revision,
          source: r.expected.source === 'manifest' ? 'manifest' : 'first-download',
          at: records[file.path]?.at ?? new Date().toISOString(),
        };
      } else todo.push(i);
    }

    // Overall progress covers the files to download; unknown sizes are filled in as responses arrive.
    const sizes = new Map<number, number | null>(todo.map((i) => [i, expectationFor(m, m.files[i]!, sidecar).size]));
    const done = new Map<number, number>(todo.map((i) => [i, 0]));
    const overall = () => {
      let bytes = 0;
      for (const v of done.values()) bytes += v;
      let total: number | null = 0;
      let knownTotal = 0;
      for (const v of sizes.values()) {
        total = v === null || total === null ? null : total + v;
        knownTotal += v ?? 0;
      }
      return { bytes, total, knownTotal };
    };

    let downloadedBytes = 0;
    let lastEmit = -Infinity;
    for (const i of todo) {
      throwIfAborted(options.signal);
      const file = m.files[i]!;
      const expected = expectationFor(m, file, sidecar);
      const finalPath = filePath(dir, file.path);
      const partialPath = `${finalPath}.partial`;
      await ensureParent(finalPath);
      const label = `${m.repo}/${file.path}`;
      let outcome: Awaited<ReturnType<typeof fetchToPartial>> | undefined;
      let resumed = false;
      for (let checksumTry = 1; ; checksumTry++) {
        outcome = await fetchToPartial({
          url: resolveUrl(endpoint, m, file.path),
          label,
          partialPath,
          expectedSize: expected.size,
          expectedFrom: expected.source === 'first-download' ? 'the record of its first download' : 'the manifest',
          token,
          signal: options.signal,
          retry: options.retry,
          userAgent: 'semclip-hub',
          onBytes: (fileBytes, fileTotal) => {
            done.set(i, fileBytes);
            if (fileTotal !== null && sizes.get(i) === null) sizes.set(i, fileTotal);
            // At most ~20 events a second, plus the last byte of each file.
            const now = performance.now();
            if (!emit || (now - lastEmit < PROGRESS_INTERVAL_MS && fileBytes !== fileTotal)) return;
            lastEmit = now;
            emit({ id: m.id, phase: 'downloading', file: file.path, fileIndex: i, fileCount: m.files.length, fileBytes, fileTotal, ...overall() });
          },
        });
        if (checksumTry === 1 && outcome.resumedFrom > 0) resumed = true;
        downloadedBytes += outcome.received;
        if (expected.sha256 === null || outcome.sha256 === expected.sha256) break;
        await unlink(partialPath).catch(() => {});
        done.set(i, 0);
        if (checksumTry >= 2) {
          const what = expected.source === 'manifest' ? 'the manifest' : 'the hash recorded when it was first downloaded';
          throw new SemclipError(
            'MODEL_CHECKSUM_MISMATCH',
            `${label} downloaded twice with sha256 ${outcome.sha256}, which does not match ${what} (${expected.sha256}).`,
            {
              hint:
                expected.source === 'manifest'
                  ? 'The hub served different bytes than the pinned revision should have; check HF_ENDPOINT (a mirror may be stale) and try again later'
                  : `The file changed since its first download; remove the model (semclip models rm ${m.id}) and pull it again if you trust the new copy`,
              details: { file: file.path, expected: expected.sha256, actual: outcome.sha256 },
            },
          );
        }
        resumed = false;
      }
      await rename(partialPath, finalPath);
      records[file.path] = {
        size: outcome.size,
        sha256: outcome.sha256,
        revision: m.revision,
        source: expected.source === 'manifest' ? 'manifest' : 'first-download',
        at: new Date().toISOString(),
      };
      sidecar = { ...sidecar, revision: m.revision, files: { ...records }, models: withId(sidecar.models, m.id) };
      await writeSidecar(dir, sidecar);
      results[i] = {
        path: file.path,
        size: outcome.size,
        sha256: outcome.sha256,
        action: resumed ? 'resumed' : 'downloaded',
        hashSource: expected.source === 'manifest' ? 'manifest' : expected.source === 'first-download' ? 'recorded' : 'first-download',
      };
      emit?.({
        id: m.id,
        phase: 'file-done',
        file: file.path,
        fileIndex: i,
        fileCount: m.files.length,
        fileBytes: outcome.size,
        fileTotal: outcome.size,
        ...overall(),
      });
    }

    const finalSidecar: Sidecar = { ...sidecar, revision: m.revision, files: records, models: withId(sidecar.models, m.id) };
    await writeSidecar(dir, finalSidecar);
    const files = results as PulledFile[];
    const base = { id: m.id, repo: m.repo, revision: m.revision, dir, modelsRoot: root, files, verified: files.every((f) => f.hashSource === 'manifest') };
    return todo.length === 0 ? { ...base, status: 'up-to-date', downloadedBytes: 0 } : { ...base, status: 'downloaded', downloadedBytes };
  } finally {
    await lock.release();
  }
}

function withId(ids: readonly string[], id: string): string[] {
  return ids.includes(id) ? [...ids] : [...ids, id];
}

async function ensureParent(file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
}

/** Quick state of a model in the cache (presence and sizes, no hashing). */
export interface ModelStatus {
  readonly id: string;
  readonly repo: string;
  readonly revision: string;
  readonly dir: string;
  /** `ready`: every file present with the right size; `partial`: some are; `absent`: none. */
  readonly state: 'ready' | 'partial' | 'absent';
  readonly missing: readonly string[];
  readonly bytesOnDisk: number;
  readonly files: readonly FileReport[];
}

/**
 * Presence-and-size check of a model in the cache, without hashing (fast). A
 * trust-on-first-download file counts only once its first download was recorded.
 *
 * @example
 * ```ts
 * const s = await modelStatus('siglip-base-patch16-224');
 * if (s.state !== 'ready') console.log('missing:', s.missing.join(', '));
 * ```
 */
export async function modelStatus(idOrManifest: string | ModelManifest, options: CacheOptions = {}): Promise<ModelStatus> {
  const m = resolveManifest(idOrManifest, options);
  const dir = repoDir(m, options);
  const sidecar = await readSidecar(dir, m.repo);
  const files: FileReport[] = [];
  for (const file of m.files) files.push(await checkFile(m, dir, file, sidecar, { hash: false }));
  const missing = files.filter((f) => f.status !== 'ok').map((f) => f.path);
  const present = files.filter((f) => f.actual.size !== null);
  return {
    id: m.id,
    repo: m.repo,
    revision: m.revision,
    dir,
    state: missing.length === 0 ? 'ready' : present.length === 0 ? 'absent' : 'partial',
    missing,
    bytesOnDisk: present.reduce((a, f) => a + (f.actual.size ?? 0), 0),
    files,
  };
}

export interface EnsureOptions extends PullOptions {
  /** Pull the model when it is not complete in the cache (default false: throw MODEL_NOT_DOWNLOADED). */
  readonly autoPull?: boolean;
}

/**
 * Returns the model's folder when its files are in the cache (presence and size are checked;
 * `verifyModel` hashes). Otherwise throws MODEL_NOT_DOWNLOADED whose hint is the command that
 * fetches it, or pulls it first with `autoPull: true`.
 *
 * @example
 * ```ts
 * import { env, AutoTokenizer } from '@huggingface/transformers';
 * import { ensureModel, getManifest, modelsRoot } from '@semclip/hub';
 *
 * await ensureModel('clip-vit-base-patch32'); // throws: run `semclip models pull clip-vit-base-patch32`
 * env.localModelPath = modelsRoot();
 * env.allowRemoteModels = false;
 * const tokenizer = await AutoTokenizer.from_pretrained(getManifest('clip-vit-base-patch32').repo);
 * ```
 */
export async function ensureModel(idOrManifest: string | ModelManifest, options: EnsureOptions = {}): Promise<string> {
  const m = resolveManifest(idOrManifest, options);
  const status = await modelStatus(m, options);
  if (status.state === 'ready') return status.dir;
  if (options.autoPull) {
    const result = await pullModel(m, options);
    return result.dir;
  }
  const bad = status.files.filter((f) => f.status !== 'ok');
  const command = pullCommand(m, options);
  throw new SemclipError(
    'MODEL_NOT_DOWNLOADED',
    `Model ${m.id} (${m.repo}@${m.revision.slice(0, 7)}) is not downloaded${status.state === 'partial' ? ' completely' : ''}: ${describeProblems(bad)} in ${status.dir}.`,
    {
      hint: `Run: ${command}`,
      details: { id: m.id, dir: status.dir, missing: status.missing, command },
    },
  );
}

/** What `removeModel` did. */
export type RemoveResult =
  | {
      readonly status: 'removed';
      readonly id: string;
      readonly dir: string;
      readonly removed: readonly string[];
      /** Files kept because another pulled model of the same repository uses them. */
      readonly kept: readonly string[];
      readonly freedBytes: number;
    }
  | {
      readonly status: 'not-present';
      readonly id: string;
      readonly dir: string;
      readonly removed: readonly [];
      readonly kept: readonly [];
      readonly freedBytes: 0;
    };

/**
 * Deletes a model's files (and leftover `.partial` downloads) from the cache. Files shared
 * with another pulled model of the same repository are kept.
 *
 * @example
 * ```ts
 * const r = await removeModel('clip-vit-large-patch14');
 * console.log(r.status, r.freedBytes);
 * ```
 */
export async function removeModel(idOrManifest: string | ModelManifest, options: CacheOptions & { readonly signal?: AbortSignal } = {}): Promise<RemoveResult> {
  const m = resolveManifest(idOrManifest, options);
  const dir = repoDir(m, options);
  try {
    await stat(dir);
  } catch {
    return { status: 'not-present', id: m.id, dir, removed: [], kept: [], freedBytes: 0 };
  }
  const lock = await acquireLock(dir, options.signal ? { signal: options.signal } : {});
  let sidecar: Sidecar | undefined;
  const removed: string[] = [];
  const kept: string[] = [];
  let freedBytes = 0;
  try {
    sidecar = await readSidecar(dir, m.repo);
    const others = (sidecar?.models ?? []).filter((id) => id !== m.id);
    const shared = new Set<string>();
    for (const id of others) {
      try {
        const other = resolveManifest(id, options);
        if (other.repo === m.repo) for (const f of other.files) shared.add(f.path);
      } catch (err) {
        if (!isSemclipError(err)) throw err;
      }
    }
    const records = { ...(sidecar?.files ?? {}) };
    for (const file of m.files) {
      const p = filePath(dir, file.path);
      for (const candidate of [p, `${p}.partial`]) {
        if (candidate === p && shared.has(file.path)) {
          try {
            await stat(p);
            kept.push(file.path);
          } catch {
            // not there anyway
          }
          continue;
        }
        try {
          const s = await stat(candidate);
          await unlink(candidate);
          freedBytes += s.size;
          if (candidate === p) removed.push(file.path);
        } catch {
          // already gone
        }
      }
      if (!shared.has(file.path)) delete records[file.path];
    }
    if (others.length > 0 && sidecar) {
      await writeSidecar(dir, { ...sidecar, files: records, models: others });
    } else {
      await unlink(path.join(dir, SIDECAR_NAME)).catch(() => {});
    }
  } finally {
    await lock.release();
  }
  await pruneEmptyDirs(dir, modelsRoot(options));
  if (removed.length === 0 && freedBytes === 0) return { status: 'not-present', id: m.id, dir, removed: [], kept: [], freedBytes: 0 };
  return { status: 'removed', id: m.id, dir, removed, kept, freedBytes };
}

/** Removes empty folders from `dir` upwards, stopping at `root`. */
async function pruneEmptyDirs(dir: string, root: string): Promise<void> {
  async function walk(d: string): Promise<boolean> {
    let entries: Dirent[];
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return false;
    }
    let empty = true;
    for (const e of entries) {
      if (e.isDirectory()) {
        if (!(await walk(path.join(d, e.name)))) empty = false;
      } else empty = false;
    }
    if (empty) await rmdir(d).catch(() => {});
    return empty;
  }
  if (await walk(dir)) {
    let parent = path.dirname(dir);
    while (parent.startsWith(root) && parent !== root) {
      try {
        await rmdir(parent);
      } catch {
        break;
      }
      parent = path.dirname(parent);
    }
  }
}
