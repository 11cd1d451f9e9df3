/**
 * A vitest reporter (wired in `vitest.shared.ts`, next to the default one) that prints one line per
 * test file whose shared-data tests (`describeShared` / `itShared`) were skipped, e.g.
 * `[semclip] skipped 4 tests in src/photos.test.ts: ../shared/data not found (...)`.
 * `.ci/run` fails when it sees such a line.
 *
 * Tests skipped for another reason (`it.runIf(cudaProviderInstalled())`: hardware this machine
 * lacks) get a line of their own, `[semclip] not run here: ...` with their names, so every skip
 * in the summary is accounted for; `.ci/run` does not fail on those.
 */
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { SHARED_SKIP_MARKER, sharedSkipReason } from './shared-data.js';

/** Starts the line for tests skipped for something other than ../shared/data. */
export const OTHER_SKIP_MARKER = '[semclip] not run here:';

export class SharedDataReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    for (const mod of testModules) {
      let skipped = 0;
      const other: string[] = [];
      for (const test of mod.children.allTests()) {
        if (test.result().state !== 'skipped') continue;
        if (test.meta().semclipSharedData) skipped++;
        else other.push(test.fullName);
      }
      const file = path.relative(process.cwd(), mod.moduleId);
      if (skipped > 0) console.log(`${SHARED_SKIP_MARKER} ${skipped} test${skipped === 1 ? '' : 's'} in ${file}: ${sharedSkipReason()}`);
      if (other.length > 0) {
        console.log(
          `${OTHER_SKIP_MARKER} ${other.length} test${other.length === 1 ? '' : 's'} in ${file} (a condition this machine does not meet, e.g. a GPU provider): ${other.map((n) => `"${n}"`).join(', ')}`,
        );
      }
    }
  }
}
