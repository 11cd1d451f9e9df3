/**
 * Throughput of the download path (stream -> sha256 -> .partial -> rename) and of verify
 * (re-hash), against the fake hub on loopback, so the network is not the bottleneck: these
 * numbers are the hub package's own overhead. MB/s = 64 / mean time. Run: pnpm --filter @semclip/hub bench
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, bench, describe } from 'vitest';
import { fakeRevision, manifestFor, startFakeHub } from '@semclip/test-kit/hub-server';
import { parseManifest, pullModel, verifyModel } from '../src/index.js';

const SIZE = 64 * 1024 * 1024;
const REPO = 'bench/big';
const REV = fakeRevision('bench-big');
const files = { 'onnx/model.onnx': new Uint8Array(randomBytes(SIZE)) };
const manifest = parseManifest(manifestFor(REPO, REV, files, { id: 'bench-big' }));
const hub = await startFakeHub({ repos: { [REPO]: { revision: REV, files } } });
const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'semclip-hub-bench-'));
  dirs.push(d);
  return d;
};
const pulled = fresh();
await pullModel(manifest, { cacheDir: pulled, endpoint: hub.url, env: {} });
let peakRss = 0;
const sample = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));

afterAll(async () => {
  await hub.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  console.log(`peak RSS during the benchmarks: ${(peakRss / 1e6).toFixed(0)} MB (the 64 MB file itself is held once by the fake hub)`);
});

describe('hub throughput (64 MiB file, loopback)', () => {
  bench(
    'pullModel: download + sha256 + atomic rename',
    async () => {
      await pullModel(manifest, { cacheDir: fresh(), endpoint: hub.url, env: {}, onProgress: sample });
    },
    { iterations: 5, warmupIterations: 1 },
  );
  bench(
    'verifyModel: re-hash from disk',
    async () => {
      await verifyModel(manifest, { cacheDir: pulled, env: {}, onProgress: sample });
    },
    { iterations: 5, warmupIterations: 1 },
  );
  bench(
    'pullModel when up to date (hash check only)',
    async () => {
      await pullModel(manifest, { cacheDir: pulled, endpoint: hub.url, env: {} });
    },
    { iterations: 5, warmupIterations: 1 },
  );
});
