import { SemclipError } from '@semclip/core';

export interface TsvTable {
  readonly header: readonly string[];
  /** Rows as header -> cell; `line` is the 1-based line the row starts on. */
  readonly rows: readonly { readonly line: number; readonly cells: ReadonlyMap<string, string> }[];
  /**
   * Rows that do not fit the header (more cells than columns: a stray tab or broken quoting),
   * left out of `rows`; `index` is the row's cell under an `index` column, when there is one.
   */
  readonly bad: readonly { readonly line: number; readonly index?: string; readonly reason: string }[];
}

/**
 * Parses tab-separated values as pandas writes them (`to_csv(sep='\t')`, the VLMEvalKit
 * format): a cell holding a tab, newline or quote is wrapped in double quotes with inner
 * quotes doubled. Scans with indexOf so multi-megabyte base64 image cells stay fast. A row
 * with more cells than the header is returned in `bad`, not thrown: one broken row never
 * loses the file.
 */
export function parseTsv(text: string, path: string, expected: string): TsvTable {
  const rows: { line: number; cells: string[] }[] = [];
  let pos = 0;
  let line = 1;
  const n = text.length;
  while (pos < n) {
    const startLine = line;
    const cells: string[] = [];
    for (;;) {
      if (text.charCodeAt(pos) === 34 /* " */) {
        let out = '';
        let from = pos + 1;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q === -1) {
            throw new SemclipError('DATASET_INVALID', `${path} line ${startLine}: a quoted cell is never closed.`, {
              expected,
              details: { path, line: startLine },
            });
          }
          out += text.slice(from, q);
          if (text.charCodeAt(q + 1) === 34) {
            out += '"';
            from = q + 2;
            continue;
          }
          pos = q + 1;
          break;
        }
        line += countNewlines(out);
        cells.push(out);
      } else {
        let tab = text.indexOf('\t', pos);
        let nl = text.indexOf('\n', pos);
        if (tab === -1) tab = n;
        if (nl === -1) nl = n;
        const end = Math.min(tab, nl);
        let cell = text.slice(pos, end);
        if (cell.endsWith('\r') && end === nl) cell = cell.slice(0, -1);
        cells.push(cell);
        pos = end;
      }
      const c = text.charCodeAt(pos);
      if (c === 9 /* \t */) {
        pos++;
        continue;
      }
      if (c === 13 /* \r */) pos++;
      if (text.charCodeAt(pos) === 10 /* \n */) {
        pos++;
        line++;
      }
      break;
    }
    if (!(cells.length === 1 && cells[0] === '')) rows.push({ line: startLine, cells });
  }
  const head = rows.shift();
  if (!head) {
    throw new SemclipError('DATASET_INVALID', `${path} is empty.`, { expected, details: { path } });
  }
  const header = head.cells.map((h) => h.trim());
  const indexCol = header.indexOf('index');
  const bad: { line: number; index?: string; reason: string }[] = [];
  const out: { line: number; cells: Map<string, string> }[] = [];
  for (const r of rows) {
    if (r.cells.length > header.length) {
      const index = indexCol >= 0 ? r.cells[indexCol]?.trim() : undefined;
      bad.push({
        line: r.line,
        ...(index ? { index } : {}),
        reason: `${r.cells.length} cells but the header has ${header.length} columns (a stray tab or broken quoting)`,
      });
      continue;
    }
    const cells = new Map<string, string>();
    header.forEach((h, i) => {
      const v = r.cells[i];
      if (v !== undefined) cells.set(h, v);
    });
    out.push({ line: r.line, cells });
  }
  return { header, rows: out, bad };
}

function countNewlines(s: string): number {
  let k = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) k++;
  return k;
}
