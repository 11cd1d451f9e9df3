import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedBenchmark, tempDir } from '@semclip/test-kit/benchmarks';
import { SHARED_SKIP_MARKER, hasSharedData, sharedSkipReason } from '@semclip/test-kit/shared-data';
import { bench, describe } from 'vitest';
import { loadBenchmark, scorePredictions } from '../src/index.js';

// Real files from ../shared/data/benchmarks, plus a synthetic MMBench-sized TSV
// (4,000 rows, a ~20 KB base64 cell each, ~80 MB) for the TSV parser; loading never decodes
// images, so random bytes stand in for JPEGs.
const tsvDir = await tempDir();
const tsvFile = join(tsvDir, 'MMBench_big.tsv');
{
  const rows = ['index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\timage\tl2-category'];
  for (let i = 0; i < 4000; i++) {
    rows.push(`${i}\t"What is it?\nPick one."\tnan\ta\tb\tc\td\tA\tcat\t${randomBytes(15_000).toString('base64')}\tl2`);
  }
  await writeFile(tsvFile, rows.join('\n'));
  console.log(`synthetic TSV: ${((await stat(tsvFile)).size / 1e6).toFixed(1)} MB`);
}

const real = hasSharedData();
if (!real) console.log(`${SHARED_SKIP_MARKER} 4 benchmarks on the real benchmark files: ${sharedSkipReason()}`);

describe('@semclip/eval', () => {
  bench.skipIf(!real)('load POPE rev_e3e3926 (8,910 questions)', async () => {
    await loadBenchmark('pope', sharedBenchmark('pope', 'rev_e3e3926'));
  });
  bench.skipIf(!real)('load GQA llava_gqa_testdev_balanced.jsonl (12,578)', async () => {
    await loadBenchmark('gqa', sharedBenchmark('gqa'));
  });
  bench.skipIf(!real)('score POPE answers (load + read + judge + metrics, 8,910)', async () => {
    await scorePredictions({
      benchmark: 'pope',
      data: sharedBenchmark('pope', 'rev_e3e3926'),
      predictions: sharedBenchmark('pope', 'answers-llava-v1.5-13b.jsonl'),
    });
  });
  bench.skipIf(!real)('score ScienceQA result JSON (4,241)', async () => {
    await scorePredictions({
      benchmark: 'scienceqa',
      data: sharedBenchmark('scienceqa', 'llava_test_CQM-A.json'),
      predictions: sharedBenchmark('scienceqa', 'result-llava-v1.5-13b.json'),
    });
  });
  bench(
    'parse a 4,000-row MMBench TSV with base64 images (~80 MB)',
    async () => {
      await loadBenchmark('mmbench', tsvFile);
    },
    { iterations: 3 },
  );
});
