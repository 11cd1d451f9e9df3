/**
 * Loopback load test of POST /v1/select (random scorer) on a 4000x3000 JPEG: requests/s, p50/p99
 * latency and the server's peak RSS at 1, 4, 16 and 64 concurrent connections, a fixed time per
 * level. The server runs in a child process on 127.0.0.1; nothing leaves the machine.
 *
 *   pnpm --filter @semclip/server bench            # 5 s per level
 *   BENCH_SECONDS=10 pnpm --filter @semclip/server bench
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import sharp from 'sharp';

const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const LEVELS = (process.env.BENCH_LEVELS ?? '1,4,16,64').split(',').map(Number);
const PHOTO = join(here, '../../../../shared/data/images/queue_time.jpg');

// A real photo resized to exactly 4000x3000 (a generated one when the shared data is absent).
const jpeg = existsSync(PHOTO)
  ? await sharp(PHOTO).rotate().resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer()
  : await sharp({ create: { width: 4000, height: 3000, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg({ quality: 90 }).toBuffer();
const body = JSON.stringify({ image: jpeg.toString('base64'), question: 'What is the wait time for the stand-by line?', grid: '2x2', k: 1 });

const child = spawn(process.execPath, [join(here, 'serve-child.mjs')], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
const first = await new Promise((resolve, reject) => {
  createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
  child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});
const { url, concurrency, maxQueue } = first;
if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error(`refusing to load anything but loopback: ${url}`);

function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
}

// Warm-up: JIT, sharp's thread pool, the first decode.
await autocannon({ url: `${url}/v1/select`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 2, amount: 6 });
const idle = rssOf(child.pid).rss;

const rows = [];
for (const connections of LEVELS) {
  let peak = 0;
  const poll = setInterval(() => (peak = Math.max(peak, rssOf(child.pid).rss)), 50);
  const r = await autocannon({
    url: `${url}/v1/select`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: SECONDS,
    timeout: 30,
  });
  clearInterval(poll);
  peak = Math.max(peak, rssOf(child.pid).rss);
  const codes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]));
  const ok = codes['200'] ?? 0;
  const busy = codes['429'] ?? 0;
  const other = Object.entries(codes).filter(([k]) => k !== '200' && k !== '429').reduce((n, [, v]) => n + v, 0);
  rows.push({
    connections,
    reqPerSec: r.requests.average,
    okPerSec: ok / SECONDS,
    p50: r.latency.p50,
    p99: r.latency.p99,
    ok,
    busy,
    other,
    errors: r.errors,
    timeouts: r.timeouts,
    peakRssMiB: peak / 2 ** 20,
  });
  // Let the queue drain between levels.
  await new Promise((res) => setTimeout(res, 1000));
}
const hwm = rssOf(child.pid).hwm;
child.kill('SIGTERM');

const machine = `${cpus().length} x ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
console.log(`\n@semclip/server /v1/select, random scorer, 4000x3000 JPEG (${(jpeg.length / 2 ** 20).toFixed(1)} MiB, ${(body.length / 2 ** 20).toFixed(1)} MiB as JSON)`);
console.log(`${machine}; server concurrency ${concurrency}, queue ${maxQueue}; ${SECONDS} s per level; idle RSS ${(idle / 2 ** 20).toFixed(0)} MiB\n`);
console.log('| connections | req/s (all) | 200/s | p50 | p99 | 200 | 429 | other | errors | peak RSS |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.connections} | ${r.reqPerSec.toFixed(1)} | ${r.okPerSec.toFixed(1)} | ${r.p50} ms | ${r.p99} ms | ${r.ok} | ${r.busy} | ${r.other} | ${r.errors + r.timeouts} | ${r.peakRssMiB.toFixed(0)} MiB |`,
  );
}
console.log(`\nserver peak RSS over the run (VmHWM): ${(hwm / 2 ** 20).toFixed(0)} MiB`);
mkdirSync(join(here, '../bench-results'), { recursive: true });
writeFileSync(join(here, '../bench-results/server.json'), JSON.stringify({ date: new Date().toISOString(), machine, concurrency, maxQueue, seconds: SECONDS, idleRss: idle, hwm, rows }, null, 2));

const last = rows.at(-1);
if (last && (last.other > 0 || last.errors > 0 || last.timeouts > 0)) {
  console.error(`At ${last.connections} connections the server answered something other than 200/429 (${last.other} other, ${last.errors} errors, ${last.timeouts} timeouts).`);
  process.exitCode = 1;
}
