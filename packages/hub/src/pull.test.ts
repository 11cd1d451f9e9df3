import { randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync, readdirSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isSemclipError } from '@semclip/core';
import { startFakeHub, manifestFor, fakeRevision, type FakeHub, type FakeHubOptions } from '@semclip/test-kit/hub-server';
import { ensureModel, modelDir, modelStatus, parseManifest, pullModel, removeModel, verifyModel, type PullOptions, type PullProgress } from './index.js';

const REPO = 'test-org/tiny-clip';
const REV = fakeRevision('tiny-clip');
const enc = (s: string) => new TextEncoder().encode(s);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function modelFiles(): Record<string, Uint8Array> {
  return {
    'config.json': enc(JSON.stringify({ model_type: 'clip', projection_dim: 8 })),
    'tokenizer.json': enc(JSON.stringify({ version: '1.0', model: { type: 'BPE' } })),
    'onnx/vision_model.onnx': new Uint8Array(randomBytes(300_000)),
    'onnx/text_model.onnx': new Uint8Array(randomBytes(120_000)),
  };
}

const hubs: FakeHub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

async function setup(options: { files?: Record<string, Uint8Array>; unknown?: string[]; hub?: Partial<FakeHubOptions> } = {}) {
  const files = options.files ?? modelFiles();
  const hub = await startFakeHub({ repos: { [REPO]: { revision: REV, files } }, ...options.hub });
  hubs.push(hub);
  const manifest = parseManifest(manifestFor(REPO, REV, files, { id: 'tiny-clip', unknown: options.unknown ?? [] }));
  const cacheDir = mkdtempSync(path.join(tmpdir(), 'semclip-hub-pull-'));
  const opts = { cacheDir, endpoint: hub.url, env: {} as NodeJS.ProcessEnv, retry: { minDelayMs: 1, maxDelayMs: 5 } };
  const dir = modelDir(manifest, opts);
  return { hub, files, manifest, cacheDir, opts, dir };
}

const gets = (hub: FakeHub, file?: string) => hub.requests.filter((r) => r.method === 'GET' && (file === undefined || r.file === file));

describe('pullModel', () => {
  it('downloads every file into <cacheDir>/models/<repo> and verifies it', async () => {
    const { hub, files, manifest, opts, dir } = await setup();
    const result = await pullModel(manifest, opts);
    expect(result.status).toBe('downloaded');
    expect(result.verified).toBe(true);
    expect(result.dir).toBe(dir);
    expect(result.downloadedBytes).toBe(Object.values(files).reduce((a, b) => a + b.byteLength, 0));
    for (const [p, bytes] of Object.entries(files)) {
      expect(sha(readFileSync(path.join(dir, p)))).toBe(sha(bytes));
      expect(existsSync(path.join(dir, `${p}.partial`))).toBe(false);
    }
    expect(hub.requests.every((r) => r.url.startsWith(`/${REPO}/resolve/${REV}/`))).toBe(true);
    const report = await verifyModel(manifest, opts);
    expect(report.ok).toBe(true);
    expect(report.files.map((f) => f.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const sidecar = JSON.parse(readFileSync(path.join(dir, '.semclip.json'), 'utf8'));
    expect(sidecar).toMatchObject({ repo: REPO, revision: REV, models: ['tiny-clip'] });
    expect(sidecar.files['config.json']).toMatchObject({ sha256: sha(files['config.json']!), source: 'manifest', revision: REV });
  });

  it('is up to date on a second pull and downloads nothing', async () => {
    const { hub, manifest, opts } = await setup();
    await pullModel(manifest, opts);
    const before = gets(hub).length;
    const again = await pullModel(manifest, opts);
    expect(again.status).toBe('up-to-date');
    expect(again.files.every((f) => f.action === 'cached')).toBe(true);
    expect(gets(hub).length).toBe(before);
  });

  it('reports per-file and overall progress', async () => {
    const { files, manifest, opts } = await setup();
    const events: PullProgress[] = [];
    await pullModel(manifest, { ...opts, onProgress: (p) => events.push(p) });
    const total = Object.values(files).reduce((a, b) => a + b.byteLength, 0);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ phase: 'file-done', bytes: total, total });
    const vision = events.filter((e) => e.file === 'onnx/vision_model.onnx' && e.phase === 'downloading');
    expect(vision.at(-1)).toMatchObject({ fileBytes: 300_000, fileTotal: 300_000 });
    const overall = events.map((e) => e.bytes);
    expect(overall).toEqual([...overall].sort((a, b) => a - b));
  });

  it('detects a corrupted download by its checksum and fetches it again', async () => {
    const { hub, files, manifest, opts, dir } = await setup({ hub: { faults: [{ kind: 'corrupt', file: 'onnx/vision_model.onnx' }] } });
    const result = await pullModel(manifest, opts);
    expect(result.status).toBe('downloaded');
    expect(gets(hub, 'onnx/vision_model.onnx').map((r) => r.fault)).toEqual(['corrupt', undefined]);
    expect(sha(readFileSync(path.join(dir, 'onnx/vision_model.onnx')))).toBe(sha(files['onnx/vision_model.onnx']!));
  });

  it('fails with MODEL_CHECKSUM_MISMATCH when the hub keeps serving other bytes', async () => {
    const { manifest, opts, dir } = await setup({ hub: { faults: [{ kind: 'corrupt', file: 'config.json', times: 5 }] } });
    await expect(pullModel(manifest, opts)).rejects.toMatchObject({ code: 'MODEL_CHECKSUM_MISMATCH', message: expect.stringContaining('config.json') });
    expect(existsSync(path.join(dir, 'config.json'))).toBe(false);
    expect(existsSync(path.join(dir, 'config.json.partial'))).toBe(false);
  });

  it('resumes a connection dropped mid-file with a Range request', async () => {
    const { hub, files, manifest, opts, dir } = await setup({ hub: { faults: [{ kind: 'drop', file: 'onnx/vision_model.onnx', afterBytes: 100_000 }] } });
    const result = await pullModel(manifest, opts);
    const attempts = gets(hub, 'onnx/vision_model.onnx');
    expect(attempts).toHaveLength(2);
    expect(attempts[0]).toMatchObject({ fault: 'drop', status: 200 });
    expect(attempts[0]!.range).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(attempts[1]!.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(100_000);
    expect(attempts[1]!.status).toBe(206);
    expect(attempts[1]!.bytesSent).toBe(300_000 - resumedAt);
    expect(sha(readFileSync(path.join(dir, 'onnx/vision_model.onnx')))).toBe(sha(files['onnx/vision_model.onnx']!));
    expect(result.status).toBe('downloaded');
  });

  it('starts the file over when the server ignores Range and answers 200', async () => {
    const { hub, files, manifest, opts, dir } = await setup({
      hub: {
        faults: [
          { kind: 'drop', file: 'onnx/text_model.onnx', afterBytes: 50_000 },
          { kind: 'ignore-range', file: 'onnx/text_model.onnx' },
        ],
      },
    });
    await pullModel(manifest, opts);
    const attempts = gets(hub, 'onnx/text_model.onnx');
    expect(attempts[1]).toMatchObject({ status: 200, fault: 'ignore-range' });
    expect(attempts[1]!.range).toBeDefined();
    expect(sha(readFileSync(path.join(dir, 'onnx/text_model.onnx')))).toBe(sha(files['onnx/text_model.onnx']!));
  });

  it('resumes a .partial left by an earlier, cancelled pull', async () => {
    const { hub, files, manifest, opts, dir } = await setup({
      hub: { faults: [{ kind: 'slow', file: 'onnx/vision_model.onnx', chunkBytes: 16_384, delayMs: 5 }] },
    });
    const controller = new AbortController();
    const first = pullModel(manifest, {
      ...opts,
      signal: controller.signal,
      onProgress: (p) => {
        if (p.file === 'onnx/vision_model.onnx' && p.fileBytes >= 64_000) controller.abort();
      },
    });
    await expect(first).rejects.toMatchObject({ code: 'ABORTED' });
    const partial = readFileSync(path.join(dir, 'onnx/vision_model.onnx.partial'));
    expect(partial.byteLength).toBeGreaterThan(0);
    const result = await pullModel(manifest, opts);
    const vision = result.files.find((f) => f.path === 'onnx/vision_model.onnx')!;
    expect(vision.action).toBe('resumed');
    expect(gets(hub, 'onnx/vision_model.onnx').at(-1)!.range).toBe(`bytes=${partial.byteLength}-`);
    expect(sha(readFileSync(path.join(dir, 'onnx/vision_model.onnx')))).toBe(sha(files['onnx/vision_model.onnx']!));
  });

  it.each([
    { status: 500, kind: 'a server error' },
    { status: 503, kind: 'an unavailable hub' },
    { status: 429, kind: 'rate limiting' },
  ])('retries $kind (HTTP $status) with backoff', async ({ status }) => {
    const { hub, manifest, opts } = await setup({ hub: { faults: [{ kind: 'status', status, file: 'config.json', times: 2 }] } });
    await pullModel(manifest, opts);
    expect(gets(hub, 'config.json').map((r) => r.status)).toEqual([status, status, 200]);
  });

  it('gives up with DOWNLOAD_FAILED after the retries run out, keeping other files', async () => {
    const { manifest, opts, dir } = await setup({ hub: { faults: [{ kind: 'status', status: 502, file: 'tokenizer.json', times: 100 }] } });
    await expect(pullModel(manifest, { ...opts, retry: { retries: 2, minDelayMs: 1, maxDelayMs: 2 } })).rejects.toMatchObject({
      code: 'DOWNLOAD_FAILED',
      message: expect.stringContaining('tokenizer.json'),
    });
    expect(existsSync(path.join(dir, 'config.json'))).toBe(true);
  });

  it('retries a stalled connection', async () => {
    const { hub, manifest, opts } = await setup({ hub: { faults: [{ kind: 'slow', file: 'config.json', chunkBytes: 8, delayMs: 400 }] } });
    await pullModel(manifest, { ...opts, retry: { minDelayMs: 1, maxDelayMs: 2, stallTimeoutMs: 100 } });
    expect(gets(hub, 'config.json').length).toBeGreaterThanOrEqual(2);
  });

  it('fails with DOWNLOAD_FAILED naming the folder when the cache cannot be written', async () => {
    const { manifest, opts } = await setup();
    const notADir = path.join(mkdtempSync(path.join(tmpdir(), 'semclip-hub-ro-')), 'file');
    writeFileSync(notADir, 'x');
    await expect(pullModel(manifest, { ...opts, cacheDir: path.join(notADir, 'cache') })).rejects.toMatchObject({
      code: 'DOWNLOAD_FAILED',
      message: expect.stringContaining(notADir),
      hint: expect.stringContaining('SEMCLIP_CACHE_DIR'),
    });
  });

  it('fails fast with DOWNLOAD_FAILED on a 404 (wrong manifest)', async () => {
    const { hub, files, opts } = await setup();
    const wrong = parseManifest(manifestFor(REPO, fakeRevision('other'), files, { id: 'tiny-clip' }));
    await expect(pullModel(wrong, opts)).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('404') });
    expect(gets(hub)).toHaveLength(1);
  });

  it('follows the hub redirect to a CDN with Range preserved', async () => {
    const { hub, files, manifest, opts, dir } = await setup({
      hub: { redirect: true, faults: [{ kind: 'drop', file: 'onnx/vision_model.onnx', afterBytes: 70_000 }] },
    });
    await pullModel(manifest, opts);
    const cdn = hub.requests.filter((r) => r.url.startsWith('/__cdn/') && r.file === 'onnx/vision_model.onnx');
    expect(cdn.at(-1)!.range).toMatch(/^bytes=\d+-$/);
    expect(sha(readFileSync(path.join(dir, 'onnx/vision_model.onnx')))).toBe(sha(files['onnx/vision_model.onnx']!));
  });

  it('lets two concurrent pulls of one model take turns without corrupting files', async () => {
    const { hub, files, manifest, opts, dir } = await setup({
      hub: { faults: [{ kind: 'slow', file: 'onnx/vision_model.onnx', chunkBytes: 65_536, delayMs: 5 }] },
    });
    const waits: string[] = [];
    const [a, b] = await Promise.all([
      pullModel(manifest, opts),
      pullModel(manifest, { ...opts, onProgress: (p) => p.phase === 'waiting' && waits.push(p.id) }),
    ]);
    expect([a.status, b.status].sort()).toEqual(['downloaded', 'up-to-date']);
    for (const p of Object.keys(files)) expect(gets(hub, p)).toHaveLength(1);
    for (const [p, bytes] of Object.entries(files)) expect(sha(readFileSync(path.join(dir, p)))).toBe(sha(bytes));
    expect(readdirSync(dir).filter((n) => n.includes('.partial') || n.includes('.lock'))).toEqual([]);
  });

  it('waits for a live lock held by another host and can be cancelled while waiting', async () => {
    const { hub, manifest, opts, dir } = await setup();
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, '.semclip.lock'), JSON.stringify({ pid: 1, host: 'another-host', token: 'live', since: '' }));
    const controller = new AbortController();
    const phases: string[] = [];
    const pending = pullModel(manifest, { ...opts, signal: controller.signal, onProgress: (p) => phases.push(p.phase) });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED' });
    expect(phases).toEqual(['waiting']);
    expect(hub.requests).toHaveLength(0);
  });

  it('breaks a lock from another host that stopped being refreshed', async () => {
    const { manifest, opts, dir } = await setup();
    mkdirSync(dir, { recursive: true });
    const lock = path.join(dir, '.semclip.lock');
    writeFileSync(lock, JSON.stringify({ pid: 1, host: 'another-host', token: 'old', since: '' }));
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, old, old);
    await expect(pullModel(manifest, opts)).resolves.toMatchObject({ status: 'downloaded' });
    expect(existsSync(lock)).toBe(false);
  });

  it('breaks a lock left behind by a process that died', async () => {
    const { manifest, opts, dir } = await setup();
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, '.semclip.lock'),
      JSON.stringify({ pid: 2 ** 22 + 12345, host: (await import('node:os')).hostname(), token: 'dead', since: '' }),
    );
    await expect(pullModel(manifest, opts)).resolves.toMatchObject({ status: 'downloaded' });
  });
});

describe('trust on first download', () => {
  it('records the hash of a file with no published hash and checks it afterwards', async () => {
    const { hub, manifest, opts, dir } = await setup({ unknown: ['config.json'] });
    expect(manifest.verified).toBe(false);
    const result = await pullModel(manifest, opts);
    expect(result.verified).toBe(false);
    expect(result.files.find((f) => f.path === 'config.json')!.hashSource).toBe('first-download');
    const sidecar = JSON.parse(readFileSync(path.join(dir, '.semclip.json'), 'utf8'));
    expect(sidecar.files['config.json'].source).toBe('first-download');
    expect((await verifyModel(manifest, opts)).ok).toBe(true);

    writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ model_type: 'evil', projection_dim: 8 }).padEnd(readFileSync(path.join(dir, 'config.json')).length),
    );
    const report = await verifyModel(manifest, opts);
    expect(report.files.find((f) => f.path === 'config.json')!.status).toBe('hash-mismatch');

    // The repair must match the recorded hash too: a hub now serving other bytes is refused.
    hub.setFile(REPO, 'config.json', enc('{"model_type":"changed"}'));
    await expect(pullModel(manifest, opts)).rejects.toMatchObject({ code: 'MODEL_CHECKSUM_MISMATCH', message: expect.stringContaining('first download') });
  });

  it('reports a null overall total until every size is known, with the known part as a lower bound', async () => {
    const { files, manifest, opts } = await setup({ unknown: ['onnx/text_model.onnx'] });
    const events: PullProgress[] = [];
    await pullModel(manifest, { ...opts, onProgress: (p) => events.push(p) });
    const total = Object.values(files).reduce((a, b) => a + b.byteLength, 0);
    const before = events.filter((e) => e.total === null);
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((e) => e.knownTotal === total - 120_000)).toBe(true);
    expect(events.at(-1)).toMatchObject({ total, knownTotal: total, bytes: total });
  });

  it('reports a file with no hash and no record as unverified', async () => {
    const { manifest, opts, dir } = await setup({ unknown: ['config.json'] });
    await pullModel(manifest, opts);
    writeFileSync(path.join(dir, '.semclip.json'), '{}');
    const report = await verifyModel(manifest, opts);
    expect(report.files.find((f) => f.path === 'config.json')!.status).toBe('unverified');
    expect(report.ok).toBe(false);
  });
});

describe('offline mode', () => {
  it.each([
    { how: 'offline: true', extra: { offline: true } as Partial<PullOptions> },
    { how: 'SEMCLIP_OFFLINE=1', extra: { env: { SEMCLIP_OFFLINE: '1' } } as Partial<PullOptions> },
  ])('names the missing files and makes no request ($how)', async ({ extra }) => {
    const { hub, manifest, opts } = await setup();
    try {
      await pullModel(manifest, { ...opts, ...extra });
      expect.unreachable();
    } catch (err) {
      expect(isSemclipError(err, 'OFFLINE')).toBe(true);
      const e = err as Error & { details: { missing: string[] } };
      expect(e.details.missing).toEqual(['config.json', 'tokenizer.json', 'onnx/vision_model.onnx', 'onnx/text_model.onnx']);
      expect(e.message).toContain('onnx/vision_model.onnx');
      expect(e.message).toContain('semclip models pull');
    }
    expect(hub.requests).toHaveLength(0);
  });

  it('succeeds offline when the cache is complete', async () => {
    const { hub, manifest, opts } = await setup();
    await pullModel(manifest, opts);
    const before = hub.requests.length;
    await expect(pullModel(manifest, { ...opts, offline: true })).resolves.toMatchObject({ status: 'up-to-date' });
    expect(hub.requests.length).toBe(before);
  });
});

describe('access tokens', () => {
  const TOKEN = 'hf_SuperSecretToken1234567890';

  it('sends HF_TOKEN as a Bearer header to a gated repository', async () => {
    const { hub, manifest, opts } = await setup({ hub: { faults: [{ kind: 'require-token', token: TOKEN }] } });
    await pullModel(manifest, { ...opts, env: { HF_TOKEN: TOKEN } });
    expect(gets(hub).every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    expect(gets(hub).every((r) => !r.url.includes(TOKEN))).toBe(true);
  });

  it('sends no Authorization header without a token', async () => {
    const { hub, manifest, opts } = await setup();
    await pullModel(manifest, opts);
    expect(gets(hub).every((r) => r.authorization === undefined)).toBe(true);
  });

  it('keeps a refused token out of errors, details and progress', async () => {
    const { manifest, opts } = await setup({ hub: { faults: [{ kind: 'require-token', token: 'hf_the_right_one' }] } });
    const seen: string[] = [];
    let error: unknown;
    try {
      await pullModel(manifest, { ...opts, token: TOKEN, onProgress: (p) => seen.push(JSON.stringify(p)) });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'DOWNLOAD_FAILED', message: expect.stringContaining('401') });
    const e = error as Error & { toJSON(): unknown };
    const everything = [e.message, e.stack ?? '', JSON.stringify(e.toJSON()), String(e.cause ?? ''), ...seen].join('\n');
    expect(everything).not.toContain(TOKEN);
    expect(e.message).toContain('HF_TOKEN');
  });

  it('tells the user to set HF_TOKEN when a gated repository refuses an anonymous pull', async () => {
    const { manifest, opts } = await setup({ hub: { faults: [{ kind: 'require-token', token: TOKEN }] } });
    await expect(pullModel(manifest, opts)).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED', hint: expect.stringContaining('set HF_TOKEN') });
  });
});

describe('verifyModel', () => {
  it('reports missing, size-mismatch and hash-mismatch files', async () => {
    const { files, manifest, opts, dir } = await setup();
    await pullModel(manifest, opts);
    const { rmSync } = await import('node:fs');
    rmSync(path.join(dir, 'tokenizer.json'));
    writeFileSync(path.join(dir, 'config.json'), 'short');
    const vision = readFileSync(path.join(dir, 'onnx/vision_model.onnx'));
    vision[1000] = vision[1000]! ^ 1;
    writeFileSync(path.join(dir, 'onnx/vision_model.onnx'), vision);
    const report = await verifyModel(manifest, opts);
    expect(report.ok).toBe(false);
    expect(Object.fromEntries(report.files.map((f) => [f.path, f.status]))).toEqual({
      'config.json': 'size-mismatch',
      'tokenizer.json': 'missing',
      'onnx/vision_model.onnx': 'hash-mismatch',
      'onnx/text_model.onnx': 'ok',
    });
    // A pull repairs exactly the broken files.
    const repaired = await pullModel(manifest, opts);
    expect(
      repaired.files
        .filter((f) => f.action !== 'cached')
        .map((f) => f.path)
        .sort(),
    ).toEqual(['config.json', 'onnx/vision_model.onnx', 'tokenizer.json']);
    expect((await verifyModel(manifest, opts)).ok).toBe(true);
    expect(sha(readFileSync(path.join(dir, 'config.json')))).toBe(sha(files['config.json']!));
  });
});

describe('ensureModel', () => {
  it('throws MODEL_NOT_DOWNLOADED whose hint is the pull command', async () => {
    const { manifest, opts } = await setup();
    await expect(ensureModel(manifest, opts)).rejects.toMatchObject({
      code: 'MODEL_NOT_DOWNLOADED',
      hint: expect.stringContaining('semclip models pull tiny-clip'),
    });
  });

  it('names the exact command for a bundled model', async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'semclip-hub-ensure-'));
    await expect(ensureModel('clip-vit-large-patch14', { cacheDir, env: {} })).rejects.toMatchObject({
      code: 'MODEL_NOT_DOWNLOADED',
      hint: 'Run: semclip models pull clip-vit-large-patch14',
      message: expect.stringContaining('Run: semclip models pull clip-vit-large-patch14.'),
    });
  });

  it('pulls when asked to and returns the model folder', async () => {
    const { manifest, opts, dir } = await setup();
    await expect(ensureModel(manifest, { ...opts, autoPull: true })).resolves.toBe(dir);
    await expect(ensureModel(manifest, opts)).resolves.toBe(dir);
  });

  it('does not accept a half-downloaded model', async () => {
    const { manifest, opts, dir } = await setup();
    await pullModel(manifest, opts);
    const { rmSync } = await import('node:fs');
    rmSync(path.join(dir, 'onnx/text_model.onnx'));
    expect((await modelStatus(manifest, opts)).state).toBe('partial');
    await expect(ensureModel(manifest, opts)).rejects.toMatchObject({ code: 'MODEL_NOT_DOWNLOADED', message: expect.stringContaining('onnx/text_model.onnx') });
  });
});

describe('removeModel', () => {
  it('deletes the files, leftovers and empty folders', async () => {
    const { manifest, opts, dir, cacheDir } = await setup();
    await pullModel(manifest, opts);
    writeFileSync(path.join(dir, 'onnx/text_model.onnx.partial'), 'x');
    const r = await removeModel(manifest, opts);
    expect(r.status).toBe('removed');
    expect(r.removed).toHaveLength(4);
    expect(r.freedBytes).toBeGreaterThan(420_000);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(path.join(cacheDir, 'models'))).toBe(true);
    expect((await removeModel(manifest, opts)).status).toBe('not-present');
  });

  it('keeps files another pulled model of the same repository still uses', async () => {
    const { files, opts, dir } = await setup();
    const fp32 = parseManifest(
      manifestFor(REPO, REV, { 'config.json': files['config.json']!, 'onnx/vision_model.onnx': files['onnx/vision_model.onnx']! }, { id: 'tiny-fp32' }),
    );
    const other = parseManifest(
      manifestFor(REPO, REV, { 'config.json': files['config.json']!, 'onnx/text_model.onnx': files['onnx/text_model.onnx']! }, { id: 'tiny-text' }),
    );
    await pullModel(fp32, opts);
    await pullModel(other, opts);
    // removeModel looks the other pulled ids up in the registry: register both manifests.
    const mdir = mkdtempSync(path.join(tmpdir(), 'semclip-hub-manifests-'));
    writeFileSync(path.join(mdir, 'fp32.json'), JSON.stringify(fp32));
    writeFileSync(path.join(mdir, 'text.json'), JSON.stringify(other));
    const r = await removeModel(other, { ...opts, env: { SEMCLIP_MANIFEST_PATH: mdir } });
    expect(r).toMatchObject({ status: 'removed', removed: ['onnx/text_model.onnx'], kept: ['config.json'] });
    expect((await modelStatus(fp32, opts)).state).toBe('ready');
    expect(JSON.parse(readFileSync(path.join(dir, '.semclip.json'), 'utf8')).models).toEqual(['tiny-fp32']);
  });
});

describe('bundled manifest downloads', () => {
  it('builds hub URLs as {endpoint}/{repo}/resolve/{revision}/{path}', async () => {
    const hub = await startFakeHub({ repos: {} });
    hubs.push(hub);
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'semclip-hub-url-'));
    await expect(pullModel('clip-vit-base-patch32', { cacheDir, env: { HF_ENDPOINT: `${hub.url}/` }, retry: { retries: 0 } })).rejects.toMatchObject({
      code: 'DOWNLOAD_FAILED',
    });
    expect(hub.requests[0]!.url).toBe('/Xenova/clip-vit-base-patch32/resolve/d15189d7028b43f1d3e65039190477f6af591c2a/config.json');
  });
});
