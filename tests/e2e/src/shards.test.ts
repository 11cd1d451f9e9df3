/**
 * Shards at scale: `semclip eval run --shard i/4` as four concurrent processes (the built CLI)
 * against one fake OpenAI-compatible upstream, merged by `semclip eval report`, equal a
 * single-process run item for item: every key exactly once, nothing lost, the same report.
 * Then again with one shard killed (SIGKILL) mid-run and resumed: its stale writer lock is
 * taken over and the merge is still exact.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type EvalResultRow, readResults, resultKey } from '@semclip/eval';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { EVAL_IMAGE, tileOracleVlm, tileSizeMap, writeEvalVstar, type EvalFixtureItem } from '@semclip/test-kit/eval-fixtures';
import { startFakeOpenAI, type FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { tileImage } from '@semclip/tiling';

const ROOT = resolve(import.meta.dirname, '../../..');
const CLI = process.env.SEMCLIP_CLI ?? join(ROOT, 'apps/cli/dist/cli.js');
const N = 32;
const SHARDS = 4;
const METHODS = 'baseline,semclip,random,oracle';
/** Rows per question: baseline, semclip, oracle, and random once per seed (2 repeats). */
const ROWS_PER_ITEM = 3 + 2;

let dir: string;
let data: string;
let fixture: EvalFixtureItem[];
let fake: FakeOpenAI;
let vlm: ReturnType<typeof tileOracleVlm>;

beforeAll(async () => {
  await stat(CLI).catch(() => {
    throw new Error(`${CLI} is missing: build the CLI first (pnpm exec turbo run build --filter=@semclip/cli...)`);
  });
  dir = await tempDir('semclip-e2e-shards-');
  fixture = await writeEvalVstar(join(dir, 'vstar'), N);
  data = join(dir, 'vstar', 'annotations.jsonl');
  const probe = await tileImage(join(dir, 'vstar', 'direct_attributes', 'q0.png'), { grid: '2x2' });
  vlm = tileOracleVlm(fixture, tileSizeMap(probe.grid.tiles, EVAL_IMAGE));
  fake = await startFakeOpenAI({ behaviour: { respond: vlm.respond } });
});
afterAll(async () => {
  await fake?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => {
  fake.setBehaviour({ respond: vlm.respond });
  fake.reset();
});

interface Run {
  readonly child: ChildProcess;
  readonly ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** `semclip eval run` on the fake upstream as a child process. */
function evalRun(out: string, ...extra: string[]): Run {
  const args = [
    CLI,
    'eval',
    'run',
    '--benchmark',
    'vstar',
    '--data',
    data,
    '--vlm',
    `openai:${fake.url}#fake-vlm`,
    '--scorer',
    'random',
    '--seed',
    '1',
    '--repeats',
    '2',
    '--method',
    METHODS,
    '--concurrency',
    '2',
    '--out',
    out,
    '--json',
    ...extra,
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += String(d)));
  child.stderr?.on('data', (d: Buffer) => (stderr += String(d)));
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((done) =>
    child.on('exit', (code, signal) => done({ code, signal, stdout, stderr })),
  );
  return { child, ended };
}

async function succeeded(run: Run): Promise<any> {
  const r = await run.ended;
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/** `semclip eval report --json` of the files. */
async function report(files: readonly string[]): Promise<any> {
  const child = spawn(process.execPath, [CLI, 'eval', 'report', ...files, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
  child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
  const code = await new Promise((done) => child.on('exit', done));
  expect(code, stderr).toBe(0);
  return JSON.parse(stdout);
}

/** Every key of the full run, each once. */
const allKeys = () =>
  fixture.flatMap((f) =>
    ['baseline', 'semclip', 'oracle', 'random', 'random'].map((m, i) =>
      resultKey({ benchmark: 'vstar', item: f.id, method: m as EvalResultRow['method'], seed: m === 'random' ? 1 + (i - 3) : 1 }),
    ),
  );

/** What a row says about its answer (not timings), keyed. */
const answers = (rows: readonly EvalResultRow[]) =>
  new Map(rows.map((r) => [resultKey(r), { predicted: r.predicted, correct: r.correct, tiles: r.tiles, images: r.images, error: r.error }]));

/** The report without timings: per method, its value, count and cost in tokens and calls. */
const table = (doc: any) =>
  doc.methods.map((m: any) => ({
    method: m.method,
    value: m.cells.vstar.value,
    std: m.cells.vstar.std,
    count: m.cells.vstar.count,
    expected: m.cells.vstar.expected,
    complete: m.cells.vstar.complete,
    tokens: m.cells.vstar.visualTokens,
    calls: m.cells.vstar.vlmCalls,
  }));

const shardFiles = (name: string) => Array.from({ length: SHARDS }, (_, i) => join(dir, `${name}-${i + 1}-of-${SHARDS}.jsonl`));

describe('eval run in shards (concurrent processes, built CLI)', () => {
  let single: { rows: readonly EvalResultRow[]; report: any; calls: number };

  beforeAll(async () => {
    const out = join(dir, 'single.jsonl');
    const doc = await succeeded(evalRun(out));
    expect(doc).toMatchObject({ items: N, written: N * ROWS_PER_ITEM, skipped: 0, errors: 0 });
    single = { rows: (await readResults(out)).rows, report: await report([out]), calls: fake.requests.length };
  });

  it('4 shards at once, merged by eval report, equal a single-process run item for item', async () => {
    fake.reset();
    const files = shardFiles('clean');
    const docs = await Promise.all(files.map((f, i) => succeeded(evalRun(f, '--shard', `${i + 1}/${SHARDS}`))));
    // Disjoint and complete: every question in exactly one shard, every shard some.
    expect(docs.reduce((s, d) => s + d.items, 0)).toBe(N);
    for (const d of docs) expect(d.items).toBeGreaterThan(0);
    // The fake answered each distinct prompt once across the four processes, as for one.
    expect(fake.requests).toHaveLength(single.calls);

    const rows = (await Promise.all(files.map((f) => readResults(f)))).flatMap((r) => r.rows);
    const keys = rows.map(resultKey);
    expect(keys).toHaveLength(N * ROWS_PER_ITEM);
    expect(new Set(keys)).toEqual(new Set(allKeys()));
    expect(answers(rows)).toEqual(answers(single.rows));

    const merged = await report(files);
    expect(merged.warnings).toEqual([]);
    expect(table(merged)).toEqual(table(single.report));
    for (const m of table(merged)) expect(m, m.method).toMatchObject({ count: N, expected: N, complete: true });
  });

  it('with one shard killed mid-run (SIGKILL) and resumed, the merge is still exact: nothing lost, nothing twice', async () => {
    fake.setBehaviour({ respond: vlm.respond, latencyMs: 25 });
    fake.reset();
    const files = shardFiles('killed');
    const victim = 2; // shard 3/4
    const runs = files.map((f, i) => evalRun(f, '--shard', `${i + 1}/${SHARDS}`));
    // Kill shard 3 once a few of its questions are on disk, while the others run on.
    const victimFile = files[victim] as string;
    for (let i = 0; i < 1200; i++) {
      const lines = (await readFile(victimFile, 'utf8').catch(() => '')).split('\n').length - 2;
      if (lines >= 2 * ROWS_PER_ITEM) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    (runs[victim] as Run).child.kill('SIGKILL');
    const killed = await (runs[victim] as Run).ended;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const others = await Promise.all(runs.filter((_, i) => i !== victim).map(succeeded));
    expect(others).toHaveLength(SHARDS - 1);

    const partial = await readResults(victimFile);
    const partialKeys = new Set(partial.rows.map(resultKey));
    expect(partialKeys.size).toBeGreaterThanOrEqual(2 * ROWS_PER_ITEM);
    // The killed process could not remove its lock.
    expect(await stat(`${victimFile}.lock`).then(() => true)).toBe(true);

    // Resumed: the stale lock is taken over (its pid is gone), written keys are not asked again.
    fake.setBehaviour({ respond: vlm.respond });
    fake.reset();
    const resumed = await succeeded(evalRun(victimFile, '--shard', `${victim + 1}/${SHARDS}`));
    expect(resumed).toMatchObject({ resumed: true, duplicates: 0, extra_headers: 0, replaced_lock: { owner: { pid: (runs[victim] as Run).child.pid } } });
    expect(resumed.replaced_lock.reason).toMatch(/^stale: pid \d+ is no longer running$/);
    expect(resumed.skipped).toBe(partialKeys.size);
    expect(resumed.written + resumed.skipped).toBe(resumed.items * ROWS_PER_ITEM);
    await expect(stat(`${victimFile}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });

    const files2 = await Promise.all(files.map((f) => readResults(f)));
    for (const f of files2) expect(f).toMatchObject({ duplicates: 0, extraHeaders: [], truncatedBytes: 0 });
    const rows = files2.flatMap((r) => r.rows);
    const keys = rows.map(resultKey);
    expect(keys).toHaveLength(N * ROWS_PER_ITEM);
    expect(new Set(keys)).toEqual(new Set(allKeys()));
    expect(answers(rows)).toEqual(answers(single.rows));
    // Rows written before the kill are kept as they were.
    const after = new Map(files2[victim]?.rows.map((r) => [resultKey(r), r]));
    for (const r of partial.rows) expect(after.get(resultKey(r))).toEqual(r);

    const merged = await report(files);
    expect(merged.warnings).toEqual([]);
    expect(table(merged)).toEqual(table(single.report));
  });

  it('two processes started together on one --out: one runs, the other is refused (RESULTS_LOCKED, exit 2) and asks nothing', async () => {
    // The first request takes 5 s, so the winner is still running when the other checks the lock.
    fake.script({ latencyMs: 5000 });
    const out = join(dir, 'contended.jsonl');
    const runs = [evalRun(out, '--shard', `1/${SHARDS}`), evalRun(out, '--shard', `1/${SHARDS}`)];
    const ended = await Promise.all(runs.map((r) => r.ended));
    const winner = ended.findIndex((e) => e.code === 0);
    const loser = ended[1 - winner];
    expect(ended.map((e) => e.code).sort(), ended.map((e) => e.stderr).join('\n')).toEqual([0, 2]);
    const error = JSON.parse(loser?.stdout ?? '').error;
    const owner = runs[winner]?.child.pid;
    expect(error).toMatchObject({ code: 'RESULTS_LOCKED', details: { path: out, owner: { pid: owner } } });
    expect(error.message).toContain(`${out} is being written by another run: pid ${owner}`);
    const doc = JSON.parse(ended[winner]?.stdout ?? '');
    expect(fake.requests).toHaveLength(doc.vlm_calls);
    const text = await readFile(out, 'utf8');
    expect(text.split('\n').filter((l) => l.includes('"type":"semclip-eval-run"'))).toHaveLength(1);
    const file = await readResults(out);
    expect(file).toMatchObject({ duplicates: 0, extraHeaders: [] });
    expect(file.rows).toHaveLength(doc.items * ROWS_PER_ITEM);
  });
});
