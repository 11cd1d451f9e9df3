/**
 * A small ScienceQA dataset (the official layout: problems.json, pid_splits.json,
 * images/<split>/<pid>/image.png; optionally LLaVA's llava_test_CQM-A.json too) for labelling tests, and a fake VLM that answers right only
 * when it is shown a planned tile.
 *
 * Every image is 301 x 301, so a 2x2 grid cuts quadrants of four different sizes (150 or 151 px
 * per side: r0c0 150x150, r0c1 151x150, r1c0 150x151, r1c1 151x151). The responder recognises the
 * tile it was sent by the size of the second image (tiles are sent at native resolution) and the
 * item by the "Item <n>:" prefix of the question.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { prng } from './onnx-graph.js';

export const LABEL_IMAGE_SIDE = 301;

export interface LabelFixtureItem {
  /** ScienceQA problem id (also the item id). */
  readonly pid: string;
  readonly index: number;
  readonly question: string;
  readonly choices: readonly string[];
  /** Index of the right choice. */
  readonly answer: number;
  /** Tiles (0..3, row-major) with which the fake VLM answers right. */
  readonly right: readonly number[];
}

export interface LabelFixtureOptions {
  readonly items?: number;
  readonly seed?: number;
  readonly split?: string;
  /** Also add this many text-only problems (no image) to the split. Default 0. */
  readonly textOnly?: number;
  /**
   * Also write LLaVA's question file for the same problems, `llava_test_CQM-A.json` (its image
   * paths are relative to `images/test/`, so use it with `split: 'test'`, as LLaVA's file is).
   */
  readonly llava?: boolean;
}

/** Quadrant sizes of a 301 x 301 image on a 2x2 grid, by tile index. */
export const QUADRANT_SIZES: readonly (readonly [number, number])[] = [
  [150, 150],
  [151, 150],
  [150, 151],
  [151, 151],
];

function plan(next: () => number): number[] {
  const r = next();
  const tiles = [0, 1, 2, 3];
  for (let i = 3; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [tiles[i], tiles[j]] = [tiles[j]!, tiles[i]!];
  }
  // 60% one right tile, 20% two, 10% all four (skipped: all positive), 10% none (all negative).
  if (r < 0.6) return tiles.slice(0, 1).sort();
  if (r < 0.8) return tiles.slice(0, 2).sort();
  if (r < 0.9) return [0, 1, 2, 3];
  return [];
}

async function quadrantImage(next: () => number): Promise<Buffer> {
  const side = LABEL_IMAGE_SIDE;
  const colours = Array.from({ length: 4 }, () => [0, 1, 2].map(() => Math.floor(next() * 256)));
  const data = Buffer.alloc(side * side * 3);
  const half = Math.floor(side / 2);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const c = colours[(y < half ? 0 : 2) + (x < half ? 0 : 1)]!;
      const o = (y * side + x) * 3;
      data[o] = c[0]!;
      data[o + 1] = c[1]!;
      data[o + 2] = c[2]!;
    }
  }
  return sharp(data, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

/**
 * Writes the dataset into `dir` and returns its items with their plans.
 *
 * @example
 * ```ts
 * const items = await writeLabelScienceQa(dir, { items: 40 });
 * const fake = await startFakeOpenAI({ behaviour: { respond: labelResponder(items) } });
 * ```
 */
export async function writeLabelScienceQa(dir: string, options: LabelFixtureOptions = {}): Promise<LabelFixtureItem[]> {
  const count = options.items ?? 40;
  const split = options.split ?? 'train';
  const next = prng(options.seed ?? 1);
  const problems: Record<string, unknown> = {};
  const items: LabelFixtureItem[] = [];
  const names = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];
  for (let i = 0; i < count; i++) {
    const pid = String(1000 + i);
    const k = 2 + Math.floor(next() * 3);
    const choices = Array.from({ length: k }, (_, j) => names[(i + j) % names.length]!);
    const answer = Math.floor(next() * k);
    const question = `Item ${i}: which colour is the small square?`;
    const right = plan(next);
    problems[pid] = { question, choices, answer, hint: '', image: 'image.png', subject: 'natural science', grade: 'grade3', split };
    const imageDir = path.join(dir, 'images', split, pid);
    await mkdir(imageDir, { recursive: true });
    await writeFile(path.join(imageDir, 'image.png'), await quadrantImage(next));
    items.push({ pid, index: i, question, choices, answer, right });
  }
  const textOnly: string[] = [];
  for (let i = 0; i < (options.textOnly ?? 0); i++) {
    const pid = String(5000 + i);
    problems[pid] = { question: `Text item ${i}?`, choices: ['yes', 'no'], answer: 0, hint: 'No picture.', image: null, split };
    textOnly.push(pid);
  }
  await mkdir(dir, { recursive: true });
  if (options.llava) {
    const letters = (choices: readonly string[]) => choices.map((c, j) => `${String.fromCharCode(65 + j)}. ${c}`).join('\n');
    const llava = [
      ...items.map((it) => ({
        id: it.pid,
        image: `${it.pid}/image.png`,
        conversations: [
          { from: 'human', value: `<image>\n${it.question}\n${letters(it.choices)}` },
          { from: 'gpt', value: String.fromCharCode(65 + it.answer) },
        ],
      })),
      ...textOnly.map((pid, i) => ({
        id: pid,
        conversations: [
          { from: 'human', value: `Context: No picture.\nText item ${i}?\nA. yes\nB. no` },
          { from: 'gpt', value: 'A' },
        ],
      })),
    ];
    await writeFile(path.join(dir, 'llava_test_CQM-A.json'), JSON.stringify(llava));
  }
  await writeFile(path.join(dir, 'problems.json'), JSON.stringify(problems));
  await writeFile(path.join(dir, 'pid_splits.json'), JSON.stringify({ train: [], val: [], test: [], [split]: [...items.map((it) => it.pid), ...textOnly] }));
  return items;
}

/** What the responder reads from a recorded request (structurally the fake upstream's RecordedRequest). */
export interface RequestLike {
  readonly images: readonly { readonly width: number; readonly height: number }[];
  readonly texts: readonly string[];
}

/** The item number of a request (from "Item <n>:"), or undefined. */
export function itemOfRequest(request: RequestLike): number | undefined {
  for (const t of request.texts) {
    const m = /Item (\d+):/.exec(t);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** The 2x2 tile a request's second image is, by its size; undefined for any other size. */
export function tileOfRequest(request: RequestLike): number | undefined {
  const region = request.images[1];
  if (!region) return undefined;
  const i = QUADRANT_SIZES.findIndex(([w, h]) => w === region.width && h === region.height);
  return i < 0 ? undefined : i;
}

/**
 * A `respond` function for the fake OpenAI upstream: the right option letter when the request
 * shows a planned tile of its item, a wrong letter otherwise (and `Z` for requests it cannot place).
 */
export function labelResponder(items: readonly LabelFixtureItem[]): (request: RequestLike) => string {
  return (request) => {
    const item = items[itemOfRequest(request) ?? -1];
    const tile = tileOfRequest(request);
    if (!item || tile === undefined) return 'Z';
    const right = item.right.includes(tile);
    const index = right ? item.answer : (item.answer + 1) % item.choices.length;
    return String.fromCharCode(65 + index);
  };
}
