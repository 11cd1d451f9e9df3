import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { sizeText } from './_body.js';
import { HttpError } from './_errors.js';

/** One request body being received: its address's upload count and its bytes in the memory budget. */
export interface Upload {
  /** Counts `bytes` more of a body with no `Content-Length` against the budget; throws 429 past it. */
  reserve(bytes: number): void;
  /** The body has arrived (or stopped arriving): the address's count goes down. Idempotent. */
  finish(): void;
  /** The request is over: its bytes leave the budget. Idempotent; also finishes. */
  release(): void;
}

/**
 * Request bodies the server is receiving or holding: at most `maxUploadsPerIp` arriving at
 * once from one address, and at most `maxBodyMemoryBytes` held in memory in all (arriving,
 * waiting for a work slot, being worked on). Both are checked before a body is read, from its
 * headers, so a refused client is answered at once.
 */
export class Uploads {
  /** Bodies arriving now. */
  inProgress = 0;
  /** Bytes of bodies held or reserved now. */
  bytes = 0;
  private readonly byAddress = new Map<string, number>();

  constructor(private readonly limits: { readonly maxUploadsPerIp: number; readonly maxBodyMemoryBytes: number }) {}

  /** Starts receiving a body from `address` (declared length, if any, reserved at once); throws 429 when a limit says no. */
  begin(address: string, declared: number | undefined): Upload {
    const { maxUploadsPerIp, maxBodyMemoryBytes } = this.limits;
    const mine = this.byAddress.get(address) ?? 0;
    if (maxUploadsPerIp > 0 && mine >= maxUploadsPerIp) {
      throw new HttpError(
        429,
        'OVERLOADED',
        `${mine} requests from your address are still sending their bodies, the server's limit (--max-uploads-per-ip); send this one when one of them is done.`,
        { 'retry-after': '1' },
      );
    }
    let reserved = declared ?? 0;
    if (this.bytes + reserved > maxBodyMemoryBytes) throw this.memoryFull();
    this.bytes += reserved;
    this.inProgress++;
    this.byAddress.set(address, mine + 1);
    let finished = false;
    let released = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      this.inProgress--;
      const n = (this.byAddress.get(address) ?? 1) - 1;
      if (n > 0) this.byAddress.set(address, n);
      else this.byAddress.delete(address);
    };
    return {
      reserve: (bytes) => {
        if (declared !== undefined || released) return;
        if (this.bytes + bytes > maxBodyMemoryBytes) throw this.memoryFull('close');
        this.bytes += bytes;
        reserved += bytes;
      },
      finish,
      release: () => {
        finish();
        if (released) return;
        released = true;
        this.bytes -= reserved;
      },
    };
  }

  private memoryFull(connection?: 'close'): HttpError {
    return new HttpError(
      429,
      'OVERLOADED',
      `The server holds ${sizeText(this.bytes)} of request bodies, its limit (--body-memory is ${sizeText(this.limits.maxBodyMemoryBytes)}). Retry in a moment.`,
      { 'retry-after': '1', ...(connection ? { connection } : {}) },
    );
  }
}

/** True when a request says it has a body (a `Content-Length` over 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/** How long, and how many bytes, a refused request's body is read and dropped after its answer. */
export const LINGER_MS = 10_000;
export const LINGER_BYTES = 64 * 1024 * 1024;

const current = Symbol('semclip.request');
const lingering = Symbol('semclip.lingering');
type LingeringSocket = Socket & {
  [current]?: IncomingMessage;
  [lingering]?: boolean;
  destroySoon?: () => void;
};

/**
 * Lingering close (as nginx's): when an answer with `Connection: close` goes out before its
 * request's body has arrived (a refusal: 401, 413, 429...), Node would close the socket at once,
 * and a client still sending gets a reset instead of the answer. Instead the write side is
 * closed after the answer, and what the client still sends is read and dropped (never kept)
 * until it stops, for at most `LINGER_MS` and `LINGER_BYTES`; then the socket is closed.
 * Call it for every request, before the handler runs: false means the request came on a
 * connection already closing (the socket is destroyed; do not handle it).
 */
export function lingerOnClose(req: IncomingMessage): boolean {
  const socket = req.socket as LingeringSocket;
  if (socket[lingering] || socket.writableEnded) {
    // A client that ignored `Connection: close` and sent its next request on the same connection:
    // it would be worked on and its answer could not be sent.
    socket.destroy();
    return false;
  }
  socket[current] = req;
  if (typeof socket.destroySoon !== 'function' || Object.hasOwn(socket, 'destroySoon')) return true;
  const original = socket.destroySoon;
  socket.destroySoon = function (this: LingeringSocket): void {
    const request = this[current];
    if (this[lingering]) return;
    if (!request || request.complete || this.destroyed || !hasBody(request)) {
      original.call(this);
      return;
    }
    this[lingering] = true;
    if (this.writable) this.end();
    let bytes = 0;
    const stop = (): void => {
      clearTimeout(timer);
      this.destroy();
    };
    const timer = setTimeout(stop, LINGER_MS);
    timer.unref();
    // Whoever was reading the body (the request's stream) no longer is: drop, do not buffer.
    request.removeAllListeners('data');
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > LINGER_BYTES) stop();
    });
    request.once('end', stop);
    request.once('close', stop);
    this.once('end', stop);
    this.once('close', () => clearTimeout(timer));
    request.resume();
  };
  return true;
}
