import { describe, expect, it } from 'vitest';
import { defineRunner } from '@semclip/core';
import type { VlmRunner } from '@semclip/core';
import { VLM_SCORERS, createVlmScorer, getVlmScorerEntry, isVlmScorerId, listVlmScorers } from './index.js';

const stub: VlmRunner = defineRunner({
  id: 'stub',
  model: 'stub',
  visualTokensPerImage: 1,
  capabilities: { multiImage: false, logprobs: false, embeddings: false },
  async answer() {
    return { text: 'no', usage: { visual: 1 }, latencyMs: 0 };
  },
  async choose() {
    throw new Error('not used');
  },
  dispose() {},
});

describe('VLM_SCORERS', () => {
  it('lists vlm-embed and vlm-yesno with what they need', () => {
    expect(listVlmScorers().map((e) => e.id)).toEqual(['vlm-embed', 'vlm-yesno']);
    expect(VLM_SCORERS['vlm-embed']).toMatchObject({ needsDownload: true, runners: ['local'] });
    expect(VLM_SCORERS['vlm-yesno']).toMatchObject({ needsDownload: false, runners: ['local', 'openai'] });
    for (const entry of listVlmScorers()) expect(entry.description.length).toBeGreaterThan(20);
    expect(isVlmScorerId('vlm-yesno')).toBe(true);
    expect(isVlmScorerId('clip')).toBe(false);
    expect(isVlmScorerId('toString')).toBe(false);
  });

  it.each(['clip', 'vlm', 'constructor'])('rejects %j with UNKNOWN_SCORER listing the valid ids', (id) => {
    expect(() => getVlmScorerEntry(id)).toThrowError(
      expect.objectContaining({ code: 'UNKNOWN_SCORER', details: { valid: ['vlm-embed', 'vlm-yesno'] } }),
    );
  });

  it('creates a scorer by id over a given runner', async () => {
    const scorer = await createVlmScorer('vlm-yesno', { runner: stub });
    expect(scorer.id).toBe('vlm-yesno');
    await scorer.dispose();
  });

  it.each([
    ['no runner at all', {}, 'INVALID_ARGUMENT'],
    ['a runner and a spec', { runner: stub, vlm: 'openai:http://127.0.0.1:1/v1#m' }, 'INVALID_ARGUMENT'],
    ['something that is not a runner', { runner: { id: 'x' } as never }, 'INVALID_ARGUMENT'],
    ['a malformed spec', { vlm: 'openai:nonsense' }, 'INVALID_ARGUMENT'],
    ['an unknown runner kind', { vlm: 'gemini:x' }, 'UNKNOWN_RUNNER'],
  ] as const)('refuses %s', async (_what, options, code) => {
    await expect(createVlmScorer('vlm-yesno', options)).rejects.toMatchObject({ code });
  });

  it('refuses vlm-embed over a runner without embeddings', async () => {
    await expect(createVlmScorer('vlm-embed', { runner: stub })).rejects.toMatchObject({ code: 'UNSUPPORTED_CAPABILITY' });
  });

  it.each([
    ['tileMaxSide', { tileMaxSide: 0 }],
    ['batchSize', { batchSize: 1.5 }],
    ['concurrency', { concurrency: 0 }],
  ])('checks the %s option', async (_name, options) => {
    await expect(createVlmScorer('vlm-yesno', { runner: stub, ...options })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
