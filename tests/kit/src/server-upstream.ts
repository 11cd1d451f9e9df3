import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the upstream received it: the exact bytes of the body, and its JSON when it parses. */
export interface RawRecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly raw: Buffer;
  readonly json: Record<string, unknown> | undefined;
}

export interface RawUpstream {
  /** API root, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string;
  readonly requests: RawRecordedRequest[];
  /** Requests whose client went away before the answer was complete. */
  readonly aborted: number;
  close(): Promise<void>;
}

export type RawHandler = (request: RawRecordedRequest, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

/**
 * A bare HTTP upstream on 127.0.0.1 for fault tests of a proxy: it records each request's raw
 * body and hands the response to `handle`, which may answer, stall, stream, or destroy the
 * socket mid-answer. `GET <prefix>/models` answers a model list unless `handle` does.
 *
 * @example
 * ```ts
 * const up = await startRawUpstream(async (_r, res) => {
 *   res.writeHead(200, { 'content-type': 'text/event-stream' });
 *   res.write(sseEvent(chatChunk('Hel')));
 *   res.socket?.destroy(); // killed mid-stream
 * });
 * ```
 */
export async function startRawUpstream(handle: RawHandler, options: { prefix?: string } = {}): Promise<RawUpstream> {
  const prefix = options.prefix ?? '/v1';
  const requests: RawRecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let aborted = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const raw = Buffer.concat(chunks);
      let json: Record<string, unknown> | undefined;
      try {
        json = raw.length ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const recorded: RawRecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, raw, json };
      requests.push(recorded);
      res.on('close', () => {
        if (!res.writableFinished) aborted++;
      });
      if (req.method === 'GET' && path === `${prefix}/models` && handle.length < 2) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'raw-vlm', object: 'model' }] }));
        return;
      }
      await handle(recorded, res, req);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `raw upstream bug: ${String(err)}` } }));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    requests,
    get aborted() {
      return aborted;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** One OpenAI `chat.completion.chunk` with a content delta (or a finish reason when `content` is null). */
export function chatChunk(content: string | null, model = 'raw-vlm'): Record<string, unknown> {
  return {
    id: 'chatcmpl-raw',
    object: 'chat.completion.chunk',
    created: 0,
    model,
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: content === null ? 'stop' : null }],
  };
}

/** A server-sent event carrying JSON (or the `[DONE]` marker). */
export function sseEvent(data: unknown): string {
  return `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** A complete non-streaming chat completion. */
export function chatCompletion(content: string, model = 'raw-vlm'): Record<string, unknown> {
  return {
    id: 'chatcmpl-raw',
    object: 'chat.completion',
    created: 0,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}
