import { describe, expect, it } from 'vitest';
import type { Judgement } from '../answer/judge.js';
import { averageScore, circularMetrics, popeMetrics, roundTo, summarize, tally, tallyByCategory } from './metrics.js';

function j(answer: string, predicted: string | null, extra: Partial<Judgement> = {}): Judgement {
  return {
    id: extra.id ?? `${Math.random()}`,
    benchmark: 'pope',
    answer,
    predicted,
    correct: predicted === answer,
    missing: false,
    ...extra,
  };
}

describe('popeMetrics', () => {
  it('computes the confusion matrix with yes as positive, like eval_pope.py', () => {
    // 3 yes-questions: 2 said yes, 1 said no; 2 no-questions: 1 said yes, 1 said no.
    const m = popeMetrics([j('yes', 'yes'), j('yes', 'yes'), j('yes', 'no'), j('no', 'yes'), j('no', 'no')]);
    expect(m).toMatchObject({ tp: 2, fn: 1, fp: 1, tn: 1, count: 5 });
    expect(m.accuracy).toBeCloseTo(60, 10);
    expect(m.precision).toBeCloseTo((2 / 3) * 100, 10);
    expect(m.recall).toBeCloseTo((2 / 3) * 100, 10);
    expect(m.f1).toBeCloseTo((2 / 3) * 100, 10);
    expect(m.yesRatio).toBeCloseTo(60, 10);
  });

  it('counts a missing answer as the wrong one', () => {
    const m = popeMetrics([j('yes', null, { missing: true }), j('no', null, { missing: true })]);
    expect(m).toMatchObject({ tp: 0, fn: 1, fp: 1, tn: 0, accuracy: 0 });
  });
});

describe('circularMetrics', () => {
  it('credits a group only when every variant is right', () => {
    const js = [
      j('A', 'A', { group: '1', category: 'x' }),
      j('B', 'B', { group: '1', category: 'x' }),
      j('C', 'C', { group: '2', category: 'y' }),
      j('A', 'B', { group: '2', category: 'y' }),
      j('D', 'D', { group: '3', category: 'y' }),
    ];
    const c = circularMetrics(js);
    expect(c).toMatchObject({ groups: 3, correct: 2, circularGroups: 2 });
    expect(c.accuracy).toBeCloseTo((2 / 3) * 100, 10);
    expect(c.categories).toEqual({ x: { count: 1, correct: 1, accuracy: 100 }, y: { count: 2, correct: 1, accuracy: 50 } });
    expect(tally(js).accuracy).toBeCloseTo(80, 10);
  });
});

describe('tally', () => {
  it('is NaN, not 0, for nothing', () => {
    expect(tally([]).accuracy).toBeNaN();
  });

  it('groups by category and skips items without one', () => {
    expect(tallyByCategory([j('A', 'A', { category: 'c' }), j('A', 'B')])).toEqual({ c: { count: 1, correct: 1, accuracy: 100 } });
  });
});

describe('summarize', () => {
  it('rejects judgements of another benchmark', () => {
    expect(() => summarize('gqa', [j('yes', 'yes')])).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('averages POPE F1 over the splits present', () => {
    const s = summarize('pope', [
      j('yes', 'yes', { category: 'random' }),
      j('no', 'no', { category: 'random' }),
      j('yes', 'no', { category: 'adversarial' }),
      j('yes', 'yes', { category: 'adversarial' }),
    ]);
    if (s.benchmark !== 'pope') throw new Error('unreachable');
    expect(Object.keys(s.splits)).toEqual(['random', 'adversarial']);
    expect(s.splits.random?.f1).toBe(100);
    expect(s.splits.adversarial?.f1).toBeCloseTo((2 * 100 * 50) / 150, 10);
    expect(s.headline).toEqual({ metric: 'f1', value: s.mean.f1 });
    expect(s.mean.f1).toBeCloseTo((100 + (2 * 100 * 50) / 150) / 2, 10);
  });

  it('makes SQA-IMG the ScienceQA headline', () => {
    const s = summarize('scienceqa', [
      j('A', 'A', { benchmark: 'scienceqa', hasImage: true }),
      j('A', 'B', { benchmark: 'scienceqa', hasImage: true }),
      j('B', 'B', { benchmark: 'scienceqa', hasImage: false }),
    ]);
    expect(s.headline).toEqual({ metric: 'img_accuracy', value: 50 });
    expect(s.accuracy).toBeCloseTo((2 / 3) * 100, 10);
  });

  it('counts missing and unparsed replies', () => {
    const s = summarize('vstar', [
      j('A', null, { benchmark: 'vstar', missing: true }),
      j('A', null, { benchmark: 'vstar' }),
      j('A', 'A', { benchmark: 'vstar' }),
    ]);
    expect(s).toMatchObject({ missing: 1, unparsed: 1, correct: 1, count: 3 });
  });
});

describe('averageScore', () => {
  it('averages each benchmark headline', () => {
    const pope = summarize('pope', [j('yes', 'yes', { category: 'random' }), j('no', 'yes', { category: 'random' })]);
    const vstar = summarize('vstar', [j('A', 'A', { benchmark: 'vstar' }), j('A', 'B', { benchmark: 'vstar' })]);
    const avg = averageScore([pope, vstar]);
    expect(avg.parts.map((p) => [p.benchmark, p.metric])).toEqual([
      ['pope', 'f1'],
      ['vstar', 'accuracy'],
    ]);
    expect(avg.value).toBeCloseTo(((2 * 50 * 100) / 150 + 50) / 2, 10);
    expect(() => averageScore([vstar, vstar])).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('roundTo', () => {
  it.each([
    [74.39283187927376, 2, 74.39],
    [85.94688090539112, 1, 85.9],
    [71.64105106593951, 1, 71.6],
    [77.48691099476439, 1, 77.5],
    [74.385, 2, 74.39],
    [0.05, 1, 0.1],
    [-1.25, 1, -1.3],
    [99.999, 2, 100],
  ])('roundTo(%d, %i) = %d', (v, d, expected) => {
    expect(roundTo(v, d)).toBe(expected);
  });
});
