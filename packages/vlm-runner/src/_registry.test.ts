import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI } from '@semclip/test-kit/openai-upstream';
import type { FakeOpenAI } from '@semclip/test-kit/openai-upstream';
import { RUNNERS, createRunner, defineRunnerConfig, listRunners, parseRunnerSpec } from './_registry.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI({ behaviour: { respond: () => 'from the fake' } });
});
afterAll(() => fake.close());

describe('parseRunnerSpec', () => {
  it.each([
    ['openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf', 'http://127.0.0.1:8000/v1', 'llava-hf/llava-1.5-7b-hf'],
    ['openai:https://api.example.com/v1#gpt-4o-mini', 'https://api.example.com/v1', 'gpt-4o-mini'],
    [' openai:http://localhost:11434/v1#llava:7b ', 'http://localhost:11434/v1', 'llava:7b'],
  ])('parses %s', (spec, baseUrl, model) => {
    expect(parseRunnerSpec(spec)).toEqual({ kind: 'openai', baseUrl, model });
  });

  it.each([
    ['openai:http://127.0.0.1:8000/v1', 'no "#<model>"'],
    ['openai:http://127.0.0.1:8000/v1#', 'model name'],
    ['openai:127.0.0.1:8000/v1#m', 'not an http(s) URL'],
    ['openai', 'only the kind'],
    ['', 'empty'],
  ])('rejects malformed %j with INVALID_ARGUMENT naming the expected form', (spec, why) => {
    expect(() => parseRunnerSpec(spec)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(why) }));
    if (spec.startsWith('openai')) {
      expect(() => parseRunnerSpec(spec)).toThrowError(expect.objectContaining({ message: expect.stringContaining('openai:<base-url>#<model>') }));
    }
  });

  it('suggests the openai: prefix for a bare URL', () => {
    expect(() => parseRunnerSpec('http://127.0.0.1:8000/v1#m')).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('openai:http://127.0.0.1:8000/v1#m') }),
    );
  });

  it.each(['anthropic:claude', 'llama', 'toString:x', '__proto__:x'])('rejects unknown kind %j with UNKNOWN_RUNNER listing the valid ones', (spec) => {
    expect(() => parseRunnerSpec(spec)).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_RUNNER', message: expect.stringContaining('openai'), details: { valid: Object.keys(RUNNERS) } }),
    );
  });
});

describe('createRunner', () => {
  it('creates a working openai runner from a spec string, with overrides', async () => {
    const runner = await createRunner(`openai:${fake.url}#fake-vlm`, { visualTokensPerImage: 100, env: {} });
    expect(runner).toMatchObject({ id: 'openai:fake-vlm', model: 'fake-vlm', visualTokensPerImage: 100 });
    const px = { data: new Uint8Array(16 * 16 * 3), width: 16, height: 16, channels: 3 as const };
    const answer = await runner.answer({ images: [{ role: 'overview', image: px }], question: 'q?' });
    expect(answer.text).toBe('from the fake');
    expect(answer.usage.visual).toBe(100);
    await runner.dispose();
  });

  it('creates a runner from a config object', async () => {
    const config = defineRunnerConfig({ kind: 'openai', baseUrl: fake.url, model: 'm2', imageMode: 'composite', env: {} });
    const runner = await createRunner(config);
    expect(runner.capabilities.multiImage).toBe(false);
  });

  it('rejects a config of unknown kind', async () => {
    await expect(createRunner({ kind: 'nope' } as never)).rejects.toMatchObject({ code: 'UNKNOWN_RUNNER' });
    await expect(createRunner({} as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('lists every backend with its spec form, openai first', () => {
    const entries = listRunners();
    expect(entries[0]).toMatchObject({ kind: 'openai', specForm: 'openai:<base-url>#<model>' });
    for (const e of entries) expect(e.specForm.startsWith(`${e.kind}:`)).toBe(true);
    expect(entries.map((e) => e.kind)).toEqual(Object.keys(RUNNERS));
  });
});
