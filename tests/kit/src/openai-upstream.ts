import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import sharp from 'sharp';

/** One image found in a request's messages, decoded to learn its real size. */
export interface RecordedImage {
  /** Mime type from the data URL (`image/jpeg`...); `undefined` for non-data URLs. */
  readonly mime: string | undefined;
  /** Format sharp detected in the bytes (`jpeg`, `png`...). */
  readonly format: string | undefined;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  /** The raw URL when it was not a data URL. */
  readonly url?: string;
  /** The decoded bytes, for tests that look at pixels. */
  readonly data?: Uint8Array;
}

export interface RecordedRequest {
  /** 0-based arrival order. */
  readonly index: number;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON body (`undefined` when not JSON). */
  readonly body: Record<string, unknown> | undefined;
  /** Every image part in message order. */
  readonly images: readonly RecordedImage[];
  /** Every text part (and string contents) in message order. */
  readonly texts: readonly string[];
  /** The behaviour applied to this request (after scripts). */
  readonly behaviour: FakeOpenAIBehaviour;
  /** The HTTP status sent, or `'dropped'`/`'aborted'` (the client went away). */
  status?: number | 'dropped' | 'aborted';
}

export interface FakeOpenAIBehaviour {
  /**
   * Fixed time from the request's arrival (headers received) to the answer, in ms. The fake's own
   * body parsing and image decoding count toward it, so every call takes the same time.
   */
  readonly latencyMs?: number;
  /** Answer with this status and an OpenAI-style error body instead. */
  readonly failStatus?: number;
  /** `Retry-After` header (seconds) sent with `failStatus`. */
  readonly retryAfter?: number | string;
  /** Error message sent with `failStatus`. */
  readonly failMessage?: string;
  /** Destroy the socket without answering. */
  readonly drop?: boolean;
  /** Send 200 with a body that is not JSON. */
  readonly malformed?: boolean;
  /** Send 200 with valid JSON but no `choices`. */
  readonly noChoices?: boolean;
  /** Like some llama.cpp builds: 400 when a request carries more than one image. */
  readonly singleImage?: boolean;
  /**
   * `true` (default): honour `logprobs`/`top_logprobs`. `'reject'`: 400 when asked for them.
   * `'ignore'` (or `false`): answer without them.
   */
  readonly logprobs?: boolean | 'reject' | 'ignore';
  /** The answer text; default `'fake answer'`. Gets the recorded request. */
  readonly respond?: (request: RecordedRequest) => string;
  /**
   * Top log-probabilities of the first token, when logprobs are honoured. Default: the first
   * character of the answer at log(0.9), then `A`...`E` (other than it) at decreasing values.
   */
  readonly topLogprobs?: (request: RecordedRequest) => Array<{ token: string; logprob: number }>;
  /**
   * An asynchronous model in place of `respond`/`topLogprobs` (e.g. the simulated VLM of
   * `sim-vlm.ts`, which decodes the images): the answer, the first token's top log-probabilities
   * and the prompt tokens to report.
   */
  readonly simulate?: (request: RecordedRequest) => Promise<SimulatedReply>;
}

/** What `FakeOpenAIBehaviour.simulate` answers. */
export interface SimulatedReply {
  readonly text: string;
  readonly topLogprobs?: Array<{ token: string; logprob: number }>;
  readonly promptTokens?: number;
}

export interface FakeOpenAIOptions {
  /** Applies to every request not covered by `script`. */
  readonly behaviour?: FakeOpenAIBehaviour;
  /** Per-call behaviours, used in order for the first calls (merged over `behaviour`). */
  readonly script?: readonly FakeOpenAIBehaviour[];
  /** Model ids listed at GET /v1/models. Default `['fake-vlm']`. */
  readonly models?: readonly string[];
  /** Path prefix of the API. Default `/v1`. */
  readonly prefix?: string;
}

export interface FakeOpenAI {
  /** Base URL to give a runner, e.g. `http://127.0.0.1:43123/v1`. */
  readonly url: string;
  /** Every chat completion request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Most requests in flight at once so far. */
  readonly maxInFlight: number;
  readonly inFlight: number;
  /** Replaces the default behaviour (scripted calls still come first). */
  setBehaviour(behaviour: FakeOpenAIBehaviour): void;
  /** Appends per-call behaviours to the script. */
  script(...behaviours: FakeOpenAIBehaviour[]): void;
  /** Forgets recorded requests and the in-flight peak. */
  reset(): void;
  close(): Promise<void>;
}

/**
 * Format and size from the header bytes of a JPEG, PNG, GIF or WebP: microseconds instead of a
 * sharp call per image, so the fake's own CPU does not distort the runner's benchmarks.
 * Undefined for anything else (sharp reads it then).
 */
export function headerSize(data: Uint8Array): { format: string; width: number; height: number } | undefined {
  const u16 = (o: number) => ((data[o] ?? 0) << 8) | (data[o + 1] ?? 0);
  const le16 = (o: number) => (data[o] ?? 0) | ((data[o + 1] ?? 0) << 8);
  const le24 = (o: number) => le16(o) | ((data[o + 2] ?? 0) << 16);
  const u32 = (o: number) => ((u16(o) << 16) >>> 0) + u16(o + 2);
  const ascii = (o: number, n: number) => String.fromCharCode(...data.subarray(o, o + n));
  if (data[0] === 0xff && data[1] === 0xd8) {
    let o = 2;
    while (o + 9 < data.length) {
      if (data[o] !== 0xff) return undefined;
      const marker = data[o + 1] as number;
      if (marker === 0xff) {
        o++;
        continue;
      }
      const len = u16(o + 2);
      // SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size. EXIF
      // orientation is ignored: the runner sends upright pixels without EXIF.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        return { format: 'jpeg', height: u16(o + 5), width: u16(o + 7) };
      }
      o += 2 + len;
    }
    return undefined;
  }
  if (ascii(1, 3) === 'PNG' && ascii(12, 4) === 'IHDR') return { format: 'png', width: u32(16), height: u32(20) };
  if (ascii(0, 4) === 'GIF8') return { format: 'gif', width: le16(6), height: le16(8) };
  if (ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WEBP') {
    const chunk = ascii(12, 4);
    if (chunk === 'VP8X') return { format: 'webp', width: le24(24) + 1, height: le24(27) + 1 };
    if (chunk === 'VP8L') {
      const b = (i: number) => data[21 + i] ?? 0;
      return { format: 'webp', width: 1 + (((b(1) & 0x3f) << 8) | b(0)), height: 1 + (((b(3) & 0xf) << 10) | (b(2) << 2) | ((b(1) & 0xc0) >> 6)) };
    }
    if (chunk === 'VP8 ') return { format: 'webp', width: le16(26) & 0x3fff, height: le16(28) & 0x3fff };
  }
  return undefined;
}

async function decodeImage(url: string): Promise<RecordedImage> {
  const comma = url.indexOf(',');
  // Parse the short header only; a regex over a megabyte of base64 is slow.
  const m = url.startsWith('data:') && comma > 0 ? /^data:([^;,]+)?(;base64)?$/.exec(url.slice(0, comma)) : null;
  if (!m) return { mime: undefined, format: undefined, width: 0, height: 0, bytes: 0, url };
  const payload = url.slice(comma + 1);
  const data = m[2] ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload), 'latin1');
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const header = headerSize(bytes);
  if (header) return { mime: m[1], ...header, bytes: data.length, data: bytes };
  try {
    const meta = await sharp(data).metadata();
    return { mime: m[1], format: meta.format, width: meta.width ?? 0, height: meta.height ?? 0, bytes: data.length, data: bytes };
  } catch {
    return { mime: m[1], format: undefined, width: 0, height: 0, bytes: data.length, data: bytes };
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function defaultTop(answer: string): Array<{ token: string; logprob: number }> {
  const first = answer.trim().charAt(0) || ' ';
  const rest = ['A', 'B', 'C', 'D', 'E'].filter((l) => l !== first);
  return [{ token: first, logprob: Math.log(0.9) }, ...rest.map((token, i) => ({ token, logprob: Math.log(0.05 / 2 ** i) }))];
}

/**
 * A fake OpenAI-compatible server (real HTTP on 127.0.0.1, ephemeral port) for testing VLM
 * runners: records each request with its images decoded, and can be made slow, failing,
 * rate-limited, connection-dropping, malformed, single-image or logprobs-less, per call or
 * throughout. `stream: true` requests get SSE chunks.
 *
 * @example
 * ```ts
 * const fake = await startFakeOpenAI({ behaviour: { respond: (r) => (r.images.length > 1 ? 'B' : 'A') } });
 * fake.script({ failStatus: 429, retryAfter: 0 }); // the first call is rate-limited
 * // ... createOpenAIRunner({ baseUrl: fake.url, model: 'fake-vlm' })
 * expect(fake.requests[1]?.images.map((i) => i.width)).toEqual([1024, 512]);
 * await fake.close();
 * ```
 */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let behaviour: FakeOpenAIBehaviour = options.behaviour ?? {};
  const queue: FakeOpenAIBehaviour[] = [...(options.script ?? [])];
  const requests: RecordedRequest[] = [];
  const prefix = options.prefix ?? '/v1';
  const models = options.models ?? ['fake-vlm'];
  let inFlight = 0;
  let maxInFlight = 0;
  let arrivals = 0;
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `fake server bug: ${String(err)}` } });
      else res.destroy();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && path === `${prefix}/models`) {
      sendJson(res, 200, { object: 'list', data: models.map((id) => ({ id, object: 'model', owned_by: 'fake' })) });
      return;
    }
    if (req.method !== 'POST' || path !== `${prefix}/chat/completions`) {
      sendJson(res, 404, { error: { message: `No route ${req.method} ${path}`, type: 'not_found' } });
      return;
    }
    const arrived = performance.now();
    const index = arrivals++;
    const applied: FakeOpenAIBehaviour = { ...behaviour, ...(queue.shift() ?? {}) };
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let counted = true;
    const done = (): void => {
      if (counted) {
        counted = false;
        inFlight--;
      }
    };
    res.on('close', done);
    const raw = await readBody(req);
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    const images: RecordedImage[] = [];
    const texts: string[] = [];
    const messages = Array.isArray(body?.messages) ? (body.messages as Array<{ content?: unknown }>) : [];
    for (const message of messages) {
      if (typeof message.content === 'string') texts.push(message.content);
      else if (Array.isArray(message.content)) {
        for (const part of message.content as Array<Record<string, unknown>>) {
          if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
          if (part.type === 'image_url') {
            const iu = part.image_url as { url?: unknown } | string | undefined;
            const url = typeof iu === 'string' ? iu : typeof iu?.url === 'string' ? iu.url : '';
            images.push(await decodeImage(url));
          }
        }
      }
    }
    const record: RecordedRequest = { index, method: req.method, path, headers: req.headers, body, images, texts, behaviour: applied };
    requests.push(record);

    const wait = (applied.latencyMs ?? 0) - (performance.now() - arrived);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (res.destroyed || req.socket.destroyed) {
      record.status = 'aborted';
      return;
    }
    if (applied.drop) {
      record.status = 'dropped';
      req.socket.destroy();
      return;
    }
    if (body === undefined) {
      record.status = 400;
      sendJson(res, 400, { error: { message: 'Request body is not valid JSON', type: 'invalid_request_error' } });
      return;
    }
    if (applied.failStatus) {
      record.status = applied.failStatus;
      const headers: Record<string, string> = {};
      if (applied.retryAfter !== undefined) headers['retry-after'] = String(applied.retryAfter);
      sendJson(
        res,
        applied.failStatus,
        { error: { message: applied.failMessage ?? `fake failure ${applied.failStatus}`, type: 'fake_error', code: applied.failStatus } },
        headers,
      );
      return;
    }
    if (applied.singleImage && images.length > 1) {
      record.status = 400;
      sendJson(res, 400, { error: { message: `This server supports only one image per request, got ${images.length}`, type: 'invalid_request_error' } });
      return;
    }
    const wantsLogprobs = body.logprobs === true;
    const logprobsMode = applied.logprobs ?? true;
    if (wantsLogprobs && logprobsMode === 'reject') {
      record.status = 400;
      sendJson(res, 400, { error: { message: 'logprobs is not supported by this server', type: 'invalid_request_error' } });
      return;
    }
    if (applied.malformed) {
      record.status = 200;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id": "chatcmpl-fake", "choices": [ {"message": ');
      return;
    }
    if (applied.noChoices) {
      record.status = 200;
      sendJson(res, 200, { id: 'chatcmpl-fake', object: 'chat.completion', model: body.model });
      return;
    }
    const simulated = applied.simulate ? await applied.simulate(record) : undefined;
    let answer = simulated ? simulated.text : applied.respond ? applied.respond(record) : 'fake answer';
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : undefined;
    // Mimic a one-token budget roughly: the first "token" is the first word or punctuation run.
    if (maxTokens === 1) answer = /^\s*(\S+?)(?=\s|[.,)]|$)/.exec(answer)?.[1] ?? answer;
    const honour = wantsLogprobs && logprobsMode === true;
    const top = honour
      ? (simulated?.topLogprobs ?? (applied.topLogprobs ? applied.topLogprobs(record) : defaultTop(answer))).slice(
          0,
          typeof body.top_logprobs === 'number' ? body.top_logprobs : 5,
        )
      : undefined;
    const usage = {
      prompt_tokens: simulated?.promptTokens ?? 10 + images.length * 576,
      completion_tokens: Math.max(1, answer.split(/\s+/).length),
      total_tokens: 0,
    };
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    const logprobs = top ? { content: [{ token: top[0]?.token ?? answer, logprob: top[0]?.logprob ?? 0, top_logprobs: top }] } : null;
    record.status = 200;
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const pieces = answer.match(/\S+\s*|\s+/g) ?? [answer];
      const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model: body.model };
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`);
      for (const piece of pieces) {
        res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] })}\n\n`);
      }
      res.write(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    sendJson(res, 200, {
      id: `chatcmpl-fake-${index}`,
      object: 'chat.completion',
      created: 0,
      model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop', logprobs }],
      usage,
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    get inFlight() {
      return inFlight;
    },
    setBehaviour(next) {
      behaviour = next;
    },
    script(...behaviours) {
      queue.push(...behaviours);
    },
    reset() {
      requests.length = 0;
      maxInFlight = inFlight;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
