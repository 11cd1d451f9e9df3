import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isSemclipError } from '@semclip/core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rasteriseSvg, svgRenders } from './_svg.js';
import { readImageInfo, tileImage } from './index.js';

let dir: string;
let redPng: Buffer;

/** The 235-byte SVG of the hardening report: 4000x4000, turbulence then a wide blur (~40 s of CPU to render). */
const HOSTILE =
  '<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="4000"><filter id="f"><feTurbulence baseFrequency="0.9" numOctaves="10"/><feGaussianBlur stdDeviation="200"/></filter><rect width="100%" height="100%" filter="url(#f)"/></svg>';

const svg = (body: string, size = 100): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${size}" height="${size}">${body}</svg>`;

async function firstPixel(input: string | Uint8Array): Promise<number[]> {
  const tiled = await tileImage(input, { grid: '1x1' });
  const crop = await tiled.crop(tiled.grid.tiles[0]!.box);
  return [...crop.data.subarray(0, 3)];
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; reason: unknown; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isSemclipError(err)) throw new Error(`expected a SemclipError, got ${String(err)}`);
  return { code: err.code, reason: err.details?.reason, message: err.message };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'semclip-svg-'));
  redPng = await sharp({ create: { width: 100, height: 100, channels: 3, background: { r: 255, g: 0, b: 0 } } })
    .png()
    .toBuffer();
  await writeFile(join(dir, 'secret.png'), redPng);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('SVG that references other files', () => {
  it('never draws the sibling file an <image href> names (a path input is refused, not rendered)', async () => {
    const file = join(dir, 'svg-with-external-href.svg');
    await writeFile(file, svg('<image href="secret.png" width="100" height="100"/>'));
    const r = await refusal(firstPixel(file));
    expect(r).toMatchObject({ code: 'IMAGE_UNSUPPORTED', reason: 'svg-external-reference' });
    expect(r.message).toContain('href="secret.png"');
    await expect(readImageInfo(file)).rejects.toMatchObject({ code: 'IMAGE_UNSUPPORTED' });
  });

  const refused: Array<[string, string]> = [
    ['xlink:href', svg('<image xlink:href="secret.png" width="100" height="100"/>')],
    ['an absolute path', svg(`<image href="${join(tmpdir(), 'secret.png')}" width="100" height="100"/>`)],
    ['a file: URL', svg(`<image href="file://${join(tmpdir(), 'secret.png')}" width="100" height="100"/>`)],
    ['an http URL', svg('<image href="http://169.254.169.254/latest/meta-data" width="100" height="100"/>')],
    ['a CSS url() to a file', svg('<rect width="100" height="100" style="fill: url(other.svg#g)"/>')],
    ['a fill attribute url() to a file', svg('<rect width="100" height="100" fill="url(\'other.svg#g\')"/>')],
    ['a CSS @import', svg('<style>@import "theme.css";</style><rect width="10" height="10"/>')],
    ['an feImage', svg('<filter id="f"><feImage href="secret.png"/></filter><rect width="100" height="100" filter="url(#f)"/>')],
    ['a <use> of another file', svg('<use href="other.svg#shape"/>')],
    ['an XInclude', svg('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="secret.txt" parse="text"/>')],
    ['an xml-stylesheet', `<?xml-stylesheet href="theme.css" type="text/css"?>${svg('<rect width="10" height="10"/>')}`],
    ['a value hidden in character references', svg('<image href="&#115;ecret.png" width="100" height="100"/>')],
    ['an external entity', `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY secret SYSTEM "secret.txt">]>${svg('<text y="20">&secret;</text>')}`],
  ];
  it.each(refused)('refuses %s, as bytes and as a file', async (_name, text) => {
    expect(await refusal(tileImage(Buffer.from(text)))).toMatchObject({ code: 'IMAGE_UNSUPPORTED' });
    const file = join(dir, 'case.svg');
    await writeFile(file, text);
    expect(await refusal(tileImage(file))).toMatchObject({ code: 'IMAGE_UNSUPPORTED' });
  });

  it('checks gzipped (.svgz) and UTF-16 SVGs too', async () => {
    const text = svg('<image href="secret.png" width="100" height="100"/>');
    const gz = join(dir, 'ext.svgz');
    await writeFile(gz, gzipSync(text));
    expect(await refusal(tileImage(gz))).toMatchObject({ code: 'IMAGE_UNSUPPORTED', reason: 'svg-external-reference' });
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    expect(await refusal(tileImage(utf16))).toMatchObject({ code: 'IMAGE_UNSUPPORTED', reason: 'svg-external-reference' });
  });

  it('renders self-contained SVGs: data: URI images and #fragment references', async () => {
    const inline = svg(
      `<defs><linearGradient id="g"><stop offset="0" stop-color="#00f"/></linearGradient></defs><rect width="100" height="100" fill="url(#g)"/><image href="data:image/png;base64,${redPng.toString('base64')}" width="50" height="50"/>`,
    );
    const file = join(dir, 'inline.svg');
    await writeFile(file, inline);
    expect(await firstPixel(file)).toEqual([255, 0, 0]);
    expect(await readImageInfo(file)).toMatchObject({ format: 'svg', width: 100, height: 100 });
  });

  it('renders from memory, so even an unchecked reference resolves to nothing (defence in depth)', async () => {
    const text = svg(`<image href="file://${join(dir, 'secret.png')}" width="100" height="100"/>`);
    const raw = await rasteriseSvg('test', Buffer.from(text), { width: 100, height: 100 }, { timeoutMs: 10_000, maxPixels: 1e6 });
    expect([...raw.data.subarray(0, 3)]).toEqual([255, 255, 255]);
  });
});

describe('SVG cost', () => {
  it('svg: { allow: false } refuses SVG before it is parsed, with the hint given', async () => {
    const options = { svg: { allow: false, disabledHint: 'Start the server with --allow-svg' } };
    const r = await refusal(readImageInfo(Buffer.from(svg('<rect width="10" height="10"/>')), options));
    expect(r).toMatchObject({ code: 'IMAGE_UNSUPPORTED', reason: 'svg-disabled' });
    expect(r.message).toContain('--allow-svg');
    expect(await refusal(tileImage(Buffer.from(svg('<rect width="10" height="10"/>')), options))).toMatchObject({ reason: 'svg-disabled' });
  });

  it('svg: { filters: false } refuses filter elements and the CSS filter property', async () => {
    const options = { svg: { filters: false } };
    expect(await refusal(tileImage(Buffer.from(HOSTILE), options))).toMatchObject({ code: 'IMAGE_UNSUPPORTED', reason: 'svg-filters' });
    const css = svg('<rect width="100" height="100" style="filter: blur(30px)"/>');
    expect(await refusal(readImageInfo(Buffer.from(css), options))).toMatchObject({ reason: 'svg-filters' });
    // `filter: none` is no filter.
    await expect(readImageInfo(Buffer.from(svg('<rect width="100" height="100" style="filter:none"/>')), options)).resolves.toMatchObject({ format: 'svg' });
  });

  it('holds an SVG to svg.maxPixels from its declared size, without rendering it', async () => {
    const started = svgRenders.started;
    const r = await refusal(tileImage(Buffer.from(HOSTILE), { svg: { maxPixels: 2048 * 2048 } }));
    expect(r).toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect(svgRenders.started).toBe(started);
  });

  it('stops the 235-byte filter SVG at svg.timeoutMs (it costs ~40 s of CPU to render)', async () => {
    const t0 = performance.now();
    const r = await refusal(tileImage(Buffer.from(HOSTILE), { svg: { timeoutMs: 1000 } }));
    const ms = performance.now() - t0;
    expect(r).toMatchObject({ code: 'IMAGE_TOO_LARGE', reason: 'svg-render-timeout' });
    expect(ms).toBeLessThan(5000);
    expect(svgRenders.running).toBe(0);
  }, 60_000);

  it('kills the render when the signal aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('deadline')), 300);
    const t0 = performance.now();
    const r = await refusal(tileImage(Buffer.from(HOSTILE), { signal: controller.signal }));
    expect(r.code).toBe('ABORTED');
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(svgRenders.running).toBe(0);
  }, 60_000);
});
