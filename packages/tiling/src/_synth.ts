/**
 * A perception-limited benchmark: real photos with small targets composited at known boxes, in
 * V* Bench's folder layout (so `semclip eval run --benchmark vstar` reads it), plus a manifest
 * (`synth.json`) that a simulated VLM reads to find each target in the pixels it is sent. Every
 * target sits on a flat patch of a marker colour no photo contains, so a simulator can measure
 * how many pixels of it survive the model's resize; the marker fraction of each patch is
 * measured on the rendered pixels, so the simulator can turn a pixel count into a side length.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SemclipError } from '@semclip/core';
import type { Box } from '@semclip/core';
import sharp from 'sharp';
import type { OverlayOptions, Sharp } from 'sharp';

export type SynthItemType = 'colour' | 'text' | 'relative';
export type Rgb = readonly [number, number, number];

/** One composited target. */
export interface SynthTarget {
  /** What the question calls it: a shape name or the printed word. */
  readonly label: string;
  readonly box: Box;
  /** Flat background colour of the patch (the simulator's marker). */
  readonly marker: Rgb;
  /** Fraction of the patch's pixels that match the marker, measured on the rendered patch. */
  readonly markerFraction: number;
}

export interface SynthItem {
  /** `direct_attributes/synth_0007`: V*'s id form. */
  readonly id: string;
  readonly category: 'direct_attributes' | 'relative_position';
  readonly type: SynthItemType;
  /** Large targets, readable in the overview: a good strategy stops after one call. */
  readonly easy: boolean;
  readonly question: string;
  /** The correct option first (V*'s order). */
  readonly options: readonly string[];
  readonly answer: string;
  /** One target, or two for relative position (in the order the question names them). */
  readonly targets: readonly SynthTarget[];
  /** Image path relative to the benchmark folder. */
  readonly image: string;
  readonly width: number;
  readonly height: number;
  /** The photo it was made from (file name, or `generated`), with flip and crop. */
  readonly photo: string;
}

export interface SynthManifest {
  readonly kind: 'semclip-synth';
  readonly version: 1;
  readonly seed: number;
  readonly items: readonly SynthItem[];
}

export interface SynthOptions {
  /** Output folder (created). */
  readonly out: string;
  /** Photos to composite onto; none: a generated stand-in photo. */
  readonly photos?: readonly string[];
  /** Items. Default 200. */
  readonly count?: number;
  /** Default 1. */
  readonly seed?: number;
  /** Share of easy (large-target) items. Default 0.2. */
  readonly easyFraction?: number;
  /** Share of relative-position items. Default 0.3. */
  readonly relativeFraction?: number;
  /** Long side of every item image. Default 2400. */
  readonly longSide?: number;
}

/**
 * Marker colours: saturated magenta and pure green. Counted at 1024 px, ../shared/data/images
 * has no pixel within the simulator's tolerance of either (cyan: 3613 in blackmug.JPG, yellow:
 * 2578 in bag_of_bottle.jpeg, so neither is used).
 */
export const SYNTH_MARKERS: readonly Rgb[] = [
  [255, 0, 255],
  [0, 255, 0],
];

export const SYNTH_COLOURS: Readonly<Record<string, Rgb>> = {
  red: [215, 30, 30],
  green: [30, 150, 50],
  blue: [30, 60, 210],
  yellow: [245, 215, 30],
  orange: [245, 130, 20],
  black: [20, 20, 20],
  white: [250, 250, 250],
  brown: [120, 70, 30],
};

const SHAPES = ['circle', 'square', 'triangle', 'diamond', 'cross', 'star', 'ring'] as const;

const WORDS = [
  'BAKERY',
  'HOTEL',
  'PHARMACY',
  'EXIT',
  'PARKING',
  'TAXI',
  'MUSEUM',
  'LIBRARY',
  'CAFE',
  'BANK',
  'POST',
  'GARAGE',
  'FLORIST',
  'CINEMA',
  'TICKETS',
  'SCHOOL',
  'MARKET',
  'PIZZA',
  'SUSHI',
  'BARBER',
  'DENTIST',
  'HOSTEL',
  'BISTRO',
  'DINER',
  'TOWER',
  'HARBOR',
  'STATION',
  'GALLERY',
  'BOOKS',
  'TOYS',
  'SHOES',
  'BAKE',
  'LAUNDRY',
  'OPTICS',
  'JEWELS',
  'FRUIT',
  'COFFEE',
  'TEA',
  'PUB',
  'INN',
];

/** xorshift32: the generator's only randomness, so a seed fixes every item. */
export function synthRandom(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)] as T;
}

function shuffled<T>(rand: () => number, list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const hex = (c: Rgb) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;

function shapeSvg(shape: string, s: number, fill: string): string {
  const c = s / 2;
  const r = s * 0.32;
  switch (shape) {
    case 'circle':
      return `<circle cx="${c}" cy="${c}" r="${r}" fill="${fill}"/>`;
    case 'square':
      return `<rect x="${c - r}" y="${c - r}" width="${2 * r}" height="${2 * r}" fill="${fill}"/>`;
    case 'triangle':
      return `<polygon points="${c},${c - r} ${c + r},${c + r} ${c - r},${c + r}" fill="${fill}"/>`;
    case 'diamond':
      return `<polygon points="${c},${c - r} ${c + r},${c} ${c},${c + r} ${c - r},${c}" fill="${fill}"/>`;
    case 'cross':
      return `<rect x="${c - r}" y="${c - r / 3}" width="${2 * r}" height="${(2 * r) / 3}" fill="${fill}"/><rect x="${c - r / 3}" y="${c - r}" width="${(2 * r) / 3}" height="${2 * r}" fill="${fill}"/>`;
    case 'star': {
      const pts: string[] = [];
      for (let i = 0; i < 10; i++) {
        const rr = i % 2 === 0 ? r : r * 0.45;
        const a = -Math.PI / 2 + (i * Math.PI) / 5;
        pts.push(`${c + rr * Math.cos(a)},${c + rr * Math.sin(a)}`);
      }
      return `<polygon points="${pts.join(' ')}" fill="${fill}"/>`;
    }
    default:
      return `<circle cx="${c}" cy="${c}" r="${r * 0.8}" fill="none" stroke="${fill}" stroke-width="${r * 0.4}"/>`;
  }
}

/** Renders a patch (marker background, a shape or a word) and measures its marker fraction. */
async function renderPatch(
  content: { kind: 'shape'; shape: string; colour: Rgb } | { kind: 'text'; word: string },
  height: number,
  marker: Rgb,
): Promise<{ png: Buffer; width: number; height: number; markerFraction: number }> {
  const h = Math.max(8, Math.round(height));
  const w = content.kind === 'shape' ? h : Math.round(h * (0.62 * content.word.length + 0.6));
  const body =
    content.kind === 'shape'
      ? shapeSvg(content.shape, h, hex(content.colour))
      : `<text x="${w / 2}" y="${h * 0.53}" font-family="DejaVu Sans, Arial, sans-serif" font-weight="700" font-size="${h * 0.62}" fill="#111111" text-anchor="middle" dominant-baseline="central">${content.word}</text>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><rect width="${w}" height="${h}" fill="${hex(marker)}"/>${body}</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let match = 0;
  for (let i = 0; i < data.length; i += 3) {
    if (isMarker(data[i] as number, data[i + 1] as number, data[i + 2] as number, marker)) match++;
  }
  const png = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } })
    .png()
    .toBuffer();
  return { png, width: info.width, height: info.height, markerFraction: match / (info.width * info.height) };
}

/** Whether a pixel is the marker colour (within JPEG and resampling error). Exported for simulators. */
export function isMarker(r: number, g: number, b: number, marker: Rgb): boolean {
  return Math.abs(r - marker[0]) <= 70 && Math.abs(g - marker[1]) <= 70 && Math.abs(b - marker[2]) <= 70;
}

async function standInPhoto(width: number, height: number, rand: () => number): Promise<Buffer> {
  // Soft blobs of muted colours: texture for tiling, no saturated magenta or green.
  const blobs = Array.from({ length: 40 }, () => {
    const c: Rgb = [60 + Math.floor(rand() * 140), 60 + Math.floor(rand() * 100), 50 + Math.floor(rand() * 100)];
    return `<circle cx="${rand() * width}" cy="${rand() * height}" r="${(0.05 + rand() * 0.2) * width}" fill="${hex(c)}" fill-opacity="0.6"/>`;
  }).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="#8a8070"/>${blobs}</svg>`;
  return sharp(Buffer.from(svg)).removeAlpha().png().toBuffer();
}

function overlaps(a: Box, b: Box, margin: number): boolean {
  return a.x < b.x + b.width + margin && b.x < a.x + a.width + margin && a.y < b.y + b.height + margin && b.y < a.y + a.height + margin;
}

/**
 * Writes a perception-limited benchmark: `count` items in V* Bench's folder layout
 * (`direct_attributes/`, `relative_position/`, an image and a question JSON per item) and
 * `synth.json`, the manifest a simulated VLM reads. Deterministic from `seed` and the photos.
 * Hard targets are 1.2-2 % of the long side (unreadable in a 336-px overview, readable at
 * half resolution; relative-position words 2.2-3 %); easy ones 4-9 %. Relative-position pairs are 36-46 % of the width apart.
 *
 * @example
 * ```ts
 * import { generateSynthBenchmark } from '@semclip/tiling';
 * const manifest = await generateSynthBenchmark({ out: 'synth', photos: ['a.jpg', 'b.jpg'], count: 200, seed: 1 });
 * manifest.items[0]; // { id: 'direct_attributes/synth_0000', question: 'What is the color of the star?', ... }
 * ```
 */
export async function generateSynthBenchmark(options: SynthOptions): Promise<SynthManifest> {
  const count = options.count ?? 200;
  const seed = options.seed ?? 1;
  const longSide = options.longSide ?? 2400;
  const easyFraction = options.easyFraction ?? 0.2;
  const relativeFraction = options.relativeFraction ?? 0.3;
  if (!Number.isSafeInteger(count) || count < 1 || count > 100000) {
    throw new SemclipError('INVALID_ARGUMENT', `Synth item count ${String(count)} is out of range.`, { expected: 'an integer from 1 to 100000' });
  }
  if (!Number.isSafeInteger(longSide) || longSide < 400 || longSide > 8000) {
    throw new SemclipError('INVALID_ARGUMENT', `Synth longSide ${String(longSide)} is out of range.`, { expected: 'an integer from 400 to 8000' });
  }
  const rand = synthRandom(seed);
  const photos = options.photos ?? [];
  await mkdir(join(options.out, 'direct_attributes'), { recursive: true });
  await mkdir(join(options.out, 'relative_position'), { recursive: true });
  const items: SynthItem[] = [];
  const keys = new Set<string>();
  for (let n = 0; n < count; n++) {
    let type: SynthItemType = rand() < relativeFraction ? 'relative' : rand() < 0.5 ? 'colour' : 'text';
    // V* Bench's loader wants both folders: the first two items cover both when the shares allow.
    if (n === 0 && relativeFraction > 0 && count > 1) type = 'relative';
    if (n === 1 && relativeFraction < 1 && type === 'relative') type = 'colour';
    const easy = rand() < easyFraction;
    // Background: a photo (flipped or not, a random 80-100 % crop), scaled to longSide.
    const photoIndex = photos.length ? n % photos.length : -1;
    const flip = rand() < 0.5;
    const cropFrac = 0.8 + rand() * 0.2;
    const cx = rand();
    const cy = rand();
    let base: Sharp;
    let photoName = 'generated';
    if (photoIndex >= 0) {
      const file = photos[photoIndex] as string;
      photoName = file.split(/[\\/]/).pop() ?? file;
      const meta = await sharp(file).rotate().toBuffer({ resolveWithObject: true });
      const w = meta.info.width;
      const h = meta.info.height;
      const cw = Math.round(w * cropFrac);
      const ch = Math.round(h * cropFrac);
      base = sharp(meta.data).extract({ left: Math.floor((w - cw) * cx), top: Math.floor((h - ch) * cy), width: cw, height: ch });
      if (flip) base = base.flop();
      base = sharp(await base.resize({ width: cw >= ch ? longSide : undefined, height: cw >= ch ? undefined : longSide }).toBuffer());
    } else {
      const w = longSide;
      const h = Math.round(longSide * 0.75);
      base = sharp(await standInPhoto(w, h, rand));
    }
    const { width, height } = (await base.metadata()) as { width: number; height: number };
    const size = (hard: [number, number], big: [number, number]) => {
      const [lo, hi] = easy ? big : hard;
      return Math.round(longSide * (lo + rand() * (hi - lo)));
    };
    const id = `${type === 'relative' ? 'relative_position' : 'direct_attributes'}/synth_${String(n).padStart(4, '0')}`;
    let question: string;
    let options_: string[];
    const contents: Array<{ kind: 'shape'; shape: string; colour: Rgb; label: string } | { kind: 'text'; word: string; label: string }> = [];
    const nOptions = 2 + Math.floor(rand() * 3);
    if (type === 'colour') {
      const shape = pick(rand, SHAPES);
      const colours = shuffled(rand, Object.keys(SYNTH_COLOURS)).slice(0, nOptions);
      const colour = colours[0] as string;
      question = `What is the color of the ${shape}?`;
      options_ = colours;
      contents.push({ kind: 'shape', shape, colour: SYNTH_COLOURS[colour] as Rgb, label: shape });
    } else if (type === 'text') {
      const words = shuffled(rand, WORDS).slice(0, nOptions);
      question = 'What is the word written on the small sign?';
      options_ = words.map((w) => w);
      contents.push({ kind: 'text', word: words[0] as string, label: words[0] as string });
    } else {
      const [a, b] = shuffled(rand, WORDS) as [string, string];
      question = `Is the "${a}" sign on the left or right side of the "${b}" sign?`;
      contents.push({ kind: 'text', word: a, label: a }, { kind: 'text', word: b, label: b });
      options_ = []; // filled once placed
    }
    // Unique (question, option set) pairs, so a simulator can tell items apart by their text.
    const key = `${question}|${[...options_].sort().join('|')}`;
    if (keys.has(key)) {
      n--;
      continue;
    }
    keys.add(key);
    const targets: SynthTarget[] = [];
    const composites: OverlayOptions[] = [];
    const boxes: Box[] = [];
    for (let t = 0; t < contents.length; t++) {
      const content = contents[t]!;
      const marker = SYNTH_MARKERS[t] as Rgb;
      // Relative-position words are larger: both must be readable in one image holding two
      // regions far apart (a packed image, or a crop spanning both at about half resolution).
      const patchHeight =
        content.kind === 'shape'
          ? size([0.012, 0.02], [0.06, 0.09])
          : type === 'relative'
            ? size([0.022, 0.03], [0.05, 0.07])
            : size([0.012, 0.018], [0.04, 0.06]);
      const patch = await renderPatch(content, patchHeight, marker);
      let box: Box | undefined;
      for (let attempt = 0; attempt < 200 && !box; attempt++) {
        const mx = Math.round(width * 0.03);
        let x = mx + Math.floor(rand() * Math.max(1, width - patch.width - 2 * mx));
        let y = mx + Math.floor(rand() * Math.max(1, height - patch.height - 2 * mx));
        if (type === 'relative' && t === 1) {
          const first = boxes[0] as Box;
          const gap = Math.round(width * (0.36 + rand() * 0.1));
          const dir = rand() < 0.5 ? -1 : 1;
          x = first.x + first.width / 2 + dir * gap - patch.width / 2;
          y = Math.round(first.y + (rand() - 0.5) * height * 0.3);
          x = Math.round(x);
        }
        const candidate = { x, y, width: patch.width, height: patch.height };
        if (x < 0 || y < 0 || x + patch.width > width || y + patch.height > height) continue;
        if (boxes.some((b) => overlaps(b, candidate, 20))) continue;
        box = candidate;
      }
      if (!box) {
        box = {
          x: Math.max(0, width - patch.width - 4 - t * (patch.width + 30)),
          y: Math.max(0, height - patch.height - 4),
          width: patch.width,
          height: patch.height,
        };
      }
      boxes.push(box);
      composites.push({ input: patch.png, left: box.x, top: box.y });
      targets.push({ label: content.label, box, marker, markerFraction: patch.markerFraction });
    }
    if (type === 'relative') {
      const [a, b] = targets as [SynthTarget, SynthTarget];
      const left = a.box.x + a.box.width / 2 < b.box.x + b.box.width / 2;
      options_ = left ? ['left', 'right'] : ['right', 'left'];
    }
    const image = `${id}.jpg`;
    await writeFile(join(options.out, image), await base.composite(composites).jpeg({ quality: 92 }).toBuffer());
    const item: SynthItem = {
      id,
      category: type === 'relative' ? 'relative_position' : 'direct_attributes',
      type,
      easy,
      question,
      options: options_,
      answer: options_[0] as string,
      targets,
      image,
      width,
      height,
      photo: `${photoName}${flip ? ' flipped' : ''} crop ${cropFrac.toFixed(2)}`,
    };
    items.push(item);
    await writeFile(
      join(options.out, `${id}.json`),
      `${JSON.stringify({
        question,
        options: options_,
        target_object: targets.map((t) => t.label),
        bbox: targets.map((t) => [t.box.x, t.box.y, t.box.width, t.box.height]),
        synth: { type, easy },
      })}\n`,
    );
  }
  const manifest: SynthManifest = { kind: 'semclip-synth', version: 1, seed, items };
  await writeFile(join(options.out, 'synth.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}
