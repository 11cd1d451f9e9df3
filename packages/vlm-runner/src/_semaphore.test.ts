import { describe, expect, it } from 'vitest';
import { Semaphore, backoffDelay, parseRetryAfter, sleep } from './_semaphore.js';

describe('Semaphore', () => {
  it('runs at most `limit` tasks at once, in arrival order', async () => {
    const sem = new Semaphore(2);
    let active = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        sem.run(async () => {
          order.push(i);
          active++;
          peak = Math.max(peak, active);
          await sleep(5);
          active--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(sem.active).toBe(0);
  });

  it('releases the slot when a task throws, and release is idempotent', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    const release = await sem.acquire();
    release();
    release();
    expect(sem.active).toBe(0);
  });

  it('drops an aborted waiter from the queue', async () => {
    const sem = new Semaphore(1);
    const hold = await sem.acquire();
    const ctl = new AbortController();
    const waiting = sem.acquire(ctl.signal);
    expect(sem.pending).toBe(1);
    ctl.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    expect(sem.pending).toBe(0);
    hold();
    expect(sem.active).toBe(0);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects limit %s', (limit) => {
    expect(() => new Semaphore(limit)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('backoffDelay', () => {
  it('doubles per attempt with jitter in [step/2, step], capped', () => {
    expect(backoffDelay(0, 100, 1000, () => 0)).toBe(50);
    expect(backoffDelay(0, 100, 1000, () => 1)).toBe(100);
    expect(backoffDelay(2, 100, 1000, () => 0.5)).toBe(300);
    expect(backoffDelay(10, 100, 1000, () => 1)).toBe(1000);
  });
});

describe('parseRetryAfter', () => {
  it.each([
    ['3', 3000],
    ['0', 0],
    ['1.5', 1500],
    [null, undefined],
    ['soon', undefined],
  ])('reads %j as %s ms', (value, ms) => {
    expect(parseRetryAfter(value)).toBe(ms);
  });

  it('reads an HTTP date relative to now', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:10 GMT', now)).toBe(10_000);
  });
});
