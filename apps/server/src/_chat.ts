import { SemclipError, isSemclipError } from '@semclip/core';
import type { EncodedImage } from '@semclip/core';
import { planFor } from '@semclip/pipeline';
import type { SentImage } from '@semclip/pipeline';
import { buildPrompt, compositeImages } from '@semclip/vlm-runner';
import type { Context } from 'hono';
import { jsonDeeperThan, mediaType, parseJson, readBody, sizeText, unsupportedMediaType } from './_body.js';
import { HttpError, describeError, openaiErrorBody } from './_errors.js';
import type { ErrorInfo } from './_errors.js';
import { imageFromUrl } from './_image-input.js';
import { base64, checkQuestion, encodedOf, imageFormatOf, runSelection, timed } from './_pipeline.js';
import type { WorkContext } from './_pipeline.js';
import { abortedError } from './_queue.js';
import { boundedJsonText } from './_response.js';
import { chatImageUrl, chatRequestSchema, validate } from './_schemas.js';
import type { ChatImagePart, ChatMessage, SelectionFields } from './_schemas.js';
import type { ServerState } from './_state.js';

function chatError(message: string, param: string): SemclipError {
  return new SemclipError('INVALID_ARGUMENT', message, { details: { param } });
}

/** What the upstream was sent: the pipeline's prompt images, or the one composite of them. */
type SentInfo = SentImage | (Omit<SentImage, 'role'> & { role: 'composite' });

function dataUrl(image: EncodedImage): string {
  return `data:${image.mime};base64,${base64(image.data)}`;
}

interface Prepared {
  /** The body to send upstream. */
  readonly payload: Uint8Array;
  readonly stream: boolean;
  /** The `semclip` field for the response; undefined = passthrough. */
  readonly semclip: Record<string, unknown> | undefined;
}

/** Parses, checks and (when the last user turn has an image and a question) applies SemClip. */
async function prepare(c: Context, ctx: WorkContext, state: ServerState): Promise<Prepared> {
  const type = mediaType(c.req.raw);
  if (type !== 'application/json' && type !== '') throw unsupportedMediaType(type, 'application/json');
  const raw = await readBody(c.req.raw, ctx.config.limits.maxBodyBytes);
  // The raw object is what goes upstream (its keys in the client's order); the parsed one is read.
  const body = parseJson(raw, ctx.config.limits.maxJsonDepth) as Record<string, unknown>;
  const request = validate(chatRequestSchema(ctx.config.limits), body, 'chat request');
  const stream = request.stream === true;
  const option = request.semclip ?? true;
  const model = request.model || state.upstreamModel;
  if (!model) throw chatError('"model" is required (this server has no default model; start it with --model).', 'model');

  const last = findLastUser(request.messages);
  const content = last?.message.content;
  const parts = Array.isArray(content) ? content : [];
  const imageParts = parts.filter((p): p is ChatImagePart => p.type === 'image_url');
  const question = parts
    .flatMap((p) => (p.type === 'text' && typeof p.text === 'string' ? [p.text] : []))
    .join('\n')
    .trim();
  const skip =
    option === false
      ? 'disabled by the request'
      : imageParts.length === 0
        ? 'no image in the last user message'
        : !question
          ? 'no question text in the last user message'
          : undefined;
  if (skip) {
    // Untouched: the client's own bytes go upstream unless a field had to be removed or added.
    if (request.semclip === undefined && request.model) return { payload: raw, stream, semclip: undefined };
    const { semclip: _drop, ...rest } = body;
    return { payload: Buffer.from(JSON.stringify({ ...rest, model })), stream, semclip: undefined };
  }
  if (imageParts.length > 1) {
    throw chatError(
      `The last user message has ${imageParts.length} images; SemClip selects regions of one image per turn. Send one image, or "semclip": false to forward the message as it is.`,
      'messages',
    );
  }
  checkQuestion(question, ctx.config.limits.maxQuestionChars);
  const part = imageParts[0] as ChatImagePart;
  const fields: SelectionFields = typeof option === 'object' ? option : {};
  const bytes = await imageFromUrl(chatImageUrl(part), 'image_url', ctx.config, ctx.signal);
  // The request's model picks the family whose visual tokens are counted.
  const run = await runSelection(ctx, { bytes, question, fields, model });
  const selection = run.selection;
  if (!selection) throw new SemclipError('INTERNAL', 'The selection is missing after scoring.');

  const { images: prompt, sent: planned } = await timed(ctx, 'encode', () =>
    run.pipeline.buildImages(run.tiled, planFor(run.tiled, 'semclip', selection), { signal: ctx.signal }),
  );
  const sent: SentInfo[] = [...planned];
  const composite = ctx.config.composite && prompt.length > 1;
  let images: EncodedImage[] = prompt.map(encodedOf);
  if (composite) {
    const { image } = await timed(ctx, 'encode', () => compositeImages(images, imageFormatOf(ctx.config)));
    images = [image];
    const tokens = run.pipeline.visualTokens([image]);
    sent.unshift({ role: 'composite', width: image.width, height: image.height, bytes: image.data.byteLength, mime: image.mime, tokens });
  }
  const text = buildPrompt({ images: prompt, question, imageSize: run.tiled.size }, { layout: composite ? 'composite' : 'separate' }).text;

  const detail = typeof part.image_url === 'object' ? part.image_url.detail : undefined;
  // SemClip rewrites the images and the text; other parts (audio, files...) stay as sent.
  const others = parts.filter((p) => p.type !== 'image_url' && p.type !== 'text');
  const newContent = [
    ...others,
    ...images.map((im) => ({ type: 'image_url', image_url: { url: dataUrl(im), ...(detail === undefined ? {} : { detail }) } })),
    { type: 'text', text },
  ];
  const rawMessages = body.messages as unknown[];
  const newMessages = rawMessages.map((m, i) => (i === last?.index ? { ...(m as Record<string, unknown>), content: newContent } : m));
  const { semclip: _drop, ...rest } = body;
  const payload = Buffer.from(JSON.stringify({ ...rest, model, messages: newMessages }));
  const semclip = {
    applied: true,
    scorer: run.scorer,
    image: { width: run.info.width, height: run.info.height, format: run.info.format },
    grid: { rows: run.tiled.grid.rows, cols: run.tiled.grid.cols, levels: run.tiled.grid.levels, key: run.tiled.gridKey },
    selection,
    sent,
    composite,
    // What the upstream spends on the images it gets, by the model's family.
    visual_tokens: composite ? (sent[0]?.tokens ?? 0) : planned.reduce((n, s) => n + s.tokens, 0),
    timings: ctx.timings,
  };
  return { payload, stream, semclip };
}

function findLastUser(messages: readonly ChatMessage[]): { message: ChatMessage; index: number } | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const message = messages[i];
    if (message?.role === 'user') return { message, index: i };
  }
  return undefined;
}

/** Upstream status to what the client sees: 4xx keep their status, 401/403 and 5xx are 502, 429 stays 429. */
function upstreamStatusError(status: number, text: string, retryAfter: string | null): Error {
  let message = text.replace(/\s+/g, ' ').trim().slice(0, 300);
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const e = parsed.error;
    message =
      typeof e === 'string'
        ? e
        : typeof e?.message === 'string'
          ? e.message
          : typeof parsed.message === 'string'
            ? parsed.message
            : typeof parsed.detail === 'string'
              ? parsed.detail
              : message;
  } catch {
    // not JSON: the text it is
  }
  if (status === 429) {
    const seconds = Number(retryAfter);
    return new SemclipError('UPSTREAM_RATE_LIMITED', `The upstream is rate-limiting requests (429): ${message || '(no message)'}`, {
      hint: 'Retry later',
      details: Number.isFinite(seconds) ? { retryAfterMs: seconds * 1000 } : {},
    });
  }
  if (status === 401 || status === 403) {
    return new SemclipError('UPSTREAM_ERROR', `The upstream refused this server's credentials (${status}): ${message || '(no message)'}`, {
      hint: "The server's operator should check SEMCLIP_UPSTREAM_API_KEY",
    });
  }
  if (status >= 400 && status < 500) {
    return new HttpError(status, 'UPSTREAM_ERROR', `The upstream answered ${status}: ${message || '(no message)'}`);
  }
  return new SemclipError('UPSTREAM_ERROR', `The upstream failed (${status}): ${message || '(no message)'}`, { hint: "Check the upstream server's logs" });
}

function networkError(err: unknown, url: string): SemclipError {
  let e: unknown = err;
  let code: string | undefined;
  for (let i = 0; i < 4 && e && !code; i++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') code = c;
    e = (e as { cause?: unknown }).cause;
  }
  const refused = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
  return new SemclipError(
    'UPSTREAM_ERROR',
    refused ? `Could not connect to the upstream ${url} (${code}).` : `The connection to the upstream ${url} broke (${code ?? (err as Error).message}).`,
    {
      cause: err,
      hint: refused ? 'Is the upstream server running at the configured --upstream URL?' : "Check the upstream server's logs",
    },
  );
}

/**
 * POST /v1/chat/completions: an OpenAI-compatible proxy. The last user message's image and
 * question go through SemClip, and the upstream gets the overview plus the selected crops (or
 * one composite image); the response carries the selection under `semclip`. Streams pass
 * through chunk by chunk, with a final `semclip` chunk before `data: [DONE]`.
 */
export async function chatRoute(c: Context, state: ServerState, ctx: WorkContext): Promise<Response> {
  const upstream = state.upstreamUrl;
  if (!upstream) {
    throw new HttpError(
      503,
      'NOT_CONFIGURED',
      'This server has no upstream configured; start it with --upstream <OpenAI-compatible URL> (e.g. http://127.0.0.1:8000/v1).',
    );
  }
  const prepared = await state.work.run(() => prepare(c, ctx, state), ctx.signal);
  const release = await state.upstream.acquire(ctx.signal);
  let released = false;
  const done = (): void => {
    if (!released) {
      released = true;
      release();
    }
  };
  try {
    return await forward(c, state, ctx, prepared, upstream, done);
  } catch (err) {
    done();
    throw err;
  }
}

async function forward(c: Context, state: ServerState, ctx: WorkContext, prepared: Prepared, upstream: string, done: () => void): Promise<Response> {
  const config = ctx.config;
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = (): void => controller.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, config.limits.upstreamTimeoutMs);
  const cleanup = (): void => {
    clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onAbort);
    done();
  };
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: prepared.stream ? 'text/event-stream' : 'application/json',
    'x-request-id': state.requestId(c),
  };
  if (config.upstreamApiKey) headers.authorization = `Bearer ${config.upstreamApiKey}`;
  const started = performance.now();
  const fail = (err: unknown): never => {
    if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new SemclipError('ABORTED', 'The client went away.');
    if (timedOut) {
      state.metrics.upstreamErrors.inc({ kind: 'timeout' });
      throw new SemclipError('UPSTREAM_TIMEOUT', `The upstream did not answer within ${config.limits.upstreamTimeoutMs} ms.`, {
        hint: "The model may be overloaded; retry later, or raise the server's upstream timeout",
      });
    }
    if (err instanceof SemclipError || err instanceof HttpError) throw err;
    state.metrics.upstreamErrors.inc({ kind: 'connection' });
    throw networkError(err, upstream);
  };

  let res: Response;
  try {
    res = await config.fetch(`${upstream}/chat/completions`, { method: 'POST', headers, body: prepared.payload, signal: controller.signal });
  } catch (err) {
    cleanup();
    return fail(err);
  }
  const outHeaders: Record<string, string> = { 'x-semclip': prepared.semclip ? 'applied' : 'passthrough' };
  if (!res.ok) {
    let text = '';
    try {
      // Enough of an error body for its message; the rest is not read.
      text = (await readReply(res, ERROR_TEXT_BYTES, controller, 'truncate')).toString('utf8');
    } catch {
      // the status is what matters
    }
    cleanup();
    state.metrics.upstreamErrors.inc({ kind: 'status' });
    throw upstreamStatusError(res.status, text, res.headers.get('retry-after'));
  }
  const contentType = res.headers.get('content-type') ?? '';

  if (contentType.includes('text/event-stream') && res.body && (prepared.stream || !prepared.semclip)) {
    // From here the stall timer of relay() watches the stream; the time-to-headers timer is done.
    clearTimeout(timer);
    return new Response(relay(res.body, state, ctx, controller, cleanup, prepared.semclip), {
      status: res.status,
      headers: {
        ...outHeaders,
        'content-type': prepared.semclip ? 'text/event-stream; charset=utf-8' : contentType,
        'cache-control': 'no-cache',
      },
    });
  }

  // Anything else is read whole (within the reply cap and the upstream timeout) before a status
  // goes out: a body cut midway is a 502, never a 200 with half an answer.
  let body: Buffer;
  try {
    body = await readReply(res, config.limits.maxUpstreamReplyBytes, controller);
  } catch (err) {
    cleanup();
    if (isSemclipError(err, 'UPSTREAM_BAD_RESPONSE')) state.metrics.upstreamErrors.inc({ kind: 'bad_response' });
    return fail(err);
  }
  cleanup();
  const upstreamMs = performance.now() - started;
  ctx.timings.upstream = upstreamMs;
  state.metrics.stage('upstream', upstreamMs);
  if (!prepared.semclip) {
    // Passthrough: the upstream's answer goes back untouched.
    return new Response(body.byteLength === 0 ? null : body, {
      status: res.status,
      headers: { ...outHeaders, ...(contentType ? { 'content-type': contentType } : {}) },
    });
  }
  if (jsonDeeperThan(body, config.limits.maxJsonDepth)) {
    // It is re-serialised below with the selection, which a reply nested that deep would overflow.
    state.metrics.upstreamErrors.inc({ kind: 'bad_response' });
    throw new SemclipError('UPSTREAM_BAD_RESPONSE', `The upstream answered with JSON nested more than ${config.limits.maxJsonDepth} levels deep.`, {
      hint: 'Check the upstream server',
    });
  }
  let json: unknown;
  const text = body.toString('utf8');
  try {
    json = JSON.parse(text) as unknown;
  } catch (err) {
    state.metrics.upstreamErrors.inc({ kind: 'bad_response' });
    throw new SemclipError('UPSTREAM_BAD_RESPONSE', `The upstream answered ${res.status} with a body that is not JSON: "${text.slice(0, 120)}".`, {
      cause: err,
      hint: 'Check that --upstream points at an OpenAI-compatible API (it usually ends in /v1)',
    });
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    state.metrics.upstreamErrors.inc({ kind: 'bad_response' });
    throw new SemclipError('UPSTREAM_BAD_RESPONSE', 'The upstream answered with JSON that is not a chat completion object.', {
      hint: 'Check the upstream server',
    });
  }
  const out = boundedJsonText(
    { ...(json as Record<string, unknown>), semclip: prepared.semclip },
    config.limits.maxResponseBytes,
    'Ask for fewer tiles or regions',
  );
  return new Response(out, {
    status: 200,
    headers: { ...outHeaders, 'content-type': 'application/json' },
  });
}

/** How much of an upstream error body is read for its message. */
const ERROR_TEXT_BYTES = 64 * 1024;

function replyTooLarge(limit: number, what: string): SemclipError {
  return new SemclipError('UPSTREAM_BAD_RESPONSE', `The upstream sent ${what} over the ${sizeText(limit)} limit; it was not read further.`, {
    hint: "Check the upstream, or raise the server's --max-upstream-reply",
    details: { limit },
  });
}

/**
 * Reads an upstream body whole, up to `limit` bytes: past it, the request is aborted and the
 * read fails with `UPSTREAM_BAD_RESPONSE` (or, with `'truncate'`, the first `limit` bytes are
 * returned). A body that breaks off fails with the fetch error.
 */
async function readReply(res: Response, limit: number, controller: AbortController, over: 'fail' | 'truncate' = 'fail'): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const declared = Number(res.headers.get('content-length') ?? Number.NaN);
  if (over === 'fail' && Number.isFinite(declared) && declared > limit) {
    controller.abort();
    throw replyTooLarge(limit, `a ${sizeText(declared)} reply`);
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.byteLength > limit) {
      controller.abort();
      reader.cancel().catch(() => undefined);
      if (over === 'truncate') {
        chunks.push(value.subarray(0, limit - total));
        total = limit;
        break;
      }
      throw replyTooLarge(limit, 'a reply');
    }
    chunks.push(value);
    total += value.byteLength;
  }
  return Buffer.concat(chunks, total);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function sse(value: unknown): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(value)}\n\n`);
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Cuts a byte stream into server-sent events at their blank lines (LF, CRLF or CR line ends),
 * keeping each event's bytes exactly as they came.
 */
class SseEvents {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private lineStart = 0;

  /** Bytes of the event not yet complete. */
  get pending(): number {
    return this.buf.length;
  }

  /** Whether what is left is only line ends (nothing of an event). */
  get blank(): boolean {
    return this.buf.every((b) => b === LF || b === CR);
  }

  /** Appends bytes; returns the events they complete. */
  push(chunk: Uint8Array): Buffer[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const events: Buffer[] = [];
    let start = 0;
    let i = this.pos;
    while (i < this.buf.length) {
      const b = this.buf[i];
      if (b !== LF && b !== CR) {
        i++;
        continue;
      }
      let end = i + 1;
      if (b === CR) {
        // A CR at the end may be the first half of a CRLF: wait for the next byte.
        if (end >= this.buf.length) break;
        if (this.buf[end] === LF) end++;
      }
      if (i === this.lineStart) {
        // An empty line: the event is complete.
        events.push(this.buf.subarray(start, end));
        start = end;
      }
      this.lineStart = end;
      i = end;
    }
    this.buf = this.buf.subarray(start);
    this.pos = i - start;
    this.lineStart -= start;
    return events;
  }
}

/**
 * Relays an upstream SSE body event by event: only complete events go out, each with the bytes
 * the upstream sent. With `semclip` (a stream SemClip worked on) a `semclip` chunk goes right
 * before `data: [DONE]` (or at the end when the upstream sends no [DONE]). A stream that breaks
 * off, ends inside an event, sends an event over the reply cap, or stalls longer than the
 * upstream timeout ends with one OpenAI-style `error` event on its own (which the official
 * clients raise as APIError) and no `[DONE]`; so does one cut off by shutdown.
 */
function relay(
  body: ReadableStream<Uint8Array>,
  state: ServerState,
  ctx: WorkContext,
  controller: AbortController,
  cleanup: () => void,
  semclip: Record<string, unknown> | undefined,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const events = new SseEvents();
  let sawDone = false;
  let finished = false;
  const started = performance.now();
  const idle = ctx.config.limits.upstreamTimeoutMs;
  const maxEvent = ctx.config.limits.maxUpstreamReplyBytes;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    const ms = performance.now() - started + (ctx.timings.upstream ?? 0);
    state.metrics.stage('upstream', ms);
    cleanup();
  };
  const semclipChunk = (): Uint8Array =>
    sse({ id: 'semclip', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: 'semclip', choices: [], semclip });
  const errorEvent = (info: ErrorInfo): Uint8Array => sse(openaiErrorBody(info));
  /** Ends the stream with one error event (the partial event, if any, is dropped). */
  const broken = (out: ReadableStreamDefaultController<Uint8Array>, err: unknown, kind: 'stream' | 'timeout' | 'bad_response' | undefined): void => {
    if (kind) state.metrics.upstreamErrors.inc({ kind });
    controller.abort();
    reader.cancel().catch(() => undefined);
    finish();
    try {
      out.enqueue(errorEvent(describeError(err)));
      out.close();
    } catch {
      // the client is gone
    }
  };

  return new ReadableStream<Uint8Array>({
    async pull(out) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      // Each read has the stall limit: a slow but steady stream is fine, a silent one is not. The
      // timer runs only while waiting on the upstream, never while the client is slow to read.
      let stalled = false;
      const timer = setTimeout(() => {
        stalled = true;
        controller.abort();
      }, idle);
      try {
        chunk = await reader.read();
      } catch (err) {
        if (ctx.signal.aborted) {
          // The client went away (nobody reads this), or the deadline or shutdown cut the stream.
          broken(out, abortedError(ctx.signal), undefined);
          return;
        }
        const error = stalled
          ? new SemclipError('UPSTREAM_TIMEOUT', `The upstream stream stalled for more than ${idle} ms and was cut off.`)
          : new SemclipError('UPSTREAM_ERROR', `The upstream stream broke off before it was complete (${(err as Error).message}).`, { cause: err });
        broken(out, error, stalled ? 'timeout' : 'stream');
        return;
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) {
        if (!events.blank) {
          broken(out, new SemclipError('UPSTREAM_ERROR', 'The upstream stream ended in the middle of an event; the partial event was dropped.'), 'stream');
          return;
        }
        if (semclip && !sawDone) out.enqueue(semclipChunk());
        finish();
        out.close();
        return;
      }
      const complete = events.push(chunk.value);
      for (const event of complete) {
        if (semclip && !sawDone && event.length < 256 && /^data:[ \t]*\[DONE\][ \t]*$/m.test(decoder.decode(event))) {
          sawDone = true;
          out.enqueue(semclipChunk());
        }
        out.enqueue(event);
      }
      if (events.pending > maxEvent) {
        broken(out, replyTooLarge(maxEvent, 'an event'), 'bad_response');
        return;
      }
      if (complete.length === 0) out.enqueue(new Uint8Array(0));
    },
    cancel(reason) {
      controller.abort(reason);
      reader.cancel(reason).catch(() => undefined);
      finish();
    },
  });
}

/** GET /v1/models: the upstream's list, passed through. */
export async function modelsRoute(c: Context, state: ServerState, ctx: WorkContext): Promise<Response> {
  const upstream = state.upstreamUrl;
  if (!upstream) throw new HttpError(503, 'NOT_CONFIGURED', 'This server has no upstream configured; start it with --upstream <OpenAI-compatible URL>.');
  const controller = new AbortController();
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(Math.min(ctx.config.limits.upstreamTimeoutMs, 30_000)), controller.signal]);
  const headers: Record<string, string> = { accept: 'application/json', 'x-request-id': state.requestId(c) };
  if (ctx.config.upstreamApiKey) headers.authorization = `Bearer ${ctx.config.upstreamApiKey}`;
  let res: Response;
  let text: string;
  try {
    res = await ctx.config.fetch(`${upstream}/models`, { headers, signal });
    text = (await readReply(res, res.ok ? ctx.config.limits.maxUpstreamReplyBytes : ERROR_TEXT_BYTES, controller, res.ok ? 'fail' : 'truncate')).toString(
      'utf8',
    );
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    if (isSemclipError(err, 'UPSTREAM_BAD_RESPONSE')) throw err;
    if (signal.aborted) throw new SemclipError('UPSTREAM_TIMEOUT', 'The upstream did not list its models in time.');
    throw networkError(err, upstream);
  }
  if (!res.ok) throw upstreamStatusError(res.status, text, res.headers.get('retry-after'));
  return new Response(text, { status: 200, headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' } });
}
