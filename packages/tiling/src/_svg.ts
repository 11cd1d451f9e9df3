import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { gunzipSync } from 'node:zlib';
import { SemclipError } from '@semclip/core';
import type { RawImage } from '@semclip/core';
import { decodeError, fileSizeText } from './_errors.js';

/** Default time an SVG may take to rasterise: 20 s. */
export const DEFAULT_SVG_TIMEOUT_MS = 20_000;

/**
 * How SVG input is treated. SVG is a program more than a picture: a 300-byte file can ask for
 * minutes of filter work, or for other files to be drawn into it. SemClip never draws anything
 * an SVG references (only `data:` URIs and `#fragments` are accepted, see `checkSvgText`), and
 * renders each SVG once, in a separate process that is killed when `timeoutMs` passes or the
 * caller's signal aborts.
 */
export interface SvgOptions {
  /** `false` refuses SVG input with `IMAGE_UNSUPPORTED` (before it is parsed). Default true. */
  readonly allow?: boolean;
  /** Most pixels an SVG may be rendered at (from its declared size). Default: `maxPixels`. */
  readonly maxPixels?: number;
  /** `false` refuses SVGs with filter effects (`<filter>`, the `filter` property). Default true. */
  readonly filters?: boolean;
  /** Time the rasterisation may take, in ms; past it the render is killed and the image refused (`IMAGE_TOO_LARGE`). Default 20000. */
  readonly timeoutMs?: number;
  /** Appended to the message when SVG is refused because `allow` is false (how to turn it on). */
  readonly disabledHint?: string;
}

export interface ResolvedSvgOptions {
  readonly allow: boolean;
  readonly maxPixels: number;
  readonly filters: boolean;
  readonly timeoutMs: number;
  readonly disabledHint: string | undefined;
}

export function resolveSvgOptions(svg: SvgOptions | undefined, maxPixels: number): ResolvedSvgOptions {
  const o = svg ?? {};
  if (typeof o !== 'object' || o === null) {
    throw new SemclipError('INVALID_ARGUMENT', 'svg must be an object of SVG options.', { expected: '{ allow?, maxPixels?, filters?, timeoutMs? }' });
  }
  const svgMaxPixels = o.maxPixels ?? maxPixels;
  const timeoutMs = o.timeoutMs ?? DEFAULT_SVG_TIMEOUT_MS;
  for (const [name, v] of [
    ['svg.maxPixels', svgMaxPixels],
    ['svg.timeoutMs', timeoutMs],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new SemclipError('INVALID_ARGUMENT', `${name} ${String(v)} is not a valid limit.`, { expected: 'a positive integer', details: { [name]: v } });
    }
  }
  return {
    allow: o.allow !== false,
    maxPixels: Math.min(svgMaxPixels, maxPixels),
    filters: o.filters !== false,
    timeoutMs,
    disabledHint: o.disabledHint,
  };
}

/** Formats libvips decodes that are not SVG (checked by magic bytes). Anything else may be SVG. */
export function isKnownRaster(head: Uint8Array): boolean {
  const b = head;
  const at = (i: number, s: string): boolean => Buffer.from(b.subarray(i, i + s.length)).toString('latin1') === s;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return true; // JPEG
  if (b.length >= 8 && b[0] === 0x89 && at(1, 'PNG')) return true;
  if (at(0, 'GIF8')) return true;
  if (at(0, 'RIFF') && at(8, 'WEBP')) return true;
  if (at(0, 'II*\0') || at(0, 'MM\0*')) return true; // TIFF
  if (at(4, 'ftyp')) return true; // HEIF, AVIF
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0x0a) return true; // JPEG XL codestream
  if (at(4, 'JXL ') || at(4, 'jP  ')) return true; // JPEG XL container, JPEG 2000
  return false;
}

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/** XML text in the encodings an SVG file can realistically have: UTF-8 (default), UTF-16 with or without BOM. */
function decodeXml(b: Uint8Array): string {
  const bytes = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (b.length >= 2 && b[0] === 0xff && b[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (b.length >= 2 && b[0] === 0xfe && b[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString('utf16le');
  if (b.length >= 2 && b[0] === 0x3c && b[1] === 0x00) return bytes.toString('utf16le');
  if (b.length >= 2 && b[0] === 0x00 && b[1] === 0x3c)
    return Buffer.from(bytes.subarray(0, b.length - (b.length % 2)))
      .swap16()
      .toString('utf16le');
  return bytes.toString('utf8');
}

const SVG_ROOT = /<(?:[\w.-]+:)?svg[\s>/]/i;

/**
 * The text of an input that looks like SVG (plain or gzipped, `.svgz`), or undefined. Only the
 * start is sniffed, as libvips does; a gzipped input is inflated (at most `maxBytes`).
 */
export function sniffSvg(label: string, bytes: Uint8Array, maxBytes: number): string | undefined {
  if (isKnownRaster(bytes.subarray(0, 16))) return undefined;
  let plain = bytes;
  if (isGzip(bytes)) {
    try {
      plain = gunzipSync(bytes, { maxOutputLength: maxBytes });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new SemclipError('FILE_TOO_LARGE', `${label} is gzip-compressed and inflates to more than ${fileSizeText(maxBytes)}; it was not read further.`, {
          hint: 'Decompress it yourself if you trust it, or raise maxFileBytes',
          details: { file: label, maxFileBytes: maxBytes },
        });
      }
      return undefined;
    }
  }
  if (!SVG_ROOT.test(decodeXml(plain.subarray(0, 4096)))) return undefined;
  return decodeXml(plain);
}

/** The text of an SVG that sniffing missed (libvips says it is SVG): decoded the same way. */
export function svgTextOf(bytes: Uint8Array, maxBytes: number): string {
  return decodeXml(isGzip(bytes) ? gunzipSync(bytes, { maxOutputLength: maxBytes }) : bytes);
}

const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** One pass of XML character and predefined entity references, so `&#104;ref` is seen as `href`. */
function expandRefs(text: string): string {
  return text.replace(/&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|(lt|gt|amp|quot|apos));/gi, (m, dec?: string, hex?: string, name?: string) => {
    if (name) return PREDEFINED[name.toLowerCase()] ?? m;
    const code = dec ? Number(dec) : Number.parseInt(hex ?? '', 16);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

/** A reference is internal when it is a fragment of the same document or inline data. */
function internal(value: string): boolean {
  const v = value.trim();
  return v === '' || v.startsWith('#') || /^data:/i.test(v);
}

export interface SvgFinding {
  readonly reason: 'svg-external-reference' | 'svg-external-entity' | 'svg-css-import' | 'svg-filters';
  readonly what: string;
}

/**
 * Anything in an SVG's text that would make the renderer read other resources (an `href` or
 * CSS `url()` that is not a `#fragment` or a `data:` URI, an `@import`, an external entity),
 * or, with `filters: false`, any filter effect. The text is checked as written and with its
 * character references expanded (up to three levels, as entities nest); text that merely
 * looks like markup (in a `<text>` element) is refused too: a false alarm costs a conversion,
 * a miss costs a file.
 */
export function findSvgProblem(text: string, options: { filters: boolean }): SvgFinding | undefined {
  let current = text;
  for (let pass = 0; pass < 4; pass++) {
    const found = scan(current, options);
    if (found) return found;
    const next = expandRefs(current);
    if (next === current) break;
    current = next;
  }
  return undefined;
}

function scan(text: string, options: { filters: boolean }): SvgFinding | undefined {
  for (const m of text.matchAll(/\bhref\s*=\s*("[^"]*"|'[^']*'|[^\s>]*)/gi)) {
    const raw = m[1] ?? '';
    const value = /^["']/.test(raw) ? raw.slice(1, -1) : raw;
    if (!internal(value)) return { reason: 'svg-external-reference', what: `href="${value.slice(0, 80)}"` };
  }
  for (const m of text.matchAll(/\burl\(\s*["']?\s*([^"')\s]*)/gi)) {
    const value = m[1] ?? '';
    if (!internal(value)) return { reason: 'svg-external-reference', what: `url(${value.slice(0, 80)})` };
  }
  if (/@import\b/i.test(text)) return { reason: 'svg-css-import', what: '@import' };
  const entity = /<!ENTITY\s+(?:%\s+)?[^\s>]+\s+(SYSTEM|PUBLIC)\b/i.exec(text);
  if (entity) return { reason: 'svg-external-entity', what: `an external entity (${entity[1]})` };
  if (!options.filters) {
    if (/<(?:[\w.-]+:)?filter\b/i.test(text)) return { reason: 'svg-filters', what: 'a <filter> element' };
    for (const m of text.matchAll(/\bfilter\s*[:=]\s*["']?\s*([^"';\s>]*)/gi)) {
      const value = (m[1] ?? '').toLowerCase();
      if (value !== '' && value !== 'none' && value !== 'inherit' && value !== 'initial' && value !== 'unset') {
        return { reason: 'svg-filters', what: `filter ${value.slice(0, 80)}` };
      }
    }
  }
  return undefined;
}

/** Refuses an SVG the options do not allow, or one that references anything outside itself. */
export function checkSvgText(label: string, text: string | undefined, svg: ResolvedSvgOptions): void {
  if (!svg.allow) {
    throw new SemclipError('IMAGE_UNSUPPORTED', `${label} is an SVG, and SVG input is turned off here.`, {
      expected: 'a JPEG, PNG, WebP, GIF, TIFF or AVIF/HEIF image',
      hint: svg.disabledHint ?? 'Convert it to PNG first (e.g. rsvg-convert in.svg > out.png), or pass svg: { allow: true }',
      details: { file: label, format: 'svg', reason: 'svg-disabled' },
    });
  }
  if (text === undefined) return;
  const found = findSvgProblem(text, { filters: svg.filters });
  if (!found) return;
  if (found.reason === 'svg-filters') {
    throw new SemclipError(
      'IMAGE_UNSUPPORTED',
      `${label} is an SVG with filter effects (${found.what}), which are turned off here: they can cost minutes of CPU.`,
      {
        expected: 'an SVG without <filter> elements or filter properties',
        hint: 'Convert it to PNG first (e.g. rsvg-convert in.svg > out.png), or allow SVG filters (svg: { filters: true })',
        details: { file: label, format: 'svg', reason: found.reason },
      },
    );
  }
  throw new SemclipError(
    'IMAGE_UNSUPPORTED',
    `${label} is an SVG that refers to a resource outside itself (${found.what}); SemClip renders only self-contained SVGs and never reads what they reference.`,
    {
      expected: 'an SVG whose references are #fragments or data: URIs',
      hint: 'Embed the referenced images as data: URIs, or convert the SVG to PNG yourself (e.g. rsvg-convert in.svg > out.png)',
      details: { file: label, format: 'svg', reason: found.reason, reference: found.what },
    },
  );
}

/**
 * The rasteriser that runs in the child: SVG bytes on stdin; on stdout a 12-byte header (width,
 * height, channels as uint32 LE) and then the pixels, flattened on white, 8-bit sRGB RGB (what
 * the full decode makes of any image). One libvips thread: one core at most.
 */
const CHILD = `
// Ends itself a little after the parent's limit, should the parent die before it can kill it.
setTimeout(() => process.exit(3), Number(process.argv[3]) + 2000).unref();
const sharp = require(process.argv[1]);
sharp.concurrency(1);
sharp.cache(false);
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  try {
    const { data, info } = await sharp(Buffer.concat(chunks), { limitInputPixels: Number(process.argv[2]) })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const head = Buffer.alloc(12);
    head.writeUInt32LE(info.width, 0);
    head.writeUInt32LE(info.height, 4);
    head.writeUInt32LE(info.channels, 8);
    process.stdout.write(head);
    process.stdout.write(data, () => process.exit(0));
  } catch (err) {
    process.stderr.write(String((err && err.message) || err));
    process.exit(2);
  }
});
`;

let sharpEntry: string | undefined;

function childEnv(): NodeJS.ProcessEnv {
  // The child needs nothing from the parent's node options (loaders, inspectors, test hooks).
  const { NODE_OPTIONS: _options, ...env } = process.env;
  return env;
}

/** How many SVG renders are running now (child processes alive): for tests. */
export const svgRenders = { running: 0, started: 0 };

/**
 * Renders an SVG's bytes to RGB pixels in a child process, which is killed (SIGKILL) when
 * `timeoutMs` passes or `signal` aborts: the render's CPU time is bounded however hard the
 * SVG is to draw. The bytes go in on stdin, so the renderer has no file name to resolve
 * relative references against (librsvg then loads nothing but `data:` URIs).
 */
export function rasteriseSvg(
  label: string,
  bytes: Uint8Array,
  expected: { width: number; height: number },
  options: { timeoutMs: number; maxPixels: number; signal?: AbortSignal | undefined },
): Promise<RawImage & { data: Buffer }> {
  const { timeoutMs, maxPixels, signal } = options;
  if (signal?.aborted) return Promise.reject(new SemclipError('ABORTED', 'The operation was cancelled.', { cause: signal.reason }));
  sharpEntry ??= createRequire(import.meta.url).resolve('sharp');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', CHILD, sharpEntry as string, String(maxPixels), String(timeoutMs)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: childEnv(),
      windowsHide: true,
    });
    svgRenders.running++;
    svgRenders.started++;
    const limit = 12 + expected.width * expected.height * 3;
    const chunks: Buffer[] = [];
    let received = 0;
    let stderr = '';
    let settled = false;
    let failure: SemclipError | undefined;
    const stop = (err: SemclipError): void => {
      failure ??= err;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () =>
        stop(
          new SemclipError('IMAGE_TOO_LARGE', `${label} is an SVG that did not render within ${timeoutMs / 1000} s; the render was stopped.`, {
            hint: 'Simplify it or convert it to PNG first (e.g. rsvg-convert in.svg > out.png); with a trusted file, raise svg.timeoutMs',
            details: { file: label, format: 'svg', reason: 'svg-render-timeout', timeoutMs },
          }),
        ),
      timeoutMs,
    );
    const onAbort = (): void => stop(new SemclipError('ABORTED', 'The operation was cancelled.', { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    child.stdout.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        stop(
          new SemclipError('IMAGE_TOO_LARGE', `${label} rendered larger than its declared ${expected.width}x${expected.height}.`, { details: { file: label } }),
        );
        return;
      }
      chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString('utf8');
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => finish(() => reject(new SemclipError('INTERNAL', `Could not start the SVG renderer: ${err.message}.`, { cause: err }))));
    child.on('close', (code) => {
      svgRenders.running--;
      finish(() => {
        if (failure) return reject(failure);
        const out = Buffer.concat(chunks, received);
        if (code !== 0 || out.length < 12) return reject(decodeError(label, new Error(stderr.trim() || `the SVG renderer exited with ${String(code)}`)));
        const width = out.readUInt32LE(0);
        const height = out.readUInt32LE(4);
        const channels = out.readUInt32LE(8);
        const data = out.subarray(12);
        if (channels !== 3 || data.length !== width * height * 3) {
          return reject(new SemclipError('INTERNAL', `The SVG renderer returned ${data.length} bytes for ${width}x${height}x${channels}.`));
        }
        resolve({ data, width, height, channels: 3 });
      });
    });
    child.stdin.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
