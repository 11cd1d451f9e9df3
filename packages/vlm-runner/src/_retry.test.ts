import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter } from './_retry.js';

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
