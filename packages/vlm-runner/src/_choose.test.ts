import { describe, expect, it } from 'vitest';
import { UNSEEN_SCORE, argmax, parseChoice, scoresFromLogprobs, tokenLetter } from './_choose.js';

describe('tokenLetter', () => {
  it.each([
    ['A', 'A'],
    [' B', 'B'],
    ['▁C', 'C'],
    ['ĠD', 'D'],
    ['(A', 'A'],
    ['A.', 'A'],
    ['B)', 'B'],
    ['a', undefined],
    ['AB', undefined],
    ['The', undefined],
    ['', undefined],
  ])('reads %j as %s', (token, letter) => {
    expect(tokenLetter(token)).toBe(letter);
  });
});

describe('scoresFromLogprobs', () => {
  it('pools spellings of one letter and marks absent letters as unseen', () => {
    const scores = scoresFromLogprobs(
      [
        { token: 'A', logprob: Math.log(0.3) },
        { token: ' A', logprob: Math.log(0.2) },
        { token: 'C', logprob: Math.log(0.1) },
        { token: 'E', logprob: Math.log(0.1) },
      ],
      ['A', 'B', 'C'],
    )!;
    expect(scores[0]).toBeCloseTo(Math.log(0.5), 9);
    expect(scores[1]).toBe(UNSEEN_SCORE);
    expect(scores[2]).toBeCloseTo(Math.log(0.1), 9);
  });

  it('returns undefined when no option letter is among the tokens', () => {
    expect(
      scoresFromLogprobs(
        [
          { token: 'The', logprob: -0.1 },
          { token: 'E', logprob: -3 },
        ],
        ['A', 'B'],
      ),
    ).toBeUndefined();
  });
});

describe('argmax', () => {
  it('takes the first of tied best scores', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax([-5])).toBe(0);
  });
});

describe('parseChoice', () => {
  const letters = ['A', 'B', 'C', 'D'];
  const options = ['a red car', 'Blue', 'the green one', 'yellow'];
  it.each([
    ['B', 1],
    ['B.', 1],
    [' (C) the green one', 2],
    ['D: yellow', 3],
    ['**A**', 0],
    ['The answer is C.', 2],
    ['Answer: B', 1],
    ['I think (D) is right', 3],
    ['blue', 1],
    ['It is yellow, clearly.', 3],
    ['A red car', 0],
    ['E', undefined],
    ['I cannot tell', undefined],
    ['Either blue or yellow', undefined],
    ['', undefined],
  ])('parses %j as %s', (text, index) => {
    expect(parseChoice(text, letters, options)).toBe(index);
  });
});
