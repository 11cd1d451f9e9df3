import { describe, expect, it } from 'vitest';
import { SemclipError, isSemclipError, toSemclipError, throwIfAborted, ERROR_CODES } from './index.js';

describe('SemclipError', () => {
  it('builds a message from what failed, what was expected and how to fix it', () => {
    const err = new SemclipError('INVALID_GRID', 'Grid "0x0" has no tiles.', {
      expected: 'rows and columns of at least 1, like 2x2',
      hint: 'Pass --grid 2x2',
    });
    expect(err.message).toBe('Grid "0x0" has no tiles. Expected rows and columns of at least 1, like 2x2. Pass --grid 2x2.');
    expect(err.code).toBe('INVALID_GRID');
    expect(err.name).toBe('SemclipError');
  });

  it.each([
    ['Is the server running?', 'Is the server running?'],
    ['Run it again!', 'Run it again!'],
    ['Try again.', 'Try again.'],
    ['Try again', 'Try again.'],
  ])('ends the hint %j with one full stop only when it has no end punctuation', (hint, shown) => {
    expect(new SemclipError('UPSTREAM_ERROR', 'Could not connect.', { hint }).message).toBe(`Could not connect. ${shown}`);
  });

  it('keeps the cause', () => {
    const cause = new Error('disk full');
    expect(new SemclipError('INTERNAL', 'x', { cause }).cause).toBe(cause);
  });

  it('serialises to JSON without undefined fields', () => {
    const json = new SemclipError('OFFLINE', 'No network.').toJSON();
    expect(json).toEqual({ code: 'OFFLINE', message: 'No network.' });
  });

  it.each([
    [new SemclipError('IMAGE_EMPTY', 'e'), [], true],
    [new SemclipError('IMAGE_EMPTY', 'e'), ['IMAGE_EMPTY'], true],
    [new SemclipError('IMAGE_EMPTY', 'e'), ['IMAGE_CORRUPT'], false],
    [new Error('plain'), [], false],
    [Object.assign(new Error('x'), { name: 'SemclipError', code: 'NOT_A_CODE' }), [], false],
    [Object.assign(new Error('x'), { name: 'SemclipError', code: 'OFFLINE' }), ['OFFLINE'], true],
  ] as const)('isSemclipError(%s, %j) is %s', (err, codes, expected) => {
    expect(isSemclipError(err, ...codes)).toBe(expected);
  });

  it('wraps unknown errors as INTERNAL and passes SemclipErrors through', () => {
    const own = new SemclipError('OFFLINE', 'o');
    expect(toSemclipError(own)).toBe(own);
    const wrapped = toSemclipError(new TypeError('boom'), 'Scoring failed');
    expect(wrapped.code).toBe('INTERNAL');
    expect(wrapped.message).toContain('Scoring failed: boom');
  });

  it('throws ABORTED for an aborted signal only', () => {
    const ctl = new AbortController();
    expect(() => throwIfAborted(ctl.signal)).not.toThrow();
    ctl.abort();
    expect(() => throwIfAborted(ctl.signal)).toThrowError(expect.objectContaining({ code: 'ABORTED' }));
  });

  it('has unique codes', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('has a code for an output file another run is writing, apart from a file that is invalid', () => {
    expect(ERROR_CODES).toContain('RESULTS_LOCKED');
    expect(ERROR_CODES).toContain('RESULTS_INVALID');
  });
});

describe('IMAGE_ERROR_CODES', () => {
  it('lists only real codes, all about one image', async () => {
    const { IMAGE_ERROR_CODES } = await import('./index.js');
    for (const code of IMAGE_ERROR_CODES) {
      expect(ERROR_CODES).toContain(code);
      expect(code).toMatch(/^(IMAGE_|FILE_)/);
    }
  });
});
