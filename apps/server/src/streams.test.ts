import { beforeAll, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { makeJpeg } from '@semclip/test-kit/images';
import { chatChunk, chatCompletion, sseEvent, startRawUpstream } from '@semclip/test-kit/server-upstream';
import { dataUrl, postJson, startTestServer } from './_test-helpers.js';

// Broken upstream answers must look broken: only complete SSE events are forwarded, a broken
// stream ends with one well-formed error event on its own line and no [DONE], and a non-stream
// answer that did not arrive whole is never a 200.

let photo: Uint8Array;
beforeAll(async () => {
  photo = await makeJpeg({ width: 640, height: 480, pattern: 'quadrants' });
});

type Mode = 'semclip' | 'passthrough';

function chatBody(mode: Mode, stream: boolean): Record<string, unknown> {
  const content =
    mode === 'semclip'
      ? [
          { type: 'text', text: 'What is in the top-left?' },
          { type: 'image_url', image_url: { url: dataUrl(photo) } },
        ]
      : 'Hello there';
  return { model: 'm', stream, messages: [{ role: 'user', content }] };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PARTIAL = 'data: {"id":"chatcmpl-raw","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"LOST';

/** Upstream stream faults: each sends two complete events, then breaks in its own way. */
const STREAM_FAULTS: ReadonlyArray<readonly [string, (res: ServerResponse) => Promise<void>, RegExp, string]> = [
  [
    'killed mid-event',
    async (res) => {
      res.write(PARTIAL);
      await pause(30);
      res.socket?.destroy();
    },
    /broke off before it was complete/,
    'UPSTREAM_ERROR',
  ],
  [
    'ended cleanly in the middle of an event',
    async (res) => {
      res.end(PARTIAL);
    },
    /ended in the middle of an event/,
    'UPSTREAM_ERROR',
  ],
  [
    'killed between events',
    async (res) => {
      await pause(30);
      res.socket?.destroy();
    },
    /broke off before it was complete/,
    'UPSTREAM_ERROR',
  ],
  [
    'stalled mid-event',
    async (res) => {
      res.write(PARTIAL);
      await pause(3000);
      res.end();
    },
    /stalled for more than 300 ms/,
    'UPSTREAM_TIMEOUT',
  ],
];

async function brokenStreamUpstream(fault: (res: ServerResponse) => Promise<void>) {
  return startRawUpstream(async (_r, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(sseEvent(chatChunk('Hello ')));
    res.write(sseEvent(chatChunk('wor')));
    await pause(20);
    await fault(res);
  });
}

/** The SSE events of a body, checking that every one is complete and its data is JSON. */
function parseEvents(text: string): unknown[] {
  expect(text.endsWith('\n\n'), 'the body ends at an event boundary').toBe(true);
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((event) => {
      const lines = event.split('\n');
      expect(lines, `one data line per event: ${event.slice(0, 120)}`).toHaveLength(1);
      const m = /^data: (.*)$/.exec(lines[0] as string);
      expect(m, `a data line: ${event.slice(0, 120)}`).not.toBeNull();
      const data = (m as RegExpExecArray)[1] as string;
      return data === '[DONE]' ? '[DONE]' : (JSON.parse(data) as unknown);
    });
}

describe.each(['semclip', 'passthrough'] as const)('a broken upstream stream (%s)', (mode) => {
  it.each(STREAM_FAULTS)('%s: complete events, then one error event on its own line, no [DONE]', async (_name, fault, message, code) => {
    const up = await brokenStreamUpstream(fault);
    const t = await startTestServer({ upstream: up.url, limits: { upstreamTimeoutMs: 300 } });
    try {
      const res = await postJson(`${t.url}/v1/chat/completions`, chatBody(mode, true));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-semclip')).toBe(mode === 'semclip' ? 'applied' : 'passthrough');
      const text = await res.text();
      expect(text).not.toContain('LOST');
      expect(text).not.toContain('[DONE]');
      const events = parseEvents(text);
      const contents = events.slice(0, -1).map((e) => (e as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content);
      expect(contents).toEqual(['Hello ', 'wor']);
      expect(events.at(-1)).toEqual({ error: { message: expect.stringMatching(message), type: 'server_error', param: null, code } });
      expect(events.filter((e) => typeof e === 'object' && e !== null && 'error' in e)).toHaveLength(1);
    } finally {
      await t.close();
      await up.close();
    }
  });

  it.each(STREAM_FAULTS)('%s: the official openai client gets the chunks, then raises APIError', async (_name, fault, message) => {
    const up = await brokenStreamUpstream(fault);
    const t = await startTestServer({ upstream: up.url, limits: { upstreamTimeoutMs: 300 } });
    try {
      const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const stream = await client.chat.completions.create(chatBody(mode, true) as never);
      const seen: string[] = [];
      const err = await (async () => {
        for await (const chunk of stream as unknown as AsyncIterable<{ choices: Array<{ delta?: { content?: string } }> }>)
          seen.push(chunk.choices[0]?.delta?.content ?? '');
      })().catch((e: unknown) => e);
      expect(seen.join('')).toBe('Hello wor');
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as Error).message).toMatch(message);
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('a stream that ends at an event boundary without [DONE] is forwarded as it is: no made-up [DONE]', async () => {
    const up = await startRawUpstream(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseEvent(chatChunk('Hello')));
      res.end(sseEvent(chatChunk(null)));
    });
    const t = await startTestServer({ upstream: up.url });
    try {
      const text = await (await postJson(`${t.url}/v1/chat/completions`, chatBody(mode, true))).text();
      const events = parseEvents(text);
      expect(events).not.toContain('[DONE]');
      expect(events.some((e) => typeof e === 'object' && e !== null && 'error' in e)).toBe(false);
      expect(events.length).toBe(mode === 'semclip' ? 3 : 2);
    } finally {
      await t.close();
      await up.close();
    }
  });
});

/** Non-stream answers that do not arrive whole. */
const BODY_FAULTS: ReadonlyArray<readonly [string, (res: ServerResponse, body: string) => Promise<void>]> = [
  [
    'killed after half of a declared Content-Length',
    async (res, body) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
      res.write(body.slice(0, body.length >> 1));
      await pause(30);
      res.socket?.destroy();
    },
  ],
  [
    'killed after half of a chunked body',
    async (res, body) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(body.slice(0, body.length >> 1));
      await pause(30);
      res.socket?.destroy();
    },
  ],
];

describe.each(['semclip', 'passthrough'] as const)('a non-stream upstream answer cut midway (%s)', (mode) => {
  it.each(BODY_FAULTS)('%s: 502 UPSTREAM_ERROR, never a 200; the openai client raises APIError', async (_name, fault) => {
    const body = JSON.stringify(chatCompletion('a fine answer '.repeat(200)));
    const up = await startRawUpstream(async (_r, res) => fault(res, body));
    const t = await startTestServer({ upstream: up.url });
    try {
      const res = await postJson(`${t.url}/v1/chat/completions`, chatBody(mode, false));
      expect(res.status).toBe(502);
      const json = (await res.json()) as { error: { code: string; message: string; type: string } };
      expect(json.error).toMatchObject({ code: 'UPSTREAM_ERROR', type: 'server_error' });
      expect(json.error.message).toMatch(/broke/);
      const client = new OpenAI({ baseURL: `${t.url}/v1`, apiKey: 'x', maxRetries: 0 });
      const err = await client.chat.completions.create(chatBody(mode, false) as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    } finally {
      await t.close();
      await up.close();
    }
  });
});

describe.each(['semclip', 'passthrough'] as const)('upstream replies over maxUpstreamReplyBytes (%s)', (mode) => {
  it('a non-stream reply over the cap is a 502 UPSTREAM_BAD_RESPONSE, not buffered whole', async () => {
    let written = 0;
    const up = await startRawUpstream(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"chatcmpl-raw","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"');
      const chunk = 'x'.repeat(64 * 1024);
      // Up to 64 MiB, or until the proxy stops reading.
      for (let i = 0; i < 1024 && !res.destroyed; i++) {
        written += chunk.length;
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r).once('close', r));
      }
      if (!res.destroyed) res.end('"}}]}');
    });
    const t = await startTestServer({ upstream: up.url, limits: { maxUpstreamReplyBytes: 1024 * 1024 } });
    try {
      const res = await postJson(`${t.url}/v1/chat/completions`, chatBody(mode, false));
      expect(res.status).toBe(502);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(json.error.code).toBe('UPSTREAM_BAD_RESPONSE');
      expect(json.error.message).toMatch(/over the 1\.0 MiB limit/);
      expect(written).toBeLessThan(32 * 1024 * 1024);
    } finally {
      await t.close();
      await up.close();
    }
  });

  it('a stream event over the cap ends the stream with an error event', async () => {
    const up = await startRawUpstream(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sseEvent(chatChunk('Hello')));
      res.write('data: {"huge":"');
      const chunk = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 64 && !res.destroyed; i++) {
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r).once('close', r));
      }
      if (!res.destroyed) res.end('"}\n\n');
    });
    const t = await startTestServer({ upstream: up.url, limits: { maxUpstreamReplyBytes: 1024 * 1024 } });
    try {
      const text = await (await postJson(`${t.url}/v1/chat/completions`, chatBody(mode, true))).text();
      const events = parseEvents(text);
      expect(events).toHaveLength(2);
      expect(events[1]).toMatchObject({ error: { code: 'UPSTREAM_BAD_RESPONSE', message: expect.stringMatching(/event over the 1\.0 MiB limit/) } });
    } finally {
      await t.close();
      await up.close();
    }
  });
});
