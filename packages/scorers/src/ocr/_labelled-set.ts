/**
 * The OCR scorer's labelled set and its metrics, for `bench/ocr-hit.bench.ts` (not exported).
 *
 * Two parts:
 * - real photos of `../shared/data/images`, read in place (never copied), each with questions
 *   whose answer text lies in a hand-labelled box;
 * - generated scenes: a cluttered, photo-like background with printed signs (DejaVu fonts
 *   through sharp's SVG rendering, text 0.8 % to 3 % of the image height, rotated up to 20
 *   degrees, under even, dim, washed-out or shadowed light, JPEG-compressed), every sign placed
 *   inside one tile of both the 2x2 and the 3x3 grid, most of them with a question about them,
 *   under camera blur, sensor noise and JPEG compression, next to a decoy sign whose words are
 *   each one letter off those of the first sign that its question asks about.
 *
 * Metrics: hit@1 (the best-scored tile is one that holds the answer box), detector recall (a
 * labelled line is covered by a detected line) and recogniser recall (a labelled word is read
 * exactly, case and punctuation aside), per text size.
 */
import sharp from 'sharp';
import type { Sharp } from 'sharp';
import { mulberry32 } from '@semclip/core';
import type { Box } from '@semclip/core';
import { lookAlikeCost } from './_align.js';
import { contentWords, tokenize } from './_match.js';

export interface LabelledQuestion {
  readonly question: string;
  readonly options?: readonly string[];
}

/** One labelled text line, its axis-aligned bounds in pixels of the (EXIF-oriented) image. */
export interface LabelledLine {
  readonly text: string;
  readonly box: Box;
  /** Font size (em) as a percentage of the image height. */
  readonly sizePct: number;
}

/** Where an answer is: the questions it answers and the box holding its text. */
export interface LabelledTarget {
  readonly id: string;
  readonly questions: readonly LabelledQuestion[];
  readonly box: Box;
  readonly lines: readonly LabelledLine[];
  /** Font size (em) as a percentage of the image height. */
  readonly sizePct: number;
  /** Whether a person reads the answer text at the photo's native resolution. */
  readonly legible: boolean;
  /** Generated scenes: how the sign was drawn. */
  readonly font?: string;
  readonly rotation?: number;
}

export interface LabelledImage {
  readonly id: string;
  readonly source: 'real' | 'generated';
  /** A file path (real photos, read in place) or encoded JPEG bytes (generated). */
  readonly image: string | Buffer;
  readonly width: number;
  readonly height: number;
  /** Generated scenes: the light they were rendered under, and the camera blur (sigma, px). */
  readonly light?: Light;
  readonly blur?: number;
  readonly targets: readonly LabelledTarget[];
  /** Every labelled line (targets and, for generated scenes, distractors): what recall counts. */
  readonly lines: readonly LabelledLine[];
}

// --- real photos ------------------------------------------------------------------------------

interface RealSpec {
  readonly file: string;
  readonly width: number;
  readonly height: number;
  readonly targets: readonly {
    readonly id: string;
    readonly questions: readonly LabelledQuestion[];
    readonly lines: readonly { text: string; box: [number, number, number, number] }[];
    /** Font size (em) in pixels of the photo, estimated from the cap height / 0.73. */
    readonly em: number;
    readonly legible: boolean;
  }[];
}

/**
 * Hand-labelled answers in the photos of `../shared/data/images` (boxes: x, y, width, height of
 * the text in pixels of the EXIF-oriented photo). Only text a person can find and read in the
 * full-resolution photo, asked about with words a reader of the question would use.
 */
export const REAL_PHOTOS: readonly RealSpec[] = [
  {
    file: 'queue_time.jpg',
    width: 4032,
    height: 3024,
    targets: [
      {
        id: 'wait-time',
        questions: [{ question: 'What is the wait time?' }, { question: 'How long is the wait at the stand-by entrance?' }],
        lines: [
          { text: 'WAIT TIME', box: [1633, 1595, 48, 8] },
          { text: 'MINUTES', box: [1636, 1649, 38, 8] },
        ],
        em: 11,
        legible: true,
      },
    ],
  },
  {
    file: 'signicade.JPG',
    width: 4240,
    height: 2700,
    targets: [
      {
        id: 'for-lease-phone',
        questions: [{ question: 'What is the phone number on the office for lease sign?' }],
        lines: [
          { text: 'OFFICE', box: [1940, 839, 48, 13] },
          { text: 'FOR LEASE', box: [1930, 858, 68, 13] },
          { text: '(408) 391-9081', box: [1928, 876, 72, 14] },
        ],
        em: 18,
        legible: true,
      },
    ],
  },
  {
    file: 'doll.JPG',
    width: 4240,
    height: 2832,
    targets: [
      {
        id: 'sds-poster',
        questions: [{ question: 'What is the phone number on the SDS poster?' }, { question: 'What is the password on the SDS poster?' }],
        lines: [
          { text: 'SDS', box: [2616, 124, 60, 38] },
          { text: 'Password: MSDS', box: [2326, 211, 112, 17] },
          { text: '+1 800-451-8346', box: [2580, 237, 120, 17] },
        ],
        em: 22,
        legible: true,
      },
      {
        id: 'lights-off',
        questions: [{ question: 'What does the sign by the light switch ask?' }],
        lines: [{ text: 'PLEASE TURN LIGHTS OFF', box: [1122, 408, 128, 42] }],
        em: 19,
        legible: true,
      },
      {
        id: 'brute',
        questions: [{ question: 'Which brand is printed on the yellow bin?', options: ['BRUTE', 'ROUGHNECK'] }],
        lines: [{ text: 'BRUTE', box: [1180, 2070, 320, 115] }],
        em: 155,
        legible: true,
      },
    ],
  },
  {
    file: 'bag_of_bottle.jpeg',
    width: 5650,
    height: 3767,
    targets: [
      {
        id: 'hilton-times-square',
        questions: [{ question: 'Which hotel is on Times Square?' }],
        lines: [{ text: 'Hilton TIMES SQUARE', box: [1078, 2515, 396, 88] }],
        em: 80,
        legible: true,
      },
      {
        id: 'itsugar',
        questions: [{ question: 'Which candy store is on this street?', options: ["IT'SUGAR", "Dylan's Candy Bar"] }],
        lines: [{ text: "IT'SUGAR", box: [1930, 1700, 850, 400] }],
        em: 420,
        legible: true,
      },
      {
        id: 'nutritional-value',
        questions: [{ question: 'What does the pink sign say about nutritional value?' }],
        lines: [
          { text: 'ABSOLUTELY', box: [2470, 2350, 172, 60] },
          { text: 'NO', box: [2520, 2414, 55, 42] },
          { text: 'NUTRITIONAL', box: [2460, 2462, 180, 50] },
          { text: 'VALUE', box: [2506, 2524, 98, 52] },
          { text: 'ADDED', box: [2502, 2580, 104, 52] },
        ],
        em: 70,
        legible: true,
      },
      {
        id: 'drug-free-website',
        questions: [{ question: 'Which website does the ad about drugs give?' }],
        lines: [{ text: 'DrugFreeNJ.org', box: [4312, 2620, 190, 66] }],
        em: 60,
        legible: true,
      },
    ],
  },
  {
    file: 'vending_machine.jpg',
    width: 2250,
    height: 1500,
    targets: [
      {
        id: 'tvr-web-address',
        questions: [{ question: 'What is the web address on the board?', options: ['www.tvr.by', 'www.minsk.by'] }],
        lines: [{ text: 'WWW.TVR.BY', box: [2122, 906, 50, 8] }],
        em: 10,
        legible: true,
      },
    ],
  },
  {
    file: 'blackmug.JPG',
    width: 4000,
    height: 2700,
    targets: [
      {
        id: 'siggraph-mug',
        questions: [{ question: 'Which conference is printed on the mug?', options: ['SIGGRAPH', 'CVPR'] }],
        lines: [{ text: 'SIGGRAPH 2016', box: [2162, 1486, 82, 17] }],
        em: 20,
        legible: true,
      },
      {
        id: 'samsung-monitor',
        questions: [{ question: 'Which brand is the monitor on the right?', options: ['Samsung', 'Dell'] }],
        lines: [{ text: 'SAMSUNG', box: [3308, 1348, 102, 20] }],
        em: 27,
        legible: true,
      },
    ],
  },
];

function union(boxes: readonly Box[]): Box {
  const x = Math.min(...boxes.map((b) => b.x));
  const y = Math.min(...boxes.map((b) => b.y));
  const x1 = Math.max(...boxes.map((b) => b.x + b.width));
  const y1 = Math.max(...boxes.map((b) => b.y + b.height));
  return { x, y, width: x1 - x, height: y1 - y };
}

/** The real photos as labelled images, their paths under `imagesDir`. */
export function realPhotos(imagesDir: string): LabelledImage[] {
  return REAL_PHOTOS.map((spec) => {
    const targets = spec.targets.map((t) => {
      const sizePct = (100 * t.em) / spec.height;
      const lines = t.lines.map((l) => ({ text: l.text, box: { x: l.box[0], y: l.box[1], width: l.box[2], height: l.box[3] }, sizePct }));
      return { id: t.id, questions: t.questions, box: union(lines.map((l) => l.box)), lines, sizePct, legible: t.legible };
    });
    return {
      id: spec.file,
      source: 'real' as const,
      image: `${imagesDir}/${spec.file}`,
      width: spec.width,
      height: spec.height,
      targets,
      lines: targets.flatMap((t) => t.lines),
    };
  });
}

// --- generated scenes -------------------------------------------------------------------------

/** Font sizes (em) of the generated text, as percentages of the image height. */
export const TEXT_SIZES: readonly number[] = [0.8, 1.2, 1.8, 3];

export const FONTS = [
  { name: 'Sans Bold', family: 'DejaVu Sans', weight: 'bold' },
  { name: 'Sans', family: 'DejaVu Sans', weight: 'normal' },
  { name: 'Serif Bold', family: 'DejaVu Serif', weight: 'bold' },
  { name: 'Mono Bold', family: 'DejaVu Sans Mono', weight: 'bold' },
  { name: 'Condensed Bold', family: 'DejaVu Sans Condensed', weight: 'bold' },
  { name: 'Light', family: 'DejaVu Sans Light', weight: 'normal' },
] as const;

export type Light = 'even' | 'dim' | 'washed' | 'shadow';
const LIGHTS: readonly Light[] = ['even', 'dim', 'washed', 'shadow'];
const ROTATIONS = [0, 0, 0, 3, -6, 10, -15, 20];
const SCENE_SIZES: readonly (readonly [number, number])[] = [
  [3000, 2000],
  [4032, 3024],
  [2400, 1600],
];
const STYLES = [
  { bg: '#1d4e89', fg: '#ffffff' },
  { bg: '#f4d03f', fg: '#111111' },
  { bg: '#b03a2e', fg: '#ffffff' },
  { bg: '#fdfefe', fg: '#1b2631' },
  { bg: '#1e8449', fg: '#ffffff' },
  { bg: '#aab7b8', fg: '#1c2833' },
] as const;

interface SignSpec {
  readonly lines: readonly string[];
  readonly question?: LabelledQuestion;
}

/** Signs with a question whose answer is on the sign. */
export const TARGET_SIGNS: readonly SignSpec[] = [
  { lines: ['WAIT TIME', '25 MIN'], question: { question: 'What is the wait time?' } },
  { lines: ['PLATFORM 4', 'TRAINS TO OAKDALE'], question: { question: 'Which platform do the trains to Oakdale leave from?' } },
  { lines: ['PHARMACY', 'OPEN 24 HOURS'], question: { question: 'Is the pharmacy open all night?' } },
  { lines: ['ADMISSION', '$12.50'], question: { question: 'How much is admission?' } },
  { lines: ['CHECKOUT', 'LANE 7'], question: { question: 'Which checkout lane is this?' } },
  { lines: ['NO PARKING', '8AM - 6PM'], question: { question: 'When is parking not allowed?' } },
  { lines: ['EMERGENCY EXIT'], question: { question: 'Where is the emergency exit?' } },
  { lines: ['LIBRARY HOURS', 'MON-FRI 9-5'], question: { question: 'What are the library hours?' } },
  { lines: ['WIFI PASSWORD', 'GARDEN42'], question: { question: 'What is the wifi password?' } },
  { lines: ['SPEED LIMIT', '35'], question: { question: 'What is the speed limit?' } },
  { lines: ['FRESH BREAD', '2.99'], question: { question: 'How much is the fresh bread?' } },
  { lines: ['GATE B12', 'NOW BOARDING'], question: { question: 'Which gate is boarding now?' } },
  { lines: ['ROOM 214', 'CHEMISTRY LAB'], question: { question: 'Which room is the chemistry lab in?' } },
  { lines: ['BUS 42', 'DOWNTOWN'], question: { question: 'Which bus goes downtown?' } },
  { lines: ['MUSEUM', 'CLOSED MONDAYS'], question: { question: 'On which day is the museum closed?' } },
  { lines: ['TICKETS', 'CHILD $5'], question: { question: 'How much is a child ticket?' } },
  { lines: ['BAGGAGE CLAIM', 'CAROUSEL 3'], question: { question: 'Which carousel is for baggage claim?' } },
  { lines: ['FLOOR 3', 'ELECTRONICS'], question: { question: 'On which floor are the electronics?' } },
];

/** Signs without a question: clutter, one of them a text-heavy menu board. */
export const DISTRACTOR_SIGNS: readonly SignSpec[] = [
  { lines: ['GIFT SHOP'] },
  { lines: ['RESTROOMS'] },
  { lines: ['WELCOME'] },
  { lines: ['ICE CREAM'] },
  { lines: ['INFORMATION'] },
  { lines: ['STAFF ONLY'] },
  { lines: ['CAUTION', 'WET SURFACE'] },
  { lines: ['LOST AND FOUND'] },
  { lines: ['COFFEE & TEA'] },
  { lines: ['SALE 50% OFF'] },
  { lines: ['FIRST AID'] },
  { lines: ['RECYCLING'] },
  { lines: ['DAILY SPECIALS', 'SOUP AND SALAD', 'FRESH JUICE', 'HOMEMADE PIE', 'HOT CHOCOLATE'] },
];

interface Ink {
  /** Ink bounds relative to the text anchor (left end of the baseline). */
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

const inkCache = new Map<string, Ink>();

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function textSvg(text: string, x: number, y: number, size: number, font: (typeof FONTS)[number], fill: string): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="${font.family}" font-weight="${font.weight}" font-size="${size.toFixed(1)}" fill="${fill}">${escapeXml(text)}</text>`;
}

/** Where a text's ink lies relative to its anchor, measured by rendering it alone and trimming. */
async function measure(text: string, size: number, font: (typeof FONTS)[number]): Promise<Ink> {
  const key = `${font.name}|${size.toFixed(1)}|${text}`;
  const hit = inkCache.get(key);
  if (hit) return hit;
  const pad = Math.ceil(size);
  const width = Math.ceil(text.length * size * 0.9 + 2 * pad);
  const height = Math.ceil(size * 2 + 2 * pad);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${textSvg(text, pad, pad + size * 1.4, size, font, '#000')}</svg>`;
  const { info } = await sharp(Buffer.from(svg)).trim().toBuffer({ resolveWithObject: true });
  const ink = { left: -(info.trimOffsetLeft ?? 0) - pad, top: -(info.trimOffsetTop ?? 0) - (pad + size * 1.4), width: info.width, height: info.height };
  inkCache.set(key, ink);
  return ink;
}

interface Placed {
  readonly svg: string;
  readonly lines: LabelledLine[];
  readonly box: Box;
}

/** Bounds of `box` after SVG's `rotate(degrees) skewX(skew)` about (cx, cy). */
function transformAabb(box: Box, cx: number, cy: number, degrees: number, skew = 0): Box {
  const a = (degrees * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const k = Math.tan((skew * Math.PI) / 180);
  const corners = [
    [box.x, box.y],
    [box.x + box.width, box.y],
    [box.x + box.width, box.y + box.height],
    [box.x, box.y + box.height],
  ].map(([x, y]) => {
    const dx = x! - cx + k * (y! - cy);
    const dy = y! - cy;
    return [cx + dx * cos - dy * sin, cy + dx * sin + dy * cos] as const;
  });
  const xs = corners.map((p) => p[0]);
  const ys = corners.map((p) => p[1]);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y };
}

/** Lays a sign out with its top-left at (0, 0), unrotated: panel size and line inks. */
async function layoutSign(sign: SignSpec, size: number, font: (typeof FONTS)[number]) {
  const inks = await Promise.all(sign.lines.map((l) => measure(l, size, font)));
  const padX = size * 0.6;
  const padY = size * 0.45;
  const pitch = size * 1.3;
  const width = Math.max(...inks.map((i) => i.width)) + 2 * padX;
  const height = 2 * padY + size * 0.75 + (sign.lines.length - 1) * pitch + size * 0.25;
  const lines = inks.map((ink, i) => {
    const baseline = padY + size * 0.75 + i * pitch;
    const x = (width - ink.width) / 2;
    return { text: sign.lines[i]!, anchorX: x - ink.left, baseline, ink: { x, y: baseline + ink.top, width: ink.width, height: ink.height } };
  });
  return { width, height, lines };
}

async function placeSign(
  layout: Awaited<ReturnType<typeof layoutSign>>,
  at: { x: number; y: number },
  size: number,
  sizePct: number,
  font: (typeof FONTS)[number],
  rotation: number,
  skew: number,
  style: (typeof STYLES)[number],
): Promise<Placed> {
  const cx = at.x + layout.width / 2;
  const cy = at.y + layout.height / 2;
  const parts = [
    `<rect x="${at.x.toFixed(1)}" y="${at.y.toFixed(1)}" width="${layout.width.toFixed(1)}" height="${layout.height.toFixed(1)}" rx="${(size * 0.2).toFixed(1)}" fill="${style.bg}" stroke="#222" stroke-opacity="0.5" stroke-width="${Math.max(1, size * 0.06).toFixed(1)}"/>`,
    ...layout.lines.map((l) => textSvg(l.text, at.x + l.anchorX, at.y + l.baseline, size, font, style.fg)),
  ];
  const svg = `<g transform="translate(${cx.toFixed(1)} ${cy.toFixed(1)}) rotate(${rotation}) skewX(${skew}) translate(${(-cx).toFixed(1)} ${(-cy).toFixed(1)})">${parts.join('')}</g>`;
  const lines = layout.lines.map((l) => ({
    text: l.text,
    box: transformAabb({ x: at.x + l.ink.x, y: at.y + l.ink.y, width: l.ink.width, height: l.ink.height }, cx, cy, rotation, skew),
    sizePct,
  }));
  return { svg, lines, box: transformAabb({ x: at.x, y: at.y, width: layout.width, height: layout.height }, cx, cy, rotation, skew) };
}

/** The part of 3x3 cell (col3, row3) that also lies in one 2x2 tile: where a sign may go. */
function cellBounds(W: number, H: number, col3: number, row3: number, rand: () => number): Box {
  const third = (i: number, n: number) => [(i * n) / 3, ((i + 1) * n) / 3] as const;
  const half = (i: number, n: number) => [(i * n) / 2, ((i + 1) * n) / 2] as const;
  const range = (i3: number, n: number) => {
    const [a, b] = third(i3, n);
    // The middle third is split by the 2x2 boundary: stay in one half of it.
    const h = i3 === 0 ? 0 : i3 === 2 ? 1 : rand() < 0.5 ? 0 : 1;
    const [c, d] = half(h, n);
    return [Math.max(a, c), Math.min(b, d)] as const;
  };
  const [x0, x1] = range(col3, W);
  const [y0, y1] = range(row3, H);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

function shuffle<T>(items: readonly T[], rand: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** The content words of a sign's question, and the words on the sign. */
function collides(a: SignSpec, b: SignSpec): boolean {
  const words = (s: SignSpec) => new Set(tokenize(s.lines.join(' ')));
  const asks = (s: SignSpec) => (s.question ? contentWords([s.question.question], 32, 4000).words : []);
  const wa = words(a);
  const wb = words(b);
  return asks(a).some((w) => wb.has(w)) || asks(b).some((w) => wa.has(w));
}

async function backgroundSvg(W: number, H: number, rand: () => number): Promise<string> {
  const hue = Math.floor(rand() * 360);
  const parts = [
    `<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="hsl(${hue},30%,75%)"/><stop offset="1" stop-color="hsl(${(hue + 40) % 360},20%,35%)"/></linearGradient></defs>`,
    `<rect width="${W}" height="${H}" fill="url(#sky)"/>`,
  ];
  for (let i = 0; i < 60; i++) {
    const w = W * (0.03 + rand() * 0.25);
    const h = H * (0.03 + rand() * 0.3);
    const x = rand() * W - w / 2;
    const y = rand() * H - h / 2;
    const fill = `hsl(${Math.floor(rand() * 360)},${Math.floor(10 + rand() * 35)}%,${Math.floor(20 + rand() * 60)}%)`;
    parts.push(
      rand() < 0.7
        ? `<rect x="${x.toFixed(0)}" y="${y.toFixed(0)}" width="${w.toFixed(0)}" height="${h.toFixed(0)}" fill="${fill}" fill-opacity="${(0.4 + rand() * 0.6).toFixed(2)}"/>`
        : `<ellipse cx="${x.toFixed(0)}" cy="${y.toFixed(0)}" rx="${(w / 2).toFixed(0)}" ry="${(h / 2).toFixed(0)}" fill="${fill}" fill-opacity="${(0.4 + rand() * 0.6).toFixed(2)}"/>`,
    );
  }
  // Thin lines: window frames, railings, poles (edges the detector must not take for text).
  for (let i = 0; i < 40; i++) {
    const x = rand() * W;
    const y = rand() * H;
    const vertical = rand() < 0.5;
    const len = (vertical ? H : W) * (0.05 + rand() * 0.3);
    parts.push(
      `<line x1="${x.toFixed(0)}" y1="${y.toFixed(0)}" x2="${(vertical ? x : x + len).toFixed(0)}" y2="${(vertical ? y + len : y).toFixed(0)}" stroke="hsl(0,0%,${Math.floor(rand() * 100)}%)" stroke-width="${(1 + rand() * 6).toFixed(1)}"/>`,
    );
  }
  return parts.join('');
}

const NOISE_SIDE = 509;

/** Gaussian sensor noise around mid-grey from the scene's PRNG (sharp's own is not seeded), tiled over the image. */
function seededNoise(rand: () => number, sigma: number) {
  const data = Buffer.alloc(NOISE_SIDE * NOISE_SIDE * 3);
  for (let i = 0; i < data.length; i += 2) {
    // Box-Muller: two normal values per pair of uniforms.
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const a = 2 * Math.PI * rand();
    data[i] = Math.max(0, Math.min(255, Math.round(128 + sigma * r * Math.cos(a))));
    if (i + 1 < data.length) data[i + 1] = Math.max(0, Math.min(255, Math.round(128 + sigma * r * Math.sin(a))));
  }
  return { data, raw: { width: NOISE_SIDE, height: NOISE_SIDE, channels: 3 as const } };
}

export interface SceneOptions {
  /** How many signs with a question per scene. Default 3. */
  readonly targets?: number;
  /** How many signs without one (besides the decoy). Default 2. */
  readonly distractors?: number;
}

/** Camera softness: Gaussian blur sigma as a fraction of the image height, cycled per scene. */
const OPTICS: readonly number[] = [0.0003, 0.0006, 0.0009];
const SKEWS: readonly number[] = [0, 0, 8, -10, 0, 14];

/**
 * A decoy for a sign: the words its question asks about that are on it, each with one letter
 * changed to one that does not look alike ("WAIT TIME" -> "WAKT TIRE"): a matcher that
 * forgives too much is drawn to it when the real sign is misread, one that forgives nothing is not.
 */
export function decoyLines(sign: { readonly lines: readonly string[]; readonly question?: LabelledQuestion }, rand: () => number): string[] {
  const onSign = new Set(tokenize(sign.lines.join(' ')));
  const words = contentWords([sign.question?.question ?? ''], 32, 4000).words.filter((w) => w.length >= 4 && /^\p{L}+$/u.test(w) && onSign.has(w));
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const changed = words.map((w) => {
    const at = 1 + Math.floor(rand() * (w.length - 2));
    const options = [...letters].filter((c) => lookAlikeCost(c, w[at]!) === 1);
    const c = options[Math.floor(rand() * options.length)]!;
    return (w.slice(0, at) + c + w.slice(at + 1)).toUpperCase();
  });
  return changed.length <= 2 ? [changed.join(' ')] : [changed.slice(0, 2).join(' '), changed.slice(2).join(' ')];
}

/**
 * One generated scene, the same for the same index on every machine: its JPEG bytes, the
 * signs with questions (targets) and every line drawn. Text sizes, fonts, rotations, skews,
 * light and camera softness cycle with the index, so every size meets every condition over a
 * run of scenes. Each scene also has a decoy: the first sign's asked-about words, each one letter off.
 *
 * A target counts as legible when its font size is at least 10 px and 7 blur sigmas.
 */
export async function generateScene(index: number, options: SceneOptions = {}): Promise<LabelledImage> {
  const rand = mulberry32(1000 + index);
  const [W, H] = SCENE_SIZES[index % SCENE_SIZES.length]!;
  const light = LIGHTS[Math.floor(index / SCENE_SIZES.length) % LIGHTS.length]!;
  const sigma = OPTICS[index % OPTICS.length]! * H;
  const nTargets = options.targets ?? 3;
  const nDistractors = options.distractors ?? 2;

  // Pick signs that do not answer each other's questions.
  const chosen: { sign: SignSpec; target: boolean }[] = [];
  for (const sign of shuffle(TARGET_SIGNS, rand)) {
    if (chosen.length >= nTargets) break;
    if (!chosen.some((c) => collides(c.sign, sign))) chosen.push({ sign, target: true });
  }
  const decoy = chosen[0] ? decoyLines(chosen[0].sign, rand) : [];
  if (decoy.length > 0 && decoy[0] !== '') chosen.push({ sign: { lines: decoy }, target: false });
  for (const sign of shuffle(DISTRACTOR_SIGNS, rand)) {
    if (chosen.length >= nTargets + 1 + nDistractors) break;
    if (!chosen.some((c) => collides(c.sign, sign))) chosen.push({ sign, target: false });
  }

  const cells = shuffle(
    Array.from({ length: 9 }, (_, i) => i),
    rand,
  );
  const used = new Set<number>();
  const placed: { placed: Placed; target: boolean; sign: SignSpec; sizePct: number; font: string; rotation: number }[] = [];
  for (const [k, { sign, target }] of chosen.entries()) {
    const sizePct = TEXT_SIZES[(index * 5 + k) % TEXT_SIZES.length]!;
    const size = (sizePct / 100) * H;
    const font = FONTS[(index + k * 2) % FONTS.length]!;
    const rotation = ROTATIONS[(index * 3 + k) % ROTATIONS.length]! * (rand() < 0.5 ? 1 : -1);
    const skew = SKEWS[(index + k) % SKEWS.length]!;
    const style = STYLES[Math.floor(rand() * STYLES.length)]!;
    const layout = await layoutSign(sign, size, font);
    const margin = 0.02 * Math.min(W, H);
    for (const cell of cells) {
      if (used.has(cell)) continue;
      const bounds = cellBounds(W, H, cell % 3, Math.floor(cell / 3), rand);
      const probe = transformAabb({ x: 0, y: 0, width: layout.width, height: layout.height }, layout.width / 2, layout.height / 2, rotation, skew);
      const freeX = bounds.width - probe.width - 2 * margin;
      const freeY = bounds.height - probe.height - 2 * margin;
      if (freeX < 0 || freeY < 0) continue;
      // Top-left of the untransformed panel such that the transformed one sits inside the bounds.
      const x = bounds.x + margin + rand() * freeX - probe.x;
      const y = bounds.y + margin + rand() * freeY - probe.y;
      placed.push({ placed: await placeSign(layout, { x, y }, size, sizePct, font, rotation, skew, style), target, sign, sizePct, font: font.name, rotation });
      used.add(cell);
      break;
    }
  }

  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${await backgroundSvg(W, H, rand)}${placed.map((p) => p.placed.svg).join('')}</svg>`;
  const raw = (img: Sharp) => img.png({ compressionLevel: 0 }).toBuffer();
  // Camera softness first, then the light, then sensor noise (stronger in the dark), then JPEG.
  let img = sharp(await raw(sharp(Buffer.from(svg)).removeAlpha().blur(Math.max(0.3, sigma))));
  if (light === 'dim') img = img.modulate({ brightness: 0.4 });
  else if (light === 'washed') img = img.linear(0.45, 130);
  else if (light === 'shadow') {
    const shade = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><defs><linearGradient id="s" x1="0" y1="0" x2="1" y2="0.3"><stop offset="0" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="0.7"/></linearGradient></defs><rect width="${W}" height="${H}" fill="url(#s)"/></svg>`;
    img = img.composite([{ input: Buffer.from(shade) }]);
  }
  const noise = seededNoise(rand, light === 'dim' ? 22 : 12);
  img = sharp(await raw(sharp(await raw(img)).composite([{ input: noise.data, raw: noise.raw, tile: true, blend: 'overlay' }])));
  const bytes = await img.jpeg({ quality: 75 }).toBuffer();

  const targets: LabelledTarget[] = placed
    .filter((p) => p.target)
    .map((p, i) => {
      const em = (p.sizePct / 100) * H;
      return {
        id: `scene${index}-${i}`,
        questions: [p.sign.question!],
        box: union(p.placed.lines.map((l) => l.box)),
        lines: p.placed.lines,
        sizePct: p.sizePct,
        legible: em >= 10 && em >= 7 * sigma,
        font: p.font,
        rotation: p.rotation,
      };
    });
  return {
    id: `scene${index}`,
    source: 'generated',
    image: bytes,
    width: W,
    height: H,
    light,
    blur: sigma,
    targets,
    lines: placed.flatMap((p) => p.placed.lines),
  };
}

// --- metrics ----------------------------------------------------------------------------------

function intersection(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * The tiles that hold an answer box: each tile with at least `minShare` of the box's area
 * (default 0.3), and `cut` when no tile holds 70 % of it (the grid splits the text).
 */
export function answerTiles(box: Box, tiles: readonly { readonly index: number; readonly box: Box }[], minShare = 0.3): { tiles: number[]; cut: boolean } {
  const area = Math.max(1e-9, box.width * box.height);
  const shares = tiles.map((t) => ({ index: t.index, share: intersection(box, t.box) / area }));
  return { tiles: shares.filter((s) => s.share >= minShare).map((s) => s.index), cut: Math.max(0, ...shares.map((s) => s.share)) < 0.7 };
}

/** The first index of the highest score; -1 when every score is 0 (nothing to choose by). */
export function bestTile(scores: readonly number[]): number {
  let best = -1;
  let value = 0;
  scores.forEach((s, i) => {
    if (s > value) {
      value = s;
      best = i;
    }
  });
  return best;
}

const squash = (s: string) =>
  s
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '');

export interface ReadLine {
  readonly text: string;
  readonly box: Box;
}

/**
 * Detector and recogniser recall of one labelled line against what OCR read: detected when
 * read lines cover at least half of it (each read line counted if at least 20 % of it lies on
 * the labelled line); each of its words read when it appears, squashed (lowercase, no spaces or
 * punctuation), in the squashed text of those lines.
 */
export function lineRecall(label: LabelledLine, read: readonly ReadLine[]): { detected: boolean; words: number; wordsRead: number } {
  const area = Math.max(1e-9, label.box.width * label.box.height);
  const over = read.filter((r) => intersection(label.box, r.box) >= 0.2 * Math.max(1e-9, r.box.width * r.box.height));
  const covered = over.reduce((sum, r) => sum + intersection(label.box, r.box), 0) / area;
  const text = squash(over.map((r) => r.text).join(''));
  const words = label.text.split(/\s+/).map(squash).filter(Boolean);
  return { detected: covered >= 0.5, words: words.length, wordsRead: words.filter((w) => text.includes(w)).length };
}

/** The size class of a text size (em as % of image height) in the bench's tables. */
export function sizeClass(sizePct: number): string {
  if (sizePct < 0.8) return '<0.8%';
  if (sizePct < 1.2) return '0.8-1.2%';
  if (sizePct < 1.8) return '1.2-1.8%';
  if (sizePct < 3) return '1.8-3%';
  return '>=3%';
}

export const SIZE_CLASSES: readonly string[] = ['<0.8%', '0.8-1.2%', '1.2-1.8%', '1.8-3%', '>=3%'];
