/** Known answers for the VLM scorers' arithmetic: pooling, cosine, P(Yes) and reading yes/no. */
import { describe, expect, it } from 'vitest';
import { lastTokenState, meanPoolGroups } from '../local/_embed.js';
import { cosine, normalised, parseYesNo, yesNoToken, yesProbability } from './_math.js';

describe('mean pooling and cosine (the vlm-embed score)', () => {
  it("mean-pools each image's visual tokens and scores by cosine with the question", () => {
    // Two images of 3 visual tokens, hidden size 2, rows in image order as the encoder returns them.
    const features = Float32Array.from([
      1,
      0,
      3,
      0,
      2,
      3, // image 0: mean (2, 1)
      0,
      1,
      0,
      5,
      0,
      3, // image 1: mean (0, 3)
    ]);
    const [a, b] = meanPoolGroups(features, 2, 3, 2);
    expect(Array.from(a!)).toEqual([2, 1]);
    expect(Array.from(b!)).toEqual([0, 3]);
    const question = [1, 1];
    expect(cosine(question, a!)).toBeCloseTo(3 / (Math.SQRT2 * Math.sqrt(5)), 12);
    expect(cosine(question, b!)).toBeCloseTo(1 / Math.SQRT2, 12);
    // Normalising first changes nothing: the scorer caches unit vectors.
    expect(cosine(normalised(question), normalised(a!))).toBeCloseTo(cosine(question, a!), 6);
  });

  it('gives 0 for a zero vector and rejects vectors of different lengths', () => {
    expect(cosine([0, 0], [1, 2])).toBe(0);
    expect(Array.from(normalised([0, 0]))).toEqual([0, 0]);
    expect(() => cosine([1], [1, 2])).toThrow(RangeError);
  });

  it('is exactly 1 for parallel and -1 for opposite vectors', () => {
    expect(cosine([3, 4], [6, 8])).toBeCloseTo(1, 12);
    expect(cosine([3, 4], [-3, -4])).toBeCloseTo(-1, 12);
  });

  it('rejects features that do not split into the images', () => {
    expect(() => meanPoolGroups(new Float32Array(7), 2, 2, 2)).toThrowError(expect.objectContaining({ code: 'MODEL_OUTPUT_INVALID' }));
  });

  it('takes the last position of the final layer from hidden states', () => {
    // [1, seq 2, dim 2]
    expect(Array.from(lastTokenState([1, 2, 2], [1, 2, 3, 4], 'h'))).toEqual([3, 4]);
    // [layers 2, 1, seq 2, dim 2]: the final layer's last position
    expect(Array.from(lastTokenState([2, 1, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8], 'h'))).toEqual([7, 8]);
    expect(() => lastTokenState([2, 2, 2], new Float32Array(8), 'h')).toThrowError(expect.objectContaining({ code: 'MODEL_OUTPUT_INVALID' }));
  });
});

describe('P(Yes) (the vlm-yesno score)', () => {
  it('pools every spelling of yes and of no and normalises over the two', () => {
    const p = yesProbability([
      { token: 'Yes', logprob: Math.log(0.6) },
      { token: ' yes', logprob: Math.log(0.1) },
      { token: '▁No', logprob: Math.log(0.1) },
      { token: 'Maybe', logprob: Math.log(0.2) },
    ]);
    expect(p).toBeCloseTo(0.875, 12);
  });

  it('counts a side absent from the top tokens as 0 and gives undefined with neither side', () => {
    expect(
      yesProbability([
        { token: 'No', logprob: -0.1 },
        { token: 'The', logprob: -3 },
      ]),
    ).toBe(0);
    expect(yesProbability([{ token: 'Ġyes', logprob: -2 }])).toBe(1);
    expect(yesProbability([{ token: 'The', logprob: -0.1 }])).toBeUndefined();
    expect(yesProbability(undefined)).toBeUndefined();
  });

  it('stays finite for extreme log-probabilities', () => {
    expect(
      yesProbability([
        { token: 'Yes', logprob: -2000 },
        { token: 'No', logprob: -1 },
      ]),
    ).toBe(0);
    expect(
      yesProbability([
        { token: 'Yes', logprob: -1 },
        { token: 'No', logprob: -2000 },
      ]),
    ).toBe(1);
    expect(
      yesProbability([
        { token: 'Yes', logprob: -800 },
        { token: 'No', logprob: -800 },
      ]),
    ).toBeCloseTo(0.5, 12);
  });

  it.each([
    ['Yes', 'yes'],
    [' yes', 'yes'],
    ['▁Yes', 'yes'],
    ['YES.', 'yes'],
    ['Ġno', 'no'],
    ['No,', 'no'],
    ['Not', undefined],
    ['yesterday', undefined],
    ['', undefined],
  ] as const)('reads token %j as %s', (token, side) => {
    expect(yesNoToken(token)).toBe(side);
  });

  it.each([
    ['Yes.', 1],
    ['yes, the sign is there', 1],
    ['**No**', 0],
    ['No', 0],
    ['I think no', 0],
    ['Maybe', undefined],
    ['It could be yes or no', undefined],
    ['', undefined],
  ] as const)('reads the answer %j as %s', (text, value) => {
    expect(parseYesNo(text)).toBe(value);
  });
});
