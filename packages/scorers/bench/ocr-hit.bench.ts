/**
 * How often the OCR scorer puts the tile holding the answer first: hit@1 on the labelled set of
 * `src/ocr/_labelled-set.ts` (generated scenes with small printed text, plus hand-labelled
 * photos of ../shared/data/images read in place), at 2x2 and 3x3, with the detector's and the
 * recogniser's recall per text size. Default scorer settings, CPU.
 *
 * Run: `pnpm --filter @semclip/scorers bench ocr-hit` (part of `pnpm bench`). Results, with every
 * item's scores and what was read, go to bench-results/ocr-hit.json. `SEMCLIP_OCR_SET_SCENES`
 * sets how many generated scenes (default 24).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, bench, describe } from 'vitest';
import { tileImage } from '@semclip/tiling';
import { describeSharedBench, sharedData } from '@semclip/test-kit/shared-data';
import { createOcrScorer } from '../src/ocr/index.js';
import type { OcrScoreMeta, OcrScorer } from '../src/ocr/index.js';
import { SIZE_CLASSES, answerTiles, bestTile, generateScene, lineRecall, realPhotos, sizeClass } from '../src/ocr/_labelled-set.js';
import type { LabelledImage } from '../src/ocr/_labelled-set.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCENES = Number(process.env.SEMCLIP_OCR_SET_SCENES ?? 24);
const GRIDS = ['2x2', '3x3'] as const;

interface ItemResult {
  readonly image: string;
  readonly target: string;
  readonly question: string;
  readonly grid: string;
  readonly source: 'real' | 'generated';
  readonly sizePct: number;
  readonly legible: boolean;
  readonly cut: boolean;
  readonly answer: number[];
  readonly picked: number;
  readonly hit: boolean;
  readonly scores: number[];
  readonly mode: string;
  /** Whether a question word matched text in the picked tile (else it won by text amount or by chance). */
  readonly matched: boolean;
  readonly readInAnswer: string[];
}

interface LineResult {
  readonly image: string;
  readonly grid: string;
  readonly source: 'real' | 'generated';
  readonly text: string;
  readonly sizePct: number;
  readonly detected: boolean;
  readonly words: number;
  readonly wordsRead: number;
}

const items: ItemResult[] = [];
const lines: LineResult[] = [];
const timings: { image: string; grid: string; ms: number }[] = [];
let scorer: OcrScorer | undefined;

async function evaluate(img: LabelledImage): Promise<void> {
  scorer ??= await createOcrScorer({ device: 'cpu', warn: () => {} });
  for (const grid of GRIDS) {
    const tiled = await tileImage(img.image, { grid });
    const t = performance.now();
    let meta: OcrScoreMeta | undefined;
    for (const target of img.targets) {
      const { tiles: answer, cut } = answerTiles(target.box, tiled.grid.tiles);
      for (const q of target.questions) {
        const result = await scorer.score(q.options ? { question: q.question, options: q.options } : { question: q.question }, tiled);
        meta = result.meta as OcrScoreMeta;
        const picked = bestTile(result.scores);
        items.push({
          image: img.id,
          target: target.id,
          question: q.options ? `${q.question} [${q.options.join(' | ')}]` : q.question,
          grid,
          source: img.source,
          sizePct: target.sizePct,
          legible: target.legible && !cut,
          cut,
          answer,
          picked,
          hit: answer.includes(picked),
          scores: [...result.scores],
          mode: String((meta as { mode?: string }).mode),
          matched: picked >= 0 && (meta.matches[picked]?.length ?? 0) > 0,
          readInAnswer: answer.flatMap((i) => meta!.texts[i]!.map((l) => l.text)),
        });
      }
    }
    timings.push({ image: img.id, grid, ms: performance.now() - t });
    if (!meta) continue;
    const read = meta.texts.flat();
    for (const label of img.lines) {
      const r = lineRecall(label, read);
      lines.push({ image: img.id, grid, source: img.source, text: label.text, sizePct: label.sizePct, ...r });
    }
  }
}

const pct = (n: number, d: number) => (d === 0 ? '   -  ' : `${((100 * n) / d).toFixed(1).padStart(5)}%`);

function report(): string[] {
  const out: string[] = [];
  const cpu = os.cpus()[0]?.model ?? '?';
  out.push(`OCR scorer labelled set: ${SCENES} generated scenes + real photos; CPU ${os.cpus().length} cores (${cpu}), Node ${process.version}`);
  const groups: [string, (i: ItemResult) => boolean][] = [
    ['all', () => true],
    ['legible (not cut by the grid)', (i) => i.legible],
    ['generated', (i) => i.source === 'generated'],
    ['real', (i) => i.source === 'real'],
    ['real, legible', (i) => i.source === 'real' && i.legible],
  ];
  out.push('hit@1                              2x2            3x3            both');
  for (const [name, keep] of groups) {
    const cells = [...GRIDS, 'both'].map((g) => {
      const sel = items.filter((i) => keep(i) && (g === 'both' || i.grid === g));
      return `${pct(sel.filter((i) => i.hit).length, sel.length)} (${String(sel.length).padStart(3)})`;
    });
    out.push(`  ${name.padEnd(32)} ${cells.join('  ')}`);
  }
  const byAmount = items.filter((i) => i.legible && i.hit && !i.matched);
  out.push(`  legible hits with no word matched in the picked tile (won by text amount): ${byAmount.length}`);
  out.push('per text size (em, % of image height): hit@1 on legible items | detector recall | recogniser word recall, 2x2 / 3x3');
  for (const size of SIZE_CLASSES) {
    const row = GRIDS.map((g) => {
      const it = items.filter((i) => i.legible && i.grid === g && sizeClass(i.sizePct) === size);
      const ls = lines.filter((l) => l.grid === g && sizeClass(l.sizePct) === size);
      const words = ls.reduce((n, l) => n + l.words, 0);
      return `${pct(it.filter((i) => i.hit).length, it.length)} (${String(it.length).padStart(3)}) | ${pct(ls.filter((l) => l.detected).length, ls.length)} | ${pct(
        ls.reduce((n, l) => n + l.wordsRead, 0),
        words,
      )}`;
    });
    out.push(`  ${size.padEnd(9)} ${row.join('   ')}`);
  }
  out.push('real photos (hit* = hit with no word matched: by text amount):');
  for (const i of items.filter((x) => x.source === 'real')) {
    const best = i.picked < 0 ? '-' : `${i.picked} (${i.scores[i.picked]!.toPrecision(3)})`;
    const ans = i.answer.map((a) => `${a} (${i.scores[a]!.toPrecision(3)})`).join(', ');
    out.push(
      `  ${i.hit ? (i.matched ? 'hit ' : 'hit*') : 'MISS'} ${i.grid} ${i.image} "${i.question}": picked ${best}, answer ${ans}${i.cut ? ' [cut by the grid]' : ''}; read there: ${JSON.stringify(i.readInAnswer)}`,
    );
  }
  const misses = items.filter((i) => i.source === 'generated' && i.legible && !i.hit);
  out.push(`generated misses (${misses.length}):`);
  for (const i of misses) {
    out.push(
      `  ${i.grid} ${i.image} ${i.target} ${i.sizePct}% "${i.question}": picked ${i.picked}, answer ${i.answer.join(',')}; read there: ${JSON.stringify(i.readInAnswer)}`,
    );
  }
  const ms = timings.reduce((n, t) => n + t.ms, 0);
  out.push(`scoring time: ${(ms / 1000).toFixed(1)} s over ${timings.length} image x grid runs`);
  return out;
}

afterAll(async () => {
  await scorer?.dispose();
  if (items.length === 0) return;
  console.log(report().join('\n'));
  const dir = path.resolve(here, '../bench-results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'ocr-hit.json'),
    JSON.stringify({ date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, scenes: SCENES, items, lines, timings }, null, 1),
  );
});

const ran = new Set<string>();
const once = { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 };

describe('ocr labelled set: generated scenes', () => {
  bench(
    `${SCENES} scenes, 2x2 and 3x3`,
    async () => {
      if (ran.has('generated')) return; // tinybench may call a task again: score each item once
      ran.add('generated');
      for (let i = 0; i < SCENES; i++) await evaluate(await generateScene(i));
    },
    once,
  );
});

describeSharedBench('ocr labelled set: real photos', () => {
  bench(
    'photos of ../shared/data/images, 2x2 and 3x3',
    async () => {
      if (ran.has('real')) return;
      ran.add('real');
      for (const img of realPhotos(sharedData('images'))) await evaluate(img);
    },
    once,
  );
});
