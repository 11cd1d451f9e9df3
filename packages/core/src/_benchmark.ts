import type { Box, ImageInput } from './_image.js';

export const BENCHMARK_NAMES = ['vstar', 'gqa', 'scienceqa', 'pope', 'mmbench', 'mmstar', 'seedbench'] as const;
export type BenchmarkName = (typeof BENCHMARK_NAMES)[number];

/** One question of a benchmark, with its image loaded on demand. */
export interface BenchmarkItem {
  readonly id: string;
  readonly benchmark: BenchmarkName;
  readonly question: string;
  /** Multiple-choice options in order (A, B, C...); absent for open answers. */
  readonly options?: readonly string[];
  /** The ground truth: an option letter for multiple choice, else the answer text. */
  readonly answer: string;
  /** Context shown before the question (ScienceQA and MMBench hints). */
  readonly hint?: string;
  readonly category?: string;
  /** Where the answer is in the image, when the benchmark says (V* target boxes). */
  readonly targets?: readonly Box[];
  /** Loads the image; throws `DATASET_NOT_FOUND` naming the file when it is missing. */
  image(): Promise<ImageInput>;
  readonly metadata: Readonly<Record<string, unknown>>;
}
