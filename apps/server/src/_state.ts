import type { Context } from 'hono';
import type { ResolvedServerConfig } from './_config.js';
import type { Logger } from './_log.js';
import type { Metrics } from './_metrics.js';
import type { ModelPool } from './_models.js';
import type { WorkQueue } from './_queue.js';

/** What the routes share: config, models, queues, metrics and the logger. */
export interface ServerState {
  readonly config: ResolvedServerConfig;
  readonly pool: ModelPool;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Slots for SemClip work (body, decode, score, select, encode). */
  readonly work: WorkQueue;
  /** Slots for requests waiting on the upstream or the runner. */
  readonly upstream: WorkQueue;
  readonly upstreamUrl: string | undefined;
  readonly upstreamModel: string | undefined;
  readonly version: string;
  /** Milliseconds since the request arrived. */
  elapsed(c: Context): number;
  requestId(c: Context): string;
}
