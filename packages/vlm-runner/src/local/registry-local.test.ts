/**
 * The `local` entry of the runner table: spec parsing and `createRunner('local:...')` on the
 * tiny random-weight LLaVA written to a folder (plumbing only, not answer quality).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSemclipError } from '@semclip/core';
import type { RawImage } from '@semclip/core';
import { writeTinyLlava } from '@semclip/test-kit/onnx-llava';
import { createRunner, getRunnerEntry, parseRunnerSpec } from '../_registry.js';

let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'semclip-local-spec-'));
  await writeTinyLlava(path.join(dir, 'tiny'), { seed: 5 });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('local runner spec', () => {
  it.each([
    ['local:llava-interleave-qwen-0.5b', 'llava-interleave-qwen-0.5b'],
    [' local:/models/my-llava ', '/models/my-llava'],
    ['local:./models/tiny', './models/tiny'],
  ])('parses %j', (spec, model) => {
    expect(parseRunnerSpec(spec)).toEqual({ kind: 'local', model });
  });

  it('rejects a spec without a model', () => {
    const err = (() => {
      try {
        parseRunnerSpec('local:  ');
      } catch (e) {
        return e;
      }
    })();
    expect(isSemclipError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/local:<model-id-or-folder>/);
  });

  it('is listed with its spec form', () => {
    expect(getRunnerEntry('local').specForm).toBe('local:<model-id-or-folder>');
  });

  it('creates a working runner from a folder spec', async () => {
    const folder = path.join(dir, 'tiny');
    const runner = await createRunner(`local:${folder}`, { device: 'cpu', maxTokens: 3 });
    try {
      expect(runner.id).toBe(`local:${folder}`);
      const image: RawImage = { data: new Uint8Array(32 * 32 * 3).fill(90), width: 32, height: 32, channels: 3 };
      const answer = await runner.answer({ images: [{ role: 'overview', image }], question: 'What is it?' });
      expect(answer.usage.visual).toBe(runner.visualTokensPerImage);
      expect(answer.usage.completion).toBeLessThanOrEqual(3);
    } finally {
      await runner.dispose();
    }
  });

  it('reports an unknown model id through the hub registry', async () => {
    const err = await createRunner('local:no-such-model-xyz', { device: 'cpu' }).catch((e: unknown) => e);
    expect(isSemclipError(err, 'UNKNOWN_MODEL')).toBe(true);
  });
});
