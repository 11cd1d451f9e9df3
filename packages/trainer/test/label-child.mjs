// Runs one labelling job from the built package, for the crash test (label.test.ts kills it with SIGKILL).
// argv: <scienceqa folder> <out.jsonl> <fake upstream base URL> <concurrency>
import { loadBenchmark } from '@semclip/eval';
import { createRunner } from '@semclip/vlm-runner';
import { labelDataset } from '../dist/index.js';

const [data, out, url, concurrency] = process.argv.slice(2);
const dataset = await loadBenchmark('scienceqa', data, { split: 'train', subset: 'img' });
const runner = await createRunner(`openai:${url}#fake-vlm`, { concurrency: Number(concurrency), retries: 0 });
try {
  const summary = await labelDataset({
    items: dataset.items,
    runner,
    out,
    concurrency: Number(concurrency),
    source: { benchmark: 'scienceqa', path: data, split: 'train' },
  });
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  await runner.dispose();
}
