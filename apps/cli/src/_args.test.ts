import { SemclipError } from '@semclip/core';
import { describe, expect, it } from 'vitest';
import {
  HTTP_ONLY_FLAGS,
  intArg,
  launchDirectory,
  numberArg,
  programName,
  questionArg,
  refuseRunnerFlags,
  selectOptionsFrom,
  wantsDeviceNotice,
} from './_args.js';
import { EXIT, exitCodeFor, normalizeError } from './_errors.js';

describe('flag parsers', () => {
  it.each([
    ['3', 3],
    [' 12 ', 12],
    [undefined, undefined],
  ])('intArg(%j) = %j', (v, n) => expect(intArg('k', v, 0)).toBe(n));

  it.each([['1.5'], ['-1'], ['abc'], [''], ['1e3']])('intArg rejects %j naming the flag', (v) => {
    expect(() => intArg('k', v, 0)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('--k') }));
  });

  it.each([
    ['0.1', 0.1],
    ['-2', -2],
    ['1e-3', 0.001],
  ])('numberArg(%j) = %s', (v, n) => expect(numberArg('margin', v)).toBe(n));
  it.each([['nan'], ['Infinity'], ['']])('numberArg rejects %j', (v) => expect(() => numberArg('margin', v)).toThrowError(/--margin/));

  it('questionArg trims and rejects blank questions', () => {
    expect(questionArg('  What?  ')).toBe('What?');
    expect(() => questionArg(' \t ')).toThrowError(expect.objectContaining({ code: 'INVALID_QUESTION' }));
  });
});

describe('selectOptionsFrom', () => {
  it.each([
    [{}, { includeOverview: true, merge: false, level: 1 }],
    [
      { k: '3', budget: '1728', merge: true },
      { k: 3, budget: 1728, merge: true },
    ],
    [
      { overview: false, 'tokens-per-image': '729' },
      { includeOverview: false, tokensPerImage: 729 },
    ],
    [
      { adaptive: true, margin: '0.05', threshold: '-1', 'max-tiles': '2' },
      { mode: 'adaptive', margin: 0.05, threshold: -1, maxTiles: 2 },
    ],
    [{ level: 'any' }, { level: 'any' }],
    [{ level: '2' }, { level: 2 }],
  ] as const)('%j -> %j', (args, expected) => {
    expect(selectOptionsFrom(args)).toMatchObject(expected);
  });

  it.each([
    [{ adaptive: true, k: '2' }, '--k and --adaptive'],
    [{ threshold: '0.2' }, '--threshold only applies with --adaptive'],
    [{ level: '3' }, '--level'],
    [{ budget: 'lots' }, '--budget'],
  ] as const)('rejects %j', (args, message) => {
    expect(() => selectOptionsFrom(args)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(message) }));
  });
});

describe('exit codes', () => {
  it.each([
    ['INVALID_GRID', EXIT.usage],
    ['IMAGE_TRUNCATED', EXIT.usage],
    ['UNKNOWN_SCORER', EXIT.usage],
    ['BUDGET_EXCEEDED', EXIT.usage],
    ['RESULTS_LOCKED', EXIT.usage],
    ['MODEL_NOT_DOWNLOADED', EXIT.failure],
    ['DEVICE_UNAVAILABLE', EXIT.failure],
    ['INTERNAL', EXIT.failure],
    ['ABORTED', EXIT.aborted],
  ] as const)('%s exits %s', (code, exit) => {
    expect(exitCodeFor(new SemclipError(code, 'x'))).toBe(exit);
  });

  it('turns citty usage errors into INVALID_ARGUMENT without colour codes, and anything else into INTERNAL', () => {
    const citty = Object.assign(new Error('Missing required positional argument: \u001b[36mIMAGE\u001b[39m'), { name: 'CLIError', code: 'EARG' });
    const err = normalizeError(citty, 'Run semclip tiles --help');
    expect([err.code, err.message]).toEqual(['INVALID_ARGUMENT', 'Missing required positional argument: IMAGE. Run semclip tiles --help.']);
    expect(normalizeError(new TypeError('boom'), '').code).toBe('INTERNAL');
  });
});

describe('missing build output', () => {
  it('says to build instead of calling it a bug', () => {
    const err = Object.assign(new Error("Cannot find module '/x/dist/index.js' imported from /y.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const out = normalizeError(err, '');
    expect(out.code).toBe('INTERNAL');
    expect(out.message).toMatch(/^A part of SemClip is missing: Cannot find module .* build first/);
  });
});

describe('refuseRunnerFlags', () => {
  it('refuses HTTP-only flags with a local: runner, naming every one', () => {
    expect(() => refuseRunnerFlags({ composite: true, timeout: '3', logprobs: 'on' }, ['local'], HTTP_ONLY_FLAGS)).toThrowError(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: '--composite, --timeout, --logprobs only apply to openai: runners, not local:. Drop --composite, --timeout, --logprobs.',
      }),
    );
    expect(() => refuseRunnerFlags({ dtype: 'q4' }, ['openai'], ['dtype'])).toThrowError('--dtype only applies to local: runners, not openai:.');
  });

  it('lets through flags at their defaults, and flags some runner in use takes', () => {
    expect(() => refuseRunnerFlags({ composite: false, logprobs: 'auto', quality: undefined }, ['local'], HTTP_ONLY_FLAGS)).not.toThrow();
    expect(() => refuseRunnerFlags({ composite: true, retries: '2' }, ['openai'], HTTP_ONLY_FLAGS)).not.toThrow();
    expect(() => refuseRunnerFlags({ dtype: 'q4' }, ['openai', 'local'], ['dtype'])).not.toThrow();
    // Only the flags asked about are checked.
    expect(() => refuseRunnerFlags({ dtype: 'q4', device: 'cpu' }, ['openai'], HTTP_ONLY_FLAGS)).not.toThrow();
  });
});

describe('launchDirectory (pnpm INIT_CWD)', () => {
  const root = { npm_package_name: 'semclip-monorepo', INIT_CWD: '/home/me/photos' };
  it.each([
    [{ ...root, npm_lifecycle_event: 'semclip' }, '/home/me/photos'],
    [{ ...root, npm_lifecycle_event: 'demo' }, '/home/me/photos'],
    [{ ...root, npm_lifecycle_event: 'test' }, undefined],
    [{ ...root, npm_package_name: 'my-app', npm_lifecycle_event: 'semclip' }, undefined],
    [{ npm_package_name: 'semclip-monorepo', npm_lifecycle_event: 'semclip' }, undefined],
    [{}, undefined],
  ])('%j -> %j', (env, expected) => expect(launchDirectory(env as NodeJS.ProcessEnv)).toBe(expected));
});

describe('programName (what hints tell the user to type)', () => {
  it.each([
    [{ npm_package_name: 'semclip-monorepo', npm_lifecycle_event: 'semclip' }, 'pnpm semclip'],
    [{ npm_package_name: 'semclip-monorepo', npm_lifecycle_event: 'demo' }, 'pnpm semclip'],
    [{ npm_package_name: 'semclip-monorepo', npm_lifecycle_event: 'test' }, 'semclip'],
    [{ npm_package_name: 'my-app', npm_lifecycle_event: 'semclip' }, 'semclip'],
    [{}, 'semclip'],
  ])('%j -> %s', (env, expected) => expect(programName(env as NodeJS.ProcessEnv)).toBe(expected));
});

describe('wantsDeviceNotice', () => {
  it.each([
    [['select', 'a.jpg', 'q'], false],
    [['select', 'a.jpg', 'q', '--device', 'cpu'], false],
    [['select', 'a.jpg', 'q', '--verbose'], true],
    [['select', 'a.jpg', 'q', '--device', 'auto'], true],
    [['select', 'a.jpg', 'q', '--device=auto'], true],
    [['select', '--', '--verbose', 'q'], false],
  ])('%j -> %j', (args, expected) => expect(wantsDeviceNotice(args)).toBe(expected));
});
