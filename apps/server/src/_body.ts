import { SemclipError } from '@semclip/core';
import { HttpError } from './_errors.js';

/** A byte count for messages: `512 bytes`, `1.5 KiB`, `32.0 MiB`. */
export function sizeText(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

function tooLarge(limit: number, got?: number): HttpError {
  return new HttpError(
    413,
    'PAYLOAD_TOO_LARGE',
    `The request body is ${got === undefined ? 'larger than' : `${sizeText(got)}, over`} the ${sizeText(limit)} limit. Send a smaller image (downscale or recompress it), or raise the server's --max-body.`,
    // The rest of an oversized body is not read: the connection is closed instead.
    { connection: 'close' },
  );
}

/** Options of `readBody` that bound the time a body may take to arrive. */
export interface BodyReadOptions {
  /** Time for the whole body, in ms; past it, 408 `BODY_TIMEOUT`. */
  readonly timeoutMs?: number;
  /** Slowest accepted rate in bytes per second, measured over each `windowMs`; 0 or absent = none. */
  readonly minRate?: number;
  /** The window `minRate` is measured over, in ms. Default 5000. */
  readonly windowMs?: number;
  /** Stops the read (the client went away, the deadline, shutdown): it fails with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Sees each chunk's size before it is kept; may throw to refuse the body (a memory budget). */
  readonly onChunk?: (bytes: number) => void;
}

/** Bodies read before the request took a work slot (see `rememberBody`). */
const received = new WeakMap<Request, Buffer>();

/** Records a request's body, read in full before its work began; `readBody` then returns it. */
export function rememberBody(request: Request, body: Buffer): void {
  received.set(request, body);
}

/** Refuses a body whose `Content-Length` is over `limit`, before any of it is read. */
export function checkDeclaredLength(request: Request, limit: number): number | undefined {
  const declared = request.headers.get('content-length');
  if (declared === null) return undefined;
  const n = Number(declared);
  if (Number.isFinite(n) && n > limit) throw tooLarge(limit, n);
  return Number.isFinite(n) ? n : undefined;
}

function bodyTimeout(message: string): HttpError {
  return new HttpError(408, 'BODY_TIMEOUT', message, { connection: 'close' });
}

/**
 * A request's body in memory: the one already read for it (the server reads bodies before a
 * request takes a work slot), or read now. More than `limit` bytes are refused at once from
 * `Content-Length`, or as soon as a chunked body passes the limit (the rest is never read).
 * With `options`, a body that takes longer than `timeoutMs`, or arrives slower than `minRate`
 * over a window, is refused with 408 (the connection is closed after the answer).
 */
export async function readBody(request: Request, limit: number, options: BodyReadOptions = {}): Promise<Buffer> {
  const already = received.get(request);
  if (already) return already;
  checkDeclaredLength(request, limit);
  if (!request.body) return Buffer.alloc(0);
  const { timeoutMs, minRate = 0, windowMs = 5000, signal, onChunk } = options;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  let windowBytes = 0;
  let stop: (err: Error) => void = () => {};
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  stopped.catch(() => undefined);
  const timers: NodeJS.Timeout[] = [];
  if (timeoutMs !== undefined) {
    timers.push(
      setTimeout(
        () =>
          stop(
            bodyTimeout(
              `The request body did not arrive within ${Math.round(timeoutMs / 100) / 10} s (${sizeText(total)} received). Send it faster, or in one go.`,
            ),
          ),
        timeoutMs,
      ),
    );
  }
  if (minRate > 0) {
    timers.push(
      setInterval(() => {
        const rate = (windowBytes * 1000) / windowMs;
        windowBytes = 0;
        if (rate < minRate) {
          stop(
            bodyTimeout(
              `The request body is arriving at ${Math.round(rate)} bytes/s, under the server's minimum of ${sizeText(minRate)}/s (${sizeText(total)} received).`,
            ),
          );
        }
      }, windowMs),
    );
  }
  const onAbort = (): void => stop(signalError(signal as AbortSignal));
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), stopped]);
      if (done) break;
      total += value.byteLength;
      windowBytes += value.byteLength;
      if (total > limit) throw tooLarge(limit);
      onChunk?.(value.byteLength);
      chunks.push(value);
    }
  } catch (err) {
    reader.cancel().catch(() => undefined);
    if (err instanceof HttpError || err instanceof SemclipError) throw err;
    throw new SemclipError('ABORTED', 'The client stopped sending the request body.', { cause: err });
  } finally {
    for (const t of timers) clearTimeout(t);
    signal?.removeEventListener('abort', onAbort);
  }
  return Buffer.concat(chunks, total);
}

function signalError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof SemclipError || reason instanceof HttpError) return reason;
  return new SemclipError('ABORTED', 'The client stopped sending the request body.', { cause: reason });
}

/** The media type of a request, lower case, without parameters (`application/json`). */
export function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function unsupportedMediaType(got: string, expected: string): HttpError {
  return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type "${got || '(none)'}" is not accepted here. Send ${expected}.`);
}

/** Parses a JSON body; malformed JSON is a 400 that says where it broke. */
export function parseJson(body: Buffer, maxDepth = 64): unknown {
  if (body.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'The request body is empty.', { expected: 'a JSON object' });
  }
  if (jsonDeeperThan(body, maxDepth)) {
    // Checked before parsing: a body nested thousands deep parses, then overflows the stack of
    // whatever walks it recursively (validation, JSON.stringify when it is forwarded).
    throw new SemclipError('INVALID_ARGUMENT', `The request body nests arrays and objects more than ${maxDepth} levels deep.`, {
      expected: `JSON nested at most ${maxDepth} levels`,
      hint: "Flatten the data; the server's operator can raise the limit (limits.maxJsonDepth, SEMCLIP_MAX_JSON_DEPTH)",
      details: { maxDepth },
    });
  }
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new SemclipError('INVALID_ARGUMENT', `The request body is not valid JSON: ${(err as Error).message}.`, {
      expected: 'a JSON object',
      hint: 'Check the quoting and that the body was sent whole',
      cause: err,
    });
  }
}

/**
 * Whether JSON text nests arrays and objects more than `maxDepth` deep, found in one pass over
 * the bytes (string contents are skipped with `indexOf`, so a large base64 image costs little).
 * Malformed text is not judged here: the parser reports it.
 */
export function jsonDeeperThan(text: Buffer, maxDepth: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const b = text[i];
    if (b === 0x22) {
      // A string: its end is the next quote not escaped by an odd run of backslashes.
      let j = i;
      for (;;) {
        j = text.indexOf(0x22, j + 1);
        if (j < 0) return false;
        let k = j - 1;
        while (text[k] === 0x5c) k--;
        if ((j - 1 - k) % 2 === 0) break;
      }
      i = j;
    } else if (b === 0x7b || b === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (b === 0x7d || b === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** A multipart/form-data body as its fields: strings, and files as bytes. */
export async function parseMultipart(body: Buffer, contentType: string): Promise<Map<string, string | { name: string; type: string; data: Uint8Array }>> {
  let form: FormData;
  try {
    form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
  } catch (err) {
    throw new SemclipError('INVALID_ARGUMENT', 'The multipart/form-data body cannot be parsed.', {
      expected: 'a form with an "image" file and a "question" field',
      hint: 'Let your HTTP client build the body (curl -F image=@photo.jpg -F question=...)',
      cause: err,
    });
  }
  const out = new Map<string, string | { name: string; type: string; data: Uint8Array }>();
  for (const [key, value] of form.entries()) {
    if (out.has(key)) {
      throw new SemclipError('INVALID_ARGUMENT', `The form field "${key}" is given more than once.`, { expected: 'each field once', details: { param: key } });
    }
    if (typeof value === 'string') out.set(key, value);
    else out.set(key, { name: value.name, type: value.type, data: new Uint8Array(await value.arrayBuffer()) });
  }
  return out;
}
