import { beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { makeJpeg } from '@semclip/test-kit/images';
import { chatChunk, sseEvent, startRawUpstream } from '@semclip/test-kit/server-upstream';
import { b64, dataUrl, gateScorer, postJson, startTestServer, until } from './_test-helpers.js';

// When the shutdown grace expires, what is left is answered 503 SHUTTING_DOWN (a stream ends
// with an error event), not reset.

let photo: Uint8Array;
beforeAll(async () => {
  photo = await makeJpeg({ width: 320, height: 240, pattern: 'quadrants' });
});

async function errorOf(res: Response): Promise<{ status: number; code: string; connection: string | null }> {
  const body = (await res.json()) as { error: { code: string } };
  return { status: res.status, code: body.error.code, connection: res.headers.get('connection') };
}

describe('shutdown grace', () => {
  it('when the grace expires, the request being worked on and the queued one are answered 503 SHUTTING_DOWN', async () => {
    const gate = gateScorer();
    const t = await startTestServer({ scorers: [gate], scorer: 'gate', warmup: false, limits: { concurrency: 1 } });
    const body = { image: b64(photo), question: 'q' };
    const working = postJson(`${t.url}/v1/select`, body);
    await gate.waitEntered();
    const queued = postJson(`${t.url}/v1/select`, body);
    await until(() => t.server.inFlight === 2, 5000, 'one working, one queued');
    await t.server.close({ graceMs: 300 });
    for (const res of await Promise.all([working, queued])) {
      expect(await errorOf(res)).toEqual({ status: 503, code: 'SHUTTING_DOWN', connection: 'close' });
    }
    expect(gate.aborts).toBe(1);
    expect(t.logs.map((l) => l.event)).toContain('cancelled-in-flight');
  });

  it('a body still arriving when the grace expires is answered 503', async () => {
    const t = await startTestServer({ limits: { minBodyRate: 0 } });
    const { port } = new URL(t.url);
    const socket = connect(Number(port), '127.0.0.1');
    let raw = '';
    socket.on('data', (d: Buffer) => (raw += d.toString()));
    socket.on('error', () => undefined);
    socket.write('POST /v1/select HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"image":');
    await until(() => t.server.inFlight === 1, 5000, 'the upload');
    await t.server.close({ graceMs: 300 });
    await until(() => raw.includes('SHUTTING_DOWN'), 5000, 'the answer');
    expect(raw).toMatch(/^HTTP\/1\.1 503 /);
    socket.destroy();
  });

  it('a stream still running when the grace expires ends with one SHUTTING_DOWN error event', async () => {
    const up = await startRawUpstream(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseEvent(chatChunk('Hello')));
      await new Promise((r) => setTimeout(r, 10_000));
      if (!res.destroyed) res.end(sseEvent('[DONE]'));
    });
    const t = await startTestServer({ upstream: up.url });
    try {
      const res = await postJson(`${t.url}/v1/chat/completions`, {
        model: 'm',
        stream: true,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'q' },
              { type: 'image_url', image_url: { url: dataUrl(photo) } },
            ],
          },
        ],
      });
      expect(res.status).toBe(200);
      const text = res.text();
      await until(() => up.requests.length === 1, 5000, 'the upstream call');
      await t.server.close({ graceMs: 300 });
      const events = (await text).split('\n\n').filter(Boolean);
      expect(events[0]).toContain('"content":"Hello"');
      expect(events).toHaveLength(2);
      expect(JSON.parse((events[1] as string).slice('data: '.length))).toMatchObject({ error: { code: 'SHUTTING_DOWN', type: 'server_error' } });
    } finally {
      await up.close();
    }
  });
});
