import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { SemclipError, sleep } from '@semclip/core';

/** Retry policy for transient failures (5xx, 429, connection resets, stalls). */
export interface RetryOptions {
  /** Attempts after the first without progress (default 5). A retry that received bytes resets it. */
  readonly retries?: number;
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Abort an attempt when no byte arrives for this long (default 60 s). */
  readonly stallTimeoutMs?: number;
}

export interface FetchFileRequest {
  readonly url: string;
  /** Shown in messages instead of the URL's query or credentials (there are none, but be safe). */
  readonly label: string;
  readonly partialPath: string;
  readonly expectedSize: number | null;
  /** Where `expectedSize` comes from, for messages (default "the manifest"). */
  readonly expectedFrom?: string | undefined;
  readonly token?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly retry?: RetryOptions | undefined;
  readonly userAgent: string;
  /** Bytes of this file on disk so far (resumed + received), and the total once known. */
  readonly onBytes?: ((done: number, total: number | null) => void) | undefined;
}

export interface FetchFileResult {
  readonly size: number;
  readonly sha256: string;
  /** Bytes this call received over the network. */
  readonly received: number;
  /** Bytes that were already in the `.partial` file and were kept. */
  readonly resumedFrom: number;
  readonly attempts: number;
}

const FLUSH_BYTES = 1 << 20;

class Transient extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Removes the token from anything that ends up in a message. */
export function redact(text: string, token: string | undefined): string {
  return token ? text.split(token).join('[redacted]') : text;
}

async function hashExisting(file: string, bytes: number, hash: Hash): Promise<void> {
  if (bytes === 0) return;
  await new Promise<void>((resolve, reject) => {
    const s = createReadStream(file, { start: 0, end: bytes - 1 });
    s.on('data', (c) => hash.update(c));
    s.on('error', reject);
    s.on('end', resolve);
  });
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/**
 * Downloads `url` into `partialPath`, resuming what is already there with a Range request,
 * hashing as it streams. Retries transient failures with exponential backoff. Leaves the
 * complete file at `partialPath`; the caller checks the hash and renames it into place.
 */
export async function fetchToPartial(req: FetchFileRequest): Promise<FetchFileResult> {
  const retries = req.retry?.retries ?? 5;
  const minDelay = req.retry?.minDelayMs ?? 500;
  const maxDelay = req.retry?.maxDelayMs ?? 10_000;
  const stallMs = req.retry?.stallTimeoutMs ?? 60_000;
  let failures = 0;
  let attempts = 0;
  let received = 0;
  let resumedFrom = -1;
  let restartedAfter416 = false;

  for (;;) {
    if (req.signal?.aborted) throw aborted(req.signal.reason);
    attempts++;
    let have = await sizeOf(req.partialPath);
    if (req.expectedSize !== null && have > req.expectedSize) {
      await unlink(req.partialPath).catch(() => {});
      have = 0;
    }
    if (resumedFrom < 0) resumedFrom = have;
    if (req.expectedSize !== null && have === req.expectedSize && have > 0) {
      // Everything is already here (an earlier run died between the last byte and the rename).
      const hash = createHash('sha256');
      await hashExisting(req.partialPath, have, hash);
      return { size: have, sha256: hash.digest('hex'), received, resumedFrom, attempts };
    }

    const controller = new AbortController();
    const onAbort = () => controller.abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    let stallTimer: NodeJS.Timeout | undefined;
    let stalled = false;
    const armStall = () => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        stalled = true;
        controller.abort(new Error('stalled'));
      }, stallMs);
    };
    let gotBytes = 0;
    try {
      const headers: Record<string, string> = { 'user-agent': req.userAgent, 'accept-encoding': 'identity' };
      if (req.token) headers.authorization = `Bearer ${req.token}`;
      if (have > 0) headers.range = `bytes=${have}-`;
      armStall();
      let res: Response;
      try {
        res = await fetch(req.url, { headers, signal: controller.signal, redirect: 'follow' });
      } catch (cause) {
        throw new Transient(`connection failed (${describe(cause)})`, undefined, { cause });
      }

      if (res.status === 416 && have > 0) {
        await res.body?.cancel().catch(() => {});
        // The partial is not a prefix the server can continue (or it is complete but we did
        // not know the size). Start the file over, once.
        if (restartedAfter416) throw fatal(req, `the server refused to resume it twice (HTTP 416)`);
        restartedAfter416 = true;
        await unlink(req.partialPath).catch(() => {});
        continue;
      }
      if (res.status === 401 || res.status === 403) {
        await res.body?.cancel().catch(() => {});
        throw new SemclipError('DOWNLOAD_FAILED', `Downloading ${req.label} was refused (HTTP ${res.status}).`, {
          hint: req.token
            ? 'The token in HF_TOKEN was not accepted for this repository; check that it is valid and has read access (and that you accepted the model licence on huggingface.co)'
            : 'The repository may be gated or private: set HF_TOKEN to a Hugging Face access token with read access',
          details: { file: req.label, status: res.status },
        });
      }
      if (res.status === 404) {
        await res.body?.cancel().catch(() => {});
        throw new SemclipError('DOWNLOAD_FAILED', `${req.label} was not found on the hub (HTTP 404).`, {
          hint: 'The manifest names a file, repository or revision that does not exist; check its repo, revision and files (or HF_ENDPOINT)',
          details: { file: req.label, status: 404 },
        });
      }
      if (res.status === 429 || res.status >= 500) {
        await res.body?.cancel().catch(() => {});
        const ra = Number(res.headers.get('retry-after'));
        throw new Transient(`HTTP ${res.status}`, Number.isFinite(ra) && ra > 0 ? ra * 1000 : undefined);
      }
      if (res.status !== 200 && res.status !== 206) {
        await res.body?.cancel().catch(() => {});
        throw fatal(req, `unexpected HTTP ${res.status}`);
      }

      let offset = 0;
      let serverTotal: number | null = null;
      if (res.status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
        if (!m || Number(m[1]) !== have) {
          // Not the range we asked for: safest is to start over.
          await res.body?.cancel().catch(() => {});
          await unlink(req.partialPath).catch(() => {});
          throw new Transient(`the server answered another range (${res.headers.get('content-range') ?? 'none'})`);
        }
        offset = have;
        if (m[3] !== '*') serverTotal = Number(m[3]);
      } else {
        // 200: the server ignored Range (or we sent none): the body is the whole file.
        const len = res.headers.get('content-length');
        if (len !== null && /^\d+$/.test(len)) serverTotal = Number(len);
      }
      if (req.expectedSize !== null && serverTotal !== null && serverTotal !== req.expectedSize) {
        await res.body?.cancel().catch(() => {});
        throw new SemclipError(
          'MODEL_CHECKSUM_MISMATCH',
          `${req.label} is ${serverTotal} bytes on the server, but ${req.expectedFrom ?? 'the manifest'} says ${req.expectedSize}.`,
          {
            hint: 'The hub serves different bytes than the pinned revision should have: check HF_ENDPOINT (a mirror may be stale) and the manifest',
            details: { file: req.label, expectedSize: req.expectedSize, actualSize: serverTotal },
          },
        );
      }
      const total = req.expectedSize ?? serverTotal;

      const hash = createHash('sha256');
      if (offset > 0) await hashExisting(req.partialPath, offset, hash);
      const fh = await open(req.partialPath, offset > 0 ? 'a' : 'w');
      let written = offset;
      // Chunks arrive in ~16-64 kB pieces; writing them in ~1 MiB batches saves syscalls.
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
        const batch = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        await fh.write(batch);
      };
      try {
        if (!res.body) throw new Transient('empty response body');
        req.onBytes?.(written, total);
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            armStall();
            hash.update(chunk);
            pending.push(chunk);
            pendingBytes += chunk.byteLength;
            written += chunk.byteLength;
            gotBytes += chunk.byteLength;
            received += chunk.byteLength;
            if (pendingBytes >= FLUSH_BYTES) await flush();
            req.onBytes?.(written, total);
          }
        } catch (cause) {
          // Keep what arrived: the next attempt resumes after it.
          await flush();
          if (req.signal?.aborted) throw aborted(req.signal.reason);
          throw new Transient(stalled ? `no data for ${stallMs} ms` : `connection lost after ${written} bytes (${describe(cause)})`, undefined, { cause });
        }
        await flush();
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (total !== null && written < total) {
        throw new Transient(`connection closed after ${written} of ${total} bytes`);
      }
      return { size: written, sha256: hash.digest('hex'), received, resumedFrom, attempts };
    } catch (err) {
      if (req.signal?.aborted) throw aborted(req.signal.reason);
      if (!(err instanceof Transient)) {
        throw asFsError(err, req.partialPath) ?? err;
      }
      if (gotBytes > 0) failures = 0;
      failures++;
      if (failures > retries) {
        throw new SemclipError('DOWNLOAD_FAILED', redact(`Downloading ${req.label} failed after ${attempts} attempts: ${err.message}.`, req.token), {
          hint: 'Check the network (or HF_ENDPOINT) and run the same pull again: it resumes where it stopped',
          details: { file: req.label, attempts },
        });
      }
      const backoff = Math.min(maxDelay, minDelay * 2 ** (failures - 1));
      const delay = err.retryAfterMs !== undefined ? Math.min(maxDelay, err.retryAfterMs) : backoff * (0.75 + Math.random() * 0.5);
      // A cancel during the wait ends the pull with this module's ABORTED message (it says how to resume).
      await sleep(delay, req.signal).catch(() => {
        throw aborted(req.signal?.reason);
      });
    } finally {
      clearTimeout(stallTimer);
      req.signal?.removeEventListener('abort', onAbort);
    }
  }
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = (cause as { cause?: unknown }).cause;
  const code = inner && typeof inner === 'object' && 'code' in inner ? String((inner as { code: unknown }).code) : undefined;
  return code ? `${cause.message}: ${code}` : cause.message;
}

const FS_CODES = new Set(['ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'EDQUOT', 'EISDIR', 'ENOTDIR', 'EMFILE', 'EIO']);

/** A filesystem failure (disk full, no permission...) as a SemclipError naming the path; undefined for anything else. */
export function asFsError(err: unknown, file: string): SemclipError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string' || !FS_CODES.has(code)) return undefined;
  return new SemclipError('DOWNLOAD_FAILED', `Cannot write ${file}: ${code}.`, {
    cause: err,
    hint:
      code === 'ENOSPC' || code === 'EDQUOT'
        ? 'Free disk space, or point SEMCLIP_CACHE_DIR at a bigger disk; the next pull resumes'
        : 'Make the model cache writable, or point SEMCLIP_CACHE_DIR at a writable folder',
    details: { file, code },
  });
}

function fatal(req: FetchFileRequest, what: string): SemclipError {
  return new SemclipError('DOWNLOAD_FAILED', redact(`Downloading ${req.label} failed: ${what}.`, req.token), {
    hint: 'Run the same pull again; if it keeps failing, check HF_ENDPOINT and the manifest',
    details: { file: req.label },
  });
}

function aborted(reason: unknown): SemclipError {
  return new SemclipError('ABORTED', 'The download was cancelled; run the same pull again to resume it.', { cause: reason });
}
