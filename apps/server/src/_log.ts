/**
 * One structured log entry. The server never logs headers, bodies, image data or keys: an
 * entry holds the request id, route, status, timings and the error code and message.
 */
export interface LogEntry {
  /** ISO time. */
  readonly time: string;
  readonly level: 'info' | 'warn' | 'error';
  /** `request`, `listening`, `models-loaded`, `shutdown`, `drained`... */
  readonly event: string;
  readonly requestId?: string;
  readonly method?: string;
  /** The matched route pattern (`/v1/select`), never the raw URL with its query. */
  readonly route?: string;
  readonly status?: number;
  readonly durationMs?: number;
  readonly errorCode?: string;
  readonly message?: string;
  readonly [field: string]: unknown;
}

export type Logger = (entry: Omit<LogEntry, 'time'> & { time?: string }) => void;

/** Wraps the configured sink: adds the time, and never lets a failing sink break a request. */
export function makeLogger(sink: ((entry: LogEntry) => void) | undefined): Logger {
  if (!sink) return () => {};
  return (entry) => {
    try {
      sink({ time: new Date().toISOString(), ...entry } as LogEntry);
    } catch {
      // A broken log sink must not turn a served request into a failure.
    }
  };
}
