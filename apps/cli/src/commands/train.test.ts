/**
 * `semclip train` in process: labels from the fake VLM, a tiny random-weight CLIP from the fake
 * hub as the base (random weights: this checks the command's plumbing and output, not learning;
 * @semclip/trainer tests learning on planted embeddings).
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeRevision, manifestFor, startFakeHub } from '@semclip/test-kit/hub-server';
import type { FakeHub } from '@semclip/test-kit/hub-server';
import { makeTinyClip } from '@semclip/test-kit/onnx-models';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { labelResponder, writeLabelScienceQa } from '@semclip/test-kit/trainer-data';
import { evalCommand } from './eval.js';
import { labelCommand } from './label.js';
import { trainCommand } from './train.js';
import { captureCommand } from '../_cli-harness.js';

const REPO = 'semclip-test/tiny-clip-cli-train';
const REVISION = fakeRevision(REPO);

let root: string;
let data: string;
let labels: string;
let hub: FakeHub;
let fake: Awaited<ReturnType<typeof startFakeOpenAI>>;
const saved: Record<string, string | undefined> = {};
const ENV = ['SEMCLIP_CACHE_DIR', 'SEMCLIP_MANIFEST_PATH', 'HF_ENDPOINT', 'SEMCLIP_OFFLINE'] as const;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'semclip-cli-train-'));
  data = path.join(root, 'scienceqa');
  labels = path.join(root, 'labels.jsonl');
  const fixture = await writeLabelScienceQa(data, { items: 16, seed: 8 });
  fake = await startFakeOpenAI({ behaviour: { respond: labelResponder(fixture) } });
  await captureCommand(labelCommand, ['--data', data, '--vlm', `openai:${fake.url}#fake-vlm`, '--out', labels, '--json']);
  const files = makeTinyClip({ seed: 2, dim: 16, imageSize: 32 }).files;
  hub = await startFakeHub({ repos: { [REPO]: { revision: REVISION, files } } });
  const manifestFile = path.join(root, 'tiny.manifest.json');
  await writeFile(manifestFile, JSON.stringify(manifestFor(REPO, REVISION, files, { id: 'tiny-clip-cli', family: 'clip' })));
  for (const k of ENV) saved[k] = process.env[k];
  process.env.SEMCLIP_CACHE_DIR = path.join(root, 'cache');
  process.env.SEMCLIP_MANIFEST_PATH = manifestFile;
  process.env.HF_ENDPOINT = hub.url;
  delete process.env.SEMCLIP_OFFLINE;
});
afterAll(async () => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await hub?.close();
  await fake?.close();
  await rm(root, { recursive: true, force: true });
});

describe('semclip train', () => {
  it('trains a head into <cache>/heads/<name> and reports it as JSON', async () => {
    const { stdout } = await captureCommand(trainCommand, [
      '--labels',
      labels,
      '--base',
      'tiny-clip-cli',
      '--out',
      'cli-head',
      '--epochs',
      '2',
      '--lr',
      '1e-3',
      '--batch',
      '8',
      '--holdout',
      '0.25',
      '--seed',
      '3',
      '--pull',
      '--device',
      'cpu',
      '--json',
    ]);
    const r = JSON.parse(stdout);
    const dir = path.join(root, 'cache', 'heads', 'cli-head');
    expect(r).toMatchObject({
      name: 'cli-head',
      dir,
      base: { family: 'clip', model: 'tiny-clip-cli', revision: REVISION },
      hyperparameters: { lr: 1e-3, batchSize: 8, epochs: 2, margin: 0.2, seed: 3, holdout: 0.25 },
    });
    expect(r.history).toHaveLength(3);
    expect(r.history[0].holdout).toMatchObject({ items: expect.any(Number), top1HitRate: expect.any(Number) });
    for (const f of ['head.onnx', 'head.json', 'loss.svg', 'loss.png']) expect((await stat(path.join(dir, f))).size).toBeGreaterThan(0);
  });

  it('prints one line per epoch and where the head is, in human form', async () => {
    const { stdout } = await captureCommand(trainCommand, [
      '--labels',
      labels,
      '--base',
      'tiny-clip-cli',
      '--out',
      'cli-head-2',
      '--epochs',
      '2',
      '--device',
      'cpu',
    ]);
    expect(stdout).toMatch(
      /epoch {3}0 {2}loss \d\.\d{4} {2}held-out top-1 \d\.\d{3} \(chance \d\.\d{3}\) {2}pairwise \d\.\d{3} {2}\(untrained: the base cosine\)/,
    );
    expect(stdout).toMatch(/epoch {3}2 {2}loss/);
    expect(stdout).toContain('Head cli-head-2: kept epoch');
    expect(stdout).toContain('--scorer distant --model cli-head-2');
    expect(stdout).toContain('items encoded');
  });

  it('eval run with the trained head warns that it was trained on the items it evaluates', async () => {
    const run = (split: string, out: string) =>
      captureCommand(evalCommand, [
        'run',
        '--benchmark',
        'scienceqa',
        '--data',
        data,
        '--split',
        split,
        '--vlm',
        `openai:${fake.url}#fake-vlm`,
        '--method',
        'semclip',
        '--scorer',
        'distant',
        '--model',
        'cli-head',
        '--device',
        'cpu',
        '--out',
        path.join(root, out),
        '--json',
      ]);
    const { stdout, stderr } = await run('train', 'on-train.jsonl');
    const summary = JSON.parse(stdout);
    // Items the labeller skipped (every tile right or every tile wrong) were not trained on.
    const labelled = (await readFile(labels, 'utf8')).split('\n').filter((l) => l.includes('"type":"labelled"')).length;
    expect(labelled).toBeGreaterThan(0);
    expect(summary.training_overlap).toMatchObject({
      scorer: 'distant',
      overlapping: labelled,
      trained_on: { benchmark: 'scienceqa', split: 'train', items: labelled },
    });
    expect(stderr).toContain(`warning: The distant scorer was trained on ${labelled} of the ${summary.items} items evaluated here (scienceqa train split`);
  });

  it.each([
    ['a zero learning rate', ['--lr', '0'], 'INVALID_ARGUMENT'],
    ['a holdout of 1', ['--holdout', '1'], 'INVALID_ARGUMENT'],
    ['a fractional batch', ['--batch', '1.5'], 'INVALID_ARGUMENT'],
    ['an unknown base', ['--base', 'no-such-clip'], 'UNKNOWN_MODEL'],
  ])('rejects %s', async (_name, extra, code) => {
    const args = ['--labels', labels, '--base', 'tiny-clip-cli', '--device', 'cpu', ...extra];
    await expect(captureCommand(trainCommand, args)).rejects.toMatchObject({ code });
  });
});
