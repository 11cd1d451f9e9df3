import { describe, expect, it } from 'vitest';
import { Semaphore, intOption, mulberry32, optionLetter, optionLetters, optionLines, sleep } from './index.js';
import { isSemclipError } from './_errors.js';

describe('intOption', () => {
  it('returns the fallback when the value is missing', () => {
    expect(intOption('k', undefined, { fallback: 3 })).toBe(3);
  });
  it.each([[0], [-1], [1.5], ['2'], [Number.NaN], [2 ** 60]])('rejects %s with INVALID_ARGUMENT naming the option', (value) => {
    try {
      intOption('concurrency', value, { fallback: 1, min: 1, max: 1024 });
      expect.unreachable();
    } catch (err) {
      expect(isSemclipError(err, 'INVALID_ARGUMENT')).toBe(true);
      expect((err as Error).message).toContain('concurrency');
      expect((err as Error).message).toContain('an integer from 1 to 1024');
    }
  });
  it('accepts the bounds themselves', () => {
    expect(intOption('n', 0, { fallback: 5, min: 0, max: 0 })).toBe(0);
  });
});

describe('Semaphore', () => {
  it('never lets more than the limit run at once and keeps FIFO order', async () => {
    const s = new Semaphore(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        s.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(5);
          order.push(i);
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s.active).toBe(0);
  });
  it('rejects a waiter whose signal fires with ABORTED and frees its place', async () => {
    const s = new Semaphore(1);
    const release = await s.acquire();
    const ac = new AbortController();
    const waiting = s.acquire(ac.signal);
    expect(s.pending).toBe(1);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    expect(s.pending).toBe(0);
    release();
    release();
    expect(s.active).toBe(0);
  });
  it('rejects a limit of 0', () => {
    expect(() => new Semaphore(0)).toThrow(/positive integer/);
  });
  // Moved from @semclip/vlm-runner's copy of the semaphore.
  it('releases the slot when a task throws', async () => {
    const s = new Semaphore(1);
    await expect(s.run(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(s.active).toBe(0);
    const release = await s.acquire();
    release();
    expect(s.active).toBe(0);
  });
  it.each([-1, 1.5, Number.NaN])('rejects a limit of %s with INVALID_ARGUMENT', (limit) => {
    expect(() => new Semaphore(limit)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('sleep', () => {
  it('rejects with ABORTED when cancelled', async () => {
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'ABORTED' });
  });
});

describe('option letters', () => {
  it('letters and lines follow the options', () => {
    expect(optionLetters(3)).toEqual(['A', 'B', 'C']);
    expect(optionLines(['red', 'green'])).toBe('A. red\nB. green');
    expect([optionLetter(0), optionLetter(25), optionLetter(26), optionLetter(-1), optionLetter(1.5)]).toEqual(['A', 'Z', '?', '?', '?']);
  });
});

describe('mulberry32', () => {
  it('gives the same stream for a seed and another for another seed', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(xs);
    expect(mulberry32(43)()).not.toBe(xs[0]);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
  it('tells apart seeds that differ above 32 bits', () => {
    expect(mulberry32(1)()).not.toBe(mulberry32(2 ** 32 + 1)());
  });
  it('pins the first value for seed 0 (the sequence is part of reproducibility)', () => {
    expect(mulberry32(0)()).toBeCloseTo(0.26642920868471265, 15);
  });
});
