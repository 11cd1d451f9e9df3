import type { BenchmarkName } from '@semclip/core';
import { BENCHMARK_NAMES, SemclipError } from '@semclip/core';
import { loadGqa } from './gqa.js';
import { loadPope } from './pope.js';
import { loadScienceQa } from './scienceqa.js';
import { loadSeedBench } from './seedbench.js';
import { loadMmbench, loadMmstar } from './tsv.js';
import type { BenchmarkDataset, LoadOptions } from './types.js';
import { loadVstar } from './vstar.js';

/**
 * One loader per benchmark; each reads every layout its benchmark ships in (see
 * `DATASET_LAYOUTS`).
 *
 * @example
 * ```ts
 * const ds = await LOADERS.seedbench('data/SEED-Bench', { images: '/mnt/SEED-Bench-image' });
 * ```
 */
export const LOADERS: Readonly<Record<BenchmarkName, (path: string, options?: LoadOptions) => Promise<BenchmarkDataset>>> = {
  vstar: loadVstar,
  gqa: loadGqa,
  scienceqa: loadScienceQa,
  pope: loadPope,
  mmbench: loadMmbench,
  mmstar: loadMmstar,
  seedbench: loadSeedBench,
};

/**
 * Narrows a string to a benchmark name, or throws `UNKNOWN_BENCHMARK` listing the valid ones.
 *
 * @example
 * ```ts
 * const benchmark = assertBenchmark(flags.benchmark); // 'pope' | 'gqa' | ...
 * ```
 */
export function assertBenchmark(name: string): BenchmarkName {
  if ((BENCHMARK_NAMES as readonly string[]).includes(name)) return name as BenchmarkName;
  throw new SemclipError('UNKNOWN_BENCHMARK', `Unknown benchmark ${JSON.stringify(name)}.`, {
    expected: `one of ${BENCHMARK_NAMES.join(', ')}`,
    details: { benchmark: name, valid: [...BENCHMARK_NAMES] },
  });
}

/**
 * Loads a benchmark's questions from a file or folder in any layout the benchmark ships in.
 * Images are not read: `item.image()` loads one when asked and throws `DATASET_NOT_FOUND`
 * naming the missing file.
 *
 * @example
 * ```ts
 * import { loadBenchmark } from '@semclip/eval';
 *
 * const pope = await loadBenchmark('pope', '../shared/data/benchmarks/pope/llava_pope_test.jsonl');
 * console.log(pope.format, pope.items.length, pope.hasAnswers); // pope-llava 8910 true
 * ```
 */
export function loadBenchmark(benchmark: BenchmarkName | string, path: string, options: LoadOptions = {}): Promise<BenchmarkDataset> {
  return LOADERS[assertBenchmark(benchmark)](path, options);
}
