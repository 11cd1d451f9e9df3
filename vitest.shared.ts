import { defineConfig } from 'vitest/config';
import { SharedDataReporter } from './tests/kit/src/shared-data-reporter.ts';

/** Shared vitest settings: tests sit beside code as *.test.ts. */
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // One line per test file whose ../shared/data tests were skipped (a fresh clone has no ../shared).
    reporters: [new SharedDataReporter(), 'default'],
  },
});
