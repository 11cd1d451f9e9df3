import { SemclipError } from './_errors.js';

/**
 * Reads an integer option: `fallback` when `value` is undefined, else a safe integer within
 * `[min, max]`, or INVALID_ARGUMENT naming the option and the allowed range.
 *
 * @example
 * ```ts
 * intOption('concurrency', options.concurrency, { fallback: 4, min: 1, max: 1024 }); // 4
 * intOption('k', 0, { fallback: 1 }); // throws INVALID_ARGUMENT: expected an integer of at least 1
 * ```
 */
export function intOption(
  name: string,
  value: unknown,
  options: { readonly fallback: number; readonly min?: number; readonly max?: number; readonly what?: string },
): number {
  const min = options.min ?? 1;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  if (value === undefined) return options.fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
    throw new SemclipError('INVALID_ARGUMENT', `${options.what ? `${options.what} ` : ''}${name} is ${shown}.`, {
      expected: max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`,
      details: { option: name },
    });
  }
  return value;
}

/** The ABORTED error for a fired signal, keeping its reason as the cause. */
export function abortedError(signal: AbortSignal): SemclipError {
  return new SemclipError('ABORTED', 'The operation was cancelled.', { cause: signal.reason });
}

/**
 * Resolves after `ms`, or rejects with ABORTED when the signal fires first.
 *
 * @example
 * ```ts
 * await sleep(250, signal); // a retry's back-off that Ctrl-C cuts short
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * A counting semaphore: at most `limit` holders at once, FIFO, abortable while waiting.
 *
 * @example
 * ```ts
 * const calls = new Semaphore(8);
 * const answers = await Promise.all(items.map((item) => calls.run(() => ask(item), signal)));
 * ```
 */
export class Semaphore {
  readonly limit: number;
  #active = 0;
  readonly #waiting: Waiter[] = [];

  constructor(limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new SemclipError('INVALID_ARGUMENT', `Concurrency ${String(limit)} is not a positive integer.`, { expected: 'an integer of at least 1, like 4' });
    }
    this.limit = limit;
  }

  /** Holders now. */
  get active(): number {
    return this.#active;
  }

  /** Callers waiting for a slot. */
  get pending(): number {
    return this.#waiting.length;
  }

  /** Waits for a slot; returns the release function (calling it twice releases once). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) throw abortedError(signal);
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
          reject(abortedError(signal));
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
        // The slot passes straight to the next waiter, so #active stays the same.
        if (next.signal && next.onAbort) next.signal.removeEventListener('abort', next.onAbort);
        next.resolve();
      } else {
        this.#active--;
      }
    };
  }
}

/** The most options a multiple-choice question can have: one letter each, A to Z. */
export const MAX_OPTIONS = 26;

/**
 * The letter of the option at `index` (0 = `A`), or `?` outside A-Z.
 *
 * @example
 * ```ts
 * optionLetter(2); // 'C'
 * ```
 */
export function optionLetter(index: number): string {
  return Number.isInteger(index) && index >= 0 && index < MAX_OPTIONS ? String.fromCharCode(65 + index) : '?';
}

/**
 * `A`, `B`, ... for `count` options.
 *
 * @example
 * ```ts
 * optionLetters(3); // ['A', 'B', 'C']
 * ```
 */
export function optionLetters(count: number): string[] {
  return Array.from({ length: Math.max(0, Math.min(count, MAX_OPTIONS)) }, (_, i) => optionLetter(i));
}

/**
 * Options as prompt lines, `A. red` ... (LLaVA's and VLMEvalKit's multiple-choice layout).
 *
 * @example
 * ```ts
 * optionLines(['red', 'green']); // 'A. red\nB. green'
 * ```
 */
export function optionLines(options: readonly string[]): string {
  return options.map((o, i) => `${optionLetter(i)}. ${o}`).join('\n');
}

/**
 * A seeded PRNG (mulberry32): the same seed gives the same sequence on every machine.
 *
 * @example
 * ```ts
 * const rand = mulberry32(42);
 * rand(); // a number in [0, 1), the same on every run
 * ```
 */
export function mulberry32(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) {
    throw new SemclipError('INVALID_ARGUMENT', `Seed ${String(seed)} is not an integer.`, { expected: 'an integer, like 0 or 42' });
  }
  // Fold the whole safe-integer range into 32 bits, so seeds 1 and 2**32 + 1 differ.
  let a = (seed >>> 0) ^ Math.floor(seed / 4294967296);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
