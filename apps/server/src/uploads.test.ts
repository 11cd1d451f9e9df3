import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { makeJpeg } from '@semclip/test-kit/images';
import { b64, gateScorer, postJson, startTestServer, until } from './_test-helpers.js';
import type { TestServer } from './_test-helpers.js';

// Bodies are read before a request takes a work slot, within a time limit and a minimum rate;
// what can be refused from the headers is refused unread, and the refusal reaches the client.

let photo: Uint8Array;
let body: string;
beforeAll(async () => {
  photo = await makeJpeg({ width: 320, height: 240, pattern: 'quadrants' });
  body = JSON.stringify({ image: b64(photo), question: 'What is in the top-left?' });
});

const servers: TestServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((t) => t.close()));
});

async function start(config: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const t = await startTestServer(config);
  servers.push(t);
  return t;
}

interface RawResponse {
  /** The final status (a 100 Continue before it is in `raw`). */
  readonly status: number;
  readonly raw: string;
  readonly json: { error?: { code?: string; message?: string } } | undefined;
}

function parse(raw: string): RawResponse {
  const finalStart = raw.startsWith('HTTP/1.1 100') ? raw.indexOf('HTTP/1.1', 12) : 0;
  const head = raw.slice(finalStart);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const bodyText = head.slice(head.indexOf('\r\n\r\n') + 4);
  let json: RawResponse['json'];
  try {
    json = JSON.parse(bodyText) as RawResponse['json'];
  } catch {
    json = undefined;
  }
  return { status, raw, json };
}

interface RawClient {
  readonly socket: Socket;
  /** Bytes of the body written so far. */
  readonly sent: () => number;
  /** Resolves once the server has answered completely (or closed the connection). */
  readonly response: Promise<RawResponse>;
  /** Resolves when the first bytes of an answer arrive, with the body bytes sent by then. */
  readonly firstByte: Promise<number>;
  stop(): void;
}

/**
 * A raw HTTP/1.1 POST: the head, then the body as `send` says: all at once, paced, or not at all
 * (a client that waits for 100 Continue). With `readAfterSend`, the response is read only once
 * the whole body is written (as Python's http.client and many other clients do).
 */
function rawPost(
  url: string,
  path: string,
  options: {
    headers?: Record<string, string>;
    length: number;
    send: 'all' | 'none' | { bytes: number; everyMs: number };
    readAfterSend?: boolean;
    chunkSize?: number;
  },
): RawClient {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  let sent = 0;
  let stopped = false;
  let raw = '';
  let onFirst: (n: number) => void = () => {};
  const firstByte = new Promise<number>((r) => (onFirst = r));
  const headers = { host: 'x', 'content-type': 'application/json', 'content-length': String(options.length), ...options.headers };
  socket.write(
    `POST ${path} HTTP/1.1\r\n${Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`,
  );
  const response = new Promise<RawResponse>((resolve) => {
    const done = (): void => resolve(parse(raw));
    socket.on('data', (d: Buffer) => {
      if (raw === '') onFirst(sent);
      raw += d.toString('latin1');
      const r = parse(raw);
      const length = /\r\ncontent-length: (\d+)/i.exec(raw.slice(raw.indexOf(`HTTP/1.1 ${r.status}`)))?.[1];
      const bodyStart = raw.indexOf('\r\n\r\n', raw.indexOf(`HTTP/1.1 ${r.status}`));
      if (r.status >= 200 && length !== undefined && bodyStart > 0 && raw.length - bodyStart - 4 >= Number(length)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
  });
  const chunk = Buffer.alloc(options.chunkSize ?? 64 * 1024, 0x20);
  if (options.send === 'all') {
    if (options.readAfterSend) socket.pause();
    const pump = (): void => {
      while (sent < options.length && !stopped && !socket.destroyed) {
        const n = Math.min(chunk.length, options.length - sent);
        sent += n;
        if (!socket.write(chunk.subarray(0, n))) return void socket.once('drain', pump);
      }
      if (options.readAfterSend) socket.write('', () => socket.resume());
    };
    pump();
  } else if (typeof options.send === 'object') {
    const { bytes, everyMs } = options.send;
    const timer = setInterval(() => {
      if (stopped || socket.destroyed || sent >= options.length) return clearInterval(timer);
      const n = Math.min(bytes, options.length - sent);
      sent += n;
      socket.write(Buffer.alloc(n, 0x20));
    }, everyMs);
    socket.on('close', () => clearInterval(timer));
  }
  return {
    socket,
    sent: () => sent,
    response,
    firstByte,
    stop: () => {
      stopped = true;
    },
  };
}

async function ready(url: string): Promise<{ saturated: boolean; load: { work: Record<string, number>; uploads: Record<string, number> } }> {
  return (await (await fetch(`${url}/readyz`)).json()) as { saturated: boolean; load: { work: Record<string, number>; uploads: Record<string, number> } };
}

describe('slow uploads', () => {
  it('clients uploading slowly, twice as many as the work slots, hold no slot: a normal request is answered while they still send', async () => {
    const t = await start({ limits: { concurrency: 2, minBodyRate: 0, bodyTimeoutMs: 60_000 } });
    const slow = Array.from({ length: 4 }, () => rawPost(t.url, '/v1/select', { length: 100_000, send: { bytes: 1, everyMs: 200 } }));
    await until(() => slow.every((s) => s.sent() > 0), 5000, 'the slow clients to start');
    await until(() => t.server.inFlight === 4, 5000, 'four requests in flight');
    const res = await postJson(`${t.url}/v1/select`, body, {}, AbortSignal.timeout(20_000));
    expect(res.status).toBe(200);
    expect(slow.every((s) => !s.socket.destroyed)).toBe(true);
    const r = await ready(t.url);
    expect(r.load.uploads.in_progress).toBe(4);
    expect(r.load.work).toMatchObject({ busy: 0, waiting: 0, arriving: 4 });
    expect(r.saturated).toBe(false);
  });

  it('a body arriving slower than minBodyRate gets 408 BODY_TIMEOUT, which the client reads', async () => {
    const t = await start({ limits: { minBodyRate: 1000, bodyRateWindowMs: 300 } });
    const slow = rawPost(t.url, '/v1/select', { length: 100_000, send: { bytes: 1, everyMs: 100 } });
    const res = await slow.response;
    expect(res.status).toBe(408);
    expect(res.json?.error).toMatchObject({ code: 'BODY_TIMEOUT', message: expect.stringMatching(/under the server's minimum of 1000 bytes\/s/) });
    expect(res.raw).toMatch(/\r\nconnection: close\r\n/i);
    expect(slow.sent()).toBeLessThan(100_000);
    await until(() => slow.socket.destroyed, 15_000, 'the connection to close');
  });

  it('a body not complete within bodyTimeoutMs gets 408 BODY_TIMEOUT', async () => {
    const t = await start({ limits: { minBodyRate: 0, bodyTimeoutMs: 800 } });
    const slow = rawPost(t.url, '/v1/select', { length: 1_000_000, send: { bytes: 1024, everyMs: 50 } });
    const res = await slow.response;
    expect(res.status).toBe(408);
    expect(res.json?.error).toMatchObject({ code: 'BODY_TIMEOUT', message: expect.stringMatching(/did not arrive within 0\.8 s/) });
  });

  it('one upload more than maxUploadsPerIp from an address is refused at once (429), never told to send its body', async () => {
    const t = await start({ limits: { maxUploadsPerIp: 2, minBodyRate: 0 } });
    const slow = [0, 1].map(() => rawPost(t.url, '/v1/select', { length: 100_000, send: { bytes: 1, everyMs: 200 } }));
    await until(() => t.server.inFlight === 2, 5000, 'two uploads in progress');
    const third = rawPost(t.url, '/v1/select', { length: body.length, send: 'none', headers: { expect: '100-continue' } });
    const res = await third.response;
    expect(res.raw).not.toMatch(/^HTTP\/1\.1 100/);
    expect(res.status).toBe(429);
    expect(res.json?.error).toMatchObject({ code: 'OVERLOADED', message: expect.stringMatching(/2 requests from your address are still sending/) });
    for (const s of slow) s.stop();
  });

  it('a body that would pass maxBodyMemoryBytes is refused (429) from its Content-Length', async () => {
    const MiB = 1024 * 1024;
    const t = await start({ limits: { maxBodyBytes: MiB, maxBodyMemoryBytes: 1.5 * MiB, minBodyRate: 0 } });
    const first = rawPost(t.url, '/v1/select', { length: MiB, send: { bytes: 1, everyMs: 200 } });
    await until(() => t.server.inFlight === 1, 5000, 'the first upload');
    const second = await rawPost(t.url, '/v1/select', { length: MiB, send: 'none', headers: { expect: '100-continue' } }).response;
    expect(second.status).toBe(429);
    expect(second.json?.error?.message).toMatch(/holds 1\.0 MiB of request bodies/);
    expect((await ready(t.url)).load.uploads.body_bytes).toBe(MiB);
    first.socket.destroy();
    await until(() => t.server.inFlight === 0, 5000, 'the first upload to end');
    expect((await ready(t.url)).load.uploads).toMatchObject({ in_progress: 0, body_bytes: 0 });
  });
});

describe('refusals come before the body', () => {
  const KEY = 'sk-semclip-test-0123456789abcdef';

  it.each([
    ['no API key', 401, 'UNAUTHORIZED', { apiKey: KEY }, {}],
    ['a Content-Length over maxBodyBytes', 413, 'PAYLOAD_TOO_LARGE', { limits: { maxBodyBytes: 1024 } }, {}],
    ['a media type the route does not take', 415, 'UNSUPPORTED_MEDIA_TYPE', {}, { 'content-type': 'text/plain' }],
  ] as const)('%s: answered at once, without a 100 Continue', async (_name, status, code, config, headers) => {
    const t = await start(config);
    const res = await rawPost(t.url, '/v1/select', { length: body.length, send: 'none', headers: { expect: '100-continue', ...headers } }).response;
    expect(res.raw).not.toMatch(/^HTTP\/1\.1 100/);
    expect(res.status).toBe(status);
    expect(res.json?.error?.code).toBe(code);
    expect(res.raw).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('a full queue: 429 at once, without a 100 Continue', async () => {
    const gate = gateScorer();
    const t = await start({ scorers: [gate], scorer: 'gate', warmup: false, limits: { concurrency: 1, maxQueue: 0 } });
    const first = postJson(`${t.url}/v1/select`, body);
    await gate.waitEntered();
    const res = await rawPost(t.url, '/v1/select', { length: body.length, send: 'none', headers: { expect: '100-continue' } }).response;
    expect(res.raw).not.toMatch(/^HTTP\/1\.1 100/);
    expect(res.status).toBe(429);
    expect(res.json?.error?.code).toBe('OVERLOADED');
    gate.release();
    expect((await first).status).toBe(200);
  });

  it('an admitted request that waits for 100 Continue gets it, sends its body and is answered 200', async () => {
    const t = await start({});
    const client = rawPost(t.url, '/v1/select', { length: Buffer.byteLength(body), send: 'none', headers: { expect: '100-continue' } });
    await client.firstByte;
    client.socket.write(body);
    const res = await client.response;
    expect(res.raw).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n/);
    expect(res.status).toBe(200);
  });

  it('a refused body is answered before it has been sent, not after it is read', async () => {
    const gate = gateScorer();
    const t = await start({ scorers: [gate], scorer: 'gate', warmup: false, limits: { concurrency: 1, maxQueue: 0 } });
    const first = postJson(`${t.url}/v1/select`, body);
    await gate.waitEntered();
    const total = 4 * 1024 * 1024;
    const client = rawPost(t.url, '/v1/select', { length: total, send: { bytes: 64 * 1024, everyMs: 20 } });
    const sentWhenAnswered = await client.firstByte;
    expect(sentWhenAnswered).toBeLessThan(total);
    expect((await client.response).status).toBe(429);
    client.stop();
    gate.release();
    expect((await first).status).toBe(200);
  });

  it.each([
    ['413 (Content-Length over the limit)', 413, { limits: { maxBodyBytes: 1024 * 1024 } }, {}],
    ['401 (no API key)', 401, { apiKey: KEY }, {}],
  ] as const)('%s reaches all of 20 clients that send their whole 8 MiB body before reading', async (_name, status, config, headers) => {
    const t = await start(config);
    const clients = Array.from({ length: 20 }, () => rawPost(t.url, '/v1/select', { length: 8 * 1024 * 1024, send: 'all', readAfterSend: true, headers }));
    const statuses = await Promise.all(clients.map(async (c) => (await c.response).status));
    expect(statuses).toEqual(Array(20).fill(status));
  });
});

describe('/readyz', () => {
  it('reports the load, and saturation when a new request would be refused', async () => {
    const gate = gateScorer();
    const t = await start({ scorers: [gate], scorer: 'gate', warmup: false, limits: { concurrency: 1, maxQueue: 1 } });
    expect(await ready(t.url)).toMatchObject({ saturated: false, load: { work: { busy: 0, slots: 1, waiting: 0, queue: 1 } } });
    const requests = [postJson(`${t.url}/v1/select`, body), postJson(`${t.url}/v1/select`, body)];
    await gate.waitEntered();
    await until(() => t.server.inFlight === 2, 5000, 'one working, one waiting');
    await until(() => gate.entered === 1, 5000, 'the first to work');
    const r = await ready(t.url);
    expect(r).toMatchObject({ saturated: true, load: { work: { busy: 1, waiting: 1 }, uploads: { in_progress: 0 } } });
    gate.release();
    await gate.waitEntered(2);
    gate.release();
    expect((await Promise.all(requests)).map((x) => x.status)).toEqual([200, 200]);
    expect((await ready(t.url)).saturated).toBe(false);
  });
});
