import type { Context } from 'hono';
import { sizeText } from './_body.js';
import { HttpError } from './_errors.js';

/**
 * 400 `RESPONSE_TOO_LARGE`: what the request asked for would make a response over the server's
 * `maxResponseBytes`. `what` says how far it got, `hint` what to ask for instead.
 */
export function responseTooLarge(limit: number, what: string, hint: string): HttpError {
  return new HttpError(
    400,
    'RESPONSE_TOO_LARGE',
    `The response would be over this server's limit of ${sizeText(limit)} (${what}). ${hint}; the server's operator can raise the limit with --max-response (SEMCLIP_MAX_RESPONSE).`,
  );
}

/**
 * The JSON text of a response body, refused (`RESPONSE_TOO_LARGE`) when it is over `limit`
 * bytes. Every JSON body SemClip builds goes through here, so none is unbounded.
 */
export function boundedJsonText(value: unknown, limit: number, hint: string): string {
  const text = JSON.stringify(value);
  // Characters bound bytes from below (UTF-8 takes 1-4 bytes each): count bytes only when close.
  const bytes = text.length * 3 <= limit ? text.length : Buffer.byteLength(text);
  if (bytes > limit) throw responseTooLarge(limit, `this one is ${sizeText(bytes)}`, hint);
  return text;
}

/** A 200 JSON response within `limits.maxResponseBytes` (see `boundedJsonText`). */
export function boundedJson(c: Context, value: unknown, limit: number, hint: string): Response {
  return c.body(boundedJsonText(value, limit, hint), 200, { 'content-type': 'application/json' });
}
