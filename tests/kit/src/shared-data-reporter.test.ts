import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TestModule } from 'vitest/node';
import { OTHER_SKIP_MARKER, SharedDataReporter } from './shared-data-reporter.js';
import { SHARED_SKIP_MARKER } from './shared-data.js';

function fakeModule(file: string, tests: Array<{ name: string; state: string; shared?: boolean }>): TestModule {
  return {
    moduleId: `${process.cwd()}/${file}`,
    children: {
      allTests: () => tests.map((t) => ({ fullName: t.name, meta: () => (t.shared ? { semclipSharedData: true } : {}), result: () => ({ state: t.state }) })),
    },
  } as unknown as TestModule;
}

describe('SharedDataReporter', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints one line per file for skipped shared-data tests and one naming every other skipped test, nothing for files without skips', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    new SharedDataReporter().onTestRunEnd([
      fakeModule('src/photos.test.ts', [
        { name: 'reads a photo', state: 'skipped', shared: true },
        { name: 'reads another', state: 'skipped', shared: true },
        { name: 'plain', state: 'passed' },
      ]),
      fakeModule('src/device.test.ts', [
        { name: 'resolveDevice > picks cuda when the provider is installed', state: 'skipped' },
        { name: 'knows cpu', state: 'passed' },
      ]),
      fakeModule('src/quiet.test.ts', [{ name: 'ok', state: 'passed' }]),
    ]);
    const lines = log.mock.calls.map((c) => String(c[0]));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^\\${SHARED_SKIP_MARKER} 2 tests in src/photos\\.test\\.ts: `));
    expect(lines[1]).toMatch(
      new RegExp(`^\\${OTHER_SKIP_MARKER} 1 test in src/device\\.test\\.ts .*"resolveDevice > picks cuda when the provider is installed"$`),
    );
  });
});
