import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCommand } from 'citty';
import sharp from 'sharp';
import { configFromFlags, serveCommand } from './serve.js';
import { cliAbortController } from '../_signal.js';

const ENV_KEYS = ['SEMCLIP_GRID', 'SEMCLIP_K', 'SEMCLIP_PORT', 'SEMCLIP_SCORER', 'SEMCLIP_API_KEY', 'SEMCLIP_MAX_BODY'];

afterEach(() => {
  for (const k of ENV_KEYS) delete process.env[k];
  vi.restoreAllMocks();
});

/** Runs `semclip serve` in this process; resolves with the URL once it listens. */
function startServe(rawArgs: string[]): { url: Promise<string>; done: Promise<unknown>; lines: string[] } {
  const lines: string[] = [];
  let resolveUrl: (u: string) => void = () => {};
  const url = new Promise<string>((r) => (resolveUrl = r));
  const write = process.stdout.write.bind(process.stdout);
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk);
    for (const line of text.split('\n').filter(Boolean)) {
      lines.push(line);
      try {
        const entry = JSON.parse(line) as { event?: string; url?: string };
        if (entry.event === 'listening' && entry.url) resolveUrl(entry.url);
      } catch {
        // not a log line
      }
    }
    return text.startsWith('{') ? true : write(chunk as string, ...(rest as []));
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const done = runCommand(serveCommand, { rawArgs });
  done.catch(() => resolveUrl(''));
  return { url, done, lines };
}

describe('configFromFlags', () => {
  it('turns flags into a server config, leaving out what was not given', async () => {
    const config = await configFromFlags({ port: '9000', 'max-body': '16MiB', timeout: '30', composite: true, scorers: 'random, ocr' });
    expect(config).toMatchObject({
      port: 9000,
      composite: true,
      scorers: ['random', 'ocr'],
      limits: { maxBodyBytes: 16 * 1024 * 1024, requestTimeoutMs: 30_000 },
    });
    expect(config).not.toHaveProperty('grid');
    expect(config).not.toHaveProperty('merge');
  });

  it.each([
    [{ port: '70000' }, /--port "70000"/],
    [{ 'max-body': 'lots' }, /--max-body/],
    [{ k: '-1' }, /--k "-1"/],
    [{ device: 'tpu' }, /--device "tpu"/],
  ])('refuses %j', async (flags, message) => {
    await expect(configFromFlags(flags)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(message) });
  });
});

describe('semclip serve', () => {
  it('serves with flags over environment over defaults, logs JSON lines, and drains on SIGTERM', async () => {
    expect(process.listeners('SIGTERM')).toHaveLength(0); // emitting SIGTERM below reaches the command only
    process.env.SEMCLIP_GRID = '3x3';
    process.env.SEMCLIP_K = '3';
    process.env.SEMCLIP_PORT = '1'; // overridden by --port
    const run = startServe(['--port', '0', '--host', '127.0.0.1', '--scorer', 'random', '--k', '2']);
    const url = await run.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const info = (await (await fetch(`${url}/v1/info`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ scorers: ['random'], grid: '3x3', k: 2 });
    const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 40 } } })
      .png()
      .toBuffer();
    const res = await fetch(`${url}/v1/select`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: png.toString('base64'), question: 'q', grid: '2x2' }),
    });
    expect(res.status).toBe(200);
    process.emit('SIGTERM');
    await run.done;
    expect(process.listeners('SIGTERM')).toHaveLength(0);
    const events = run.lines.map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events).toEqual(expect.arrayContaining(['models-loaded', 'listening', 'request', 'shutdown', 'drained']));
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('--scorer vlm-yesno scores with the upstream; --scorer vlm-embed with an openai upstream is refused at startup', async () => {
    const { startFakeOpenAI } = await import('@semclip/test-kit/openai-upstream');
    const fake = await startFakeOpenAI({ behaviour: { respond: (r) => (r.texts.some((t) => t.includes('Answer Yes or No')) ? 'Yes' : 'ok') } });
    try {
      const embed = startServe(['--port', '0', '--scorer', 'vlm-embed', '--upstream', fake.url, '--model', 'fake-vlm', '--log', 'off']);
      await expect(embed.done).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/vlm-embed scorer needs a local VLM/) });
      const run = startServe(['--port', '0', '--host', '127.0.0.1', '--scorer', 'vlm-yesno', '--upstream', fake.url, '--model', 'fake-vlm', '--grid', '2x2']);
      const url = await run.url;
      const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 40 } } })
        .png()
        .toBuffer();
      const res = await fetch(`${url}/v1/select`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ image: png.toString('base64'), question: 'What colour is it?' }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { scorer: { id: string }; scores: number[] };
      expect(body.scorer.id).toBe('vlm-yesno');
      expect(body.scores).toHaveLength(4);
      expect(fake.requests).toHaveLength(4);
      process.emit('SIGTERM');
      await run.done;
    } finally {
      await fake.close();
    }
  });

  it('fails clearly when the port is taken', async () => {
    const first = startServe(['--port', '0', '--scorer', 'random', '--log', 'off']);
    // --log off: find the port from the server itself.
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    const second = startServe(['--port', String(port), '--scorer', 'random', '--log', 'off']);
    await expect(second.done).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/the port is in use/) });
    await new Promise<void>((r) => probe.close(() => r()));
    cliAbortController.abort();
    await first.done;
  });
});
