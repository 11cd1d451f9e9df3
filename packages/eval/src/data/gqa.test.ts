import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, writeGqa } from '@semclip/test-kit/benchmarks';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadBenchmark } from './load.js';

describe('GQA: LLaVA question files without answers', () => {
  let dir: string;
  let lonely: string;
  beforeAll(async () => {
    dir = await tempDir();
    await writeGqa(dir);
    // The LLaVA jsonl alone in a folder: no testdev_balanced_questions.json beside it.
    const alone = join(dir, 'alone');
    await mkdir(alone, { recursive: true });
    lonely = join(alone, 'llava_gqa_testdev_balanced.jsonl');
    await copyFile(join(dir, 'llava_gqa_testdev_balanced.jsonl'), lonely);
  });

  it('says how to give the answers: --annotations', async () => {
    const ds = await loadBenchmark('gqa', lonely);
    expect(ds.hasAnswers).toBe(false);
    expect(ds.warnings).toHaveLength(1);
    expect(ds.warnings[0]).toContain('--annotations');
    expect(ds.warnings[0]).toContain('testdev_balanced_questions.json');
  });

  it('joins the answers given with annotations', async () => {
    const ds = await loadBenchmark('gqa', lonely, { annotations: join(dir, 'testdev_balanced_questions.json') });
    expect(ds.hasAnswers).toBe(true);
    expect(ds.warnings).toEqual([]);
  });

  it('names --annotations when the annotations file given is missing', async () => {
    await expect(loadBenchmark('gqa', lonely, { annotations: join(dir, 'nope.json') })).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
      message: expect.stringContaining('--annotations'),
    });
  });
});
