/**
 * The labels file (`labels.jsonl`): a header line, then one line per processed item.
 *
 * ```
 * {"type":"header","version":1,"benchmark":"scienceqa","source":"/data/scienceqa","split":"train","grid":"2x2",...}
 * {"type":"labelled","id":"12","question":"...","options":["..."],"answer":"B","image":"/data/.../image.png",
 *  "imageHash":"...","imageSize":{"width":640,"height":480},"grid":"2x2","tiles":[{"x":0,"y":0,"width":320,"height":240},...],
 *  "correct":[true,false,false,false],"replies":["B","A","A","C"],"positives":[0],"negatives":[1,2,3]}
 * {"type":"skipped","reason":"all-positive",...same fields...}
 * ```
 */
import { SemclipError } from '@semclip/core';
import type { BenchmarkName, Box } from '@semclip/core';
import { readJsonl } from '../_jsonl.js';

export const LABELS_VERSION = 1;

export interface LabelsHeader {
  readonly type: 'header';
  readonly version: 1;
  readonly benchmark: BenchmarkName;
  /** The question file or folder the items came from (absolute). */
  readonly source: string;
  /**
   * The official split the labelled items are in (from the data's own split file, e.g. ScienceQA's
   * `pid_splits.json`), not merely the one asked for; `null` when a split was asked for but the
   * data cannot say which split its items are in.
   */
  readonly split?: string | null;
  /** The grid spec every item was tiled with, e.g. `2x2`. */
  readonly grid: string;
  /** The VLM that labelled the tiles. */
  readonly runner: { readonly id: string; readonly model: string };
  /**
   * How the images sent were padded, e.g. `pad-square(122,116,104)` (LLaVA-1.5's square padding);
   * absent when they were sent as cut, as in files written before padding existed.
   */
  readonly padding?: string;
  /**
   * `zoom`: the labelled regions are the quadtree nodes a zoom search asked the VLM about (each
   * item's `tiles` are their boxes, its `grid` is `zoom`); absent: every tile of `grid`.
   */
  readonly strategy?: 'zoom';
  /** The zoom options used (with `strategy: 'zoom'`). */
  readonly zoom?: { readonly maxCalls: number; readonly tau: number };
  readonly createdAt: string;
}

interface ItemFields {
  readonly id: string;
  readonly question: string;
  readonly options?: readonly string[];
  readonly answer: string;
  readonly hint?: string;
  /** The image file; `null` when the dataset embeds it (re-read through the loader by `id`). */
  readonly image: string | null;
  /** Content hash of the image (as `tileImage` computes it): training checks it is the same picture. */
  readonly imageHash: string;
  readonly imageSize: { readonly width: number; readonly height: number };
  /** `rows x cols` the image was tiled with. */
  readonly grid: string;
  readonly tiles: readonly Box[];
  /** Per tile: did the VLM answer right when shown the overview plus this tile. */
  readonly correct: readonly boolean[];
  /** Per tile: the option letter the VLM chose, or its (trimmed) answer text. */
  readonly replies: readonly string[];
  readonly positives: readonly number[];
  readonly negatives: readonly number[];
}

export interface LabelledRecord extends ItemFields {
  readonly type: 'labelled';
}

/** Recorded so a resumed run does not ask again; not used for training. */
export interface SkippedRecord extends ItemFields {
  readonly type: 'skipped';
  readonly reason: 'all-positive' | 'all-negative';
}

export type ItemRecord = LabelledRecord | SkippedRecord;
export type LabelsLine = LabelsHeader | ItemRecord;

/** Counts over a labels file (or the part of it a run covers). */
export interface LabelCounts {
  /** Items with a line (labelled or skipped). */
  readonly processed: number;
  readonly labelled: number;
  readonly skippedAllPositive: number;
  readonly skippedAllNegative: number;
  /** (positive, negative) tile pairs over the labelled items: what training sees. */
  readonly pairs: number;
  /** Fraction of all asked tiles with which the VLM answered right. */
  readonly positiveRate: number;
}

/**
 * Labelled / skipped counts, pairs and the positive rate over item records.
 *
 * @example
 * ```ts
 * const { pairs, positiveRate } = countRecords((await readLabels('labels.jsonl')).records);
 * ```
 */
export function countRecords(records: readonly ItemRecord[]): LabelCounts {
  let labelled = 0;
  let allPos = 0;
  let allNeg = 0;
  let pairs = 0;
  let tiles = 0;
  let right = 0;
  for (const r of records) {
    tiles += r.correct.length;
    right += r.correct.filter(Boolean).length;
    if (r.type === 'labelled') {
      labelled += 1;
      pairs += r.positives.length * r.negatives.length;
    } else if (r.reason === 'all-positive') allPos += 1;
    else allNeg += 1;
  }
  return { processed: records.length, labelled, skippedAllPositive: allPos, skippedAllNegative: allNeg, pairs, positiveRate: tiles > 0 ? right / tiles : 0 };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const EXPECTED = 'a labels file written by `semclip label` (a header line, then one labelled/skipped line per item)';

function checkItem(v: Record<string, unknown>, where: string): ItemRecord {
  const bad = (why: string) =>
    new SemclipError('DATASET_INVALID', `${where} ${why}.`, { expected: EXPECTED, hint: 'Label again into a new file (semclip label --out ...)' });
  if (typeof v.id !== 'string' || v.id === '') throw bad('has no id');
  if (typeof v.question !== 'string') throw bad('has no question');
  if (v.image !== null && typeof v.image !== 'string') throw bad('has no image (a path, or null)');
  if (typeof v.imageHash !== 'string') throw bad('has no imageHash');
  if (!Array.isArray(v.tiles) || !Array.isArray(v.correct) || v.tiles.length !== v.correct.length || v.tiles.length < 2)
    throw bad('needs tiles and one correct flag per tile');
  const n = v.tiles.length;
  for (const k of ['positives', 'negatives'] as const) {
    const list = v[k];
    if (!Array.isArray(list) || list.some((i) => !Number.isInteger(i) || (i as number) < 0 || (i as number) >= n))
      throw bad(`has ${k} that are not tile indices`);
  }
  if (v.type === 'labelled' && ((v.positives as unknown[]).length === 0 || (v.negatives as unknown[]).length === 0))
    throw bad('is labelled but lacks a positive or a negative tile');
  if (v.type === 'skipped' && v.reason !== 'all-positive' && v.reason !== 'all-negative') throw bad('is skipped without a reason');
  return v as unknown as ItemRecord;
}

/** A parsed labels file. */
export interface LabelsFile {
  readonly path: string;
  readonly header: LabelsHeader;
  /** One record per item id (the first line wins if a file repeats one). */
  readonly records: readonly ItemRecord[];
  /** Item lines of an id already seen (two runs wrote the file at once, before runs locked it); ignored. */
  readonly duplicates: number;
  /** Line numbers of repeated header lines of the same labelling setup (same cause); ignored. */
  readonly extraHeaders: readonly number[];
  readonly labelled: readonly LabelledRecord[];
  readonly counts: LabelCounts;
  /** Bytes of a torn last line (an interrupted run) that were ignored. */
  readonly tornBytes: number;
}

/** What of a header must match for two of them to describe one labelling run (not `createdAt`). */
function headerSetup(h: Record<string, unknown>): string {
  const { createdAt: _createdAt, ...rest } = h;
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : isRecord(v)
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted(v[k])]),
          )
        : v;
  return JSON.stringify(sorted(rest));
}

/**
 * Checks the lines of a labels file (a torn last line has been dropped already). A repeated
 * header of the same setup and repeated item lines (two runs that wrote one file at once, before
 * runs locked it) are skipped and counted; a header of another setup is `DATASET_INVALID`.
 */
export function parseLabelsLines(
  lines: readonly unknown[],
  path: string,
): { header: LabelsHeader | undefined; records: ItemRecord[]; duplicates: number; extraHeaders: number[] } {
  let header: LabelsHeader | undefined;
  const records: ItemRecord[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const extraHeaders: number[] = [];
  lines.forEach((line, i) => {
    const where = `Line ${i + 1} of ${path}`;
    if (!isRecord(line)) throw new SemclipError('DATASET_INVALID', `${where} is not a JSON object.`, { expected: EXPECTED });
    if (line.type === 'header') {
      if (i !== 0 && header !== undefined && headerSetup(line) === headerSetup(header as unknown as Record<string, unknown>)) {
        extraHeaders.push(i + 1);
        return;
      }
      if (i !== 0) {
        throw new SemclipError('DATASET_INVALID', `${where} is a second header${header ? ', of another labelling setup than line 1' : ''}.`, {
          expected: EXPECTED,
          hint: "Do not concatenate labels files; keep one run's lines in this file and move the others to a new one",
          details: { path, line: i + 1 },
        });
      }
      if (line.version !== LABELS_VERSION) {
        throw new SemclipError('DATASET_INVALID', `${path} is labels format version ${String(line.version)}; this SemClip reads version ${LABELS_VERSION}.`, {
          expected: EXPECTED,
        });
      }
      header = line as unknown as LabelsHeader;
      return;
    }
    if (line.type !== 'labelled' && line.type !== 'skipped')
      throw new SemclipError('DATASET_INVALID', `${where} has type ${JSON.stringify(line.type)}.`, { expected: EXPECTED });
    const rec = checkItem(line, where);
    if (seen.has(rec.id)) {
      duplicates += 1;
      return;
    }
    seen.add(rec.id);
    records.push(rec);
  });
  return { header, records, duplicates, extraHeaders };
}

/**
 * Reads a labels file written by `labelDataset` / `semclip label`.
 *
 * @example
 * ```ts
 * const labels = await readLabels('labels.jsonl');
 * console.log(labels.counts.labelled, labels.counts.pairs);
 * ```
 */
export async function readLabels(path: string): Promise<LabelsFile> {
  const { records: lines, tornBytes } = await readJsonl(path, 'labels file');
  if (lines.length === 0) {
    throw new SemclipError('DATASET_NOT_FOUND', `The labels file ${path} is missing or empty.`, {
      expected: EXPECTED,
      hint: 'Create it with `semclip label --data <path> --benchmark scienceqa --vlm <spec> --out labels.jsonl`',
      details: { path },
    });
  }
  const { header, records, duplicates, extraHeaders } = parseLabelsLines(lines, path);
  if (!header) throw new SemclipError('DATASET_INVALID', `${path} has no header line.`, { expected: EXPECTED });
  const labelled = records.filter((r): r is LabelledRecord => r.type === 'labelled');
  return { path, header, records, labelled, counts: countRecords(records), duplicates, extraHeaders, tornBytes };
}
