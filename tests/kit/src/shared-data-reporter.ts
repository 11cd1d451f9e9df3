/**
 * A vitest reporter (wired in `vitest.shared.ts`, next to the default one) that prints one line per
 * test file whose shared-data tests (`describeShared` / `itShared`) were skipped, e.g.
 * `[semclip] skipped 4 tests in src/photos.test.ts: ../shared/data not found (...)`.
 * `.ci/run` fails when it sees such a line.
 */
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { SHARED_SKIP_MARKER, sharedSkipReason } from './shared-data.js';

export class SharedDataReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    for (const mod of testModules) {
      let skipped = 0;
      for (const test of mod.children.allTests()) {
        if (test.meta().semclipSharedData && test.result().state === 'skipped') skipped++;
      }
      if (skipped === 0) continue;
      const file = path.relative(process.cwd(), mod.moduleId);
      console.log(`${SHARED_SKIP_MARKER} ${skipped} test${skipped === 1 ? '' : 's'} in ${file}: ${sharedSkipReason()}`);
    }
  }
}
