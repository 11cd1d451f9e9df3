import { SemclipError } from '@semclip/core';

/** A seeded PRNG (mulberry32) returning uniform [0, 1): the same seed gives the same stream everywhere. */
export function createRng(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) {
    throw new SemclipError('INVALID_ARGUMENT', `Seed ${String(seed)} is not an integer.`, { expected: 'an integer, like 0 or 42' });
  }
  // Fold the full safe-integer range into 32 bits so seeds 1 and 2**32 + 1 differ.
  let a = (seed >>> 0) ^ Math.floor(seed / 4294967296);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates in place with the given generator. */
export function shuffleInPlace<T>(items: T[] | Uint32Array, next: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}
