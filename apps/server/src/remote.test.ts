/**
 * Remote image URLs. Every server here listens on 127.0.0.1, and every refusal test asserts that
 * no connection was made: addresses outside loopback appear only as literals that are refused
 * before any socket opens.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { makeJpeg } from '@semclip/test-kit/images';
import { fetchRemoteImage, isAddressAllowed } from './_remote.js';
import { postJson, startTestServer } from './_test-helpers.js';

let server: Server;
let base: string;
let port: number;
let hits: string[] = [];
let jpeg: Uint8Array;

beforeAll(async () => {
  jpeg = await makeJpeg({ width: 640, height: 480, pattern: 'quadrants' });
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const path = req.url ?? '';
    if (path === '/img.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length });
      res.end(jpeg);
    } else if (path === '/to-img') {
      res.writeHead(302, { location: '/img.jpg' });
      res.end();
    } else if (path === '/to-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    } else if (path === '/to-other-loopback') {
      res.writeHead(301, { location: `http://127.0.0.2:${port}/img.jpg` });
      res.end();
    } else if (path === '/loop') {
      res.writeHead(302, { location: '/loop' });
      res.end();
    } else if (path === '/big') {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': 3 * 1024 * 1024 });
      res.end(Buffer.alloc(3 * 1024 * 1024));
    } else if (path === '/big-chunked') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(256 * 1024);
      let n = 0;
      const pump = (): void => {
        while (n++ < 12) if (!res.write(chunk)) return void res.once('drain', pump);
        res.end();
      };
      pump();
    } else if (path === '/slow') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write(jpeg.subarray(0, 100));
      setTimeout(() => res.end(), 3000).unref();
    } else {
      res.writeHead(404);
      res.end('missing');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  hits = [];
});

const options = { maxBytes: 1024 * 1024, timeoutMs: 500, maxRedirects: 3, allowAddresses: [] as string[] };
const loopbackAllowed = { ...options, allowAddresses: ['127.0.0.1'] };

describe('isAddressAllowed', () => {
  it.each([
    ['127.0.0.1', false],
    ['127.255.0.9', false],
    ['10.1.2.3', false],
    ['172.16.5.4', false],
    ['172.31.255.255', false],
    ['192.168.1.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['100.100.100.200', false],
    ['0.0.0.0', false],
    ['192.0.2.1', false],
    ['198.18.0.1', false],
    ['224.0.0.1', false],
    ['255.255.255.255', false],
    ['::1', false],
    ['::', false],
    ['fe80::1', false],
    ['fd00:ec2::254', false],
    ['fc00::1', false],
    ['::ffff:127.0.0.1', false],
    ['::ffff:169.254.169.254', false],
    ['64:ff9b::a9fe:a9fe', false],
    ['2002:7f00:1::', false],
    ['2001:db8::1', false],
    ['ff02::1', false],
    ['8.8.8.8', true],
    ['172.32.0.1', true],
    ['2606:4700:4700::1111', true],
  ])('%s -> %s', (address, allowed) => {
    expect(isAddressAllowed(address)).toBe(allowed);
  });
});

describe('fetchRemoteImage refuses without connecting', () => {
  it.each([
    () => `${base}/img.jpg`,
    () => `http://localhost:${port}/img.jpg`,
    () => `http://[::1]:${port}/img.jpg`,
    () => `http://2130706433:${port}/img.jpg`,
    () => `http://0x7f.1:${port}/img.jpg`,
    () => 'http://169.254.169.254/latest/meta-data/iam/',
    () => 'http://[fd00:ec2::254]/latest/meta-data/',
    () => 'http://10.0.0.1/image.jpg',
    () => 'http://192.168.0.1/image.jpg',
    () => `ftp://127.0.0.1:${port}/img.jpg`,
    () => 'file:///etc/passwd',
    () => `http://user:secret@127.0.0.1:${port}/img.jpg`,
  ])('%s', async (url) => {
    await expect(fetchRemoteImage(url(), options)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/was refused/) });
    expect(hits).toEqual([]);
  });
});

describe('fetchRemoteImage with loopback allowed (as an operator might allow an internal store)', () => {
  it('downloads the image', async () => {
    const bytes = await fetchRemoteImage(`${base}/img.jpg`, loopbackAllowed);
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(jpeg))).toBe(0);
  });

  it('follows a redirect to an allowed address', async () => {
    const bytes = await fetchRemoteImage(`${base}/to-img`, loopbackAllowed);
    expect(bytes.length).toBe(jpeg.length);
    expect(hits).toEqual(['/to-img', '/img.jpg']);
  });

  it.each([
    ['/to-metadata', /169\.254\.169\.254/],
    ['/to-other-loopback', /127\.0\.0\.2/],
    ['/loop', /more than 3 redirects/],
  ])('checks every redirect target again: %s is refused', async (path, why) => {
    await expect(fetchRemoteImage(`${base}${path}`, loopbackAllowed)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(why) });
    // Only the allowed server was contacted.
    expect(hits.every((h) => h === path)).toBe(true);
  });

  it.each([
    ['/big', 'FILE_TOO_LARGE'],
    ['/big-chunked', 'FILE_TOO_LARGE'],
    ['/slow', 'IMAGE_NOT_FOUND'],
    ['/missing', 'IMAGE_NOT_FOUND'],
  ])('caps size and time: %s -> %s', async (path, code) => {
    const started = performance.now();
    await expect(fetchRemoteImage(`${base}${path}`, loopbackAllowed)).rejects.toMatchObject({ code });
    expect(performance.now() - started).toBeLessThan(2500);
  });
});

describe('remote images through the server', () => {
  it('are refused when not enabled, and refused for loopback when enabled without an allow list', async () => {
    const off = await startTestServer();
    const on = await startTestServer({ allowRemoteImages: true });
    try {
      const a = await postJson(`${off.url}/v1/select`, { image_url: `${base}/img.jpg`, question: 'q' });
      expect(a.status).toBe(400);
      expect(((await a.json()) as { error: { message: string } }).error.message).toMatch(/Remote image URLs are disabled/);
      const b = await postJson(`${on.url}/v1/select`, { image_url: `${base}/img.jpg`, question: 'q' });
      expect(b.status).toBe(400);
      expect(((await b.json()) as { error: { message: string } }).error.message).toMatch(/was refused: 127\.0\.0\.1 resolves to 127\.0\.0\.1/);
      expect(hits).toEqual([]);
    } finally {
      await off.close();
      await on.close();
    }
  });

  it('are downloaded and selected on when enabled and the address is allowed', async () => {
    const s = await startTestServer({ allowRemoteImages: true, remoteImages: { allowAddresses: ['127.0.0.1/32'] } });
    try {
      const res = await postJson(`${s.url}/v1/select`, { image_url: `${base}/img.jpg`, question: 'q' });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { image: { width: number } }).image.width).toBe(640);
      expect(hits).toEqual(['/img.jpg']);
    } finally {
      await s.close();
    }
  });
});
