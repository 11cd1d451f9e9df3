import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSemclipError } from '@semclip/core';
import type { SemclipErrorCode } from '@semclip/core';
import { corrupted, makeAnimatedGif, makeAnimatedWebp, makeJpeg, makePng, pngHeaderOnly, truncated, writeTemp } from '@semclip/test-kit/images';
import { readImageInfo, tileImage } from './index.js';
import type { TiledImage } from './index.js';

async function codeOf(p: Promise<unknown>): Promise<{ code: SemclipErrorCode; message: string }> {
  try {
    await p;
  } catch (err) {
    if (!isSemclipError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error('expected a SemclipError, nothing was thrown');
}

/** Decoding is lazy: pixel errors surface from the first call that needs pixels. */
async function firstPixels(image: TiledImage): Promise<unknown> {
  return image.crop({ x: 0, y: 0, width: image.size.width, height: image.size.height });
}

describe('typed image errors', () => {
  it('IMAGE_NOT_FOUND names the missing file', async () => {
    const path = join(tmpdir(), 'semclip-does-not-exist', 'photo.jpg');
    for (const run of [() => tileImage(path), () => readImageInfo(path)]) {
      const e = await codeOf(run());
      expect(e.code).toBe('IMAGE_NOT_FOUND');
      expect(e.message).toContain(path);
      expect(e.message).toMatch(/Check the path/);
    }
  });

  it('IMAGE_NOT_FOUND for a relative path says which directory it was resolved from', async () => {
    const e = await codeOf(tileImage('semclip-no-such-photo.jpg'));
    expect(e.code).toBe('IMAGE_NOT_FOUND');
    expect(e.message).toContain(`a relative path is resolved from ${process.cwd()}`);
  });

  it('IMAGE_NOT_FOUND for a directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'semclip-dir-'));
    const e = await codeOf(tileImage(dir));
    expect(e.code).toBe('IMAGE_NOT_FOUND');
    expect(e.message).toMatch(/directory/);
  });

  it.each([
    ['a 0-byte file', async () => writeTemp('empty.jpg', new Uint8Array(0))],
    ['a 0-byte buffer', async () => new Uint8Array(0)],
  ])('IMAGE_EMPTY for %s', async (_, make) => {
    const input = await make();
    const e = await codeOf(tileImage(input));
    expect(e.code).toBe('IMAGE_EMPTY');
    expect(e.message).toMatch(/empty \(0 bytes\)/);
    expect((await codeOf(readImageInfo(input))).code).toBe('IMAGE_EMPTY');
  });

  it.each([
    [0, 10],
    [10, 0],
  ])('IMAGE_EMPTY for a PNG that declares %ix%i pixels', async (w, h) => {
    const e = await codeOf(tileImage(pngHeaderOnly(w, h)));
    expect(e.code).toBe('IMAGE_EMPTY');
    expect(e.message).toContain(`${w}x${h}`);
  });

  it('IMAGE_EMPTY for raw pixels of zero size', async () => {
    const e = await codeOf(tileImage({ data: new Uint8Array(0), width: 0, height: 5, channels: 3 }));
    expect(e.code).toBe('IMAGE_EMPTY');
  });

  it('IMAGE_TOO_LARGE for a 30000x30000 PNG header, from the header, without decoding', async () => {
    const bytes = pngHeaderOnly(30000, 30000);
    expect(bytes.length).toBeLessThan(200);
    const path = await writeTemp('huge.png', bytes);
    const started = performance.now();
    for (const run of [() => tileImage(path), () => readImageInfo(path), () => tileImage(bytes)]) {
      const e = await codeOf(run());
      expect(e.code).toBe('IMAGE_TOO_LARGE');
      expect(e.message).toContain('30000x30000');
      expect(e.message).toMatch(/maxPixels/);
    }
    // Allocating 2.7 GB of pixels would take seconds; the header check takes milliseconds.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('IMAGE_TOO_LARGE respects a custom maxPixels, and a larger one lets a big header through to info', async () => {
    const jpeg = await makeJpeg({ width: 200, height: 100 });
    expect((await codeOf(tileImage(jpeg, { maxPixels: 19_999 }))).code).toBe('IMAGE_TOO_LARGE');
    await expect(tileImage(jpeg, { maxPixels: 20_000 })).resolves.toBeDefined();
    const info = await readImageInfo(pngHeaderOnly(30000, 30000), { maxPixels: 30000 * 30000 });
    expect([info.width, info.height, info.format]).toEqual([30000, 30000, 'png']);
  });

  it('FILE_TOO_LARGE checks the file size before reading it', async () => {
    const jpeg = await makeJpeg({ width: 64, height: 64 });
    const path = await writeTemp('big.jpg', jpeg);
    for (const input of [path, jpeg]) {
      const e = await codeOf(tileImage(input, { maxFileBytes: 100 }));
      expect(e.code).toBe('FILE_TOO_LARGE');
      expect(e.message).toMatch(/over the 100 bytes limit/);
    }
  });

  it.each([
    ['text file', () => new TextEncoder().encode('name,value\nqueue,15 minutes\n')],
    ['random bytes', () => Uint8Array.from({ length: 512 }, (_, i) => (i * 7919) & 255)],
  ])('IMAGE_UNSUPPORTED for a %s', async (_, make) => {
    const path = await writeTemp('notes.jpg', make());
    const e = await codeOf(tileImage(path));
    expect(e.code).toBe('IMAGE_UNSUPPORTED');
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/JPEG, PNG/);
  });

  it.each([
    ['GIF', makeAnimatedGif],
    ['WebP', makeAnimatedWebp],
  ])('IMAGE_ANIMATED for an animated %s', async (_, make) => {
    const e = await codeOf(tileImage(await make({ frames: 3 })));
    expect(e.code).toBe('IMAGE_ANIMATED');
    expect(e.message).toMatch(/3 frames/);
    expect(e.message).toMatch(/Extract the frame/);
    const info = await readImageInfo(await make({ frames: 3 }));
    expect(info.pages).toBe(3);
  });

  it('IMAGE_TRUNCATED for a JPEG cut in half, from tileImage itself (not only when tensors are made), naming the file', async () => {
    const jpeg = await makeJpeg({ width: 640, height: 480, pattern: 'noise' });
    const path = await writeTemp('cut.jpg', truncated(jpeg)); // the header is intact
    for (const input of [path, truncated(jpeg)]) {
      const e = await codeOf(tileImage(input));
      expect(e.code).toBe('IMAGE_TRUNCATED');
      expect(e.message).toMatch(/fetch or copy it again/);
    }
    expect((await codeOf(tileImage(path))).message).toContain(path);
  });

  it('opens a JPEG with data appended after its end marker (e.g. a motion photo) without error', async () => {
    const jpeg = await makeJpeg({ width: 640, height: 480, pattern: 'noise' });
    const trailer = new Uint8Array(4096).fill(0x42);
    const path = await writeTemp('appended.jpg', new Uint8Array([...jpeg, ...trailer]));
    const image = await tileImage(path);
    expect(image.size).toEqual({ width: 640, height: 480 });
    await expect(firstPixels(image)).resolves.toBeDefined();
  });

  it('an intact file is not decoded at open: the check reads only its ends', async () => {
    const image = await tileImage(await makeJpeg({ width: 640, height: 480, pattern: 'noise' }));
    expect(image.decodeStats).toMatchObject({ full: 0, scaled: 0 });
  });

  it('IMAGE_TRUNCATED for a JPEG cut inside its header, from tileImage', async () => {
    const jpeg = await makeJpeg({ width: 64, height: 64 });
    expect((await codeOf(tileImage(jpeg.slice(0, 40)))).code).toBe('IMAGE_TRUNCATED');
  });

  it('IMAGE_TRUNCATED for a PNG cut short, from tileImage', async () => {
    const png = await makePng({ width: 300, height: 200, pattern: 'noise' });
    expect((await codeOf(tileImage(truncated(png, 0.6)))).code).toBe('IMAGE_TRUNCATED');
  });

  it('IMAGE_CORRUPT for a JPEG whose image data was overwritten', async () => {
    const jpeg = await makeJpeg({ width: 640, height: 480, pattern: 'noise' });
    const image = await tileImage(corrupted(jpeg, 0.4, 2000));
    const e = await codeOf(firstPixels(image));
    expect(e.code).toBe('IMAGE_CORRUPT');
    expect(e.message).toMatch(/damaged/);
  });

  it('IMAGE_CORRUPT for a PNG with a damaged chunk', async () => {
    const png = await makePng({ width: 300, height: 200, pattern: 'noise' });
    const image = await tileImage(corrupted(png, 0.3, 64));
    expect((await codeOf(firstPixels(image))).code).toBe('IMAGE_CORRUPT');
  });

  it('failOn "truncated" accepts damaged data a lenient viewer would show, but still rejects truncation', async () => {
    const jpeg = await makeJpeg({ width: 640, height: 480, pattern: 'noise' });
    const lenient = await tileImage(corrupted(jpeg, 0.4, 2000), { failOn: 'truncated' });
    await expect(firstPixels(lenient)).resolves.toBeDefined();
    expect((await codeOf(tileImage(truncated(jpeg), { failOn: 'truncated' }))).code).toBe('IMAGE_TRUNCATED');
  });

  it('a failed decode is not cached: the same error comes back on the next call', async () => {
    const image = await tileImage(corrupted(await makeJpeg({ width: 320, height: 240, pattern: 'noise' }), 0.4, 2000));
    expect((await codeOf(firstPixels(image))).code).toBe('IMAGE_CORRUPT');
    expect((await codeOf(firstPixels(image))).code).toBe('IMAGE_CORRUPT');
  });

  it.each([
    ['length off by one', { data: new Uint8Array(10 * 10 * 3 - 1), width: 10, height: 10, channels: 3 }],
    ['channels 5', { data: new Uint8Array(10 * 10 * 5), width: 10, height: 10, channels: 5 }],
    ['fractional width', { data: new Uint8Array(30), width: 2.5, height: 4, channels: 3 }],
  ])('INVALID_ARGUMENT for raw pixels with %s', async (_, raw) => {
    const e = await codeOf(tileImage(raw as never));
    expect(e.code).toBe('INVALID_ARGUMENT');
  });

  it('raw pixel length errors say what the length should be', async () => {
    const e = await codeOf(tileImage({ data: new Uint8Array(299), width: 10, height: 10, channels: 3 }));
    expect(e.message).toMatch(/299 bytes but 10x10x3 needs 300/);
  });

  it('INVALID_ARGUMENT for inputs that are not images at all', async () => {
    expect((await codeOf(tileImage(42 as never))).code).toBe('INVALID_ARGUMENT');
    expect((await codeOf(readImageInfo({} as never))).code).toBe('INVALID_ARGUMENT');
  });

  it('INVALID_GRID before reading the file', async () => {
    expect((await codeOf(tileImage('/nonexistent.jpg', { grid: '0x0' }))).code).toBe('INVALID_GRID');
  });

  it('INVALID_GRID when the grid is finer than the image', async () => {
    expect((await codeOf(tileImage({ data: new Uint8Array(3), width: 1, height: 1, channels: 3 }, { grid: '2x2' }))).code).toBe('INVALID_GRID');
  });

  it('each failure kind has its own code', async () => {
    const jpeg = await makeJpeg({ width: 320, height: 240, pattern: 'noise' });
    const dir = await mkdtemp(join(tmpdir(), 'semclip-kinds-'));
    await writeFile(join(dir, 'empty.png'), new Uint8Array(0));
    const codes = await Promise.all([
      codeOf(tileImage(join(dir, 'missing.png'))),
      codeOf(tileImage(join(dir, 'empty.png'))),
      codeOf(tileImage(truncated(jpeg)).then(firstPixels)),
      codeOf(tileImage(corrupted(jpeg, 0.4, 2000)).then(firstPixels)),
      codeOf(tileImage(new TextEncoder().encode('hello'))),
      codeOf(tileImage(await makeAnimatedGif())),
      codeOf(tileImage(pngHeaderOnly(30000, 30000))),
      codeOf(tileImage(jpeg, { maxFileBytes: 10 })),
    ]);
    expect(codes.map((c) => c.code)).toEqual([
      'IMAGE_NOT_FOUND',
      'IMAGE_EMPTY',
      'IMAGE_TRUNCATED',
      'IMAGE_CORRUPT',
      'IMAGE_UNSUPPORTED',
      'IMAGE_ANIMATED',
      'IMAGE_TOO_LARGE',
      'FILE_TOO_LARGE',
    ]);
  });
});
