import { describe, expect, it } from 'vitest';
import { contentWords, levenshtein, normalizeText, scoreTileText, tokenize, wordSimilarity } from './_match.js';
import { ctcGreedyDecode } from './_ctc.js';

const OPTS = { fuzzyThreshold: 0.75, densityWeight: 0.05, densityChars: 200 };

describe('normalising and tokenising', () => {
  it.each([
    ['Café', 'cafe'],
    ['ÉCOLE Über', 'ecole uber'],
    ['ＷＡＩＴ ＴＩＭＥ', 'wait time'],
    ['ﬁnal', 'final'],
    ['Ørsted', 'ørsted'],
  ])('normalises %j to %j', (input, expected) => {
    expect(normalizeText(input)).toBe(expected);
  });

  it.each([
    ['What is the wait time?', ['what', 'is', 'the', 'wait', 'time']],
    ['STAND-BY entrance', ['stand', 'by', 'entrance']],
    ['25MIN', ['25', 'min']],
    ['Price: $1,000.50 or 007', ['price', '1,000.50', 'or', '7']],
    ['Open 10:30', ['open', '10:30']],
    ['1,000 people', ['1000', 'people']],
    ['等待时间', ['等待', '待时', '时间']],
    ['出口 exit', ['出口', 'exit']],
    ['...!?', []],
  ])('tokenises %j', (input, expected) => {
    expect(tokenize(input)).toEqual(expected);
  });
});

describe('content words', () => {
  it('drops stop words and VQA boilerplate, keeps order, dedupes', () => {
    expect(contentWords(['What is the wait time shown in the image? What time?'], 32, 4000)).toEqual({ words: ['wait', 'time'], truncated: false });
  });

  it('adds the options words after the question words', () => {
    expect(contentWords(['How long is the wait?', ['10 minutes', '25 Minutes'].join(' ')], 32, 4000).words).toEqual(['long', 'wait', '10', 'minutes', '25']);
  });

  it('has no content words for a question of stop words only', () => {
    expect(contentWords(['What is this?'], 32, 4000).words).toEqual([]);
  });

  it('caps a 100k-character question and says so', () => {
    const question = Array.from({ length: 20_000 }, (_, i) => `word${i}`)
      .join(' ')
      .slice(0, 100_000);
    const t = performance.now();
    const { words, truncated } = contentWords([question], 32, 4000);
    expect(words).toHaveLength(32);
    expect(truncated).toBe(true);
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it('marks a long text cut at the character cap as truncated even with few words', () => {
    expect(contentWords(['wait '.repeat(2000)], 32, 4000)).toEqual({ words: ['wait'], truncated: true });
  });
});

describe('fuzzy word matching', () => {
  it.each([
    ['identical', 'wait', 'wait', 1],
    ['case and accents after normalising', normalizeText('Café'), normalizeText('CAFÉ'), 1],
    ['one wrong letter in four', 'wait', 'wajt', 0.75],
    ['one wrong letter in seven', 'minutes', 'minvtes', 6 / 7],
    ['a dropped letter', 'entrance', 'entrnce', 7 / 8],
    ['words run together', 'wait', 'waittime', 0.75],
    ['a word inside a longer one', 'stand', 'standby', 0.5 + (0.5 * 5) / 7],
    ['an abbreviation inside the word', 'minutes', 'min', 0.5 + (0.5 * 3) / 7],
    ['two wrong letters in four', 'wait', 'walk', 0],
    ['unrelated', 'wait', 'shop', 0],
    ['short words match only exactly', 'at', 'it', 0],
    ['numbers match only exactly', '25', '26', 0],
    ['long numbers are not fuzzy', '12345', '12346', 0],
    ['a number is not a substring match', '25', '2025', 0],
    ['equal numbers', '25', '25', 1],
    ['CJK pairs match only exactly', '时间', '时刻', 0],
  ])('%s: %j vs %j -> %d', (_what, word, token, expected) => {
    expect(wordSimilarity(word, token, 0.75)).toBeCloseTo(expected, 6);
  });

  it.each([
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['abc', 'abc', 0],
    ['時間', '时间', 2],
  ])('levenshtein(%j, %j) = %d', (a, b, d) => {
    expect(levenshtein(a, b)).toBe(d);
  });
});

describe('tile text scores', () => {
  it('is exactly 0 for a tile with no text', () => {
    expect(scoreTileText(['wait', 'time'], [], OPTS)).toEqual({ score: 0, relevance: 0, density: 0, chars: 0, matches: [] });
    expect(scoreTileText(['wait'], [{ text: '   ', confidence: 0.9 }], OPTS).score).toBe(0);
  });

  it('averages the best match of each word, weighted by OCR confidence, plus the density prior', () => {
    const r = scoreTileText(['wait', 'time'], [{ text: 'WAIT TIME 25 MIN', confidence: 0.8 }], OPTS);
    expect(r.relevance).toBeCloseTo(0.8, 6);
    expect(r.density).toBeCloseTo(0.05 * (13 / 200), 6);
    expect(r.score).toBeCloseTo(r.relevance + r.density, 9);
    expect(r.matches.map((m) => m.token)).toEqual(['wait', 'time']);
  });

  it('ranks the tile with the words above tiles with more but unrelated text', () => {
    const answer = scoreTileText(['wait', 'time'], [{ text: 'WAIT TIME 25 MIN', confidence: 0.9 }], OPTS);
    const other = scoreTileText(['wait', 'time'], [{ text: 'GIFT SHOP OPEN DAILY FROM NINE TO FIVE '.repeat(8), confidence: 0.99 }], OPTS);
    expect(answer.score).toBeGreaterThan(other.score);
    expect(other.score).toBeCloseTo(0.05, 6);
  });

  it('uses only the density prior when there are no content words', () => {
    const r = scoreTileText([], [{ text: 'x'.repeat(100), confidence: 0.9 }], OPTS);
    expect(r.score).toBeCloseTo(0.025, 9);
    expect(r.relevance).toBe(0);
  });

  it('matches an OCR line that ran the words together', () => {
    expect(scoreTileText(['wait', 'time'], [{ text: 'WAITTIME25MIN', confidence: 1 }], OPTS).relevance).toBeCloseTo(0.75, 6);
  });
});

describe('CTC greedy decoding', () => {
  const dict = ['', 'a', 'b', ' '];
  const steps = (...ids: number[]) => {
    const probs = new Float32Array(ids.length * 4);
    ids.forEach((id, t) => {
      for (let c = 0; c < 4; c++) probs[t * 4 + c] = c === id ? 0.7 : 0.1;
    });
    return probs;
  };

  it('merges repeats and drops blanks, keeping repeats split by a blank', () => {
    expect(ctcGreedyDecode(steps(1, 1, 0, 1, 2, 2, 3, 2), 0, 8, 4, dict)).toEqual({ text: 'aab b', confidence: expect.closeTo(0.7, 5) });
  });

  it('reads nothing with confidence 0 from blanks only', () => {
    expect(ctcGreedyDecode(steps(0, 0, 0), 0, 3, 4, dict)).toEqual({ text: '', confidence: 0 });
  });
});
