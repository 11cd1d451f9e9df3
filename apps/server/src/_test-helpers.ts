/** Test helpers (not part of the package): servers on ephemeral loopback ports, scorers that block. */
import { defineScorer } from '@semclip/core';
import type { RelevanceScorer } from '@semclip/core';
import { createServer } from './_server.js';
import type { SemclipServer } from './_server.js';
import type { ServerConfig } from './_config.js';
import type { LogEntry } from './_log.js';

export interface TestServer {
  readonly server: SemclipServer;
  readonly url: string;
  readonly logs: LogEntry[];
  close(): Promise<void>;
}

/** A server with the random scorer (fast, no model) listening on 127.0.0.1:0, recording its logs. */
export async function startTestServer(config: ServerConfig = {}): Promise<TestServer> {
  const logs: LogEntry[] = [];
  const server = await createServer({ scorer: 'random', ...config, log: (e) => logs.push(e) });
  const { url } = await server.listen({ port: 0, host: '127.0.0.1' });
  return { server, url, logs, close: () => server.close({ graceMs: 2000 }) };
}

export function postJson(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

export function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function dataUrl(bytes: Uint8Array, mime = 'image/jpeg'): string {
  return `data:${mime};base64,${b64(bytes)}`;
}

/**
 * A scorer that waits until `release()` (then scores like a seeded ramp) or until its signal
 * aborts, which it records: proof that cancellation reached the scorer.
 */
export function gateScorer(id = 'gate'): RelevanceScorer & { entered: number; aborts: number; release(): void; waitEntered(n?: number): Promise<void> } {
  let open: () => void = () => {};
  let gate = new Promise<void>((r) => (open = r));
  let entered = 0;
  let aborts = 0;
  const waiters: Array<() => void> = [];
  const scorer = defineScorer({
    id,
    async score(_query, source, options) {
      entered++;
      for (const w of waiters.splice(0)) w();
      await new Promise<void>((resolve, reject) => {
        const signal = options?.signal;
        const onAbort = () => {
          aborts++;
          reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        void gate.then(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
      return { scorer: id, scores: source.grid.tiles.map((t) => t.index / 10), timings: { preprocess: 0, encode: 0, score: 0 } };
    },
    dispose() {},
  });
  // defineProperties, not Object.assign: assign would copy the getters' values once.
  return Object.defineProperties(scorer, {
    entered: { get: () => entered },
    aborts: { get: () => aborts },
    release: {
      value: () => {
        open();
        gate = new Promise<void>((r) => (open = r));
      },
    },
    waitEntered: {
      value: (n = 1) =>
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (entered >= n) resolve();
            else waiters.push(check);
          };
          check();
        }),
    },
  }) as unknown as RelevanceScorer & { entered: number; aborts: number; release(): void; waitEntered(n?: number): Promise<void> };
}

/** Polls until `fn` is true (or fails after `ms`). */
export async function until(fn: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
