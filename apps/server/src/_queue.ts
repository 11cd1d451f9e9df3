import { SemclipError } from '@semclip/core';
import { HttpError } from './_errors.js';

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * A bounded work queue: `concurrency` slots, and at most `maxQueue` callers waiting for one.
 * A caller beyond that is refused at once with 429 and a `Retry-After` estimated from recent
 * work times, so load never turns into unbounded memory. Waiters leave the queue when their
 * signal aborts (the client went away).
 *
 * A request can hold its place before it waits (`admit`), e.g. while its body arrives: places
 * held count against the queue, and the holder's `acquire` is never refused.
 */
export class WorkQueue {
  private running = 0;
  private readonly waiters: Waiter[] = [];
  private avgMs = 0;
  private held = 0;
  private readonly places = new WeakMap<AbortSignal, { used: boolean }>();
  rejected = 0;

  constructor(
    readonly name: string,
    readonly concurrency: number,
    readonly maxQueue: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Places held by `admit` whose holders do not wait or work yet (their bodies are arriving). */
  get admitted(): number {
    return this.held;
  }

  /** True when one more request would be refused: every slot busy and the queue full (places held count). */
  get full(): boolean {
    return this.running + this.waiters.length + this.held >= this.concurrency + this.maxQueue;
  }

  /** Seconds a refused client should wait: the expected time for the queue ahead of it to drain. */
  retryAfterSeconds(): number {
    const perSlot = this.avgMs > 0 ? this.avgMs : 1000;
    return Math.max(1, Math.min(60, Math.ceil(((this.waiters.length + this.held + 1) * perSlot) / this.concurrency / 1000)));
  }

  private overloaded(): HttpError {
    this.rejected++;
    const retry = this.retryAfterSeconds();
    const held = this.held > 0 ? `, ${this.waiters.length} are waiting and ${this.held} are still arriving` : ` and ${this.waiters.length} are waiting`;
    return new HttpError(429, 'OVERLOADED', `The server is busy: ${this.running} requests are being worked on${held} (${this.name}). Retry after ${retry} s.`, {
      'retry-after': String(retry),
    });
  }

  /**
   * Holds a place in the queue for the request whose signal this is, or refuses it (429) when
   * there is none: its later `acquire` with the same signal takes the place and is never
   * refused. Returns a function that gives an unused place back (call it when the request ends).
   */
  admit(signal: AbortSignal): () => void {
    if (this.full) throw this.overloaded();
    const place = { used: false };
    this.held++;
    this.places.set(signal, place);
    return () => {
      if (place.used) return;
      place.used = true;
      this.held--;
      this.places.delete(signal);
    };
  }

  /** Waits for a slot; the returned function gives it back (call it exactly once). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    const place = signal ? this.places.get(signal) : undefined;
    if (place && !place.used) {
      place.used = true;
      this.held--;
      this.places.delete(signal as AbortSignal);
    }
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (!place && this.waiters.length + this.held >= this.maxQueue) return Promise.reject(this.overloaded());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(abortedError(signal as AbortSignal));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Runs `fn` in a slot. */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    const started = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const ms = performance.now() - started;
      this.avgMs = this.avgMs === 0 ? ms : this.avgMs * 0.8 + ms * 0.2;
      const next = this.waiters.shift();
      if (next) {
        next.signal?.removeEventListener('abort', next.onAbort);
        next.resolve(this.releaser());
      } else {
        this.running--;
      }
    };
  }
}

export function abortedError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof SemclipError || reason instanceof HttpError) return reason;
  return new SemclipError('ABORTED', 'The request was cancelled (the client disconnected).', { cause: reason });
}
