import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeRevision, manifestFor, startFakeHub, type FakeHub, type HubFault } from './hub-server.js';

const REPO = 'kit/tiny';
const REV = fakeRevision('kit-tiny');
const body = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
const url = (hub: FakeHub, file = 'onnx/model.onnx', rev = REV, repo = REPO) => `${hub.url}/${repo}/resolve/${rev}/${file}`;

let hub: FakeHub;
afterEach(async () => {
  await hub?.close();
});

async function start(faults: HubFault[] = [], redirect = false) {
  hub = await startFakeHub({
    repos: { [REPO]: { revision: REV, files: { 'onnx/model.onnx': body, 'config.json': new TextEncoder().encode('{}') } } },
    faults,
    redirect,
  });
  return hub;
}

describe('fake hub', () => {
  it('serves a file with Content-Length, ETag and Accept-Ranges', async () => {
    await start();
    const res = await fetch(url(hub));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('1000');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toBe(`"${createHash('sha256').update(body).digest('hex')}"`);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(body);
    expect(hub.requests[0]).toMatchObject({ method: 'GET', repo: REPO, revision: REV, file: 'onnx/model.onnx', status: 200, bytesSent: 1000 });
  });

  it.each([
    { range: 'bytes=100-', status: 206, contentRange: 'bytes 100-999/1000', slice: [100, 1000] },
    { range: 'bytes=100-199', status: 206, contentRange: 'bytes 100-199/1000', slice: [100, 200] },
    { range: 'bytes=-50', status: 206, contentRange: 'bytes 950-999/1000', slice: [950, 1000] },
    { range: 'bytes=1000-', status: 416, contentRange: 'bytes */1000', slice: null },
    { range: 'items=1-2', status: 416, contentRange: 'bytes */1000', slice: null },
  ])('answers Range $range with $status', async ({ range, status, contentRange, slice }) => {
    await start();
    const res = await fetch(url(hub), { headers: { range } });
    expect(res.status).toBe(status);
    expect(res.headers.get('content-range')).toBe(contentRange);
    const got = new Uint8Array(await res.arrayBuffer());
    if (slice) expect(got).toEqual(body.subarray(slice[0], slice[1]));
  });

  it.each([
    { what: 'an unknown repository', target: () => url(hub, 'config.json', REV, 'kit/nope'), status: 401, code: 'RepoNotFound' },
    { what: 'an unknown revision', target: () => url(hub, 'config.json', fakeRevision('other')), status: 404, code: 'RevisionNotFound' },
    { what: 'an unknown file', target: () => url(hub, 'missing.json'), status: 404, code: 'EntryNotFound' },
  ])('answers $what like the hub ($status $code)', async ({ target, status, code }) => {
    await start();
    const res = await fetch(target());
    expect(res.status).toBe(status);
    expect(res.headers.get('x-error-code')).toBe(code);
  });

  it('fails a request once per status fault, then serves again', async () => {
    await start([{ kind: 'status', status: 503, file: 'config.json' }]);
    expect((await fetch(url(hub, 'config.json'))).status).toBe(503);
    expect((await fetch(url(hub, 'config.json'))).status).toBe(200);
  });

  it('corrupts the body once without changing its length', async () => {
    await start([{ kind: 'corrupt' }]);
    const bad = new Uint8Array(await (await fetch(url(hub))).arrayBuffer());
    const good = new Uint8Array(await (await fetch(url(hub))).arrayBuffer());
    expect(bad.byteLength).toBe(1000);
    expect(bad).not.toEqual(body);
    expect(good).toEqual(body);
  });

  it('drops the connection mid-body', async () => {
    await start([{ kind: 'drop', afterBytes: 300 }]);
    await expect(fetch(url(hub)).then((r) => r.arrayBuffer())).rejects.toThrow();
    expect(hub.requests[0]).toMatchObject({ fault: 'drop', bytesSent: 300 });
  });

  it('requires the token when told to', async () => {
    await start([{ kind: 'require-token', token: 'hf_x' }]);
    expect((await fetch(url(hub))).status).toBe(401);
    expect((await fetch(url(hub), { headers: { authorization: 'Bearer hf_x' } })).status).toBe(200);
    expect(hub.requests.map((r) => r.authorization)).toEqual([undefined, 'Bearer hf_x']);
  });

  it('redirects resolve requests to a CDN path like huggingface.co', async () => {
    await start([], true);
    const res = await fetch(url(hub), { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`/__cdn/${REPO}/${REV}/onnx/model.onnx`);
    expect(res.headers.get('x-linked-size')).toBe('1000');
    expect(new Uint8Array(await (await fetch(url(hub))).arrayBuffer())).toEqual(body);
  });

  it('builds a manifest with real sizes and hashes, or nulls for trust-on-first-download files', () => {
    const files = { 'a.json': new TextEncoder().encode('{"a":1}'), 'b.onnx': body };
    const m = manifestFor('kit/m', REV, files, { id: 'm', unknown: ['a.json'] });
    expect(m).toMatchObject({ id: 'm', repo: 'kit/m', revision: REV, verified: false });
    expect(m.files).toEqual([
      { path: 'a.json', size: null, sha256: null },
      { path: 'b.onnx', size: 1000, sha256: createHash('sha256').update(body).digest('hex') },
    ]);
  });
});
