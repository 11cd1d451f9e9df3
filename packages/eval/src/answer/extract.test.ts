import { describe, expect, it } from 'vitest';
import { extractAnswer, inferOption, normalizeGqaAnswer, parseMmstarAnswer, parsePopeAnswer, parseScienceQaAnswer, parseSeedBenchAnswer } from './extract.js';

describe('parsePopeAnswer (eval_pope.py)', () => {
  it.each([
    ['Yes', 'yes'],
    ['No', 'no'],
    ['Yes, there is a dog.', 'yes'],
    ['No, there is no dog in the image.', 'no'],
    ['There is not a dog.', 'no'],
    ['no', 'no'],
    ['  No  ', 'no'],
    // Only the first sentence counts.
    ['Yes. But no cat.', 'yes'],
    // Commas are dropped before splitting, so "No," still reads as "No".
    ['No, it is a cat', 'no'],
    // Words are split on spaces only, and matching is exact: "Nope" and "NO" are not "no".
    ['Nope', 'yes'],
    ['NO', 'yes'],
    // Anything that is not a no is a yes, even nothing.
    ['', 'yes'],
    ['I cannot tell', 'yes'],
  ])('%j -> %s', (text, expected) => {
    expect(parsePopeAnswer(text)).toBe(expected);
  });
});

describe('parseScienceQaAnswer (LLaVA-1.5 eval_science_qa.py)', () => {
  it.each([
    ['B', 2, 'B'],
    ['The answer is B.', 3, 'B'],
    ['The answer is C', 3, null], // the pattern needs a character after the letter
    ['A. acquired', 2, 'A'],
    ['C. metaphor', 2, null], // a letter beyond the choices fails
    ['E', 5, 'E'],
    ['E', 4, null],
    ['B is the run-on sentence.', 2, null],
    ['Cinder', 3, null],
    ['The answer is A. The answer is B.', 2, null], // two matches: ambiguous
    ['b', 2, null],
    ['F', 5, null],
    [' B ', 2, 'B'],
  ] as const)('%j with %i choices -> %s', (text, choices, expected) => {
    expect(parseScienceQaAnswer(text, choices)).toBe(expected);
  });
});

describe('normalizeGqaAnswer (convert_gqa_for_eval.py)', () => {
  it.each([
    ['Woman', 'woman'],
    ['Yes.', 'yes'],
    ['No...', 'no'],
    ['Wooden table', 'wooden table'],
    [' Left ', 'left'],
  ])('%j -> %j', (text, expected) => {
    expect(normalizeGqaAnswer(text)).toBe(expected);
  });
});

describe('inferOption (VLMEvalKit can_infer)', () => {
  const opts = ['red', 'green', 'blue', 'black'];
  it.each([
    ['B', 'B'],
    ['B.', 'B'],
    ['(C)', 'C'],
    ['The answer is D: black', 'D'],
    ['green', 'B'],
    ['It looks Blue to me', 'C'],
    ['A or B', null], // two letters
    ['red and green', null], // two option texts
    ['purple', null],
    ['Z', null],
    ["Sorry, I can't help with images of people yet.", null],
    ['Failed to obtain answer via API', null],
    // A letter only counts when it stands alone, and option letters beyond the options do not count.
    ['E', null],
    ['Blackish', 'D'],
  ])('%j -> %s', (text, expected) => {
    expect(inferOption(text, opts)).toBe(expected);
  });
});

describe('parseSeedBenchAnswer (convert_seed_for_submission.py)', () => {
  it.each([
    ['A', 'A'],
    [' C\n', 'C'],
    ['A.', null],
    ['The answer is A', null],
    ['E', null],
    ['a', null],
  ])('%j -> %s', (text, expected) => {
    expect(parseSeedBenchAnswer(text, 4)).toBe(expected);
  });
});

describe("parseMmstarAnswer (MMStar's eval/vlmeval/evaluate/mmstar.py)", () => {
  const ABCD = ['A', 'B', 'C', 'D'];
  it.each([
    ['B', 'B'],
    [' c\n', 'C'],
    ['B: neither; their concentrations are the same', 'B'],
    ['(D) 70.0', 'D'],
    ['Option a', 'A'],
    ['The answer is C.', 'C'],
    // Only the first character counts: "Answer: B" reads as A, "a cat" as A, as in MMStar's script.
    ['Answer: B', 'A'],
    ['a cat', 'A'],
    ['I think it is B', null],
    ['E', null],
    ['', null],
  ])('%j -> %s', (text, expected) => {
    expect(parseMmstarAnswer(text, ABCD)).toBe(expected);
  });
});

describe('letters with a gap (options A, B and D of a TSV row)', () => {
  const gap = { options: ['circle', 'square', 'triangle'], metadata: { optionLetters: ['A', 'B', 'D'] } };
  it.each([
    ['mmbench', 'D', 'D'],
    ['mmbench', 'C', null],
    ['mmbench', 'triangle', 'D'],
    ['mmstar', 'D. triangle', 'D'],
    ['mmstar', 'C', null],
    ['seedbench', 'D', 'D'],
  ] as const)('%s: %j -> %s', (benchmark, text, expected) => {
    expect(extractAnswer(benchmark, text, gap)).toBe(expected);
  });
});

describe('extractAnswer', () => {
  const mc = { options: ['The comb is purple.', 'The comb is black.'] };
  it.each([
    ['pope', 'Yes, there is a dog.', {}, 'yes'],
    ['pope', 'No', {}, 'no'],
    ['gqa', 'Woman.', {}, 'woman'],
    ['scienceqa', 'The answer is B.', mc, 'B'],
    ['vstar', 'B', mc, 'B'],
    ['vstar', 'The comb is black.', mc, 'B'],
    ['mmbench', '(A)', mc, 'A'],
    ['mmstar', 'none of them', mc, null],
    ['seedbench', 'B', mc, 'B'],
  ] as const)('%s: %j -> %s', (benchmark, text, item, expected) => {
    expect(extractAnswer(benchmark, text, item)).toBe(expected);
  });
});
