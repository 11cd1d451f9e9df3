import { SemclipError } from '@semclip/core';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** A counting semaphore: at most `limit` holders at once, FIFO, abortable while waiting. */
export class Semaphore {
  readonly limit: number;
  #active = 0;
  readonly #waiting: Waiter[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new SemclipError('INVALID_ARGUMENT', `Concurrency ${String(limit)} is not a positive integer.`, { expected: 'an integer of at least 1, like 4' });
    }
    this.limit = limit;
  }

  get active(): number {
    return this.#active;
  }

  get pending(): number {
    return this.#waiting.length;
  }

  /** Waits for a slot; returns the release function (idempotent). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw aborted(signal);
    if (this.#active < this.limit) {
      this.#active++;
      return this.#releaser();
    }
    await new Promise<void>((resolve, reject) => {
      const entry: Waiter = { resolve, reject };
      if (signal) {
        entry.signal = signal;
        entry.onAbort = () => {
          const i = this.#waiting.indexOf(entry);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(aborted(signal));
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.#waiting.push(entry);
    });
    return this.#releaser();
  }

  /** Runs `fn` holding a slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  #releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.#waiting.shift();
      if (next) {
        // Hand the slot straight to the next waiter: #active stays the same.
        if (next.signal && next.onAbort) next.signal.removeEventListener('abort', next.onAbort);
        next.resolve();
      } else {
        this.#active--;
      }
    };
  }
}

export function aborted(signal: AbortSignal): SemclipError {
  return new SemclipError('ABORTED', 'The operation was cancelled.', { cause: signal.reason });
}

/** Resolves after `ms`, or rejects with ABORTED when the signal fires first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted(signal));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(aborted(signal as AbortSignal));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random, so retries
 * from many clients spread out but never collapse to zero wait.
 */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** attempt);
  return step / 2 + random() * (step / 2);
}

/** Parses `Retry-After` (delta-seconds or an HTTP date) into milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
