// Wall time of whole `semclip` runs (process start to exit), built CLI, real 4032x3024 photo.
// Usage: pnpm --filter @semclip/cli bench   (after a build). Prints a Markdown table.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const photo = join(process.env.SEMCLIP_SHARED_DATA || fileURLToPath(new URL('../../../../shared/data', import.meta.url)), 'images/queue_time.jpg');
if (!existsSync(photo)) {
  console.log(`[semclip] skipped the CLI benchmarks: ${photo} not found (real photos; see README "Tests")`);
  process.exit(0);
}
const out = mkdtempSync(join(tmpdir(), 'semclip-bench-'));
const runs = Number(process.env.BENCH_RUNS ?? 5);

const cases = [
  ['`--version` (startup)', ['--version']],
  ['`--help`', ['--help']],
  ['`tiles --grid 3x3 --json`', ['tiles', photo, '--grid', '3x3', '--json']],
  ['`select --scorer random --json`', ['select', photo, 'What is the wait time?', '--scorer', 'random', '--json']],
  ['`select --scorer random --overlay`', ['select', photo, 'What is the wait time?', '--scorer', 'random', '--overlay', join(out, 'o.png')]],
  ['`select --scorer ocr --json` (2x2)', ['select', photo, 'What is the wait time?', '--scorer', 'ocr', '--json']],
  ['`demo` (default scorer)', ['demo', '--out', join(out, 'demo'), '--json']],
];

console.log('| command | min | median |\n|---|---|---|');
for (const [name, args] of cases) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    execFileSync(process.execPath, [cli, ...args], { stdio: ['ignore', 'ignore', 'ignore'] });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const f = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);
  console.log(`| ${name} | ${f(times[0])} | ${f(times[Math.floor(times.length / 2)])} |`);
}
