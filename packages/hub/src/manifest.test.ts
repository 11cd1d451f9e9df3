import { describe, expect, it } from 'vitest';
import { isSemclipError } from '@semclip/core';
import { defineManifest, parseManifest, type ModelManifest } from './index.js';

const good = {
  id: 'tiny-clip',
  repo: 'test-org/tiny-clip',
  revision: '0123456789abcdef0123456789abcdef01234567',
  task: 'zero-shot-image-classification',
  family: 'clip',
  license: 'MIT',
  defaultDtype: 'fp32',
  verified: true,
  files: [
    { path: 'config.json', size: 10, sha256: 'a'.repeat(64) },
    { path: 'onnx/model.onnx', size: 20, sha256: 'b'.repeat(64) },
  ],
} as const;

function problemsOf(value: unknown): string[] {
  try {
    parseManifest(value, 'test.json');
  } catch (err) {
    if (isSemclipError(err, 'MODEL_INVALID')) return (err.details?.problems as string[]) ?? [];
    throw err;
  }
  return [];
}

describe('manifest schema', () => {
  it('accepts a complete manifest and keeps its fields', () => {
    const m = parseManifest(good, 'test.json');
    expect(m).toMatchObject({ id: 'tiny-clip', repo: 'test-org/tiny-clip', verified: true });
    expect(m.files).toHaveLength(2);
  });

  it.each([
    { why: 'an id with capitals', patch: { id: 'Tiny' }, field: 'id' },
    { why: 'a repo without an owner', patch: { repo: 'tiny-clip' }, field: 'repo' },
    { why: 'a repo with "--"', patch: { repo: 'test--org/tiny' }, field: 'repo' },
    { why: 'a branch instead of a commit', patch: { revision: 'main' }, field: 'revision' },
    { why: 'a short sha', patch: { revision: '0123456' }, field: 'revision' },
    { why: 'an unknown family', patch: { family: 'resnet' }, field: 'family' },
    { why: 'an unknown dtype', patch: { defaultDtype: 'fp64' }, field: 'defaultDtype' },
    { why: 'an empty licence', patch: { license: ' ' }, field: 'license' },
    { why: 'no files', patch: { files: [] }, field: 'files' },
    { why: 'a misspelt field', patch: { revison: 'x' }, field: 'revison' },
    { why: 'verified with a null hash', patch: { files: [{ path: 'config.json', size: 1, sha256: null }] }, field: 'verified' },
    { why: 'a path escaping the repo', patch: { files: [{ path: '../etc/passwd', size: 1, sha256: 'a'.repeat(64) }] }, field: 'files[0].path' },
    { why: 'an absolute path', patch: { files: [{ path: '/config.json', size: 1, sha256: 'a'.repeat(64) }] }, field: 'files[0].path' },
    { why: 'a reserved cache name', patch: { files: [{ path: 'onnx/model.onnx.partial', size: 1, sha256: 'a'.repeat(64) }] }, field: 'files[0].path' },
    {
      why: 'a duplicated path',
      patch: {
        files: [
          { path: 'a.json', size: 1, sha256: 'a'.repeat(64) },
          { path: 'a.json', size: 1, sha256: 'a'.repeat(64) },
        ],
      },
      field: 'files[1].path',
    },
    { why: 'an uppercase sha256', patch: { files: [{ path: 'a.json', size: 1, sha256: 'A'.repeat(64) }] }, field: 'files[0].sha256' },
    { why: 'a negative size', patch: { files: [{ path: 'a.json', size: -1, sha256: 'a'.repeat(64) }] }, field: 'files[0].size' },
    { why: 'a file without sha256 key', patch: { verified: false, files: [{ path: 'a.json', size: 1 }] }, field: 'files[0].sha256' },
  ])('rejects $why with MODEL_INVALID naming $field', ({ patch, field }) => {
    const problems = problemsOf({ ...good, ...patch });
    expect(problems.some((p) => p.startsWith(`${field}:`))).toBe(true);
  });

  it('names the source and every problem in the message', () => {
    let message = '';
    try {
      parseManifest({ ...good, id: 'X', revision: 'main' }, 'models/bad.json');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('models/bad.json');
    expect(message).toContain('id:');
    expect(message).toContain('revision:');
  });

  it.each([
    { what: 'an array', value: [] },
    { what: 'null', value: null },
    { what: 'a string', value: 'clip' },
  ])('rejects $what instead of an object', ({ value }) => {
    expect(problemsOf(value)).toHaveLength(1);
  });

  it('allows null size and sha256 (trust on first download) when verified is false', () => {
    const m = parseManifest({ ...good, verified: false, files: [{ path: 'config.json', size: null, sha256: null }] });
    expect(m.verified).toBe(false);
    expect(m.files[0]).toEqual({ path: 'config.json', size: null, sha256: null });
  });
});

describe('defineManifest', () => {
  it('derives verified from the files when it is left out', () => {
    const { verified: _drop, ...rest } = good;
    const complete = defineManifest(rest);
    const tofu = defineManifest({ ...rest, files: [{ path: 'config.json', size: null, sha256: null }] });
    expect(complete.verified).toBe(true);
    expect(tofu.verified).toBe(false);
  });

  it('throws MODEL_INVALID for a bad manifest', () => {
    expect(() => defineManifest({ ...good, revision: 'main' } as unknown as ModelManifest)).toThrowError(expect.objectContaining({ code: 'MODEL_INVALID' }));
  });
});
