import type { BenchmarkItem, BenchmarkName } from '@semclip/core';
import { describe, expect, it } from 'vitest';
import { benchmarkPrompt, MULTIPLE_CHOICE_INSTRUCTION, SHORT_ANSWER_INSTRUCTION } from './prompt.js';

function item(benchmark: BenchmarkName, extra: Partial<BenchmarkItem> = {}): BenchmarkItem {
  return {
    id: '1',
    benchmark,
    question: 'What is it?',
    answer: 'A',
    metadata: {},
    image: () => Promise.reject(new Error('no image')),
    ...extra,
  };
}

describe('benchmarkPrompt', () => {
  it.each(['pope', 'gqa'] as const)('asks %s for a single word or phrase', (b) => {
    const p = benchmarkPrompt(item(b, { question: 'Is there a dog in the image?' }));
    expect(p).toEqual({
      question: 'Is there a dog in the image?',
      stem: 'Is there a dog in the image?',
      instruction: SHORT_ANSWER_INSTRUCTION,
      text: 'Is there a dog in the image?\nAnswer the question using a single word or phrase.',
    });
  });

  it('writes ScienceQA as Context, question, lettered options (llava_test_CQM-A.json)', () => {
    const p = benchmarkPrompt(item('scienceqa', { question: 'Which animal has a shell?', hint: 'Look at the picture.', options: ['snail', 'dog'] }));
    expect(p.text).toBe(
      "Context: Look at the picture.\nWhich animal has a shell?\nA. snail\nB. dog\nAnswer with the option's letter from the given choices directly.",
    );
    expect(p.letters).toEqual(['A', 'B']);
  });

  it('writes MMBench as hint, question, options (model_vqa_mmbench.py)', () => {
    const p = benchmarkPrompt(item('mmbench', { hint: 'The picture shows one shape.', options: ['circle', 'square', 'triangle'] }));
    expect(p.question).toBe('The picture shows one shape.\nWhat is it?\nA. circle\nB. square\nC. triangle');
    expect(p.stem).toBe('The picture shows one shape.\nWhat is it?');
    expect(p.instruction).toBe(MULTIPLE_CHOICE_INSTRUCTION);
  });

  it("keeps the file's letters when they have a gap (options A, B and D of a TSV row)", () => {
    const p = benchmarkPrompt(item('mmbench', { options: ['circle', 'square', 'star'], answer: 'D', metadata: { optionLetters: ['A', 'B', 'D'] } }));
    expect(p.question).toBe('What is it?\nA. circle\nB. square\nD. star');
    expect(p.letters).toEqual(['A', 'B', 'D']);
  });

  it('leaves the hint line out when there is none', () => {
    expect(benchmarkPrompt(item('mmstar', { options: ['x', 'y'] })).question).toBe('What is it?\nA. x\nB. y');
  });

  it.each(['vstar', 'seedbench'] as const)('letters the options of %s', (b) => {
    const p = benchmarkPrompt(item(b, { options: ['The comb is purple.', 'The comb is black.'] }));
    expect(p.text).toBe("What is it?\nA. The comb is purple.\nB. The comb is black.\nAnswer with the option's letter from the given choices directly.");
  });
});
