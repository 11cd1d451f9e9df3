import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { SemclipError, isSemclipError } from '@semclip/core';
import { checkDeclaredLength, mediaType, readBody, rememberBody } from './_body.js';
import { chatRoute, modelsRoute } from './_chat.js';
import { resolveServerConfig } from './_config.js';
import type { ResolvedServerConfig, ServerConfig } from './_config.js';
import { HttpError, describeError, openaiErrorBody, semclipErrorBody } from './_errors.js';
import { makeLogger } from './_log.js';
import { Metrics } from './_metrics.js';
import { ModelPool, upstreamOf } from './_models.js';
import { PAGE_HTML } from './_page.js';
import type { WorkContext } from './_pipeline.js';
import { WorkQueue } from './_queue.js';
import { allowListOf } from './_remote.js';
import { answerRoute, selectRoute } from './_routes.js';
import type { ServerState } from './_state.js';
import { Uploads, hasBody, lingerOnClose } from './_upload.js';

type Vars = {
  requestId: string;
  started: number;
  work: WorkContext;
  deadline: AbortController;
};

/** A running SemClip server (see `createServer`). */
export interface SemclipServer {
  readonly config: ResolvedServerConfig;
  /** The request handler, usable without a socket: `await server.fetch(new Request('http://x/healthz'))`. */
  fetch(request: Request): Promise<Response>;
  /** Binds the HTTP server (default: the config's host and port); resolves once listening. */
  listen(options?: { port?: number; host?: string }): Promise<{ url: string; host: string; port: number }>;
  /** `http://host:port` once listening. */
  readonly url: string | undefined;
  /** Requests being handled now. */
  readonly inFlight: number;
  /**
   * Stops accepting requests, lets in-flight ones finish (streams included) for up to
   * `graceMs` (default `limits.shutdownGraceMs`), cancels what is left, and disposes the models.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

const OPENAI_ROUTES = new Set(['/v1/chat/completions', '/v1/models']);
const ROUTES = new Set(['/', '/healthz', '/readyz', '/metrics', '/v1/info', '/v1/select', '/v1/answer', '/v1/chat/completions', '/v1/models']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** The media types each body route takes; a request with another is refused by its route, unread. */
const BODY_ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/v1/select': ['application/json', 'multipart/form-data'],
  '/v1/answer': ['application/json', 'multipart/form-data'],
  '/v1/chat/completions': ['application/json', ''],
};

/** How long answers to cancelled requests get to go out once the shutdown grace has expired. */
const SHUTDOWN_FLUSH_MS = 1000;

type NodeEnv = { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Creates a SemClip server: loads (and warms up) the scorers and the runner once, and returns
 * a handler plus `listen()`/`close()`. Routes: `POST /v1/select`, `POST /v1/answer`,
 * `POST /v1/chat/completions` (OpenAI-compatible proxy), `GET /v1/models`, `GET /v1/info`,
 * `GET /healthz`, `GET /readyz`, `GET /metrics`, and the web page at `GET /`.
 *
 * @example
 * ```ts
 * import { createServer } from '@semclip/server';
 *
 * const server = await createServer({
 *   scorer: 'ocr',
 *   upstream: 'http://127.0.0.1:8000/v1', // vLLM serving llava-hf/llava-1.5-7b-hf
 *   model: 'llava-hf/llava-1.5-7b-hf',
 * });
 * const { url } = await server.listen({ port: 8080 });
 * console.log(`SemClip on ${url}`);
 * process.once('SIGTERM', () => void server.close());
 * ```
 */
export async function createServer(input: ServerConfig = {}): Promise<SemclipServer> {
  const config = resolveServerConfig(input);
  allowListOf(config.remoteImages.allowAddresses);
  const upstream = upstreamOf(config);
  const log = makeLogger(config.log);
  const pool = await ModelPool.load(config);
  log({ level: 'info', event: 'models-loaded', scorers: [...pool.scorers.keys()], runner: pool.runner?.id ?? null, durationMs: Math.round(pool.loadMs) });

  const metrics = new Metrics();
  const work = new WorkQueue('work', config.limits.concurrency, config.limits.maxQueue);
  const upstreamQueue = new WorkQueue('upstream', config.limits.maxUpstreamInFlight, 0);
  metrics.addGauge('semclip_queue_active', 'Slots in use, by queue.', () => [
    [{ queue: 'work' }, work.active],
    [{ queue: 'upstream' }, upstreamQueue.active],
  ]);
  metrics.addGauge('semclip_queue_waiting', 'Requests waiting for a slot, by queue.', () => [[{ queue: 'work' }, work.waiting]]);
  const uploads = new Uploads(config.limits);
  metrics.addGauge('semclip_uploads_in_progress', 'Request bodies still arriving (read before a work slot is taken).', () => [[{}, uploads.inProgress]]);
  metrics.addGauge('semclip_request_body_bytes', 'Bytes of request bodies held in memory (arriving, waiting, being worked on).', () => [[{}, uploads.bytes]]);
  const shutdown = new AbortController();
  let closing = false;
  let httpServer: Server | undefined;
  let url: string | undefined;
  const version = readVersion();
  const apiKeyDigest = config.apiKey ? digest(config.apiKey) : undefined;

  const state: ServerState = {
    config,
    pool,
    metrics,
    log,
    work,
    upstream: upstreamQueue,
    upstreamUrl: upstream?.url,
    upstreamModel: upstream?.model,
    version,
    elapsed: (c) => performance.now() - (c.get('started') as number),
    requestId: (c) => c.get('requestId') as string,
  };

  const app = new Hono<{ Variables: Vars }>();

  function errorResponse(c: Context<{ Variables: Vars }>, err: unknown): Response {
    // Work cut off by its signal fails with whatever the scorer or runner throws; what the client
    // sees is why it was cut off: the deadline (504), shutdown (503), or its own disconnect (499).
    let effective = err;
    if (c.get('work')?.signal.aborted && !(err instanceof HttpError && err.status === 429)) {
      const deadline = c.get('deadline');
      if (deadline?.signal.aborted) effective = deadline.signal.reason as HttpError;
      else if (shutdown.signal.aborted)
        effective = new HttpError(503, 'SHUTTING_DOWN', 'The server shut down before the request finished.', { connection: 'close' });
      else if (!isSemclipError(err, 'ABORTED')) effective = new SemclipError('ABORTED', 'The client disconnected; the work was cancelled.', { cause: err });
    }
    const info = describeError(effective);
    const body = OPENAI_ROUTES.has(c.req.path) ? openaiErrorBody(info) : semclipErrorBody(info);
    if (info.status >= 500 && info.status !== 503 && info.status !== 499) {
      const cause = info.cause instanceof Error ? (info.cause.cause instanceof Error ? info.cause.cause : info.cause) : undefined;
      log({
        level: 'error',
        event: 'error',
        requestId: c.get('requestId'),
        route: c.req.path,
        errorCode: info.code,
        message: info.message,
        ...(cause && info.code === 'INTERNAL' ? { stack: cause.stack } : {}),
      });
    }
    return c.json(body, info.status as 400, { ...info.headers, 'x-semclip-error': String(info.code) });
  }

  app.use('*', async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.set('started', started);
    metrics.inFlight++;
    try {
      await next();
    } finally {
      metrics.inFlight--;
      c.res.headers.set('x-request-id', requestId);
      // An answer sent before its body arrived (a refusal) closes the connection: the rest of the
      // body is read and dropped after the answer (lingerOnClose), never parsed as a next request.
      // While shutting down, every connection closes after its answer.
      const incoming = (c.env as NodeEnv)?.incoming;
      if (closing || (incoming && !incoming.complete && hasBody(incoming))) c.res.headers.set('connection', 'close');
      const route = ROUTES.has(c.req.path) ? c.req.path : 'other';
      const seconds = (performance.now() - started) / 1000;
      metrics.requests.inc({ route, method: c.req.method, status: String(c.res.status) });
      metrics.duration.observe({ route }, seconds);
      const code = c.res.status >= 400 ? c.res.headers.get('x-semclip-error') : null;
      log({
        level: c.res.status >= 500 ? 'error' : c.res.status >= 400 ? 'warn' : 'info',
        event: 'request',
        requestId,
        method: c.req.method,
        route,
        status: c.res.status,
        durationMs: Math.round(seconds * 1000),
        ...(code ? { errorCode: code } : {}),
      });
    }
  });

  // Auth before anything reads a body; the page and the probes stay open.
  app.use('*', async (c, next) => {
    if (!apiKeyDigest || !(c.req.path.startsWith('/v1/') || c.req.path === '/metrics')) return next();
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(header.trim());
    const given = m?.[1] ?? c.req.header('x-api-key') ?? '';
    if (!given || !timingSafeEqual(digest(given), apiKeyDigest)) {
      throw new HttpError(401, 'UNAUTHORIZED', given ? 'The API key is not valid.' : 'This server needs an API key: send "Authorization: Bearer <key>".', {
        'www-authenticate': 'Bearer',
      });
    }
    return next();
  });

  // Work routes: refuse while shutting down; give the work a signal for disconnects, the deadline and shutdown.
  app.use('/v1/*', async (c, next) => {
    if (closing) {
      throw new HttpError(503, 'SHUTTING_DOWN', 'The server is shutting down; retry on another instance.', { connection: 'close', 'retry-after': '1' });
    }
    const deadline = new AbortController();
    c.set('deadline', deadline);
    const limit = config.limits.requestTimeoutMs;
    const timer = setTimeout(
      () => deadline.abort(new HttpError(504, 'REQUEST_TIMEOUT', `The request did not finish within the server's ${Math.round(limit / 1000)} s limit.`)),
      limit,
    );
    const signal = AbortSignal.any([c.req.raw.signal, deadline.signal, shutdown.signal]);
    c.set('work', { config, pool, metrics, signal, timings: {} });
    try {
      await next();
    } finally {
      clearTimeout(timer);
    }
  });

  // Bodies are read here, before the request takes a work slot, so a slow upload holds a place
  // in the queue and a connection but never a slot. Everything that can be refused from the
  // headers is refused first, unread: the size, the client's address having too many uploads
  // in progress, a full queue, the body memory budget. Then the body must arrive within
  // bodyTimeoutMs and no slower than minBodyRate.
  app.use('/v1/*', async (c, next) => {
    const types = c.req.method === 'POST' ? BODY_ROUTES[c.req.path] : undefined;
    if (!types) return next();
    const request = c.req.raw;
    // Requests their route refuses from the headers alone (the media type, no VLM, no upstream) go there unread.
    if (!types.includes(mediaType(request)) || (c.req.path === '/v1/answer' && !pool.runner) || (c.req.path === '/v1/chat/completions' && !upstream)) {
      return next();
    }
    const limits = config.limits;
    const declared = checkDeclaredLength(request, limits.maxBodyBytes);
    const env = c.env as NodeEnv;
    const signal = c.get('work').signal;
    const upload = uploads.begin(env?.incoming?.socket.remoteAddress ?? 'local', declared);
    let giveBack: (() => void) | undefined;
    try {
      giveBack = work.admit(signal);
      // A client that asked to wait (Expect: 100-continue) sends its body only now.
      if (env?.outgoing && /100-continue/i.test(c.req.header('expect') ?? '')) env.outgoing.writeContinue();
      const body = await readBody(request, limits.maxBodyBytes, {
        timeoutMs: limits.bodyTimeoutMs,
        minRate: limits.minBodyRate,
        windowMs: limits.bodyRateWindowMs,
        signal,
        onChunk: (n) => upload.reserve(n),
      });
      upload.finish();
      rememberBody(request, body);
      await next();
    } finally {
      upload.release();
      giveBack?.();
    }
  });

  app.onError((err, c) => errorResponse(c, err));

  app.notFound((c) =>
    errorResponse(
      c,
      new HttpError(
        404,
        'NOT_FOUND',
        `There is no route ${c.req.method} ${c.req.path}. See GET / for the page, POST /v1/select, POST /v1/answer, POST /v1/chat/completions.`,
      ),
    ),
  );

  app.get('/', (c) =>
    c.html(PAGE_HTML, 200, {
      'cache-control': 'no-cache',
      'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
    }),
  );
  app.get('/favicon.ico', (c) => c.body(null, 204));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  let upstreamCheck: { at: number; ok: boolean; message: string } | undefined;
  async function checkUpstream(): Promise<{ ok: boolean; message: string }> {
    if (!upstream) return { ok: true, message: 'not configured' };
    if (upstreamCheck?.ok && performance.now() - upstreamCheck.at < 2000) return upstreamCheck;
    const headers: Record<string, string> = {};
    if (config.upstreamApiKey) headers.authorization = `Bearer ${config.upstreamApiKey}`;
    let result: { ok: boolean; message: string };
    try {
      const res = await config.fetch(`${upstream.url}/models`, { headers, signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      result = res.ok ? { ok: true, message: 'ok' } : { ok: false, message: `upstream answered ${res.status}` };
    } catch (err) {
      result = {
        ok: false,
        message: `upstream unreachable (${(err as Error).name === 'TimeoutError' ? 'timeout' : ((err as { cause?: { code?: string } }).cause?.code ?? 'error')})`,
      };
    }
    upstreamCheck = { ...result, at: performance.now() };
    return result;
  }

  app.get('/readyz', async (c) => {
    const up = await checkUpstream();
    const models = closing ? 'shutting down' : 'ok';
    const ready = !closing && up.ok;
    // Saturated: a new work request would be refused (429) now, every slot busy and the queue full.
    const saturated = work.full || uploads.bytes >= config.limits.maxBodyMemoryBytes;
    return c.json(
      {
        status: ready ? 'ready' : 'not ready',
        checks: { models, upstream: up.message },
        saturated,
        load: {
          work: { busy: work.active, slots: work.concurrency, waiting: work.waiting, arriving: work.admitted, queue: work.maxQueue },
          uploads: { in_progress: uploads.inProgress, body_bytes: uploads.bytes, body_memory: config.limits.maxBodyMemoryBytes },
          upstream: { busy: upstreamQueue.active, slots: upstreamQueue.concurrency },
        },
      },
      ready ? 200 : 503,
    );
  });

  app.get('/metrics', (c) => c.text(metrics.render(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }));

  app.get('/v1/info', (c) =>
    c.json({
      object: 'semclip.info',
      version,
      scorers: [...pool.scorers.keys()],
      scorer: config.scorer,
      grid: config.grid,
      k: config.k,
      merge: config.merge,
      answer: pool.runner ? { model: pool.runner.model } : null,
      chat: upstream ? { model: upstream.model ?? null, composite: config.composite } : null,
      remote_images: config.allowRemoteImages,
      svg: config.allowSvg,
      limits: {
        max_body_bytes: config.limits.maxBodyBytes,
        max_pixels: config.limits.maxPixels,
        max_question_chars: config.limits.maxQuestionChars,
        max_tiles: config.limits.maxTiles,
        max_response_bytes: config.limits.maxResponseBytes,
      },
    }),
  );

  app.post('/v1/select', (c) => selectRoute(c, state, c.get('work')));
  app.post('/v1/answer', (c) => answerRoute(c, state, c.get('work')));
  app.post('/v1/chat/completions', (c) => chatRoute(c, state, c.get('work')));
  app.get('/v1/models', (c) => modelsRoute(c, state, c.get('work')));
  for (const [path, allow] of [
    ['/v1/select', 'POST'],
    ['/v1/answer', 'POST'],
    ['/v1/chat/completions', 'POST'],
    ['/v1/models', 'GET'],
    ['/v1/info', 'GET'],
  ] as const) {
    app.all(path, (c) => errorResponse(c, new HttpError(405, 'METHOD_NOT_ALLOWED', `${c.req.method} is not allowed on ${path}; use ${allow}.`, { allow })));
  }

  const fetchHandler = (request: Request, env?: unknown): Promise<Response> => Promise.resolve(app.fetch(request, env as never));

  return {
    config,
    fetch: (request) => fetchHandler(request),
    get url() {
      return url;
    },
    get inFlight() {
      return metrics.inFlight;
    },
    async listen(options = {}) {
      if (httpServer) throw new SemclipError('INVALID_ARGUMENT', 'The server is already listening.');
      if (closing) throw new SemclipError('INVALID_ARGUMENT', 'The server was closed; create a new one.');
      const host = options.host ?? config.host;
      const port = options.port ?? config.port;
      const listener = getRequestListener(fetchHandler, { overrideGlobalObjects: false });
      const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
        if (lingerOnClose(req)) void listener(req, res);
      };
      const { headersTimeoutMs, bodyTimeoutMs } = config.limits;
      const server = createHttpServer(
        {
          headersTimeout: headersTimeoutMs,
          // A backstop: the body's own limits (bodyTimeoutMs, minBodyRate) answer 408 first.
          requestTimeout: headersTimeoutMs + bodyTimeoutMs + 5000,
          connectionsCheckingInterval: Math.min(1000, headersTimeoutMs),
          keepAliveTimeout: 5000,
        },
        onRequest,
      );
      // Expect: 100-continue is answered by the body middleware, only once the request is admitted.
      server.on('checkContinue', onRequest);
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => {
          reject(
            new SemclipError('INVALID_ARGUMENT', `Cannot listen on ${host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.message}.`, {
              cause: err,
              hint: err.code === 'EADDRINUSE' ? 'Pick another port with --port, or stop the other server' : 'Check --host and --port',
            }),
          );
        });
        server.listen(port, host, () => resolve());
      });
      httpServer = server;
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      url = `http://${shown}:${address.port}`;
      log({ level: 'info', event: 'listening', url, version });
      return { url, host: address.address, port: address.port };
    },
    async close(options = {}) {
      if (closing) return;
      closing = true;
      const grace = options.graceMs ?? config.limits.shutdownGraceMs;
      log({ level: 'info', event: 'shutdown', inFlight: metrics.inFlight, graceMs: grace });
      if (httpServer) {
        const server = httpServer;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        let timer: NodeJS.Timeout | undefined;
        const expired = new Promise<'expired'>((resolve) => {
          timer = setTimeout(() => resolve('expired'), grace);
        });
        const outcome = await Promise.race([closed.then(() => 'drained' as const), expired]);
        clearTimeout(timer);
        if (outcome === 'expired') {
          // What is left (working, queued, bodies arriving, streams) is cancelled and answered
          // 503 SHUTTING_DOWN, streams with an error event; the connections close once that is
          // out, and only what has not closed by then is cut.
          shutdown.abort(
            new HttpError(503, 'SHUTTING_DOWN', 'The server shut down before the request finished; retry on another instance.', {
              connection: 'close',
              'retry-after': '1',
            }),
          );
          let flush: NodeJS.Timeout | undefined;
          await Promise.race([closed, new Promise<void>((resolve) => (flush = setTimeout(resolve, SHUTDOWN_FLUSH_MS)))]);
          clearTimeout(flush);
          server.closeAllConnections();
          await closed;
        }
        log({ level: 'info', event: outcome === 'drained' ? 'drained' : 'cancelled-in-flight' });
      }
      shutdown.abort(new SemclipError('ABORTED', 'The server shut down.'));
      await pool.dispose();
    },
  };
}
