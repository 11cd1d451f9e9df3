import { SemclipError, abortedError, isSemclipError, sleep } from '@semclip/core';
import type { Semaphore } from '@semclip/core';
import { backoffDelay, parseRetryAfter } from '../_retry.js';

/** What one call to the upstream retried, for progress output (never contains the key). */
export interface RetryInfo {
  /** 1-based number of the attempt that failed. */
  readonly attempt: number;
  readonly delayMs: number;
  /** `429`, `503`, `connection reset`, `timeout`... */
  readonly reason: string;
}

export interface HttpSettings {
  readonly url: string;
  /** The URL as shown in messages: no user info, no query. */
  readonly displayUrl: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly retryOnTimeout: boolean;
  readonly fetch: typeof fetch;
  readonly semaphore: Semaphore;
  /** Strings that must never appear in an error (the API key). */
  readonly secrets: readonly string[];
  readonly onRetry?: (info: RetryInfo) => void;
  readonly random?: () => number;
}

export interface HttpResult {
  readonly status: number;
  readonly json: unknown;
  readonly attempts: number;
}

/** Connection failures worth retrying: the server was reached but the exchange broke. */
const RETRYABLE_NETWORK = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s) out = out.split(s).join('***');
  // Keys that the server echoes in part ("sk-abc...xyz") are also masked.
  return out.replace(/\bsk-[A-Za-z0-9_\-*.]{6,}/g, 'sk-***').replace(/\bBearer\s+\S+/g, 'Bearer ***');
}

/** The first error code in the cause chain, else the innermost message ("bad port"...). */
function networkCode(err: unknown): { code: string; detail: string } {
  let e: unknown = err;
  let detail = err instanceof Error ? err.message : String(err);
  for (let depth = 0; depth < 4 && e; depth++) {
    const code = (e as { code?: unknown }).code;
    if (e instanceof Error) detail = e.message;
    if (typeof code === 'string') return { code, detail };
    e = (e as { cause?: unknown }).cause;
  }
  return { code: 'UNKNOWN', detail };
}

/** The upstream's own error message from a JSON or text error body (OpenAI, vLLM, llama.cpp, Ollama, FastAPI shapes). */
export function upstreamMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const error = parsed.error;
    if (typeof error === 'string') return error;
    if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
      return (error as { message: string }).message;
    }
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.detail === 'string') return parsed.detail;
    if (parsed.detail !== undefined) return JSON.stringify(parsed.detail);
  } catch {
    // not JSON: fall through to the text
  }
  const text = body.replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

type Failure =
  | { kind: 'status'; status: number; message: string; retryAfterMs: number | undefined }
  | { kind: 'network'; code: string; detail: string; cause: unknown }
  | { kind: 'timeout' };

function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/**
 * POSTs a JSON payload (already serialised, see `jsonWithImages`) with a per-attempt timeout, a slot from the runner's semaphore, and retries
 * (jittered exponential backoff, `Retry-After` honoured) on 429, 5xx, dropped connections
 * and, when enabled, timeouts. Other 4xx fail at once. Errors never contain the secrets.
 */
export async function postJson(settings: HttpSettings, payload: Uint8Array, signal?: AbortSignal): Promise<HttpResult> {
  const release = await settings.semaphore.acquire(signal);
  try {
    let last: Failure | undefined;
    for (let attempt = 0; attempt <= settings.retries; attempt++) {
      if (signal?.aborted) throw abortedError(signal);
      const outcome = await attemptOnce(settings, payload, signal);
      if (outcome.ok) return { status: outcome.status, json: outcome.json, attempts: attempt + 1 };
      last = outcome.failure;
      const retryable =
        (last.kind === 'status' && isRetryableStatus(last.status)) ||
        (last.kind === 'network' && RETRYABLE_NETWORK.has(last.code)) ||
        (last.kind === 'timeout' && settings.retryOnTimeout);
      if (!retryable || attempt === settings.retries) break;
      let delay = backoffDelay(attempt, settings.retryBaseMs, settings.retryMaxMs, settings.random);
      if (last.kind === 'status' && last.retryAfterMs !== undefined) {
        if (last.retryAfterMs > settings.retryMaxMs) break; // the server asks for longer than we are willing to wait
        delay = Math.max(delay, last.retryAfterMs);
      }
      settings.onRetry?.({ attempt: attempt + 1, delayMs: Math.round(delay), reason: describe(last) });
      await sleep(delay, signal);
    }
    throw toError(settings, last as Failure, settings.retries);
  } finally {
    release();
  }
}

function describe(f: Failure): string {
  if (f.kind === 'status') return String(f.status);
  if (f.kind === 'timeout') return 'timeout';
  return f.code === 'ECONNRESET' || f.code.startsWith('UND_ERR') ? 'connection dropped' : f.code;
}

type Attempt = { ok: true; status: number; json: unknown } | { ok: false; failure: Failure };

async function attemptOnce(settings: HttpSettings, payload: Uint8Array, signal?: AbortSignal): Promise<Attempt> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, settings.timeoutMs);
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let res: Response;
    let text: string;
    try {
      res = await settings.fetch(settings.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', ...settings.headers },
        body: payload,
        signal: controller.signal,
      });
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw abortedError(signal);
      if (timedOut) return { ok: false, failure: { kind: 'timeout' } };
      if (isSemclipError(err)) throw err;
      return { ok: false, failure: { kind: 'network', ...networkCode(err), cause: err } };
    }
    if (res.status < 200 || res.status >= 300) {
      return {
        ok: false,
        failure: {
          kind: 'status',
          status: res.status,
          message: redact(upstreamMessage(text), settings.secrets),
          retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
        },
      };
    }
    try {
      return { ok: true, status: res.status, json: JSON.parse(text) as unknown };
    } catch (err) {
      const snippet = redact(text.slice(0, 120), settings.secrets);
      throw new SemclipError('UPSTREAM_BAD_RESPONSE', `${settings.displayUrl} answered ${res.status} with a body that is not JSON: "${snippet}".`, {
        cause: err,
        expected: 'an OpenAI chat completion JSON object',
        hint: 'Check that the base URL points at an OpenAI-compatible API (it usually ends in /v1)',
        details: { url: settings.displayUrl, status: res.status },
      });
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

function toError(settings: HttpSettings, f: Failure, retries: number): SemclipError {
  const url = settings.displayUrl;
  const tries = retries > 0 ? ` (after ${retries + 1} attempts)` : '';
  if (f.kind === 'timeout') {
    return new SemclipError('UPSTREAM_TIMEOUT', `${url} did not answer within ${settings.timeoutMs} ms${settings.retryOnTimeout ? tries : ''}.`, {
      hint: 'Raise the timeout (timeoutMs / --timeout), lower concurrency, or check that the server is not overloaded',
      details: { url, timeoutMs: settings.timeoutMs },
    });
  }
  if (f.kind === 'network') {
    const refused = f.code === 'ECONNREFUSED' || f.code === 'ENOTFOUND' || f.code === 'EAI_AGAIN';
    const broke = RETRYABLE_NETWORK.has(f.code);
    const what = refused
      ? `Could not connect to ${url} (${f.code}).`
      : broke
        ? `The connection to ${url} broke (${f.code})${tries}.`
        : `The request to ${url} failed: ${redact(f.detail, settings.secrets)}.`;
    return new SemclipError('UPSTREAM_ERROR', what, {
      cause: f.cause,
      hint: refused
        ? 'Is the server running, and is the base URL right (e.g. http://127.0.0.1:8000/v1)?'
        : broke
          ? 'Check the server logs; it may have crashed or run out of memory'
          : 'Check the base URL (host and port) and the network',
      details: { url, code: f.code },
    });
  }
  if (f.status === 429) {
    return new SemclipError('UPSTREAM_RATE_LIMITED', `${url} kept rate-limiting requests (429)${tries}: ${f.message}`, {
      hint: 'Lower concurrency or wait before retrying',
      details: { url, status: 429, upstreamMessage: f.message, ...(f.retryAfterMs === undefined ? {} : { retryAfterMs: f.retryAfterMs }) },
    });
  }
  const hint =
    f.status === 401 || f.status === 403
      ? 'Check the API key environment variable (OPENAI_API_KEY or the configured apiKeyEnv)'
      : f.status === 404
        ? 'Check the base URL (it usually ends in /v1) and the model name'
        : f.status >= 500
          ? 'The server failed; check its logs'
          : /image/i.test(f.message)
            ? 'If the server takes only one image per request, use composite mode (--composite / imageMode: "composite")'
            : undefined;
  return new SemclipError('UPSTREAM_ERROR', `${url} answered ${f.status}${isRetryableStatus(f.status) ? tries : ''}: ${f.message || '(no message)'}`, {
    ...(hint ? { hint } : {}),
    details: { url, status: f.status, upstreamMessage: f.message },
  });
}

/**
 * Serialises a request body whose image URLs are huge base64 strings without running them
 * through JSON.stringify or a UTF-8 encoder: the body is stringified with short placeholders,
 * and the data URLs (plain ASCII, nothing to escape) are spliced in as bytes. For an overview
 * plus a crop this is most of the client's CPU per request.
 */
export function jsonWithImages(body: (placeholder: (i: number) => string) => unknown, dataUrls: readonly Uint8Array[]): Uint8Array {
  const nonce = Math.random().toString(36).slice(2, 10);
  const marker = (i: number): string => `@@semclip-image-${nonce}-${i}@@`;
  const text = JSON.stringify(body(marker));
  const parts: Uint8Array[] = [];
  const pattern = new RegExp(`@@semclip-image-${nonce}-(\\d+)@@`, 'g');
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    parts.push(Buffer.from(text.slice(last, m.index), 'utf8'));
    const url = dataUrls[Number(m[1])];
    if (!url) throw new Error(`internal: no image ${m[1]} for the request body`);
    parts.push(url);
    last = (m.index as number) + m[0].length;
  }
  parts.push(Buffer.from(text.slice(last), 'utf8'));
  return Buffer.concat(
    parts,
    parts.reduce((n, p) => n + p.byteLength, 0),
  );
}

/** `data:<mime>;base64,<...>` as ASCII bytes. */
export function dataUrlBytes(mime: string, data: Uint8Array): Uint8Array {
  const prefix = `data:${mime};base64,`;
  const b64 = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
  // Writing into a preallocated buffer avoids flattening a prefix + base64 cons string (several
  // times slower for the ~1 MB strings of a 1024 px JPEG).
  const out = Buffer.allocUnsafe(prefix.length + b64.length);
  out.write(prefix, 0, 'latin1');
  out.write(b64, prefix.length, 'latin1');
  return out;
}
