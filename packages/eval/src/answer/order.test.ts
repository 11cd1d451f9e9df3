import type { BenchmarkItem } from '@semclip/core';
import { describe, expect, it } from 'vitest';
import { makeItem } from '../data/_item.js';
import { judge } from './judge.js';
import { fileLetter, isPermutation, orderFromTexts, reorderItem, shuffledOrder, vstarOptionOrder } from './order.js';

const vstar = (options: readonly string[], answer = 'A', metadata: Record<string, unknown> = {}): BenchmarkItem =>
  makeItem({ id: 'direct_attributes/sa_1', benchmark: 'vstar', question: 'What colour is the comb?', options, answer, metadata, image: async () => 'x.jpg' });

describe('option order', () => {
  it.each([2, 3, 4, 7])('shuffles %i options into a permutation that is the same on every call', (n) => {
    const order = shuffledOrder(n, `0\u0000vstar\u0000q${n}`);
    expect(isPermutation(order, n)).toBe(true);
    expect(shuffledOrder(n, `0\u0000vstar\u0000q${n}`)).toEqual(order);
  });

  it.each([2, 4])('puts the correct (first) of %i options at each position about equally often', (n) => {
    const at = new Array<number>(n).fill(0);
    const draws = 4000;
    for (let i = 0; i < draws; i++) at[vstarOptionOrder(0, `item-${i}`, n).indexOf(0)]! += 1;
    for (const count of at) expect(Math.abs(count / draws - 1 / n)).toBeLessThan(0.03);
  });

  it('gives another order for another run seed or item', () => {
    const orders = new Set<string>();
    for (let seed = 0; seed < 20; seed++) orders.add(vstarOptionOrder(seed, 'direct_attributes/sa_1', 4).join(','));
    expect(orders.size).toBeGreaterThan(5);
  });

  it.each([
    // order, the letter shown, the file's letter
    [[2, 0, 1, 3], 'B', 'A'],
    [[2, 0, 1, 3], 'A', 'C'],
    [[3, 2, 1, 0], 'D', 'A'],
    [[0, 1, 2, 3], 'C', 'C'],
    [[1, 0, 2, 3], 'E', null],
  ] as const)('order %j: shown %s is the file letter %s', (order, shown, file) => {
    expect(fileLetter(vstar(['a', 'b', 'c', 'd']), shown, order)).toBe(file);
  });

  it('reorders an item: options as shown, the answer lettered where the correct option went', () => {
    const item = vstar(['The comb is purple.', 'The comb is black.', 'The comb is red.', 'The comb is white.']);
    const shown = reorderItem(item, [2, 0, 3, 1]);
    expect(shown.options).toEqual(['The comb is red.', 'The comb is purple.', 'The comb is white.', 'The comb is black.']);
    expect(shown.answer).toBe('B');
    expect(shown.metadata.optionOrder).toEqual([2, 0, 3, 1]);
    expect(judge(shown, 'B').correct).toBe(true);
    expect(judge(shown, 'A').correct).toBe(false);
  });

  it("keeps a file's lettering with a gap (A, B, D) when mapping back", () => {
    const item = makeItem({
      id: '7',
      benchmark: 'mmbench',
      question: 'q?',
      options: ['x', 'y', 'z'],
      answer: 'D',
      metadata: { optionLetters: ['A', 'B', 'D'] },
      image: async () => 'x.jpg',
    });
    const shown = reorderItem(item, [2, 0, 1]);
    expect(shown.answer).toBe('A');
    expect(fileLetter(item, 'A', [2, 0, 1])).toBe('D');
  });

  it('reads an order from option texts, whitespace aside, and refuses texts that are not the options', () => {
    expect(orderFromTexts(['red', 'blue', 'green'], ['green ', 'red', 'blue'])).toEqual([2, 0, 1]);
    expect(orderFromTexts(['x', 'x', 'y'], ['x', 'y', 'x'])).toEqual([0, 2, 1]);
    expect(orderFromTexts(['red', 'blue'], ['red', 'pink'])).toBeUndefined();
    expect(orderFromTexts(['red', 'blue'], ['red'])).toBeUndefined();
    expect(isPermutation([0, 0], 2)).toBe(false);
  });
});
