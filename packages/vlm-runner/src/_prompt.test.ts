import { describe, expect, it } from 'vitest';
import type { PromptImage, RawImage } from '@semclip/core';
import { buildPrompt, describePosition } from './_prompt.js';

const size = { width: 900, height: 600 };
const px: RawImage = { data: new Uint8Array(3), width: 1, height: 1, channels: 3 };
const overview: PromptImage = { role: 'overview', image: px };
const region = (x: number, y: number, w = 300, h = 200): PromptImage => ({ role: 'region', image: px, box: { x, y, width: w, height: h } });

describe('describePosition', () => {
  it.each([
    [0, 0, 'top-left'],
    [300, 0, 'top-center'],
    [600, 0, 'top-right'],
    [0, 200, 'center-left'],
    [300, 200, 'center'],
    [600, 200, 'center-right'],
    [0, 400, 'bottom-left'],
    [300, 400, 'bottom-center'],
    [600, 400, 'bottom-right'],
  ])('names the 3x3 tile at (%i, %i) %s', (x, y, name) => {
    expect(describePosition({ x, y, width: 300, height: 200 }, size)).toBe(name);
  });

  it.each([
    [{ x: 0, y: 0, width: 450, height: 300 }, 'top-left'],
    [{ x: 450, y: 300, width: 450, height: 300 }, 'bottom-right'],
    [{ x: 0, y: 0, width: 900, height: 600 }, 'center'],
    [{ x: 0, y: 0, width: 900, height: 300 }, 'top-center'],
    [{ x: 899, y: 599, width: 1, height: 1 }, 'bottom-right'],
  ])('names %j by its centre: %s', (box, name) => {
    expect(describePosition(box, size)).toBe(name);
  });

  it.each([
    [{ x: -1, y: 0, width: 10, height: 10 }],
    [{ x: 0, y: 0, width: 0, height: 10 }],
    [{ x: 800, y: 0, width: 200, height: 10 }],
    [{ x: Number.NaN, y: 0, width: 10, height: 10 }],
  ])('rejects box %j that is not inside the image', (box) => {
    expect(() => describePosition(box, size)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('rejects an empty image size', () => {
    expect(() => describePosition({ x: 0, y: 0, width: 1, height: 1 }, { width: 0, height: 10 })).toThrowError(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('buildPrompt', () => {
  it('puts the overview first and says where each region is', () => {
    const r1 = region(600, 0);
    const r2 = region(0, 400);
    const p = buildPrompt({ images: [r1, overview, r2], question: ' What is it? ', instruction: 'One word.', imageSize: size });
    expect(p.images).toEqual([overview, r1, r2]);
    expect(p.text).toBe(
      'Image 2 is a zoomed-in view of the top-right region of image 1. Image 3 is a zoomed-in view of the bottom-left region of image 1.\nWhat is it?\nOne word.',
    );
    expect(p.letters).toEqual([]);
  });

  it('prefers an explicit position over the box', () => {
    const p = buildPrompt({ images: [overview, { ...region(0, 0), position: 'upper shelf' }], question: 'q?', imageSize: size });
    expect(p.context).toBe('Image 2 is a zoomed-in view of the upper shelf region of image 1.');
  });

  it('falls back to a generic sentence when the position is unknown', () => {
    const p = buildPrompt({ images: [overview, region(0, 0)], question: 'q?' });
    expect(p.context).toBe('Image 2 is a zoomed-in view of a region of image 1.');
  });

  it('writes only the question for the overview alone, and for regions without an overview', () => {
    expect(buildPrompt({ images: [overview], question: 'q?' }).text).toBe('q?');
    expect(buildPrompt({ images: [region(0, 0), region(600, 0)], question: 'q?', imageSize: size }).text).toBe('q?');
  });

  it('lists options with letters and adds the letter instruction by default', () => {
    const p = buildPrompt({ images: [overview], question: 'Colour?', options: ['red', ' blue '] });
    expect(p.text).toBe("Colour?\nA. red\nB. blue\nAnswer with the option's letter from the given choices directly.");
    expect(p.letters).toEqual(['A', 'B']);
  });

  it('uses custom templates', () => {
    const p = buildPrompt(
      { images: [overview, region(600, 0)], question: 'q?', imageSize: size },
      { templates: { region: '<image {n}> = zoom on {position}' } },
    );
    expect(p.context).toBe('<image 2> = zoom on top-right');
  });

  it('adapts the wording to a composite with one and with several regions', () => {
    const one = buildPrompt({ images: [overview, region(600, 0)], question: 'q?', imageSize: size }, { layout: 'composite' });
    expect(one.context).toBe('The left part of the image is the whole picture; the right part shows its top-right region zoomed in.');
    const two = buildPrompt({ images: [overview, region(600, 0), region(300, 400)], question: 'q?', imageSize: size }, { layout: 'composite' });
    expect(two.context).toBe(
      'The image is made of 3 parts side by side, separated by thin lines. The leftmost part is the whole picture. Part 2 from the left shows its top-right region zoomed in. Part 3 from the left shows its bottom-center region zoomed in.',
    );
    const unknown = buildPrompt({ images: [overview, region(600, 0)], question: 'q?' }, { layout: 'composite' });
    expect(unknown.context).toContain('shows its selected region zoomed in');
  });

  it.each([
    [{ images: [overview], question: '   ' }, 'INVALID_QUESTION'],
    [{ images: [], question: 'q?' }, 'INVALID_ARGUMENT'],
    [{ images: [overview, overview], question: 'q?' }, 'INVALID_ARGUMENT'],
    [{ images: [{ role: 'thumb', image: px } as unknown as PromptImage], question: 'q?' }, 'INVALID_ARGUMENT'],
    [{ images: [overview], question: 'q?', options: ['only'] }, 'INVALID_ARGUMENT'],
    [{ images: [overview], question: 'q?', options: ['a', ''] }, 'INVALID_ARGUMENT'],
    [{ images: [overview], question: 'q?', options: Array.from({ length: 27 }, (_, i) => `o${i}`) }, 'INVALID_ARGUMENT'],
  ])('rejects %j with %s', (request, code) => {
    expect(() => buildPrompt(request)).toThrowError(expect.objectContaining({ code }));
  });
});
