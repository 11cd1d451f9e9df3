import { describe, expect, it } from 'vitest';
import type { BenchmarkItem } from '@semclip/core';
import { majorityVote } from './_vote.js';
import { EVAL_METHODS, parseMethods } from './methods.js';
import { canonicalJson, diffConfig, parseResults } from './results.js';
import { parseShard, selectItems, shardOf, stableHash } from './shard.js';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `item-${i}` }) as unknown as BenchmarkItem);

describe('parseMethods', () => {
  it('expands all and orders methods canonically', () => {
    expect(parseMethods('all')).toEqual([...EVAL_METHODS]);
    expect(parseMethods('oracle, baseline,oracle')).toEqual(['baseline', 'oracle']);
  });
  it.each([['zooom'], [''], ['all,baseline']])('rejects %j', (spec) => {
    expect(() => parseMethods(spec)).toThrow(/method|all/i);
  });
});

describe('shards', () => {
  it.each([
    ['1/1', { index: 1, count: 1 }],
    ['2/4', { index: 2, count: 4 }],
    [' 3 / 3 ', { index: 3, count: 3 }],
  ])('parses %j', (spec, shard) => {
    expect(parseShard(spec)).toEqual(shard);
  });
  it.each([['0/2'], ['3/2'], ['1/0'], ['a/b'], ['1'], ['-1/2']])('rejects %j with INVALID_ARGUMENT', (spec) => {
    expect(() => parseShard(spec)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it.each([2, 3, 7])('splits items into %i disjoint shards whose union is the whole (limited) set', (n) => {
    const all = items(500);
    const limited = selectItems(all, { limit: 400 });
    const shards = Array.from({ length: n }, (_, i) => selectItems(all, { limit: 400, shard: `${i + 1}/${n}` }).map((x) => x.id));
    const union = shards.flat();
    expect(new Set(union).size).toBe(union.length);
    expect(new Set(union)).toEqual(new Set(limited.map((x) => x.id)));
    // Roughly balanced: no shard gets more than twice its share.
    for (const s of shards) expect(s.length).toBeLessThan((2 * 400) / n);
    // Data order is kept inside a shard.
    for (const s of shards) expect(s).toEqual([...s].sort((a, b) => Number(a.slice(5)) - Number(b.slice(5))));
  });

  it('assigns shards from the id alone (the same on every machine)', () => {
    expect(stableHash('direct_attributes/sa_4690')).toBe(stableHash('direct_attributes/sa_4690'));
    expect(shardOf('42', 5)).toBe((stableHash('42') % 5) + 1);
    // FNV-1a + murmur3 finaliser, checked against a Python implementation: the hash must never
    // change between versions, or shards and random tiles of old runs would no longer line up.
    expect(stableHash('semclip')).toBe(1215954098);
    expect(new Set(Array.from({ length: 100 }, (_, i) => shardOf(String(i), 4)))).toEqual(new Set([1, 2, 3, 4]));
  });
});

describe('majorityVote', () => {
  const t = (tile: number, predicted: string | null) => ({ tile, predicted, correct: false });
  it('picks the most common answer', () => {
    expect(majorityVote([t(0, 'B'), t(1, 'A'), t(2, 'A'), t(3, 'C')])).toEqual({ predicted: 'A', votes: { B: 1, A: 2, C: 1 } });
  });
  it('breaks ties with the lowest tile index, whatever the input order', () => {
    expect(majorityVote([t(3, 'A'), t(2, 'B'), t(1, 'A'), t(0, 'B')]).predicted).toBe('B');
    expect(majorityVote([t(1, 'no'), t(0, 'yes')]).predicted).toBe('yes');
  });
  it('ignores unparsed answers and gives null when nothing voted', () => {
    expect(majorityVote([t(0, null), t(1, 'C'), t(2, null)]).predicted).toBe('C');
    expect(majorityVote([t(0, null)]).predicted).toBeNull();
  });
});

describe('results files', () => {
  const header = JSON.stringify({ type: 'semclip-eval-run', version: 1, createdAt: 'x', config: { benchmark: 'pope' }, info: {} });
  const row = (item: string, method = 'baseline') =>
    JSON.stringify({ type: 'result', benchmark: 'pope', item, method, seed: 0, answer: 'yes', predicted: 'yes', correct: true });
  const parse = (text: string) => parseResults(Buffer.from(text), 'r.jsonl');

  it('reads the header and rows, dropping a repeated key', () => {
    const f = parse(`${header}\n${row('1')}\n${row('2')}\n${row('1')}\n`);
    expect(f?.rows.map((r) => r.item)).toEqual(['1', '2']);
    expect(f).toMatchObject({ duplicates: 1, truncatedBytes: 0 });
  });
  it('keeps the last row of a key: a retried failure replaces its error row in place', () => {
    const failed = JSON.stringify({ ...JSON.parse(row('1')), correct: false, predicted: null, error: { code: 'DATASET_NOT_FOUND', message: 'x' } });
    const f = parse(`${header}\n${failed}\n${row('2')}\n${row('1')}\n`);
    expect(f?.rows.map((r) => [r.item, r.correct, r.error])).toEqual([
      ['1', true, undefined],
      ['2', true, undefined],
    ]);
    expect(f).toMatchObject({ duplicates: 0, retried: 1 });
  });
  it('tolerates a repeated header of the same configuration (two runs started at once) and reports its line', () => {
    const again = JSON.stringify({ ...JSON.parse(header), createdAt: 'y' });
    const f = parse(`${header}\n${row('1')}\n${again}\n${row('2')}\n${row('1')}\n`);
    expect(f?.rows.map((r) => r.item)).toEqual(['1', '2']);
    expect(f).toMatchObject({ extraHeaders: [3], duplicates: 1 });
  });
  it('rejects a repeated header of another configuration, naming its line and what differs', () => {
    const other = JSON.stringify({ ...JSON.parse(header), config: { benchmark: 'pope', seed: 7 } });
    expect(() => parse(`${header}\n${row('1')}\n${other}\n${row('2')}\n`)).toThrow(
      expect.objectContaining({
        code: 'RESULTS_INVALID',
        message: expect.stringMatching(/line 3: a second run header, of another configuration \(seed: undefined on line 1, 7 here\)/),
      }),
    );
  });
  it('reports a half-written last line instead of failing', () => {
    const text = `${header}\n${row('1')}\n{"type":"res`;
    const f = parse(text);
    expect(f).toMatchObject({ truncatedBytes: 12, validBytes: text.length - 12 });
    expect(f?.rows).toHaveLength(1);
  });
  it('rejects a corrupt line in the middle with its line number', () => {
    expect(() => parse(`${header}\n${row('1')}\nnot json\n${row('2')}\n`)).toThrow(
      expect.objectContaining({ code: 'RESULTS_INVALID', message: expect.stringContaining('line 3') }),
    );
    expect(() => parse(`${header}\n{"type":"result","benchmark":"pope","item":"1","method":"zooom","seed":0}\n`)).toThrow(/unknown method/);
  });
  it('rejects files that are not results', () => {
    expect(() => parse('{"question_id": 1}\n')).toThrow(/not a semclip eval results file/);
    expect(() => parse('a,b\n')).toThrow(/not a semclip eval results file/);
  });
  it('compares configs by value, whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    expect(diffConfig({ a: 1, s: { grid: '2x2', k: 1 } }, { s: { k: 1, grid: '3x3' }, a: 1 })).toEqual([{ path: 's.grid', file: '2x2', now: '3x3' }]);
  });
});
