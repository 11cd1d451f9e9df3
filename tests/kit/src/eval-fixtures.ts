/**
 * Fixtures for evaluation-run tests: benchmarks whose images have one "right" tile (painted
 * red) per question, a fake-VLM answer rule that is right only when that tile is in the
 * prompt, and a scorer that ranks tiles by redness (so it finds the right tile from pixels).
 *
 * Tiles are told apart in requests by their pixel size: the images are 97 x 61, so the four
 * tiles of a 2x2 grid all have different sizes (48/49 x 30/31) and the overview is larger.
 * Tests build the size -> tile map from the real grid (`tileSizeMap`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import type { Box, RelevanceScorer, TileSource } from '@semclip/core';
import type { RecordedRequest } from './openai-upstream.js';

export const EVAL_IMAGE = { width: 97, height: 61 } as const;

/** The four quadrant colours of tiles that are not the right one; none is reddish. */
const PLAIN: readonly (readonly [number, number, number])[] = [
  [40, 90, 200],
  [40, 170, 80],
  [120, 120, 120],
  [30, 150, 160],
];
const RED = [225, 25, 25] as const;

export interface EvalFixtureItem {
  /** The item id as the loader reports it. */
  readonly id: string;
  readonly question: string;
  /** The ground truth: `A` (V*) or `yes`/`no` (POPE). */
  readonly answer: string;
  readonly options?: readonly string[];
  /** The tile (row-major in a 2x2 grid) that makes the fake VLM answer right; `null` = none. */
  readonly rightTile: number | null;
  readonly category?: string;
}

/** The right tile of the i-th question: 0, 1, 2, 3, none, 0, 1, ... */
export const rightTileOf = (i: number): number | null => (i % 5 === 4 ? null : i % 5);

async function quadrantImage(path: string, rightTile: number | null): Promise<void> {
  const { width: W, height: H } = EVAL_IMAGE;
  const data = Buffer.alloc(W * H * 3);
  const cx = Math.floor(W / 2);
  const cy = Math.floor(H / 2);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const q = (y < cy ? 0 : 2) + (x < cx ? 0 : 1);
      const c = q === rightTile ? RED : (PLAIN[q] as readonly [number, number, number]);
      data.set(c, (y * W + x) * 3);
    }
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(
    path,
    await sharp(data, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toBuffer(),
  );
}

/**
 * A V* annotation file (`annotations.jsonl`: question, 4 options, the first correct,
 * `input_image`) with `count` questions and their images under `images/`.
 */
export async function writeEvalVstar(dir: string, count: number): Promise<EvalFixtureItem[]> {
  const items: EvalFixtureItem[] = [];
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const category = i % 2 === 0 ? 'direct_attributes' : 'relative_position';
    const image = `${category}/q${i}.png`;
    const question = `What is the colour of object number ${i}?`;
    const options = ['red', 'blue', 'green', 'grey'].map((c) => `The colour of object ${i} is ${c}.`);
    await quadrantImage(join(dir, image), rightTileOf(i));
    lines.push(JSON.stringify({ question, options, input_image: image, target_object: [`object ${i}`], bbox: [[1, 1, 5, 5]], test_type: category }));
    items.push({ id: image.replace(/\.png$/, ''), question, answer: 'A', options, rightTile: rightTileOf(i), category });
  }
  await writeFile(join(dir, 'annotations.jsonl'), `${lines.join('\n')}\n`);
  return items;
}

/**
 * A POPE folder (`coco_pope_{random,popular,adversarial}.json` + `val2014/`) with `perSplit`
 * questions per split; labels alternate yes/no.
 */
export async function writeEvalPope(dir: string, perSplit: number): Promise<EvalFixtureItem[]> {
  const items: EvalFixtureItem[] = [];
  const offsets = { adversarial: 0, random: 10_000_000, popular: 20_000_000 } as const;
  let n = 0;
  for (const split of ['random', 'popular', 'adversarial'] as const) {
    const lines: string[] = [];
    for (let i = 0; i < perSplit; i++, n++) {
      const image = `COCO_val2014_${String(n).padStart(12, '0')}.jpg`;
      const text = `Is there a thing number ${n} in the image?`;
      const label = n % 2 === 0 ? 'yes' : 'no';
      await quadrantImage(join(dir, 'val2014', image), rightTileOf(n));
      lines.push(JSON.stringify({ question_id: i + 1, image, text, label }));
      items.push({ id: String(i + 1 + offsets[split]), question: text, answer: label, rightTile: rightTileOf(n), category: split });
    }
    await writeFile(join(dir, `coco_pope_${split}.json`), `${lines.join('\n')}\n`);
  }
  return items;
}

/** `"WxH"` of each tile box -> tile index, plus the whole image as `'overview'`. */
export function tileSizeMap(
  tiles: readonly { readonly index: number; readonly box: Box }[],
  image: { width: number; height: number },
): Map<string, number | 'overview'> {
  const map = new Map<string, number | 'overview'>([[`${image.width}x${image.height}`, 'overview']]);
  for (const t of tiles) {
    const key = `${t.box.width}x${t.box.height}`;
    if (map.has(key)) throw new Error(`eval fixtures: two images of size ${key}; the fake VLM could not tell them apart`);
    map.set(key, t.index);
  }
  return map;
}

/** What a request to the fake VLM was about. */
export interface ClassifiedRequest {
  readonly item: EvalFixtureItem;
  readonly overview: boolean;
  /** Tile indices sent, in order. */
  readonly tiles: readonly number[];
}

/**
 * The answer rule of the fake VLM, and a classifier for recorded requests. The reply is
 * right exactly when the item's right tile is among the images; otherwise V* gets a wrong
 * option that depends on the first tile sent (the file's B, C, D by tile index mod 3; B for
 * the overview alone) and POPE the opposite of the label. `answerFor` gives the option as the
 * data file letters it; `respond` says the letter it has among the options the request lists
 * (`eval run` shows V* options shuffled), as a model would.
 */
export function tileOracleVlm(items: readonly EvalFixtureItem[], sizes: ReadonlyMap<string, number | 'overview'>) {
  const byQuestion = [...items].sort((a, b) => b.question.length - a.question.length);
  const classify = (request: RecordedRequest): ClassifiedRequest => {
    const text = request.texts.join('\n');
    const item = byQuestion.find((it) => text.includes(it.question));
    if (!item) throw new Error(`fake VLM: no fixture question in request ${request.index}: ${text.slice(0, 200)}`);
    let overview = false;
    const tiles: number[] = [];
    for (const img of request.images) {
      const what = sizes.get(`${img.width}x${img.height}`);
      if (what === undefined) throw new Error(`fake VLM: unknown image size ${img.width}x${img.height}`);
      if (what === 'overview') overview = true;
      else tiles.push(what);
    }
    return { item, overview, tiles };
  };
  const answerFor = (c: ClassifiedRequest): string => {
    const right = c.item.rightTile !== null && c.tiles.includes(c.item.rightTile);
    if (c.item.options) return right ? c.item.answer : (['B', 'C', 'D'][(c.tiles[0] ?? 3) % 3] as string);
    const wrong = c.item.answer === 'yes' ? 'no' : 'yes';
    return right ? `${c.item.answer[0]?.toUpperCase()}${c.item.answer.slice(1)}` : `${wrong[0]?.toUpperCase()}${wrong.slice(1)}`;
  };
  /** The letter the request shows the file's option `letter` under (`X. text` lines), else `letter`. */
  const shownLetter = (request: RecordedRequest, item: EvalFixtureItem, letter: string): string => {
    const text = item.options?.[letter.charCodeAt(0) - 65];
    if (text === undefined) return letter;
    for (const line of request.texts.join('\n').split('\n')) {
      const m = /^([A-Z])\. (.*)$/.exec(line.trim());
      if (m && m[2] === text) return m[1] as string;
    }
    return letter;
  };
  return {
    classify,
    answerFor,
    respond: (request: RecordedRequest) => {
      const c = classify(request);
      return shownLetter(request, c.item, answerFor(c));
    },
  };
}

/** Ranks tiles by how red they are (mean R minus mean of G and B), from 8x8 crops. */
export function createRedScorer(): RelevanceScorer & { calls: number } {
  const scorer = {
    id: 'red',
    calls: 0,
    async score(_query: unknown, source: TileSource) {
      scorer.calls++;
      const scores = await Promise.all(
        source.grid.tiles.map(async (t) => {
          const px = await source.crop(t.box, { size: { width: 8, height: 8 } });
          let s = 0;
          for (let i = 0; i < px.data.length; i += 3) s += (px.data[i] ?? 0) - ((px.data[i + 1] ?? 0) + (px.data[i + 2] ?? 0)) / 2;
          return s / (px.data.length / 3);
        }),
      );
      return { scorer: 'red', scores, timings: { preprocess: 0, encode: 0, score: 0 } };
    },
    dispose() {},
  };
  return scorer;
}
