/**
 * The real data shared with the project (`../shared/data` from the repo root: real photos,
 * benchmark question files, the CLIP tokenizer; see README "Tests"). A fresh clone has no such
 * folder: tests that need it are declared with `describeShared` / `itShared` and are skipped
 * there, and the kit's reporter (`./shared-data-reporter.ts`, wired in `vitest.shared.ts`) prints
 * one line per test file saying how many were skipped and why. In CI (`CI` set) the folder must
 * exist: a missing one fails the file instead of skipping it.
 *
 * `SEMCLIP_SHARED_DATA` overrides the location (`SEMCLIP_SHARED_DATA=/nonexistent` shows what a
 * fresh clone sees).
 *
 * @example
 * ```ts
 * import { describeShared, sharedData } from '@semclip/test-kit/shared-data';
 * const PHOTO = sharedData('images/queue_time.jpg');
 * describeShared('tiles of a real photo', () => { it('...', async () => { await tileImage(PHOTO); }); });
 * ```
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import type { TestFunction } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** Set on tests that need `../shared/data` (see `describeShared`, `itShared`). */
    semclipSharedData?: boolean;
  }
}

/** The marker every skip line starts with (`.ci/run` fails when it sees one). */
export const SHARED_SKIP_MARKER = '[semclip] skipped';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the shared real data lives: `SEMCLIP_SHARED_DATA`, else `../shared/data` next to the repo. */
export function sharedDataDir(): string {
  const env = process.env.SEMCLIP_SHARED_DATA;
  return env ? path.resolve(env) : path.resolve(REPO_ROOT, '../shared/data');
}

/** A path inside the shared data folder, e.g. `sharedData('images/queue_time.jpg')`. */
export function sharedData(...parts: string[]): string {
  return path.join(sharedDataDir(), ...parts);
}

/** Whether the shared data folder exists. */
export function hasSharedData(): boolean {
  return existsSync(sharedDataDir());
}

/** The folder as people know it: `../shared/data`, or the `SEMCLIP_SHARED_DATA` value. */
export function sharedDataLabel(): string {
  return process.env.SEMCLIP_SHARED_DATA ? sharedDataDir() : '../shared/data';
}

/** Why shared-data tests are skipped, for the one line per file. */
export function sharedSkipReason(): string {
  return `${sharedDataLabel()} not found (real photos and benchmark files; see README "Tests")`;
}

function isCI(): boolean {
  const ci = process.env.CI;
  return !!ci && ci !== 'false' && ci !== '0';
}

/** Options for a test or suite that needs the shared data; throws in CI when the data is missing. */
function sharedOptions(): { skip: boolean; meta: { semclipSharedData: true } } {
  const present = hasSharedData();
  if (!present && isCI()) {
    throw new Error(
      `[semclip] CI is set but ${sharedDataDir()} is missing: CI must run the tests that need the shared data ` +
        '(provide ../shared/data or SEMCLIP_SHARED_DATA; unset CI to skip them locally)',
    );
  }
  return { skip: !present, meta: { semclipSharedData: true } };
}

/** `describe` for tests that need `../shared/data`: skipped (and counted) without it, failing in CI. */
export function describeShared(name: string, fn: () => void): void {
  describe(name, sharedOptions(), fn);
}

/**
 * `describe` for benchmarks on the shared data: without it, prints one line and skips the group
 * (benchmarks are not tests: no CI failure, no reporter).
 */
export function describeSharedBench(name: string, fn: () => void): void {
  const present = hasSharedData();
  if (!present) console.log(`${SHARED_SKIP_MARKER} benchmarks "${name}": ${sharedSkipReason()}`);
  describe.skipIf(!present)(name, fn);
}

/** `it` for one test that needs `../shared/data`: skipped (and counted) without it, failing in CI. */
export function itShared(name: string, fn: TestFunction, timeout?: number): void {
  it(name, timeout === undefined ? sharedOptions() : { ...sharedOptions(), timeout }, fn);
}
