import { describe, expect, it } from 'vitest';
import { contentWords, expectedAnswers, levenshtein, normalizeText, queryTerms, scoreTileText, tokenize, wordSimilarity } from './_match.js';
import type { TextLine } from './_match.js';
import { alignWord, lookAlikeCost, prepareText } from './_align.js';
import { ctcGreedyDecode } from './_ctc.js';
import type { OcrChar } from './_ctc.js';

const OPTS = { minSimilarity: 0.6, densityWeight: 0.01, densityChars: 200 };
const terms = (question: string, ...options: string[]) => queryTerms([question, ...options], 32, 4000);
const lines = (...items: [string, number][]): TextLine[] => items.map(([text, confidence]) => ({ text, confidence }));

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

describe('query terms', () => {
  it('pairs adjacent content words, to be matched run together too', () => {
    expect(terms('What is the wait time?')).toEqual({ words: ['wait', 'time'], phrases: [[0, 1]], expects: ['time'], truncated: false });
  });

  it('does not pair words a stop word separates, nor numbers', () => {
    expect(terms('How long is the wait at the stand-by entrance?').phrases).toEqual([]);
    expect(terms('Is it 25 minutes?').phrases).toEqual([]);
  });

  it.each([
    ['What is the wait time?', ['time']],
    ['When does the museum open?', ['time']],
    ['How much is admission?', ['price']],
    ['What does the bread cost?', ['price']],
    ['Which platform do the trains leave from?', ['number']],
    ['What is the speed limit?', ['number']],
    ['What colour is the car?', []],
  ])('%j asks for %j', (question, expected) => {
    expect(expectedAnswers(question)).toEqual(expected);
  });
});

describe('matching across OCR mistakes (character-level alignment)', () => {
  // [what, question word (or words run together), OCR text, line confidence, least similarity, most similarity]
  it.each([
    ['identical', 'wait', 'WAIT', 1, 0.99, 1],
    ['case and accents', 'cafe', 'CAFÉ', 1, 0.99, 1],
    ['a word run into the next', 'wait', 'WAITTIME', 1, 0.99, 1],
    ['two words run together', 'waittime', 'WAIT TIME', 1, 0.99, 1],
    ['words split by OCR', 'entrance', 'ENT RANCE', 1, 0.99, 1],
    ['U read as V', 'minutes', 'MINVTES', 0.7, 0.85, 0.95],
    ['two letters lost and M read as P', 'waittime', 'WTTIPE', 0.64, 0.6, 0.7],
    ['O read as 0', 'room', 'R00M 214', 0.9, 0.85, 0.95],
    ['I read as 1', 'exit', 'EX1T', 0.9, 0.9, 0.97],
    ['l read as I', 'lift', 'IIFT', 0.9, 0.9, 0.97],
    ['m read as rn', 'room', 'ROORN', 0.9, 0.85, 0.95],
    ['w read as vv', 'wait', 'VVAIT', 0.9, 0.85, 0.95],
    ['N read as M', 'entrance', 'EMTRANCE', 0.9, 0.9, 0.97],
    ['a doubled letter merged', 'coffee', 'COFEE', 0.9, 0.85, 0.95],
    ['S read as 5', 'sale', '5ALE', 0.9, 0.9, 0.97],
    ['one unrelated letter in five', 'fresh', 'FRKSH', 0.95, 0.75, 0.85],
    ['an abbreviation', 'minutes', 'WAIT 25 MIN', 1, 0.7, 0.72],
    ['a word cut at the tile edge', 'brute', 'BRU', 1, 0.8, 0.8],
  ])('%s: %j in %j matches', (_what, word, text, confidence, lo, hi) => {
    const s = wordSimilarity(word, text, confidence);
    expect(s).toBeGreaterThanOrEqual(lo);
    expect(s).toBeLessThanOrEqual(hi);
  });

  it.each([
    ['two unrelated letters in four', 'wait', 'WALK'],
    ['unrelated', 'wait', 'SHOP'],
    ['short words only exactly', 'at', 'IT'],
    ['a lone letter is not a word', 'time', 'T'],
    ['a 3-letter word one letter off', 'bin', 'SBM'],
    ['a short piece of a word', 'brute', 'BR'],
    ['numbers only exactly', '25', '26 MIN'],
    ['numbers only whole', '25', 'SINCE 2025'],
    ['long numbers are not fuzzy', '12345', '12346'],
    ['CJK pairs only exactly', '时间', '时刻'],
  ])('%s: %j does not match %j', (_what, word, text) => {
    expect(wordSimilarity(word, text, 1)).toBe(0);
  });

  it.each([
    ['a number', '25', 'WAIT 25 MIN'],
    ['a number with a look-alike letter', '25', '2S MIN'],
    ['a time without its colon', '10:30', 'OPEN 1030'],
    ['a price', '12.50', 'ADMISSION $12.50'],
    ['a CJK pair', '时间', '等待时间'],
  ])('%s: %j matches %j', (_what, word, text) => {
    expect(wordSimilarity(word, text, 1)).toBeGreaterThan(0.7);
  });

  it('prefers the exact word to one a letter off', () => {
    expect(wordSimilarity('fresh', 'FRESH', 0.95)).toBeGreaterThan(wordSimilarity('fresh', 'FRKSH', 0.95) + 0.15);
  });

  it('forgives a misread letter more where the recogniser hesitated over it', () => {
    const read = (vConfidence: number) =>
      [...'MINXTES'].map((char): OcrChar => ({ char, confidence: char === 'X' ? vConfidence : 0.99, alternatives: [], dropped: [] }));
    const unsure = alignWord('minutes', prepareText('MINXTES', 0.9, read(0.3))).similarity;
    const sure = alignWord('minutes', prepareText('MINXTES', 0.9, read(0.99))).similarity;
    expect(unsure).toBeGreaterThan(sure + 0.03);
  });

  it('treats look-alikes as cheaper than other letters, symmetrically', () => {
    expect(lookAlikeCost('o', '0')).toBe(lookAlikeCost('0', 'o'));
    expect(lookAlikeCost('u', 'v')).toBeLessThan(0.5);
    expect(lookAlikeCost('m', 'p')).toBe(1);
    expect(lookAlikeCost('a', 'a')).toBe(0);
  });

  it("uses the recogniser's runner-ups and dropped letters", () => {
    // WTTIPE as the recogniser gave it for the sign's "WAIT TIME": A and I nearly read between
    // W and T, M the runner-up of P.
    const sure = (char: string, confidence: number, extra: Partial<OcrChar> = {}): OcrChar => ({ char, confidence, alternatives: [], dropped: [], ...extra });
    const chars = [
      sure('W', 0.75, { alternatives: [['V', 0.2]] }),
      sure('T', 0.99, {
        dropped: [
          ['A', 0.44],
          ['N', 0.24],
          ['I', 0.12],
        ],
      }),
      sure('T', 0.76, { alternatives: [['I', 0.08]] }),
      sure('I', 0.79),
      sure('P', 0.19, { alternatives: [['M', 0.11]] }),
      sure('E', 0.37, { alternatives: [['L', 0.22]] }),
    ];
    const plain = alignWord('waittime', prepareText('WTTIPE', 0.64));
    const detailed = alignWord('waittime', prepareText('WTTIPE', 0.64, chars));
    expect(detailed.similarity).toBeGreaterThan(plain.similarity + 0.05);
    expect(wordSimilarity('wait', 'WTTIPE', 0.64)).toBe(0);
    expect(alignWord('wait', prepareText('WTTIPE', 0.64, chars)).similarity).toBeGreaterThan(0.7);
  });

  it('reports the matched span of the line', () => {
    const text = prepareText('KALI RIVER RAPIDS', 0.9);
    const a = alignWord('river', text);
    expect(
      text.chars
        .slice(a.start, a.end)
        .map((c) => c.char)
        .join(''),
    ).toBe('river');
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
    expect(scoreTileText(terms('What is the wait time?'), [], OPTS)).toEqual({ score: 0, relevance: 0, density: 0, chars: 0, matches: [], types: [] });
    expect(scoreTileText(terms('What is the wait?'), lines(['   ', 0.9]), OPTS).score).toBe(0);
  });

  it('averages the best match of each word, with the answer-type evidence as half a word, plus the density prior', () => {
    const r = scoreTileText(terms('What is the wait time?'), lines(['WAIT TIME 25 MIN', 0.9]), OPTS);
    expect(r.matches.map((m) => [m.word, m.token])).toEqual([
      ['wait', 'WAIT'],
      ['time', 'TIME'],
    ]);
    expect(r.types).toEqual([{ type: 'time', token: '25 min', strength: 1, line: 0 }]);
    const words = r.matches.reduce((n, m) => n + m.similarity, 0);
    expect(r.relevance).toBeCloseTo((words + 0.5) / 2.5, 9);
    expect(r.density).toBeCloseTo(0.01 * (13 / 200), 9);
    expect(r.score).toBeCloseTo(r.relevance + r.density, 9);
  });

  it('ranks the tile with the words above tiles with more but unrelated text', () => {
    const q = terms('What is the wait time?');
    const answer = scoreTileText(q, lines(['WAIT TIME 25 MIN', 0.9]), OPTS);
    const other = scoreTileText(q, lines(['GIFT SHOP OPEN DAILY FROM NINE TO FIVE '.repeat(8), 0.99]), OPTS);
    expect(answer.score).toBeGreaterThan(other.score);
    expect(other.score).toBeCloseTo(0.01, 9);
  });

  it('keeps the density prior a tie-breaker: any match outranks any amount of text', () => {
    const q = terms('Where is the pharmacy?');
    const weak = scoreTileText(q, lines(['PHARNACV', 0.6]), OPTS);
    const busy = scoreTileText(q, lines(['x'.repeat(1000), 0.99]), OPTS);
    expect(weak.matches).toHaveLength(1);
    expect(weak.score).toBeGreaterThan(busy.score);
  });

  it('uses only the density prior when there are no content words', () => {
    const r = scoreTileText(terms('What is this?'), lines(['x'.repeat(100), 0.9]), OPTS);
    expect(r.score).toBeCloseTo(0.005, 9);
    expect(r.relevance).toBe(0);
  });

  it('matches an OCR line that ran the words together', () => {
    const r = scoreTileText(terms('What is the wait time?'), lines(['WAITTIME25MIN', 1]), OPTS);
    expect(r.matches.map((m) => m.similarity)).toEqual([1, 1]);
  });

  it('picks the real sign over the rapids sign on queue_time.jpg (3x3 tiles 4 and 3, as OCR read them)', () => {
    const q = terms('What is the wait time?');
    const sign = scoreTileText(q, lines(['KOLi NIVEN RAPIDS!', 0.72], ['TAND-BY', 0.99], ['ENTRANCE', 1], ['WTTIPE', 0.64], ['MINVTES', 0.7]), OPTS);
    const rapids = scoreTileText(q, lines(['RAFTTIE', 0.94], ['KALi RiVERRAPiOS!', 0.89], ['KALI RAPIDSEXPEDITIONS', 0.95], ['JONGLETRE', 0.9]), OPTS);
    expect(sign.matches.map((m) => m.token)).toEqual(['WTTIPE', 'WTTIPE']);
    expect(sign.types[0]).toMatchObject({ type: 'time', token: 'MINVTES' });
    expect(sign.score).toBeGreaterThan(rapids.score);
  });

  it('matches the options whole when they are numbers', () => {
    const q = terms('How long is the wait?', '10 minutes', '25 minutes');
    const ten = scoreTileText(q, lines(['WAIT 10 MINUTES', 0.9]), OPTS);
    expect(ten.matches.find((m) => m.word === '10')).toMatchObject({ via: 'number', token: '10' });
    expect(ten.matches.find((m) => m.word === '25')).toBeUndefined();
    expect(scoreTileText(q, lines(['SINCE 2025', 0.9]), OPTS).matches.find((m) => m.word === '25')).toBeUndefined();
  });

  it.each([
    ['a price', 'How much is admission?', 'ADULTS $12', 'price', 1],
    ['a decimal price', 'How much is the bread?', 'BREAD 2.99', 'price', 0.7],
    ['a clock time', 'When does it open?', 'OPENS 10:30', 'time', 1],
    ['a duration', 'What is the wait time?', 'NOW 25 MIN', 'time', 1],
    ['a number', 'Which platform is it?', 'TRACK 4', 'number', 0.8],
  ])('finds %s for a question asking for one', (_what, question, text, type, strength) => {
    expect(scoreTileText(terms(question), lines([text, 0.9]), OPTS).types).toEqual([expect.objectContaining({ type, strength })]);
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
    expect(ctcGreedyDecode(steps(1, 1, 0, 1, 2, 2, 3, 2), 0, 8, 4, dict)).toMatchObject({ text: 'aab b', confidence: expect.closeTo(0.7, 5) });
  });

  it('reads nothing with confidence 0 from blanks only', () => {
    expect(ctcGreedyDecode(steps(0, 0, 0), 0, 3, 4, dict)).toMatchObject({ text: '', confidence: 0, chars: [] });
  });

  it("keeps each character's probability, its runner-ups and the letters nearly read before it", () => {
    // step 0: a (0.6) over b (0.3); step 1: blank (0.5) over b (0.4); step 2: a (0.9).
    const probs = Float32Array.from([0.05, 0.6, 0.3, 0.05, 0.5, 0.05, 0.4, 0.05, 0.04, 0.9, 0.03, 0.03]);
    const line = ctcGreedyDecode(probs, 0, 3, 4, dict);
    expect(line.text).toBe('aa');
    expect(line.chars).toHaveLength(2);
    expect(line.chars[0]).toMatchObject({ char: 'a', confidence: expect.closeTo(0.6, 5) });
    expect(line.chars[0]!.alternatives[0]).toEqual(['b', 0.3]);
    expect(line.chars[1]!.dropped[0]).toEqual(['b', 0.4]);
    expect(line.droppedAfter).toEqual([]);
  });
});
