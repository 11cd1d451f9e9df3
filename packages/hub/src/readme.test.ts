import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { listModels } from './index.js';

const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');

/** The "Supported models" table rows: id -> dtype cell. */
function readmeDtypes(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const id = /^`([^`]+)`$/.exec(cells[1] ?? '')?.[1];
    if (id && cells.length >= 7) rows.set(id, cells[4] as string);
  }
  return rows;
}

describe('README supported-models table', () => {
  it('lists every bundled model with the dtype of its manifest (what `semclip models list` shows)', () => {
    const rows = readmeDtypes();
    for (const m of listModels()) {
      expect(rows.has(m.id), `${m.id} is missing from the README table`).toBe(true);
      // The cell starts with the dtype, e.g. "q4 (int8 embeddings)".
      expect(rows.get(m.id)?.split(' ')[0], `${m.id} dtype`).toBe(m.defaultDtype);
    }
  });
});
