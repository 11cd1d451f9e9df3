/**
 * A small Prometheus text exposition (format 0.0.4), hand-written: counters, gauges and
 * histograms with labels. No dependency, and nothing is collected that `/metrics` does not show.
 */

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

type Labels = Readonly<Record<string, string>>;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

function keyOf(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(Number.isInteger(v) ? v : Number(v.toPrecision(9)));
}

class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels);
    const cur = this.values.get(k);
    if (cur) cur.value += by;
    else this.values.set(k, { labels, value: by });
  }
  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) out.push(`${this.name}${labelText(labels)} ${num(value)}`);
    return out;
  }
}

class Histogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = LATENCY_BUCKETS,
  ) {}
  observe(labels: Labels, value: number): void {
    const k = keyOf(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] as number)) (s.counts[i] as number)++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels): number {
    return this.series.get(keyOf(labels))?.count ?? 0;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText(s.labels, ['le', num(b)])} ${s.counts[i] as number}`));
      out.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return out;
  }
}

/** Pipeline stages timed per request. */
export const STAGES = ['decode', 'tile', 'score', 'select', 'encode', 'overlay', 'upstream'] as const;
export type Stage = (typeof STAGES)[number];

/** The server's metrics. `render()` is the `/metrics` body. */
export class Metrics {
  readonly requests = new Counter('semclip_http_requests_total', 'HTTP requests by route, method and status.');
  readonly duration = new Histogram('semclip_http_request_duration_seconds', 'Time from request to response headers, by route.');
  readonly stages = new Histogram('semclip_stage_duration_seconds', 'Time per pipeline stage (decode, tile, score, select, encode, overlay, upstream).');
  readonly cacheHits = new Counter('semclip_scorer_cache_hits_total', 'Tiles whose scorer work came from its cache, by scorer.');
  readonly tilesScored = new Counter('semclip_scorer_tiles_total', 'Tiles scored, by scorer.');
  readonly upstreamErrors = new Counter('semclip_upstream_errors_total', 'Upstream failures by kind (status, timeout, connection, bad_response, stream).');
  readonly rejected = new Counter('semclip_queue_rejected_total', 'Requests refused with 429 because a queue was full, by queue.');
  inFlight = 0;
  private readonly gauges: Array<() => string[]> = [];

  /** Adds gauges computed at scrape time. */
  addGauge(name: string, help: string, read: () => Array<[Labels, number]>): void {
    this.gauges.push(() => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, ...read().map(([l, v]) => `${name}${labelText(l)} ${num(v)}`)]);
  }

  stage(stage: Stage, ms: number): void {
    this.stages.observe({ stage }, ms / 1000);
  }

  render(): string {
    const mem = process.memoryUsage();
    const lines = [
      ...this.requests.render(),
      ...this.duration.render(),
      ...this.stages.render(),
      ...this.cacheHits.render(),
      ...this.tilesScored.render(),
      ...this.upstreamErrors.render(),
      ...this.rejected.render(),
      '# HELP semclip_http_requests_in_flight Requests being handled now.',
      '# TYPE semclip_http_requests_in_flight gauge',
      `semclip_http_requests_in_flight ${this.inFlight}`,
      ...this.gauges.flatMap((g) => g()),
      '# HELP process_resident_memory_bytes Resident memory of the server process.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${mem.rss}`,
      '# HELP nodejs_heap_used_bytes V8 heap in use.',
      '# TYPE nodejs_heap_used_bytes gauge',
      `nodejs_heap_used_bytes ${mem.heapUsed}`,
    ];
    return `${lines.join('\n')}\n`;
  }
}
