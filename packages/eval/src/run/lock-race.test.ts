import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { tempDir } from '@semclip/test-kit/benchmarks';
import { lockOutputFile } from './lock.js';

// A loaded CI disk: the clean-up of the temporary file the winner's lock was linked from is
// slow, so the other takers read the new lock before the winner has returned.
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  let first = true;
  return {
    ...fs,
    unlink: async (path: Parameters<typeof fs.unlink>[0]) => {
      if (first && String(path).endsWith('.tmp')) {
        first = false;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return fs.unlink(path);
    },
  };
});

let dir: string;
beforeAll(async () => {
  dir = await tempDir('semclip-lock-race-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('does not take a lock another taker of this process has just created for a stale one (slow clean-up)', async () => {
  const file = join(dir, 'out.jsonl');
  const tries = await Promise.allSettled(Array.from({ length: 4 }, () => lockOutputFile(file)));
  const won = tries.filter((t) => t.status === 'fulfilled');
  for (const t of won) await t.value.release();
  expect(won).toHaveLength(1);
  for (const t of tries)
    if (t.status === 'rejected') expect(t.reason).toMatchObject({ code: 'RESULTS_LOCKED', message: expect.stringContaining('held by this process') });
});
