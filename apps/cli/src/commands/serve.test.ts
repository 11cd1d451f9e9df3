import { afterEach, describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
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

  it('turns the upload, upstream-reply and shutdown limits into the config', async () => {
    const config = await configFromFlags({
      'headers-timeout': '5',
      'body-timeout': '30',
      'min-body-rate': '16kib',
      'max-uploads-per-ip': '0',
      'body-memory': '512MiB',
      'max-upstream-reply': '4mb',
      'shutdown-grace': '10',
    });
    expect(config.limits).toEqual({
      headersTimeoutMs: 5000,
      bodyTimeoutMs: 30_000,
      minBodyRate: 16 * 1024,
      maxUploadsPerIp: 0,
      maxBodyMemoryBytes: 512 * 1024 * 1024,
      maxUpstreamReplyBytes: 4_000_000,
      shutdownGraceMs: 10_000,
    });
    expect((await configFromFlags({ 'min-body-rate': '0' })).limits).toEqual({ minBodyRate: 0 });
  });

  it('--allow-svg, --max-tiles and --max-response set allowSvg, limits.maxTiles and limits.maxResponseBytes', async () => {
    const config = await configFromFlags({ 'allow-svg': true, 'max-tiles': '4096', 'max-response': '64MiB' });
    expect(config).toMatchObject({ allowSvg: true, limits: { maxTiles: 4096, maxResponseBytes: 64 * 1024 * 1024 } });
    expect(await configFromFlags({})).not.toHaveProperty('allowSvg');
  });

  it.each([
    [{ port: '70000' }, /--port "70000"/],
    [{ 'max-tiles': '0' }, /--max-tiles "0"/],
    [{ 'max-response': 'big' }, /--max-response/],
    [{ 'max-body': 'lots' }, /--max-body/],
    [{ k: '-1' }, /--k "-1"/],
    [{ device: 'tpu' }, /--device "tpu"/],
    [{ 'shutdown-grace': '-1' }, /--shutdown-grace "-1"/],
    [{ 'min-body-rate': 'fast' }, /--min-body-rate/],
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

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Starts a server process; resolves with its URL from the 'listening' log line. */
function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { event?: string; url?: string };
        if (entry.event === 'listening' && entry.url) resolve(entry.url);
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`the server exited with ${code} before listening`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));
}

describe('semclip serve under a supervisor', () => {
  it('the semclip bin itself: SIGTERM lets the request in flight finish, then exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--host', '127.0.0.1', '--scorer', 'random', '--shutdown-grace', '20'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await listening(child);
      const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 40, b: 40 } } })
        .png()
        .toBuffer();
      const body = JSON.stringify({ image: png.toString('base64'), question: 'q' });
      // A request in flight: half of its body sent, the rest after the SIGTERM.
      const socket = connect(Number(new URL(url).port), '127.0.0.1');
      let raw = '';
      socket.on('data', (d: Buffer) => (raw += d.toString()));
      socket.write(`POST /v1/select HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body.slice(0, 100)}`);
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      socket.write(body.slice(100));
      expect(await exited(child)).toBe(0);
      expect(raw).toMatch(/^HTTP\/1\.1 200 /);
      socket.destroy();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it("the README's `pnpm semclip serve` passes SIGTERM on to the server, which stops", async () => {
    // Its own process group, so that whatever is left can be killed whatever happens.
    const pnpm = spawn('pnpm', ['-s', 'semclip', 'serve', '--port', '0', '--host', '127.0.0.1', '--scorer', 'random'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    try {
      const url = await listening(pnpm);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      pnpm.kill('SIGTERM');
      expect(await exited(pnpm)).toBe(0);
      await expect(fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    } finally {
      try {
        process.kill(-(pnpm.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
});
