/**
 * `semclip serve`: the SemClip HTTP server (`@semclip/server`): the selection API, the
 * OpenAI-compatible proxy and the web page. Configuration comes from the flags, then the
 * `SEMCLIP_*` environment, then the defaults (a flag beats its variable). The key clients must
 * send is read from SEMCLIP_API_KEY only, never from a flag, so it stays out of `ps` and shell
 * history. SIGTERM and Ctrl-C drain in-flight requests (for --shutdown-grace), then exit 0.
 * Under a supervisor (systemd, Docker, Kubernetes), run the `semclip` bin itself, or `exec` it
 * from a wrapper script, so the signal reaches this process; the root `pnpm semclip` script
 * execs it for the same reason.
 */
import { once } from 'node:events';
import { defineCommand } from 'citty';
import { SemclipError } from '@semclip/core';
import { choiceArg, intArg } from '../_args.js';
import { note } from '../_output.js';
import { cliSignal } from '../_signal.js';

const LOG_MODES = ['json', 'off'] as const;

export const serveArgs = {
  port: { type: 'string', description: 'Port to listen on (default 8080; 0 = any free port). Env: SEMCLIP_PORT', valueHint: 'N' },
  host: { type: 'string', description: 'Address to bind (default 127.0.0.1; 0.0.0.0 for every interface). Env: SEMCLIP_HOST', valueHint: 'ADDR' },
  upstream: {
    type: 'string',
    description:
      'OpenAI-compatible API root the chat proxy forwards to, e.g. http://127.0.0.1:8000/v1 (vLLM, llama-server, Ollama). Env: SEMCLIP_UPSTREAM; key: SEMCLIP_UPSTREAM_API_KEY',
    valueHint: 'URL',
  },
  model: { type: 'string', description: 'Upstream model for requests that name none, and for /v1/answer. Env: SEMCLIP_MODEL', valueHint: 'NAME' },
  scorer: {
    type: 'string',
    description:
      'Default scorer (random, ocr, clip, siglip, distant, vlm-yesno, vlm-embed; default ocr). vlm-yesno asks the upstream (or --vlm) about each tile; vlm-embed needs a local --vlm. Env: SEMCLIP_SCORER',
    valueHint: 'ID',
  },
  scorers: {
    type: 'string',
    description: 'Scorers to load, comma-separated; requests pick among them (default: the default scorer). Env: SEMCLIP_SCORERS',
    valueHint: 'A,B',
  },
  'scorer-model': {
    type: 'string',
    description:
      "Model manifest id for model-backed scorers (default: each scorer's own); for vlm-yesno/vlm-embed, a local VLM to score with instead of the server's",
    valueHint: 'ID',
  },
  device: {
    type: 'string',
    description: 'Where scorer models run: cpu, cuda, webgpu or auto (CUDA, else a WebGPU adapter, else CPU)',
    valueHint: 'cpu|cuda|webgpu|auto',
  },
  seed: { type: 'string', description: 'Seed for the random scorer', valueHint: 'N' },
  vlm: {
    type: 'string',
    description: 'The VLM behind /v1/answer: openai:<url>#<model> or local:<id> (default: --upstream with --model). Env: SEMCLIP_VLM',
    valueHint: 'SPEC',
  },
  grid: { type: 'string', description: 'Default grid: RxC or auto (default 2x2). Env: SEMCLIP_GRID', valueHint: '2x2|3x3|auto' },
  k: { type: 'string', description: 'Default number of regions selected (default 1). Env: SEMCLIP_K', valueHint: 'N' },
  strategy: {
    type: 'string',
    description:
      "POST /v1/answer's strategy when a request names none: topk (default), zoom (confidence-gated search, several VLM calls) or pack. Env: SEMCLIP_STRATEGY",
    valueHint: 'topk|zoom|pack',
  },
  merge: { type: 'boolean', description: 'Merge selected neighbouring tiles into one crop by default' },
  composite: { type: 'boolean', description: 'Send the upstream one image (overview and crops side by side), for one-image servers. Env: SEMCLIP_COMPOSITE=1' },
  'allow-remote-images': {
    type: 'boolean',
    description: 'Accept http(s) image URLs (fetched with private/loopback/metadata addresses refused). Env: SEMCLIP_ALLOW_REMOTE_IMAGES=1',
  },
  'allow-svg': {
    type: 'boolean',
    description:
      'Accept SVG images (default: refused, 415). Only self-contained SVGs without filters, at most 8 MP, rendered in a child process killed after 5 s or at the request deadline. Env: SEMCLIP_ALLOW_SVG=1',
  },
  'max-body': { type: 'string', description: 'Largest request body, e.g. 32mb or 16MiB (default 32 MiB). Env: SEMCLIP_MAX_BODY', valueHint: 'SIZE' },
  'max-pixels': { type: 'string', description: 'Largest image in pixels, checked from its header (default 50000000). Env: SEMCLIP_MAX_PIXELS', valueHint: 'N' },
  'max-tiles': {
    type: 'string',
    description:
      'Most tiles one request may ask for (rows x cols, plus its square with levels 2); more is 400 INVALID_GRID (default 1024). Env: SEMCLIP_MAX_TILES',
    valueHint: 'N',
  },
  'max-response': {
    type: 'string',
    description:
      'Largest response body (selection, crops, overlay, chat answer), e.g. 32MiB; past it, 400 RESPONSE_TOO_LARGE (default 32 MiB). Env: SEMCLIP_MAX_RESPONSE',
    valueHint: 'SIZE',
  },
  concurrency: { type: 'string', description: 'Requests worked on at once (default: CPU cores, at most 4). Env: SEMCLIP_CONCURRENCY', valueHint: 'N' },
  queue: { type: 'string', description: 'Requests waiting for a slot before 429 (default 32). Env: SEMCLIP_QUEUE', valueHint: 'N' },
  timeout: { type: 'string', description: 'Per-request deadline in seconds (default 120). Env: SEMCLIP_TIMEOUT', valueHint: 'S' },
  'upstream-timeout': { type: 'string', description: 'Seconds the upstream may take (a stream: between chunks) (default 120)', valueHint: 'S' },
  'headers-timeout': {
    type: 'string',
    description: 'Seconds a client has to send its request headers (default 20). Env: SEMCLIP_HEADERS_TIMEOUT',
    valueHint: 'S',
  },
  'body-timeout': {
    type: 'string',
    description: 'Seconds a client has to send its whole request body, else 408 (default 60). Env: SEMCLIP_BODY_TIMEOUT',
    valueHint: 'S',
  },
  'min-body-rate': {
    type: 'string',
    description: 'Slowest accepted upload per second, measured over 5 s, else 408, e.g. 8kib (default 8 KiB/s; 0 = off). Env: SEMCLIP_MIN_BODY_RATE',
    valueHint: 'SIZE',
  },
  'max-uploads-per-ip': {
    type: 'string',
    description:
      'Request bodies arriving at once from one client address; one more is 429 before it is read (default 8; 0 = no cap, e.g. behind a proxy). Env: SEMCLIP_MAX_UPLOADS_PER_IP',
    valueHint: 'N',
  },
  'body-memory': {
    type: 'string',
    description: 'Request bodies held in memory at once, in all; past it, 429 (default 128 MiB, at least 2x --max-body). Env: SEMCLIP_BODY_MEMORY',
    valueHint: 'SIZE',
  },
  'max-upstream-reply': {
    type: 'string',
    description: 'Largest upstream reply (or stream event) read whole; past it, 502 (default 16 MiB). Env: SEMCLIP_MAX_UPSTREAM_REPLY',
    valueHint: 'SIZE',
  },
  'shutdown-grace': {
    type: 'string',
    description:
      'Seconds in-flight and queued requests get to finish on SIGTERM/Ctrl-C; then what is left is answered 503 (default 30). Env: SEMCLIP_SHUTDOWN_GRACE',
    valueHint: 'S',
  },
  log: { type: 'string', description: 'Request logs on stdout: json (one object per line) or off', default: 'json', valueHint: 'json|off' },
  verbose: { type: 'boolean', description: 'Show stack traces and causes on errors' },
} as const;

type ServeArgs = { [K in keyof typeof serveArgs]?: unknown };

/** The flags as a partial server config; only flags that were given are set. */
export async function configFromFlags(args: ServeArgs): Promise<import('@semclip/server').ServerConfig> {
  const { parseByteSize } = await import('@semclip/server');
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const seed = intArg('seed', args.seed, Number.MIN_SAFE_INTEGER);
  const device = choiceArg('device', args.device, ['cpu', 'cuda', 'webgpu', 'auto'] as const);
  const scorerModel = str(args['scorer-model']);
  const timeout = intArg('timeout', args.timeout, 1, 86_400);
  const upstreamTimeout = intArg('upstream-timeout', args['upstream-timeout'], 1, 86_400);
  const maxBody = str(args['max-body']);
  const size = (name: 'min-body-rate' | 'body-memory' | 'max-upstream-reply'): number | undefined => {
    const v = str(args[name]);
    if (v === undefined) return undefined;
    return name === 'min-body-rate' && v === '0' ? 0 : parseByteSize(v, `--${name}`);
  };
  const headersTimeout = intArg('headers-timeout', args['headers-timeout'], 1, 86_400);
  const bodyTimeout = intArg('body-timeout', args['body-timeout'], 1, 86_400);
  const minBodyRate = size('min-body-rate');
  const bodyMemory = size('body-memory');
  const maxUpstreamReply = size('max-upstream-reply');
  const grace = intArg('shutdown-grace', args['shutdown-grace'], 0, 86_400);
  const limits = {
    ...(maxBody === undefined ? {} : { maxBodyBytes: parseByteSize(maxBody, '--max-body') }),
    ...(args['max-pixels'] === undefined ? {} : { maxPixels: intArg('max-pixels', args['max-pixels'], 1) }),
    ...(args['max-tiles'] === undefined ? {} : { maxTiles: intArg('max-tiles', args['max-tiles'], 1, 1024 * 1025) }),
    ...(str(args['max-response']) === undefined ? {} : { maxResponseBytes: parseByteSize(str(args['max-response']) as string, '--max-response') }),
    ...(args.concurrency === undefined ? {} : { concurrency: intArg('concurrency', args.concurrency, 1, 1024) }),
    ...(args.queue === undefined ? {} : { maxQueue: intArg('queue', args.queue, 0, 100_000) }),
    ...(timeout === undefined ? {} : { requestTimeoutMs: timeout * 1000 }),
    ...(upstreamTimeout === undefined ? {} : { upstreamTimeoutMs: upstreamTimeout * 1000 }),
    ...(headersTimeout === undefined ? {} : { headersTimeoutMs: headersTimeout * 1000 }),
    ...(bodyTimeout === undefined ? {} : { bodyTimeoutMs: bodyTimeout * 1000 }),
    ...(minBodyRate === undefined ? {} : { minBodyRate }),
    ...(args['max-uploads-per-ip'] === undefined ? {} : { maxUploadsPerIp: intArg('max-uploads-per-ip', args['max-uploads-per-ip'], 0, 100_000) }),
    ...(bodyMemory === undefined ? {} : { maxBodyMemoryBytes: bodyMemory }),
    ...(maxUpstreamReply === undefined ? {} : { maxUpstreamReplyBytes: maxUpstreamReply }),
    ...(grace === undefined ? {} : { shutdownGraceMs: grace * 1000 }),
  };
  const scorers = str(args.scorers)
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    ...(str(args.host) === undefined ? {} : { host: str(args.host) }),
    ...(args.port === undefined ? {} : { port: intArg('port', args.port, 0, 65535) }),
    ...(str(args.upstream) === undefined ? {} : { upstream: str(args.upstream) }),
    ...(str(args.model) === undefined ? {} : { model: str(args.model) }),
    ...(str(args.scorer) === undefined ? {} : { scorer: str(args.scorer) }),
    ...(scorers ? { scorers } : {}),
    ...(seed !== undefined || device !== undefined || scorerModel !== undefined
      ? {
          scorerOptions: {
            ...(seed === undefined ? {} : { seed }),
            ...(device === undefined ? {} : { device }),
            ...(scorerModel === undefined ? {} : { model: scorerModel }),
            warn: note,
          },
        }
      : { scorerOptions: { warn: note } }),
    ...(str(args.vlm) === undefined ? {} : { vlm: str(args.vlm) }),
    ...(str(args.grid) === undefined ? {} : { grid: str(args.grid) }),
    ...(args.k === undefined ? {} : { k: intArg('k', args.k, 0, 1024) }),
    ...(str(args.strategy) === undefined
      ? {}
      : { strategy: choiceArg('strategy', str(args.strategy), ['topk', 'zoom', 'pack'] as const) as 'topk' | 'zoom' | 'pack' }),
    ...(typeof args.merge === 'boolean' ? { merge: args.merge } : {}),
    ...(typeof args.composite === 'boolean' ? { composite: args.composite } : {}),
    ...(typeof args['allow-remote-images'] === 'boolean' ? { allowRemoteImages: args['allow-remote-images'] } : {}),
    ...(typeof args['allow-svg'] === 'boolean' ? { allowSvg: args['allow-svg'] } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

export const serveCommand = defineCommand({
  meta: {
    name: 'serve',
    description:
      'Run the SemClip HTTP server: POST /v1/select, POST /v1/answer, an OpenAI-compatible /v1/chat/completions proxy, /metrics, and a web page at /. Flags override SEMCLIP_* variables.',
  },
  args: serveArgs,
  async run({ args }) {
    const logMode = choiceArg('log', args.log ?? 'json', LOG_MODES) as (typeof LOG_MODES)[number];
    const { createServer, mergeServerConfigs, serverConfigFromEnv } = await import('@semclip/server');
    const config = mergeServerConfigs(serverConfigFromEnv(process.env), await configFromFlags(args), {
      ...(logMode === 'json' ? { log: (entry) => process.stdout.write(`${JSON.stringify(entry)}\n`) } : {}),
    });
    const signal = cliSignal();
    if (signal.aborted) throw new SemclipError('ABORTED', 'Interrupted before the server started.');
    note(`loading ${config.scorers?.map((s) => (typeof s === 'string' ? s : s.id)).join(', ') ?? config.scorer ?? 'ocr'} ...`);
    const server = await createServer(config);
    let stopping: Promise<void> | undefined;
    const stop = (why: string): Promise<void> => {
      stopping ??= (async () => {
        note(`${why}: finishing ${server.inFlight} request(s) in flight, then exiting`);
        await server.close();
      })();
      return stopping;
    };
    const onTerm = (): void => void stop('SIGTERM');
    process.once('SIGTERM', onTerm);
    try {
      const { url } = await server.listen();
      note(`serving on ${url} (page: ${url}/, API: ${url}/v1/select, OpenAI-compatible: ${url}/v1)`);
      // Ctrl-C aborts the CLI's signal (a second one exits at once); SIGTERM is handled above.
      // An interrupt that came while the server was starting has already fired: `once` would wait
      // for another one, so the server would never stop.
      const interrupted = signal.aborted ? Promise.resolve() : once(signal, 'abort');
      await Promise.race([interrupted.then(() => stop('interrupted')), new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()))]);
      await stopping;
    } catch (err) {
      await server.close({ graceMs: 0 });
      throw err;
    } finally {
      process.off('SIGTERM', onTerm);
    }
    note('stopped');
  },
});

export default serveCommand;
