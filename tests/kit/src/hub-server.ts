/**
 * A fake Hugging Face hub: a real HTTP server on 127.0.0.1 (ephemeral port) serving
 * `/{owner}/{name}/resolve/{revision}/{path}` the way huggingface.co does for downloads:
 * Content-Length, ETag, Accept-Ranges, Range -> 206 with Content-Range, 416 when the range
 * cannot be satisfied, 401 for unknown repositories, 404 with X-Error-Code for unknown
 * revisions and files. Faults make it misbehave on purpose so download code can be tested.
 *
 * @example
 * ```ts
 * const hub = await startFakeHub({ repos: { 'test/tiny': { revision, files: { 'config.json': bytes } } } });
 * hub.setFault({ kind: 'drop', file: 'onnx/model.onnx', afterBytes: 1000 });
 * await pullModel(manifest, { endpoint: hub.url });
 * expect(hub.requests.some((r) => r.range)).toBe(true);
 * await hub.close();
 * ```
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeRepo {
  /** The commit sha files are served under (any other revision is a 404). */
  readonly revision: string;
  readonly files: Readonly<Record<string, Uint8Array>>;
}

export type HubFault =
  /** Flip bytes of the body (the sizes stay right, the hash does not). */
  | { readonly kind: 'corrupt'; readonly file?: string; readonly times?: number }
  /** Send the headers and `afterBytes` bytes of the body, then destroy the socket. */
  | { readonly kind: 'drop'; readonly file?: string; readonly afterBytes: number; readonly times?: number }
  /** Answer with this status (default 500) instead of the file. */
  | { readonly kind: 'status'; readonly status?: number; readonly file?: string; readonly times?: number; readonly retryAfter?: number }
  /** 401 unless `Authorization: Bearer <token>`. Permanent until cleared. */
  | { readonly kind: 'require-token'; readonly token: string }
  /** Send the body in `chunkBytes` pieces `delayMs` apart. */
  | { readonly kind: 'slow'; readonly file?: string; readonly chunkBytes?: number; readonly delayMs: number; readonly times?: number }
  /** Ignore Range headers and always answer 200 with the whole file. */
  | { readonly kind: 'ignore-range'; readonly file?: string; readonly times?: number };

export interface RequestLog {
  readonly method: string;
  readonly url: string;
  readonly repo?: string;
  readonly revision?: string;
  readonly file?: string;
  /** The Range header, when one was sent. */
  readonly range?: string;
  /** The Authorization header as received (tests check the token travels only here). */
  readonly authorization?: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  status: number;
  /** Body bytes written before the response ended or the socket was dropped. */
  bytesSent: number;
  /** Which fault shaped the response, if any. */
  fault?: HubFault['kind'];
}

export interface FakeHubOptions {
  readonly repos: Readonly<Record<string, FakeRepo>>;
  readonly faults?: readonly HubFault[];
  /** Answer `resolve` with a 302 to a CDN-like path on the same server, like huggingface.co does for LFS files. */
  readonly redirect?: boolean;
}

export interface FakeHub {
  /** Base URL to use as HF_ENDPOINT, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  readonly requests: RequestLog[];
  /** Adds a fault (faults with `times` expire after that many hits; default 1 except `require-token`). */
  setFault(fault: HubFault): void;
  clearFaults(): void;
  /** Replaces or adds a file (e.g. to simulate a changed upstream). */
  setFile(repo: string, path: string, bytes: Uint8Array): void;
  close(): Promise<void>;
}

interface ActiveFault {
  fault: HubFault;
  remaining: number;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Starts the fake hub; always `close()` it (use afterEach/afterAll). */
export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const repos = new Map<string, { revision: string; files: Map<string, Uint8Array> }>();
  for (const [name, repo] of Object.entries(options.repos)) {
    repos.set(name, { revision: repo.revision, files: new Map(Object.entries(repo.files)) });
  }
  let faults: ActiveFault[] = [];
  const requests: RequestLog[] = [];
  const sockets = new Set<Socket>();

  const addFault = (fault: HubFault) => {
    const times = 'times' in fault && fault.times !== undefined ? fault.times : fault.kind === 'require-token' ? Infinity : 1;
    faults.push({ fault, remaining: times });
  };
  for (const f of options.faults ?? []) addFault(f);

  /** Takes (and uses up) the first matching fault of the given kinds. */
  const take = <K extends HubFault['kind']>(kinds: readonly K[], file: string): Extract<HubFault, { kind: K }> | undefined => {
    const hit = faults.find(
      (a) =>
        a.remaining > 0 && (kinds as readonly string[]).includes(a.fault.kind) && (!('file' in a.fault) || a.fault.file === undefined || a.fault.file === file),
    );
    if (!hit) return undefined;
    hit.remaining--;
    return hit.fault as Extract<HubFault, { kind: K }>;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end(String(err));
      } else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const log: RequestLog = {
      method: req.method ?? 'GET',
      url: url.pathname,
      headers: { ...req.headers },
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      status: 0,
      bytesSent: 0,
    };
    requests.push(log);
    const finish = (status: number, body = '', headers: Record<string, string> = {}) => {
      log.status = status;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(body);
    };

    const cdn = /^\/__cdn\/(.+)$/.exec(url.pathname);
    const m = cdn ? /^\/([^/]+\/[^/]+)\/([^/]+)\/(.+)$/.exec(`/${cdn[1]!}`) : /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return finish(404, 'Not Found');
    const repoName = decodeURIComponent(m[1]!);
    const revision = decodeURIComponent(m[2]!);
    const file = m[3]!.split('/').map(decodeURIComponent).join('/');
    Object.assign(log, { repo: repoName, revision, file });

    const tokenFault = faults.find((a) => a.fault.kind === 'require-token' && a.remaining > 0)?.fault as
      | Extract<HubFault, { kind: 'require-token' }>
      | undefined;
    if (tokenFault && req.headers.authorization !== `Bearer ${tokenFault.token}`) {
      log.fault = 'require-token';
      return finish(401, 'Invalid credentials in Authorization header', { 'x-error-code': 'GatedRepo' });
    }
    const repo = repos.get(repoName);
    if (!repo) return finish(401, 'Repository not found', { 'x-error-code': 'RepoNotFound' });
    if (revision !== repo.revision) return finish(404, 'Revision not found', { 'x-error-code': 'RevisionNotFound' });
    const bytes = repo.files.get(file);
    if (!bytes) return finish(404, 'Entry not found', { 'x-error-code': 'EntryNotFound' });

    const statusFault = take(['status'], file);
    if (statusFault) {
      log.fault = 'status';
      return finish(statusFault.status ?? 500, 'Internal Error', statusFault.retryAfter ? { 'retry-after': String(statusFault.retryAfter) } : {});
    }

    const etag = `"${sha256(bytes)}"`;
    if (options.redirect && !cdn) {
      log.status = 302;
      res.writeHead(302, {
        location: `/__cdn/${m[1]}/${m[2]}/${m[3]}`,
        'x-linked-etag': etag,
        'x-linked-size': String(bytes.byteLength),
        'x-repo-commit': repo.revision,
      });
      res.end();
      return;
    }

    const size = bytes.byteLength;
    let start = 0;
    let end = size - 1;
    let partial = false;
    const range = req.headers.range;
    const ignoreRange = range ? take(['ignore-range'], file) : undefined;
    if (ignoreRange) log.fault = 'ignore-range';
    if (range && !ignoreRange) {
      const r = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (!r || (r[1] === '' && r[2] === '')) return finish(416, 'Bad range', { 'content-range': `bytes */${size}` });
      if (r[1] === '') {
        start = Math.max(0, size - Number(r[2]));
      } else {
        start = Number(r[1]);
        end = r[2] === '' ? size - 1 : Math.min(Number(r[2]), size - 1);
      }
      if (start >= size || start > end) return finish(416, 'Range Not Satisfiable', { 'content-range': `bytes */${size}` });
      partial = true;
    }

    let body = bytes.subarray(start, end + 1);
    const corrupt = take(['corrupt'], file);
    if (corrupt && body.byteLength > 0) {
      log.fault = 'corrupt';
      body = Uint8Array.from(body);
      for (let i = 0; i < body.length; i += Math.max(1, Math.floor(body.length / 16))) body[i] = body[i]! ^ 0xff;
    }
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(body.byteLength),
      'accept-ranges': 'bytes',
      etag,
      'x-repo-commit': repo.revision,
    };
    if (partial) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    log.status = partial ? 206 : 200;
    res.writeHead(log.status, headers);
    if (req.method === 'HEAD') return void res.end();

    const drop = take(['drop'], file);
    const slow = take(['slow'], file);
    if (drop) log.fault = 'drop';
    else if (slow) log.fault = 'slow';
    const limit = drop ? Math.min(drop.afterBytes, body.byteLength) : body.byteLength;
    const chunk = slow?.chunkBytes ?? (slow ? 1024 : 64 * 1024);
    let offset = 0;
    while (offset < limit) {
      const piece = body.subarray(offset, Math.min(limit, offset + chunk));
      const ok = res.write(piece);
      offset += piece.byteLength;
      log.bytesSent = offset;
      if (!ok) await new Promise<void>((r) => res.once('drain', r));
      if (slow) await new Promise((r) => setTimeout(r, slow.delayMs));
      if (res.destroyed) return;
    }
    if (drop) {
      // Let the bytes leave, then cut the connection mid-body.
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setFault: addFault,
    clearFaults() {
      faults = [];
    },
    setFile(repo, path, bytes) {
      const r = repos.get(repo);
      if (!r) throw new Error(`fake hub: unknown repo ${repo}`);
      r.files.set(path, bytes);
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Structural twin of @semclip/hub's ModelManifest (the kit does not depend on the hub). */
export interface GeneratedManifest {
  id: string;
  repo: string;
  revision: string;
  task: string;
  family: 'clip' | 'siglip' | 'llava' | 'relevance' | 'ocr' | 'other';
  license: string;
  defaultDtype: 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';
  verified: boolean;
  files: { path: string; size: number | null; sha256: string | null }[];
  description?: string;
  aliases?: string[];
}

/**
 * A manifest for files served by the fake hub, with their real sizes and sha256. `extra`
 * overrides fields; `unknown` lists paths to publish as trust-on-first-download (null
 * size and hash), which also makes the manifest `verified: false`.
 *
 * @example
 * ```ts
 * const files = { 'config.json': new TextEncoder().encode('{}') };
 * const manifest = manifestFor('test/tiny', 'a'.repeat(40), files, { id: 'tiny' });
 * ```
 */
export function manifestFor(
  repo: string,
  revision: string,
  files: Readonly<Record<string, Uint8Array>>,
  extra: Partial<Omit<GeneratedManifest, 'files'>> & { unknown?: readonly string[] } = {},
): GeneratedManifest {
  const { unknown = [], ...rest } = extra;
  const list = Object.entries(files).map(([path, bytes]) =>
    unknown.includes(path) ? { path, size: null, sha256: null } : { path, size: bytes.byteLength, sha256: sha256(bytes) },
  );
  return {
    id: repo.split('/')[1]!.toLowerCase(),
    repo,
    revision,
    task: 'zero-shot-image-classification',
    family: 'clip',
    license: 'MIT',
    defaultDtype: 'fp32',
    verified: unknown.length === 0,
    files: list,
    ...rest,
  };
}

/** A random-looking but deterministic 40-hex revision for a name. */
export function fakeRevision(name: string): string {
  return createHash('sha1').update(name).digest('hex');
}
