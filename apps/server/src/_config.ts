import { availableParallelism } from 'node:os';
import { SemclipError, intOption, isSemclipError } from '@semclip/core';
import type { RelevanceScorer, VlmRunner } from '@semclip/core';
import { checkScorerOptions, defaultScorerId, getScorerFamily, listScorers } from '@semclip/pipeline';
import type { CommonScorerOptions } from '@semclip/pipeline';
import { parseRunnerSpec } from '@semclip/vlm-runner';
import type { RunnerConfig } from '@semclip/vlm-runner';
import type { LogEntry } from './_log.js';

/**
 * Options for the scorers opened by id (device, model, seed, warn...), shared by every loaded
 * scorer: each family gets those it reads. VLM scorers score with the server's VLM unless
 * `runner`, `vlm` or `model` (a local VLM) names their own.
 */
export type ServerScorerOptions = CommonScorerOptions & Readonly<Record<string, unknown>>;

/** Limits that protect the server from oversized or abusive requests. Each violation is a 4xx. */
export interface ServerLimits {
  /** Largest request body in bytes (JSON with a base64 image, or multipart). Default 32 MiB. */
  readonly maxBodyBytes: number;
  /** Most pixels (width x height) an image may have, checked from its header before decoding. Default 50 MP. */
  readonly maxPixels: number;
  /** Longest question in characters. Default 4000. */
  readonly maxQuestionChars: number;
  /** Most image parts in one chat request (all messages together). Default 8. */
  readonly maxImages: number;
  /** Most messages in one chat request. Default 256. */
  readonly maxMessages: number;
  /** Most content parts in one chat request (all messages together). Default 1024. */
  readonly maxParts: number;
  /** Requests whose SemClip work (reading the body, decoding, scoring, selecting, encoding) runs at once. Default: CPU cores, at most 4. */
  readonly concurrency: number;
  /** Requests waiting for a work slot; one more is answered 429 with Retry-After. Default 32. */
  readonly maxQueue: number;
  /** Requests waiting on the upstream or runner at once; one more is answered 429. Default 64. */
  readonly maxUpstreamInFlight: number;
  /** Deadline for one request's own work and the upstream's first byte, in ms. Default 120000. */
  readonly requestTimeoutMs: number;
  /** Deadline for the upstream: the whole answer (non-streaming), or the gap between two chunks (streaming), in ms. Default 120000. */
  readonly upstreamTimeoutMs: number;
  /** Time a client has to send its whole request body, in ms; past it, 408 `BODY_TIMEOUT`. Default 60000. */
  readonly bodyTimeoutMs: number;
  /** Time a client has to send the request line and headers (Node's `headersTimeout`), in ms. Default 20000. */
  readonly headersTimeoutMs: number;
  /**
   * Slowest accepted upload, in bytes per second, measured over each `bodyRateWindowMs` of a
   * body still arriving; a slower client gets 408 `BODY_TIMEOUT`. 0 turns the check off. Default 8192.
   */
  readonly minBodyRate: number;
  /** The window `minBodyRate` is measured over, in ms. Default 5000. */
  readonly bodyRateWindowMs: number;
  /**
   * Requests from one client address whose bodies are still arriving; one more is answered 429
   * at once, before its body is read. 0 = no cap (behind a proxy every client has its address). Default 8.
   */
  readonly maxUploadsPerIp: number;
  /**
   * Bytes of request bodies held in memory at once (arriving, waiting for a slot, being worked
   * on); a request whose body would pass it is answered 429. Default 128 MiB (at least 2 x maxBodyBytes),
   * the bound `concurrency x maxBodyBytes` gave when bodies were read inside work slots.
   */
  readonly maxBodyMemoryBytes: number;
  /** Largest upstream reply read whole (a non-stream answer, an error body, the model list) and largest single event of a stream, in bytes; past it, 502 `UPSTREAM_BAD_RESPONSE`. Default 16 MiB. */
  readonly maxUpstreamReplyBytes: number;
  /**
   * Most tiles one request may ask for (rows x cols, plus (rows x cols)^2 with levels 2); more is
   * a 400 `INVALID_GRID` before the image is read. Default 1024.
   */
  readonly maxTiles: number;
  /**
   * Largest response body SemClip builds (a selection or answer with its crops and overlay, a
   * chat answer with its `semclip` field), in bytes; a larger one is refused with 400
   * `RESPONSE_TOO_LARGE` (crops stop being encoded once they pass it). Default 32 MiB.
   */
  readonly maxResponseBytes: number;
  /** Deepest nesting of arrays and objects in a JSON body; deeper is a 400 before it is parsed. Default 64. */
  readonly maxJsonDepth: number;
  /** Most pixels an SVG may be rendered at (with `allowSvg`). Default 8,000,000. */
  readonly svgMaxPixels: number;
  /** Time one SVG may take to render (with `allowSvg`; the request's deadline stops it too), in ms. Default 5000. */
  readonly svgTimeoutMs: number;
  /**
   * Time `close()` lets in-flight and queued requests finish, in ms; past it, what is left is
   * cancelled and answered 503 `SHUTTING_DOWN` (a stream ends with an error event). Default 30000.
   */
  readonly shutdownGraceMs: number;
}

/** Fetching images by http(s) URL. Off unless `allowRemoteImages` is true. */
export interface RemoteImageOptions {
  /** Largest image downloaded, in bytes. Default 16 MiB. */
  readonly maxBytes?: number;
  /** Time for the whole download, redirects included, in ms. Default 10000. */
  readonly timeoutMs?: number;
  /** Redirects followed (each target is checked again). Default 3. */
  readonly maxRedirects?: number;
  /**
   * Addresses or CIDR ranges exempt from the private-address refusal, e.g. an internal image
   * store (`['10.1.2.0/24']`). Default none: loopback, private, link-local, metadata and other
   * special-purpose addresses are refused.
   */
  readonly allowAddresses?: readonly string[];
}

/**
 * Configuration of `createServer`. Everything is optional; `defineServerConfig` gives it
 * literal type inference, `resolveServerConfig` fills the defaults and checks the values.
 */
export interface ServerConfig {
  /** Where `listen()` binds. Default `127.0.0.1` (loopback only). */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** The scorer used when a request names none. Default `ocr` (offline, bundled models). */
  readonly scorer?: string;
  /**
   * Scorers loaded at start and kept for the server's life; requests may pick any of them by id.
   * Ids are opened from the `@semclip/pipeline` registry (`listScorers()`: random, ocr, clip,
   * siglip, distant, vlm-embed, vlm-yesno and any registered ones); objects satisfying
   * `RelevanceScorer` are used as they are (and disposed on close). Default: just `scorer`.
   * `vlm-yesno` asks the server's VLM (`vlm`, or `upstream` with `model`) about each tile;
   * `vlm-embed` needs a local VLM.
   */
  readonly scorers?: readonly (string | RelevanceScorer)[];
  /** Options for the scorers opened by id (device, model, seed...). */
  readonly scorerOptions?: ServerScorerOptions;
  /** Default grid: `RxC` or `auto`. Default `2x2`. */
  readonly grid?: string;
  /** Default number of regions selected. Default 1. */
  readonly k?: number;
  /**
   * `/v1/answer`'s strategy when a request names none: `topk` (the selection, default), `zoom`
   * (confidence-gated quadtree search, up to 12 VLM calls) or `pack` (best cells in one image).
   */
  readonly strategy?: 'topk' | 'zoom' | 'pack';
  /** Merge selected neighbouring tiles into one crop by default. Default false. */
  readonly merge?: boolean;
  /**
   * The VLM behind `POST /v1/answer`: a runner spec (`openai:<url>#<model>`, `local:<id>`), a
   * runner config or a runner object. Default: `openai:<upstream>#<model>` when both are set.
   */
  readonly vlm?: string | RunnerConfig | VlmRunner;
  /** OpenAI-compatible API root the chat proxy forwards to, e.g. `http://127.0.0.1:8000/v1`. */
  readonly upstream?: string;
  /** Model name used when a chat request names none, and for the default runner. */
  readonly model?: string;
  /** Sent to the upstream as `Authorization: Bearer`; never logged. */
  readonly upstreamApiKey?: string;
  /** Pack the overview and the crops into one image, for upstreams that take one image per request. Default false. */
  readonly composite?: boolean;
  /** Long-side cap in pixels of each image sent upstream. Default 1024. */
  readonly imageMaxSide?: number;
  /** JPEG quality of the images sent upstream. Default 90. */
  readonly imageQuality?: number;
  /** Bearer token clients must send on `/v1/*` and `/metrics`; compared in constant time, never logged. */
  readonly apiKey?: string;
  /** Accept `http(s)://` image URLs (fetched by the server). Default false: only data URLs and uploads. */
  readonly allowRemoteImages?: boolean;
  readonly remoteImages?: RemoteImageOptions;
  /**
   * Accept SVG images. Default false: SVG is refused (415 `IMAGE_UNSUPPORTED`) before it is
   * parsed. When true, an SVG is rendered only when it is self-contained (no reference to a
   * file or URL) and has no filter effects, at most `limits.svgMaxPixels`, in a child process
   * killed after `limits.svgTimeoutMs` or at the request's deadline.
   */
  readonly allowSvg?: boolean;
  readonly limits?: Partial<ServerLimits>;
  /** Receives one structured entry per request and per lifecycle event. Default: no logging. */
  readonly log?: (entry: LogEntry) => void;
  /** Run each scorer once on a tiny image at start so the first request is not slow. Default true. */
  readonly warmup?: boolean;
  /** `fetch` used for the upstream (tests, proxies). Default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
}

/** `ServerConfig` with defaults filled in. */
export interface ResolvedServerConfig {
  readonly host: string;
  readonly port: number;
  readonly scorer: string;
  readonly scorers: readonly (string | RelevanceScorer)[];
  readonly scorerOptions: ServerScorerOptions;
  readonly grid: string;
  readonly k: number;
  readonly strategy: 'topk' | 'zoom' | 'pack';
  readonly merge: boolean;
  readonly vlm: string | RunnerConfig | VlmRunner | undefined;
  readonly upstream: string | undefined;
  readonly model: string | undefined;
  readonly upstreamApiKey: string | undefined;
  readonly composite: boolean;
  readonly imageMaxSide: number;
  readonly imageQuality: number;
  readonly apiKey: string | undefined;
  readonly allowRemoteImages: boolean;
  readonly remoteImages: Required<RemoteImageOptions>;
  readonly allowSvg: boolean;
  readonly limits: ServerLimits;
  readonly log: ((entry: LogEntry) => void) | undefined;
  readonly warmup: boolean;
  readonly fetch: typeof fetch;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxBodyBytes: 32 * 1024 * 1024,
  maxPixels: 50_000_000,
  maxQuestionChars: 4000,
  maxImages: 8,
  maxMessages: 256,
  maxParts: 1024,
  concurrency: Math.max(1, Math.min(4, availableParallelism())),
  maxQueue: 32,
  maxUpstreamInFlight: 64,
  requestTimeoutMs: 120_000,
  upstreamTimeoutMs: 120_000,
  bodyTimeoutMs: 60_000,
  headersTimeoutMs: 20_000,
  minBodyRate: 8192,
  bodyRateWindowMs: 5000,
  maxUploadsPerIp: 8,
  maxBodyMemoryBytes: 128 * 1024 * 1024,
  maxUpstreamReplyBytes: 16 * 1024 * 1024,
  maxTiles: 1024,
  maxResponseBytes: 32 * 1024 * 1024,
  maxJsonDepth: 64,
  svgMaxPixels: 8_000_000,
  svgTimeoutMs: 5000,
  shutdownGraceMs: 30_000,
};

/**
 * Identity helper that checks nothing at compile time beyond the type and gives literal
 * inference; `createServer` validates.
 *
 * @example
 * ```ts
 * import { createServer, defineServerConfig } from '@semclip/server';
 *
 * const config = defineServerConfig({
 *   scorer: 'ocr',
 *   upstream: 'http://127.0.0.1:8000/v1',
 *   model: 'llava-hf/llava-1.5-7b-hf',
 *   limits: { maxBodyBytes: 16 * 1024 * 1024 },
 * });
 * const server = await createServer(config);
 * await server.listen();
 * ```
 */
export function defineServerConfig<const T extends ServerConfig>(config: T): T {
  return config;
}

function invalid(name: string, value: unknown, expected: string): SemclipError {
  return new SemclipError('INVALID_ARGUMENT', `Server option ${name} is ${JSON.stringify(value) ?? String(value)}.`, { expected, details: { option: name } });
}

function int(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  return intOption(name, value ?? undefined, { fallback, min, max, what: 'Server option' });
}

export function isRunner(v: unknown): v is VlmRunner {
  return typeof v === 'object' && v !== null && typeof (v as VlmRunner).answer === 'function' && typeof (v as VlmRunner).dispose === 'function';
}

/** The kind of runner (`openai`, `local`...) a runner, spec or config is; undefined when it cannot tell. */
export function runnerKindOf(o: {
  readonly runner?: VlmRunner | undefined;
  readonly vlm?: string | RunnerConfig | VlmRunner | undefined;
  readonly model?: unknown;
}): string | undefined {
  const given = o.runner ?? o.vlm;
  if (isRunner(given)) return /^(\w+):/.exec(given.id)?.[1];
  if (typeof given === 'string') return parseRunnerSpec(given).kind;
  if (given) return given.kind;
  return o.model === undefined ? undefined : 'local';
}

/**
 * Checks the scorers against the one registry before anything loads: every id is registered,
 * the shared options suit at least one loaded family, and each VLM scorer has a VLM of a kind
 * it can score with (the server's own, unless the options name one).
 */
function checkScorers(ids: readonly string[], options: ServerScorerOptions, serverRunner: { kind: string | undefined } | undefined, defaultId: string): void {
  const families = ids.map((id) => {
    try {
      return getScorerFamily(id);
    } catch (err) {
      if (!isSemclipError(err, 'UNKNOWN_SCORER')) throw err;
      const valid = listScorers().map((f) => f.id);
      throw new SemclipError('UNKNOWN_SCORER', `Server option ${id === defaultId ? 'scorer' : 'scorers'} names "${id}", which is not a registered scorer.`, {
        expected: `one of ${valid.join(', ')}`,
        details: { option: id === defaultId ? 'scorer' : 'scorers', valid },
      });
    }
  });
  const { runner: _r, vlm: _v, model: _m, ...rest } = options;
  // Options that no loaded family reads are refused, by the registry, as for the first one.
  if (options.model !== undefined && !families.some((f) => f.takesModel) && ids[0] !== undefined) checkScorerOptions(ids[0], options);
  if ((options.runner !== undefined || options.vlm !== undefined) && !families.some((f) => f.runners) && ids[0] !== undefined)
    checkScorerOptions(ids[0], options);
  for (const family of families) {
    if (!family.runners) continue;
    const own = options.runner !== undefined || options.vlm !== undefined || options.model !== undefined;
    if (own) {
      checkScorerOptions(family.id, { ...options, ...runnerKindFor(options) });
      continue;
    }
    if (!serverRunner) {
      throw new SemclipError('INVALID_ARGUMENT', `The ${family.id} scorer scores with the server's VLM, and this server has none.`, {
        hint: `Start it with --vlm ${family.runners.includes('openai') ? 'openai:<url>#<model> or ' : ''}local:<model-id>${family.runners.includes('openai') ? ', or --upstream and --model' : ''}`,
        details: { option: 'scorer', scorer: family.id },
      });
    }
    try {
      checkScorerOptions(family.id, { ...rest, ...(serverRunner.kind === undefined ? {} : { runnerKind: serverRunner.kind }) });
    } catch (err) {
      if (!isSemclipError(err, 'INVALID_ARGUMENT')) throw err;
      throw new SemclipError(
        'INVALID_ARGUMENT',
        `The ${family.id} scorer needs a ${family.runners.join(' or ')} VLM, and this server's VLM is ${serverRunner.kind ?? 'of another kind'}.`,
        {
          hint:
            family.id === 'vlm-embed'
              ? "vlm-embed reads the VLM's embeddings in this process: start the server with --vlm local:<model-id> (or --scorer-model <local model>), or use --scorer vlm-yesno, which asks the upstream"
              : `Start the server with a ${family.runners.join(' or ')} VLM (--vlm)`,
          details: { option: 'scorer', scorer: family.id, runner: serverRunner.kind ?? null },
          cause: err,
        },
      );
    }
  }
}

function runnerKindFor(options: ServerScorerOptions): { runnerKind?: string } {
  const kind = runnerKindOf(options);
  return kind === undefined ? {} : { runnerKind: kind };
}

function httpUrl(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(name, value.replace(/\/\/[^/@]*@/, '//***@'), 'an http(s) URL like http://127.0.0.1:8000/v1');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(name, url.protocol, 'an http(s) URL like http://127.0.0.1:8000/v1');
  return value.replace(/\/+$/, '');
}

/**
 * Fills defaults and checks every value; `INVALID_ARGUMENT` names the option.
 *
 * @example
 * ```ts
 * const { limits } = resolveServerConfig({ limits: { maxQueue: 8 } });
 * limits.maxBodyBytes; // 33554432 (the default, 32 MiB)
 * ```
 */
export function resolveServerConfig(config: ServerConfig = {}): ResolvedServerConfig {
  if (typeof config !== 'object' || config === null) throw invalid('config', config, 'an object');
  const l = config.limits ?? {};
  const maxBodyBytes = int('limits.maxBodyBytes', l.maxBodyBytes, DEFAULT_LIMITS.maxBodyBytes, 1024);
  const limits: ServerLimits = {
    maxBodyBytes,
    maxPixels: int('limits.maxPixels', l.maxPixels, DEFAULT_LIMITS.maxPixels, 1),
    maxQuestionChars: int('limits.maxQuestionChars', l.maxQuestionChars, DEFAULT_LIMITS.maxQuestionChars, 1),
    maxImages: int('limits.maxImages', l.maxImages, DEFAULT_LIMITS.maxImages, 1),
    maxMessages: int('limits.maxMessages', l.maxMessages, DEFAULT_LIMITS.maxMessages, 1),
    maxParts: int('limits.maxParts', l.maxParts, DEFAULT_LIMITS.maxParts, 1),
    concurrency: int('limits.concurrency', l.concurrency, DEFAULT_LIMITS.concurrency, 1, 1024),
    maxQueue: int('limits.maxQueue', l.maxQueue, DEFAULT_LIMITS.maxQueue, 0, 100_000),
    maxUpstreamInFlight: int('limits.maxUpstreamInFlight', l.maxUpstreamInFlight, DEFAULT_LIMITS.maxUpstreamInFlight, 1, 100_000),
    requestTimeoutMs: int('limits.requestTimeoutMs', l.requestTimeoutMs, DEFAULT_LIMITS.requestTimeoutMs, 1),
    upstreamTimeoutMs: int('limits.upstreamTimeoutMs', l.upstreamTimeoutMs, DEFAULT_LIMITS.upstreamTimeoutMs, 1),
    bodyTimeoutMs: int('limits.bodyTimeoutMs', l.bodyTimeoutMs, DEFAULT_LIMITS.bodyTimeoutMs, 1),
    headersTimeoutMs: int('limits.headersTimeoutMs', l.headersTimeoutMs, DEFAULT_LIMITS.headersTimeoutMs, 1),
    minBodyRate: int('limits.minBodyRate', l.minBodyRate, DEFAULT_LIMITS.minBodyRate, 0),
    bodyRateWindowMs: int('limits.bodyRateWindowMs', l.bodyRateWindowMs, DEFAULT_LIMITS.bodyRateWindowMs, 100),
    maxUploadsPerIp: int('limits.maxUploadsPerIp', l.maxUploadsPerIp, DEFAULT_LIMITS.maxUploadsPerIp, 0, 100_000),
    // Room for at least one largest body; by default for two, and never less than 128 MiB.
    maxBodyMemoryBytes: int('limits.maxBodyMemoryBytes', l.maxBodyMemoryBytes, Math.max(DEFAULT_LIMITS.maxBodyMemoryBytes, 2 * maxBodyBytes), maxBodyBytes),
    maxUpstreamReplyBytes: int('limits.maxUpstreamReplyBytes', l.maxUpstreamReplyBytes, DEFAULT_LIMITS.maxUpstreamReplyBytes, 1024),
    maxTiles: int('limits.maxTiles', l.maxTiles, DEFAULT_LIMITS.maxTiles, 1, 1024 * 1025),
    maxResponseBytes: int('limits.maxResponseBytes', l.maxResponseBytes, DEFAULT_LIMITS.maxResponseBytes, 1024),
    maxJsonDepth: int('limits.maxJsonDepth', l.maxJsonDepth, DEFAULT_LIMITS.maxJsonDepth, 8, 10_000),
    svgMaxPixels: int('limits.svgMaxPixels', l.svgMaxPixels, DEFAULT_LIMITS.svgMaxPixels, 1),
    svgTimeoutMs: int('limits.svgTimeoutMs', l.svgTimeoutMs, DEFAULT_LIMITS.svgTimeoutMs, 1),
    shutdownGraceMs: int('limits.shutdownGraceMs', l.shutdownGraceMs, DEFAULT_LIMITS.shutdownGraceMs, 0),
  };
  const scorer = config.scorer ?? defaultScorerId();
  if (typeof scorer !== 'string' || !scorer)
    throw invalid(
      'scorer',
      scorer,
      `a scorer id: ${listScorers()
        .map((f) => f.id)
        .join(', ')}`,
    );
  const scorers = config.scorers ?? [scorer];
  if (!Array.isArray(scorers) || scorers.length === 0) throw invalid('scorers', scorers, 'a non-empty list of scorer ids or scorer objects');
  const ids = scorers.map((s) => (typeof s === 'string' ? s : s.id));
  if (!ids.includes(scorer)) {
    throw new SemclipError('INVALID_ARGUMENT', `The default scorer "${scorer}" is not among the loaded scorers (${ids.join(', ')}).`, {
      hint: 'Add it to scorers, or pick one of them as scorer',
    });
  }
  if (new Set(ids).size !== ids.length) throw invalid('scorers', ids, 'scorers with distinct ids');
  const grid = config.grid ?? '2x2';
  if (typeof grid !== 'string') throw invalid('grid', grid, 'a grid like 2x2, 3x3 or auto');
  const host = config.host ?? '127.0.0.1';
  if (typeof host !== 'string' || !host) throw invalid('host', host, 'a host name or address like 127.0.0.1 or 0.0.0.0');
  const r = config.remoteImages ?? {};
  const remoteImages: Required<RemoteImageOptions> = {
    maxBytes: int('remoteImages.maxBytes', r.maxBytes, 16 * 1024 * 1024, 1),
    timeoutMs: int('remoteImages.timeoutMs', r.timeoutMs, 10_000, 1),
    maxRedirects: int('remoteImages.maxRedirects', r.maxRedirects, 3, 0, 20),
    allowAddresses: r.allowAddresses ?? [],
  };
  const apiKey = config.apiKey === '' ? undefined : config.apiKey;
  if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.length < 8)) {
    throw new SemclipError('INVALID_ARGUMENT', 'The API key is shorter than 8 characters.', {
      hint: 'Use a long random key, e.g. `openssl rand -hex 32`',
    });
  }
  const model = config.model === '' ? undefined : config.model;
  const upstream = httpUrl('upstream', config.upstream);
  const scorerOptions = config.scorerOptions ?? {};
  // The server's VLM: `vlm`, else `upstream` with `model` (an openai: runner).
  const serverRunner = config.vlm !== undefined ? { kind: runnerKindOf({ vlm: config.vlm }) } : upstream && model ? { kind: 'openai' } : undefined;
  checkScorers(
    scorers.filter((s): s is string => typeof s === 'string'),
    scorerOptions,
    serverRunner,
    scorer,
  );
  return {
    host,
    port: int('port', config.port, 8080, 0, 65535),
    scorer,
    scorers,
    scorerOptions,
    grid,
    k: int('k', config.k, 1, 0, 1024),
    strategy: strategyOf(config.strategy),
    merge: config.merge ?? false,
    vlm: config.vlm,
    upstream,
    model,
    upstreamApiKey: config.upstreamApiKey === '' ? undefined : config.upstreamApiKey,
    composite: config.composite ?? false,
    imageMaxSide: int('imageMaxSide', config.imageMaxSide, 1024, 16, 16384),
    imageQuality: int('imageQuality', config.imageQuality, 90, 1, 100),
    apiKey,
    allowRemoteImages: config.allowRemoteImages ?? false,
    remoteImages,
    allowSvg: config.allowSvg ?? false,
    limits,
    log: config.log,
    warmup: config.warmup ?? true,
    fetch: config.fetch ?? globalThis.fetch,
  };
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1000,
  kb: 1000,
  kib: 1024,
  m: 1000 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1000 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

/**
 * `"32mb"`, `"10 MiB"`, `"512k"` or `"1048576"` to bytes (kB/MB/GB are powers of 1000,
 * KiB/MiB/GiB of 1024).
 *
 * @example
 * ```ts
 * parseByteSize('16MiB'); // 16777216
 * parseByteSize('20mb'); // 20000000
 * ```
 */
export function parseByteSize(text: string | number, name = 'size'): number {
  if (typeof text === 'number') {
    if (Number.isSafeInteger(text) && text > 0) return text;
    throw invalid(name, text, 'a positive number of bytes');
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(text));
  const unit = m ? UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) throw invalid(name, text, 'a size like 32mb, 16MiB, 512kb or a number of bytes');
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw invalid(name, text, 'a positive size');
  return bytes;
}

/** The devices SEMCLIP_DEVICE accepts (@semclip/runtime's DEVICES). */
const DEVICE_CHOICES = ['cpu', 'cuda', 'webgpu', 'auto'] as const;

/** Environment variables `serverConfigFromEnv` reads, for docs and `--help`. */
export const SERVER_ENV = {
  SEMCLIP_HOST: 'host to bind (default 127.0.0.1)',
  SEMCLIP_PORT: 'port (default 8080)',
  SEMCLIP_UPSTREAM: 'OpenAI-compatible API root for the chat proxy',
  SEMCLIP_MODEL: 'model name for requests that name none and for the default runner',
  SEMCLIP_UPSTREAM_API_KEY: 'key sent to the upstream (falls back to OPENAI_API_KEY)',
  SEMCLIP_API_KEY: 'bearer token clients must send',
  SEMCLIP_SCORER: 'default scorer id (default ocr)',
  SEMCLIP_SCORERS: 'comma-separated scorers to load (default: the default scorer)',
  SEMCLIP_DEVICE: 'where scorer models run: cpu, cuda, webgpu or auto (default auto: CUDA, else a WebGPU adapter, else CPU)',
  SEMCLIP_VLM: 'runner spec for /v1/answer',
  SEMCLIP_GRID: 'default grid (default 2x2)',
  SEMCLIP_K: 'default regions selected (default 1)',
  SEMCLIP_STRATEGY: "/v1/answer's strategy when a request names none: topk (default), zoom or pack",
  SEMCLIP_COMPOSITE: '1 to pack overview and crops into one image',
  SEMCLIP_ALLOW_REMOTE_IMAGES: '1 to accept http(s) image URLs',
  SEMCLIP_ALLOW_SVG: '1 to accept SVG images (self-contained, no filters, rendered under a time limit)',
  SEMCLIP_MAX_TILES: 'most tiles one request may ask for (default 1024)',
  SEMCLIP_MAX_RESPONSE: 'largest response body, e.g. 32MiB',
  SEMCLIP_MAX_JSON_DEPTH: 'deepest nesting of a JSON body (default 64)',
  SEMCLIP_MAX_BODY: 'largest request body, e.g. 32mb',
  SEMCLIP_MAX_PIXELS: 'largest image in pixels',
  SEMCLIP_CONCURRENCY: 'work slots',
  SEMCLIP_QUEUE: 'requests waiting for a slot before 429',
  SEMCLIP_TIMEOUT: 'per-request deadline in seconds',
  SEMCLIP_HEADERS_TIMEOUT: 'seconds a client has to send its headers (default 20)',
  SEMCLIP_BODY_TIMEOUT: 'seconds a client has to send its whole body (default 60)',
  SEMCLIP_MIN_BODY_RATE: 'slowest accepted upload per second, e.g. 8kib (default 8 KiB/s; 0 = off)',
  SEMCLIP_MAX_UPLOADS_PER_IP: 'bodies arriving at once from one address (default 8; 0 = no cap)',
  SEMCLIP_BODY_MEMORY: 'request bodies held in memory at once, e.g. 128MiB (default 128 MiB, at least 2x the largest body)',
  SEMCLIP_MAX_UPSTREAM_REPLY: 'largest upstream reply read whole, e.g. 16MiB',
  SEMCLIP_SHUTDOWN_GRACE: 'seconds in-flight requests get to finish on shutdown (default 30)',
} as const;

function envFlag(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw invalid(name, value, '1/true/yes/on or 0/false/no/off');
}

function envInt(name: string, value: string, min: number): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw invalid(name, value, `an integer of at least ${min}`);
  return n;
}

/**
 * Reads the `SEMCLIP_*` variables (see `SERVER_ENV`) into a partial config. Unset and empty
 * variables are left out, so `{ ...serverConfigFromEnv(process.env), ...flags }` gives flags
 * precedence over the environment, and the environment over the defaults.
 *
 * @example
 * ```ts
 * const server = await createServer({ ...serverConfigFromEnv(process.env), scorer: 'random' });
 * ```
 */
export function serverConfigFromEnv(env: Readonly<Record<string, string | undefined>>): ServerConfig {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const out: { -readonly [K in keyof ServerConfig]: ServerConfig[K] } = {};
  const limits: { -readonly [K in keyof ServerLimits]?: number } = {};
  let v: string | undefined;
  if ((v = get('SEMCLIP_HOST'))) out.host = v;
  if ((v = get('SEMCLIP_PORT'))) out.port = envInt('SEMCLIP_PORT', v, 0);
  if ((v = get('SEMCLIP_UPSTREAM'))) out.upstream = v;
  if ((v = get('SEMCLIP_MODEL'))) out.model = v;
  if ((v = get('SEMCLIP_UPSTREAM_API_KEY') ?? get('OPENAI_API_KEY'))) out.upstreamApiKey = v;
  if ((v = get('SEMCLIP_API_KEY'))) out.apiKey = v;
  if ((v = get('SEMCLIP_SCORER'))) out.scorer = v;
  if ((v = get('SEMCLIP_SCORERS')))
    out.scorers = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if ((v = get('SEMCLIP_DEVICE'))) {
    const device = v.toLowerCase();
    if (!DEVICE_CHOICES.includes(device as (typeof DEVICE_CHOICES)[number])) throw invalid('SEMCLIP_DEVICE', v, `one of ${DEVICE_CHOICES.join(', ')}`);
    out.scorerOptions = { device: device as (typeof DEVICE_CHOICES)[number] };
  }
  if ((v = get('SEMCLIP_VLM'))) out.vlm = v;
  if ((v = get('SEMCLIP_GRID'))) out.grid = v;
  if ((v = get('SEMCLIP_K'))) out.k = envInt('SEMCLIP_K', v, 0);
  if ((v = get('SEMCLIP_STRATEGY'))) out.strategy = strategyOf(v, 'SEMCLIP_STRATEGY');
  if ((v = env.SEMCLIP_COMPOSITE) !== undefined) out.composite = envFlag('SEMCLIP_COMPOSITE', v);
  if ((v = env.SEMCLIP_ALLOW_REMOTE_IMAGES) !== undefined) out.allowRemoteImages = envFlag('SEMCLIP_ALLOW_REMOTE_IMAGES', v);
  if ((v = env.SEMCLIP_ALLOW_SVG) !== undefined) out.allowSvg = envFlag('SEMCLIP_ALLOW_SVG', v);
  if ((v = get('SEMCLIP_MAX_TILES'))) limits.maxTiles = envInt('SEMCLIP_MAX_TILES', v, 1);
  if ((v = get('SEMCLIP_MAX_RESPONSE'))) limits.maxResponseBytes = parseByteSize(v, 'SEMCLIP_MAX_RESPONSE');
  if ((v = get('SEMCLIP_MAX_JSON_DEPTH'))) limits.maxJsonDepth = envInt('SEMCLIP_MAX_JSON_DEPTH', v, 8);
  if ((v = get('SEMCLIP_MAX_BODY'))) limits.maxBodyBytes = parseByteSize(v, 'SEMCLIP_MAX_BODY');
  if ((v = get('SEMCLIP_MAX_PIXELS'))) limits.maxPixels = envInt('SEMCLIP_MAX_PIXELS', v, 1);
  if ((v = get('SEMCLIP_CONCURRENCY'))) limits.concurrency = envInt('SEMCLIP_CONCURRENCY', v, 1);
  if ((v = get('SEMCLIP_QUEUE'))) limits.maxQueue = envInt('SEMCLIP_QUEUE', v, 0);
  if ((v = get('SEMCLIP_TIMEOUT'))) limits.requestTimeoutMs = envInt('SEMCLIP_TIMEOUT', v, 1) * 1000;
  if ((v = get('SEMCLIP_HEADERS_TIMEOUT'))) limits.headersTimeoutMs = envInt('SEMCLIP_HEADERS_TIMEOUT', v, 1) * 1000;
  if ((v = get('SEMCLIP_BODY_TIMEOUT'))) limits.bodyTimeoutMs = envInt('SEMCLIP_BODY_TIMEOUT', v, 1) * 1000;
  if ((v = get('SEMCLIP_MIN_BODY_RATE'))) limits.minBodyRate = v === '0' ? 0 : parseByteSize(v, 'SEMCLIP_MIN_BODY_RATE');
  if ((v = get('SEMCLIP_MAX_UPLOADS_PER_IP'))) limits.maxUploadsPerIp = envInt('SEMCLIP_MAX_UPLOADS_PER_IP', v, 0);
  if ((v = get('SEMCLIP_BODY_MEMORY'))) limits.maxBodyMemoryBytes = parseByteSize(v, 'SEMCLIP_BODY_MEMORY');
  if ((v = get('SEMCLIP_MAX_UPSTREAM_REPLY'))) limits.maxUpstreamReplyBytes = parseByteSize(v, 'SEMCLIP_MAX_UPSTREAM_REPLY');
  if ((v = get('SEMCLIP_SHUTDOWN_GRACE'))) limits.shutdownGraceMs = envInt('SEMCLIP_SHUTDOWN_GRACE', v, 0) * 1000;
  if (Object.keys(limits).length > 0) out.limits = limits;
  return out;
}

/**
 * Merges configs left to right (later wins), `limits`, `scorerOptions` and `remoteImages` field by field; keys
 * whose value is `undefined` do not override. For layering defaults, environment and flags.
 *
 * @example
 * ```ts
 * const config = mergeServerConfigs(serverConfigFromEnv(process.env), { port: 9000, limits: { maxQueue: 8 } });
 * ```
 */
export function mergeServerConfigs(...configs: readonly ServerConfig[]): ServerConfig {
  const defined = <T extends object>(o: T | undefined): Partial<T> =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
  let out: ServerConfig = {};
  for (const c of configs) {
    out = {
      ...out,
      ...defined(c),
      limits: { ...out.limits, ...defined(c.limits) },
      // field by field, so SEMCLIP_DEVICE survives flags that set only --seed or the notice sink
      scorerOptions: { ...out.scorerOptions, ...defined(c.scorerOptions) },
      remoteImages: { ...out.remoteImages, ...defined(c.remoteImages) },
    };
  }
  return out;
}

function strategyOf(value: unknown, option = 'strategy'): 'topk' | 'zoom' | 'pack' {
  if (value === undefined) return 'topk';
  if (value === 'topk' || value === 'zoom' || value === 'pack') return value;
  throw new SemclipError('INVALID_ARGUMENT', `Server strategy ${JSON.stringify(value)} (${option}) is not known.`, {
    expected: 'topk, zoom or pack',
    details: { option },
  });
}
