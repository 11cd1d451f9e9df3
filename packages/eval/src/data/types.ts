import type { BenchmarkItem, BenchmarkName } from '@semclip/core';
import type { SkippedRow } from './_item.js';

export type { SkippedRow } from './_item.js';

/** The file layouts the loaders understand, one name per layout. */
export type DatasetFormat =
  | 'vstar-folder'
  | 'vstar-questions'
  | 'vstar-annotations'
  | 'gqa-official'
  | 'gqa-llava'
  | 'scienceqa-official'
  | 'scienceqa-llava'
  | 'pope-official'
  | 'pope-llava'
  | 'vlmevalkit-tsv'
  | 'seedbench';

export const POPE_SPLITS = ['random', 'popular', 'adversarial'] as const;
export type PopeSplit = (typeof POPE_SPLITS)[number];

/** Questions of one benchmark, loaded from disk; images are read only when asked for. */
export interface BenchmarkDataset {
  readonly benchmark: BenchmarkName;
  readonly format: DatasetFormat;
  /** The file or folder the questions were read from. */
  readonly source: string;
  readonly items: readonly BenchmarkItem[];
  /**
   * False when the files hold no ground truth (LLaVA's GQA and POPE question files on their
   * own, MMBench test TSVs): items then have `answer: ''` and cannot be scored.
   */
  readonly hasAnswers: boolean;
  /** Things a person should know (which annotation set was joined, rows skipped...). */
  readonly warnings: readonly string[];
  /**
   * The benchmark's official split(s) the file's questions belong to, with how many questions
   * of the file (before `subset`) are in each, when the loader can know it (ScienceQA: from
   * `pid_splits.json`). Each such item also has `metadata.split`. Absent when unknown.
   *
   * @example `{ test: 4241 }` for LLaVA's `llava_test_CQM-A.json` with `pid_splits.json` beside it.
   */
  readonly splits?: Readonly<Record<string, number>>;
  /**
   * Rows of the file that could not be used (no question, fewer than two options, an answer
   * that is none of its options...), each with its id, line and why; every other row is loaded.
   * With `strict` the loader throws `DATASET_INVALID` listing them instead. Absent or empty
   * when every row was used. (MMBench, MMStar, SEED-Bench.)
   */
  readonly skipped?: readonly SkippedRow[];
}

/** Options for {@link loadBenchmark}; each applies only where its comment says. */
export interface LoadOptions {
  /**
   * Folder holding the images, when they are not in the default place (V* and SEED-Bench:
   * beside the questions; GQA: `images/`; ScienceQA: `images/<split>/`; POPE: COCO `val2014/`).
   */
  readonly images?: string;
  /** ScienceQA `problems.json`: which split of `pid_splits.json` (default `test`). */
  readonly split?: string;
  /**
   * ScienceQA, LLaVA's question file: the `pid_splits.json` that says which official split each
   * question (a ScienceQA problem id) is in. Default: `pid_splits.json` beside the file, when there.
   */
  readonly splitsFile?: string;
  /** ScienceQA: `img` keeps only questions with an image (SQA-IMG); default `all`. */
  readonly subset?: 'all' | 'img';
  /** POPE: keep only these splits (default: all three). */
  readonly popeSplits?: readonly PopeSplit[];
  /**
   * Ground truth for question files that carry none: POPE (a folder of
   * `coco_pope_{split}.json`) and GQA (`testdev_balanced_questions.json`) for LLaVA's
   * question files. Default: looked for beside the question file.
   */
  readonly annotations?: string;
  /**
   * MMBench, MMStar, SEED-Bench: refuse the file (`DATASET_INVALID` listing them) when any row
   * cannot be used, instead of leaving those rows out with a warning (`skipped`).
   */
  readonly strict?: boolean;
}

/** The layouts each benchmark accepts, as said in errors, `--help` and the README. */
export const DATASET_LAYOUTS: Readonly<Record<BenchmarkName, string>> = {
  vstar:
    'a V* Bench folder with direct_attributes/ and relative_position/ (each *.jpg with a *.json holding target_object, bbox, question, options; the first option is correct), its test_questions.jsonl, or an annotation JSONL (one record per question with target_object, bbox [x,y,w,h], question, options, input_image)',
  gqa: "GQA testdev_balanced_questions.json (images in images/<imageId>.jpg beside it), or LLaVA's llava_gqa_testdev_balanced.jsonl",
  scienceqa: "a ScienceQA folder with problems.json and pid_splits.json (images in images/<split>/<pid>/image.png), or LLaVA's llava_test_CQM-A.json",
  pope: "a POPE folder with coco_pope_{random,popular,adversarial}.json (JSON lines: question_id, image, text, label; COCO images in val2014/), one such file, or LLaVA's llava_pope_test.jsonl",
  mmbench: 'an MMBench TSV as VLMEvalKit distributes it (columns index, question, hint, A-D, answer, category, l2-category, base64 image)',
  mmstar: 'an MMStar TSV as VLMEvalKit distributes it (columns index, question, A-D, answer, category, l2_category, base64 image)',
  seedbench: 'SEED-Bench.json with the images in SEED-Bench-image/ beside it',
};
