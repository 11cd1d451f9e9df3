import { SemclipError } from '@semclip/core';
import { HttpError } from './_errors.js';

function sizeText(bytes: number): string {
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

/**
 * Reads a request body into memory, refusing more than `limit` bytes: at once from
 * `Content-Length`, or as soon as a chunked body passes the limit (the rest is never read).
 */
export async function readBody(request: Request, limit: number): Promise<Buffer> {
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    const n = Number(declared);
    if (Number.isFinite(n) && n > limit) throw tooLarge(limit, n);
  }
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(limit);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new SemclipError('ABORTED', 'The client stopped sending the request body.', { cause: err });
  }
  return Buffer.concat(chunks, total);
}

/** The media type of a request, lower case, without parameters (`application/json`). */
export function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

export function unsupportedMediaType(got: string, expected: string): HttpError {
  return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Type "${got || '(none)'}" is not accepted here. Send ${expected}.`);
}

/** Parses a JSON body; malformed JSON is a 400 that says where it broke. */
export function parseJson(body: Buffer): unknown {
  if (body.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'The request body is empty.', { expected: 'a JSON object' });
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
