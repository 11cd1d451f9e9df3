import { beforeAll, describe, expect, it } from 'vitest';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { makeJpeg } from '@semclip/test-kit/images';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { chatChunk, sseEvent, startRawUpstream } from '@semclip/test-kit/server-upstream';
import { b64, dataUrl, gateScorer, postJson, startTestServer, until } from './_test-helpers.js';

let photo: Uint8Array;
beforeAll(async () => {
  photo = await makeJpeg({ width: 800, height: 600, pattern: 'quadrants' });
});

function chatBody(stream = false): Record<string, unknown> {
  return {
    model: 'm',
    stream,
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in the top-left?' },
          { type: 'image_url', image_url: { url: dataUrl(photo) } },
        ],
      },
    ],
  };
}

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string; type?: string }> {
  const body = (await res.json()) as { error: { code: string; message: string; type?: string } };
  return { status: res.status, ...body.error };
}

async function healthy(url: string): Promise<void> {
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  const res = await postJson(`${url}/v1/select`, { image: b64(photo), question: 'still alive?' });
  expect(res.status).toBe(200);
}

/** A port with nothing listening (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('upstream faults', () => {
  it('upstream killed mid-stream: the client gets the chunks so far, then an error event; the server stays up', async () => {
    const up = await startRawUpstream(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseEvent(chatChunk('Hello ')));
      res.write(sseEvent(chatChunk('wor')));
      await new Promise((r) => setTimeout(r, 50));
      res.socket?.destroy();
    });
    const t = await startTestServer({ upstream: up.url });
    try {
      const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const stream = await client.chat.completions.create(chatBody(true) as never);
      const seen: string[] = [];
      const err = await (async () => {
        for await (const chunk of stream as unknown as AsyncIterable<{ choices: Array<{ delta: { content?: string } }> }>)
          seen.push(chunk.choices[0]?.delta.content ?? '');
      })().catch((e: unknown) => e);
      expect(seen.join('')).toBe('Hello wor');
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as Error).message).toMatch(/broke off before it was complete/);
      await healthy(t.url);
      expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(/^semclip_upstream_errors_total\{kind="stream"\} 1$/m);
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('a stream that stalls longer than the upstream timeout ends with an UPSTREAM_TIMEOUT error event', async () => {
    const up = await startRawUpstream(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseEvent(chatChunk('slow')));
      await new Promise((r) => setTimeout(r, 3000));
      res.end();
    });
    const t = await startTestServer({ upstream: up.url, limits: { upstreamTimeoutMs: 300 } });
    try {
      const res = await postJson(`${t.url}/v1/chat/completions`, chatBody(true));
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('"content":"slow"');
      expect(text).toMatch(
        /data: \{"error":\{"message":"The upstream stream stalled for more than 300 ms[^"]*","type":"server_error","param":null,"code":"UPSTREAM_TIMEOUT"\}\}\n\n$/,
      );
      await healthy(t.url);
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('a steady stream longer than the upstream timeout is not cut off (the limit is per gap)', async () => {
    const up = await startRawUpstream(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 8; i++) {
        res.write(sseEvent(chatChunk(`${i} `)));
        await new Promise((r) => setTimeout(r, 100));
      }
      res.end(sseEvent('[DONE]'));
    });
    const t = await startTestServer({ upstream: up.url, limits: { upstreamTimeoutMs: 300 } });
    try {
      const res = await postJson(`${t.url}/v1/chat/completions`, chatBody(true));
      const events = (await res.text()).split('\n\n').filter(Boolean);
      expect(events.filter((e) => e.includes('"content"'))).toHaveLength(8);
      expect(events.at(-2)).toContain('"semclip":{"applied":true');
      expect(events.at(-1)).toBe('data: [DONE]');
      expect(events.join('')).not.toContain('"error"');
    } finally {
      await t.close();
      await up.close();
    }
  });

  it.each([
    ['slow beyond the timeout', 504, 'UPSTREAM_TIMEOUT', { latencyMs: 3000 }, /did not answer within 300 ms/],
    ['a 500', 502, 'UPSTREAM_ERROR', { failStatus: 500, failMessage: 'CUDA out of memory' }, /failed \(500\): CUDA out of memory/],
    ['a 503', 502, 'UPSTREAM_ERROR', { failStatus: 503 }, /failed \(503\)/],
    ['malformed JSON', 502, 'UPSTREAM_BAD_RESPONSE', { malformed: true }, /not JSON/],
    ['a 400 of its own', 400, 'UPSTREAM_ERROR', { singleImage: true }, /upstream answered 400: This server supports only one image/],
    ['a 429', 429, 'UPSTREAM_RATE_LIMITED', { failStatus: 429, retryAfter: 7 }, /rate-limiting/],
    ['a dropped connection', 502, 'UPSTREAM_ERROR', { drop: true }, /broke/],
  ] as const)('upstream %s -> %i %s, and the server stays healthy', async (_name, status, code, behaviour, message) => {
    const fake = await startFakeOpenAI({ behaviour });
    const t = await startTestServer({ upstream: fake.url, limits: { upstreamTimeoutMs: 300 } });
    try {
      const res = await postJson(`${t.url}/v1/chat/completions`, chatBody());
      const err = await errorOf(res);
      expect(err.status).toBe(status);
      expect(err.code).toBe(code);
      expect(err.message).toMatch(message);
      expect(err.type).toBe(status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error');
      if (status === 429) expect(res.headers.get('retry-after')).toBe('7');
      await healthy(t.url);
    } finally {
      await t.close();
      await fake.close();
    }
  });

  it('upstream down: chat is 502, /readyz is 503 naming the upstream, /healthz stays 200', async () => {
    const port = await deadPort();
    const t = await startTestServer({ upstream: `http://127.0.0.1:${port}/v1` });
    try {
      const err = await errorOf(await postJson(`${t.url}/v1/chat/completions`, chatBody()));
      expect(err).toMatchObject({ status: 502, code: 'UPSTREAM_ERROR' });
      expect(err.message).toMatch(/Could not connect to the upstream .* \(ECONNREFUSED\)/);
      const ready = await fetch(`${t.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({ status: 'not ready', checks: { models: 'ok', upstream: 'upstream unreachable (ECONNREFUSED)' } });
      const models = await fetch(`${t.url}/v1/models`);
      expect(models.status).toBe(502);
      await healthy(t.url);
    } finally {
      await t.close();
    }
  });
});

describe('cancellation, deadlines and overload', () => {
  it('a client that disconnects mid-request cancels the scorer work', async () => {
    const gate = gateScorer();
    const t = await startTestServer({ scorers: [gate], scorer: 'gate', warmup: false });
    try {
      const controller = new AbortController();
      const pending = postJson(`${t.url}/v1/select`, { image: b64(photo), question: 'q' }, {}, controller.signal).catch((e: unknown) => e);
      await gate.waitEntered();
      controller.abort();
      expect(await pending).toBeInstanceOf(Error);
      await until(() => gate.aborts === 1, 5000, 'the scorer to see the abort');
      await until(() => t.server.inFlight === 0, 5000, 'the request to end');
      const log = t.logs.find((l) => l.event === 'request' && l.route === '/v1/select');
      expect(log?.status).toBe(499);
    } finally {
      await t.close();
    }
  });

  it('a client that disconnects while the upstream works aborts the upstream request', async () => {
    const up = await startRawUpstream(async (_r, res) => {
      await new Promise((r) => setTimeout(r, 5000));
      if (!res.destroyed) res.end('{}');
    });
    const t = await startTestServer({ upstream: up.url });
    try {
      const controller = new AbortController();
      const pending = postJson(`${t.url}/v1/chat/completions`, chatBody(), {}, controller.signal).catch((e: unknown) => e);
      await until(() => up.requests.length === 1, 5000, 'the upstream request');
      controller.abort();
      await pending;
      await until(() => up.aborted === 1, 5000, 'the upstream to see its client go');
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('the request deadline answers 504 and cancels the work', async () => {
    const gate = gateScorer();
    const t = await startTestServer({ scorers: [gate], scorer: 'gate', warmup: false, limits: { requestTimeoutMs: 300 } });
    try {
      const err = await errorOf(await postJson(`${t.url}/v1/select`, { image: b64(photo), question: 'q' }));
      expect(err).toMatchObject({ status: 504, code: 'REQUEST_TIMEOUT' });
      expect(gate.aborts).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('beyond the queue: 429 with Retry-After at once, and the queued requests still finish', async () => {
    const gate = gateScorer();
    const t = await startTestServer({ scorers: [gate], scorer: 'gate', warmup: false, limits: { concurrency: 1, maxQueue: 2 } });
    try {
      const body = { image: b64(photo), question: 'q' };
      const first = postJson(`${t.url}/v1/select`, body);
      await gate.waitEntered();
      const queued = [postJson(`${t.url}/v1/select`, body), postJson(`${t.url}/v1/select`, body)];
      await until(() => (t.server as unknown as { inFlight: number }).inFlight === 3, 5000, 'three requests in flight');
      const started = performance.now();
      const refused = await postJson(`${t.url}/v1/select`, body);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await errorOf(refused)).code).toBe('OVERLOADED');
      for (let i = 0; i < 3; i++) {
        await gate.waitEntered(i + 1);
        gate.release();
      }
      const statuses = await Promise.all([first, ...queued].map(async (p) => (await p).status));
      expect(statuses).toEqual([200, 200, 200]);
      expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(/^semclip_http_requests_total\{route="\/v1\/select",method="POST",status="429"\} 1$/m);
    } finally {
      gate.release();
      await t.close();
    }
  });

  it('close() drains: in-flight requests finish, new ones are refused, models are disposed', async () => {
    const gate = gateScorer();
    let disposed = 0;
    gate.dispose = () => {
      disposed++;
    };
    const t = await startTestServer({ scorers: [gate], scorer: 'gate', warmup: false });
    const inflight = postJson(`${t.url}/v1/select`, { image: b64(photo), question: 'q' });
    await gate.waitEntered();
    const closing = t.server.close({ graceMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    const refused = await fetch(`${t.url}/healthz`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(refused).toBe('refused');
    expect(disposed).toBe(0);
    gate.release();
    expect((await inflight).status).toBe(200);
    await closing;
    expect(disposed).toBe(1);
    expect(t.logs.map((l) => l.event)).toContain('drained');
  });
});
