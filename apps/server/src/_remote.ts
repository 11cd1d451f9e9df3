import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { LookupFunction } from 'node:net';
import { SemclipError } from '@semclip/core';
import type { RemoteImageOptions } from './_config.js';

/**
 * Special-purpose ranges a server-side fetch must never reach: loopback, private networks,
 * link-local (cloud metadata lives at 169.254.169.254 and fd00:ec2::254), carrier-grade NAT,
 * documentation, benchmarking, multicast, reserved, and the IPv6 forms that embed an IPv4
 * address (mapped, compatible, NAT64, 6to4, Teredo), which could smuggle any of the above.
 */
const BLOCKED_V4: ReadonlyArray<[string, number]> = [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
];
const BLOCKED_V6: ReadonlyArray<[string, number]> = [
  ['::', 96],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
];

// Two lists: a BlockList also matches IPv4 addresses against IPv6 rules in their mapped form,
// so one list holding ::ffff:0:0/96 would block every IPv4 address.
const blockedV4 = new BlockList();
const blockedV6 = new BlockList();
for (const [net, prefix] of BLOCKED_V4) blockedV4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of BLOCKED_V6) blockedV6.addSubnet(net, prefix, 'ipv6');

function family(address: string): 'ipv4' | 'ipv6' {
  return isIP(address) === 6 ? 'ipv6' : 'ipv4';
}

/** Builds the allow list from addresses and CIDR ranges (`10.1.2.0/24`, `127.0.0.1`, `::1`). */
export function allowListOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr, prefix] = entry.split('/');
    const kind = isIP(addr ?? '');
    if (!addr || kind === 0) {
      throw new SemclipError('INVALID_ARGUMENT', `remoteImages.allowAddresses entry "${entry}" is not an address or CIDR range.`, {
        expected: 'entries like 10.1.2.0/24, 192.168.1.5 or fd12::/16',
      });
    }
    const type = kind === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(prefix), type);
  }
  return list;
}

/**
 * True when a remote-image fetch may connect to `address` (an IP literal): false for loopback,
 * private, link-local, metadata and other special-purpose ranges, unless `allow` lists it.
 *
 * @example
 * ```ts
 * isAddressAllowed('169.254.169.254'); // false (cloud metadata)
 * isAddressAllowed('93.184.215.14'); // true
 * ```
 */
export function isAddressAllowed(address: string, allow?: BlockList): boolean {
  const type = family(address);
  if (allow?.check(address, type)) return true;
  return !(type === 'ipv4' ? blockedV4 : blockedV6).check(address, type);
}

function refused(url: string, why: string): SemclipError {
  return new SemclipError('INVALID_ARGUMENT', `The image URL ${url} was refused: ${why}.`, {
    hint: 'Send the image itself (a data: URL or an upload) instead',
    details: { param: 'image_url' },
  });
}

function displayUrl(u: URL): string {
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/** Resolves a host and checks every address; returns the checked address to connect to. */
async function resolveChecked(u: URL, allow: BlockList): Promise<{ address: string; family: 4 | 6 }> {
  const host = u.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new SemclipError('IMAGE_NOT_FOUND', `The image URL's host ${host} could not be resolved.`, { cause: err, details: { param: 'image_url' } });
    }
  }
  if (addresses.length === 0) throw new SemclipError('IMAGE_NOT_FOUND', `The image URL's host ${host} has no address.`, { details: { param: 'image_url' } });
  // Every address must pass: a name with one public and one private address is refused, since
  // which one a connection would use is not ours to predict.
  const bad = addresses.find((a) => !isAddressAllowed(a.address, allow));
  if (bad) throw refused(displayUrl(u), `${host} resolves to ${bad.address}, a private, loopback, link-local or otherwise special-purpose address`);
  const first = addresses[0] as { address: string; family: number };
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** A `lookup` that answers with the address already checked, so the connection goes exactly there. */
function pinnedLookup(address: string, fam: 4 | 6): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family: fam }]);
    else callback(null, address, fam);
  }) as unknown as LookupFunction;
}

interface Hop {
  readonly response: IncomingMessage;
  readonly abort: () => void;
}

function get(u: URL, pinned: { address: string; family: 4 | 6 }, signal: AbortSignal): Promise<Hop> {
  return new Promise((resolve, reject) => {
    const options: RequestOptions = {
      method: 'GET',
      protocol: u.protocol,
      hostname: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port || (u.protocol === 'https:' ? 443 : 80),
      path: `${u.pathname}${u.search}`,
      headers: { accept: 'image/*', 'user-agent': 'semclip-server' },
      lookup: pinnedLookup(pinned.address, pinned.family),
      signal,
      // No connection reuse: every hop connects to its own checked address.
      agent: false,
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(options, (response) => resolve({ response, abort: () => req.destroy() }));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Downloads an image from an http(s) URL for a request, safely: only http and https; the host
 * is resolved and every address checked against the special-purpose ranges before connecting,
 * and the connection goes to the checked address (no second lookup a DNS rebinding could
 * answer differently); each redirect is checked the same way; the size and the whole time are
 * capped.
 */
export async function fetchRemoteImage(url: string, options: Required<RemoteImageOptions>, parentSignal?: AbortSignal): Promise<Uint8Array> {
  const allow = allowListOf(options.allowAddresses);
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = parentSignal ? AbortSignal.any([parentSignal, timeout]) : timeout;
  let current: URL;
  try {
    current = new URL(url);
  } catch {
    throw refused(url.slice(0, 100), 'it is not a URL');
  }
  try {
    for (let hop = 0; ; hop++) {
      if (current.protocol !== 'http:' && current.protocol !== 'https:')
        throw refused(displayUrl(current), `only http and https URLs are fetched, not ${current.protocol}`);
      if (current.username || current.password) throw refused(displayUrl(current), 'URLs with credentials are not fetched');
      const pinned = await resolveChecked(current, allow);
      const { response, abort } = await get(current, pinned, signal);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        abort();
        if (hop >= options.maxRedirects) throw refused(displayUrl(current), `more than ${options.maxRedirects} redirects`);
        current = new URL(response.headers.location, current);
        continue;
      }
      if (status < 200 || status >= 300) {
        response.resume();
        abort();
        throw new SemclipError('IMAGE_NOT_FOUND', `The image URL ${displayUrl(current)} answered ${status}.`, {
          hint: 'Check the URL, or send the image itself',
          details: { param: 'image_url', status },
        });
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        abort();
        throw new SemclipError(
          'FILE_TOO_LARGE',
          `The image at ${displayUrl(current)} is ${declared} bytes, over the ${options.maxBytes}-byte limit for remote images.`,
          {
            details: { param: 'image_url' },
          },
        );
      }
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of response) {
        total += (chunk as Buffer).length;
        if (total > options.maxBytes) {
          abort();
          throw new SemclipError('FILE_TOO_LARGE', `The image at ${displayUrl(current)} is over the ${options.maxBytes}-byte limit for remote images.`, {
            details: { param: 'image_url' },
          });
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks, total);
    }
  } catch (err) {
    if (err instanceof SemclipError) throw err;
    if (parentSignal?.aborted) throw new SemclipError('ABORTED', 'The request was cancelled while its image was downloading.', { cause: err });
    if (timeout.aborted) {
      throw new SemclipError('IMAGE_NOT_FOUND', `The image at ${displayUrl(current)} did not download within ${options.timeoutMs} ms.`, {
        cause: err,
        details: { param: 'image_url' },
      });
    }
    throw new SemclipError('IMAGE_NOT_FOUND', `The image at ${displayUrl(current)} could not be downloaded: ${(err as Error).message}.`, {
      cause: err,
      details: { param: 'image_url' },
    });
  }
}
