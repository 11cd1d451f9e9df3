/**
 * `answerLogprobs` reports how many tokens each candidate has (`tokenCounts`), so a caller can
 * rank candidate texts of different lengths by mean log-probability per token, as V* Bench's
 * own evaluation ranks option texts. Tiny random-weight LLaVA: plumbing only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RawImage } from '@semclip/core';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { createLocalRunner } from './index.js';
import type { LocalRunner } from './index.js';

const image: RawImage = { data: new Uint8Array(32 * 24 * 3).map((_, i) => (i * 37) % 256), width: 32, height: 24, channels: 3 };

let root: string;
let runner: LocalRunner;

beforeAll(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'semclip-tokens-'));
  await writeTinyLlava(path.join(root, 'm'), { seed: 3 });
  runner = await createLocalRunner({ model: path.join(root, 'm'), device: 'cpu', maxTokens: 4 });
});

afterAll(async () => {
  await runner?.dispose();
  if (root) rmSync(root, { recursive: true, force: true });
});

it('reports the token count of every candidate, in candidate order, beside its log-likelihood', async () => {
  const candidates = ['The sign is red.', 'blue', 'The sign is red.'];
  const [one] = await runner.answerLogprobs({ prompts: [[{ role: 'overview', image }]], question: 'What colour is the sign?', candidates });
  expect(one?.method).toBe('logits');
  const counts = one?.tokenCounts ?? [];
  expect(counts).toHaveLength(3);
  expect(counts.every((n) => Number.isInteger(n) && n > 0)).toBe(true);
  // The longer text has more tokens; the same text the same count and the same score.
  expect(counts[0]).toBeGreaterThan(counts[1] as number);
  expect(counts[2]).toBe(counts[0]);
  expect(one?.logprobs?.[2]?.logprob).toBe(one?.logprobs?.[0]?.logprob);
});
