import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { describe, expect, it } from 'vitest';
import { readResults } from './results.js';

describe('readResults on a file that is not a results file (what `semclip eval report` reads)', () => {
  it('hints at a results file, not at an --out flag eval report does not have', async () => {
    const file = join(await tempDir(), 'predictions.jsonl');
    await writeFile(file, '{"question_id": 1, "text": "yes"}\n');
    const err = await readResults(file).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string; hint?: string },
    );
    expect(err).toMatchObject({ code: 'RESULTS_INVALID', message: expect.stringContaining('not a semclip eval results file') });
    expect(err?.hint).toContain('written by semclip eval run');
    expect(err?.hint).not.toMatch(/^Pass a results file, or choose another --out/);
    expect(err?.hint).not.toMatch(/choose another --out/);
  });
});
