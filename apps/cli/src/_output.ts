/**
 * Output helpers every `semclip` command uses. The whole API:
 *
 * - `printJson(value)`: the one JSON document of a `--json` run, on stdout (2-space indent,
 *   newline). Nothing else may write to stdout in `--json` mode.
 * - `print(text)`: a human line on stdout (skip it in `--json` mode).
 * - `note(text)`: a one-line notice on stderr (`semclip: note: ...`); safe in `--json` mode.
 * - `formatTable(columns, rows)` / `printTable(columns, rows)`: an aligned plain-text table.
 * - `createProgress(label, total, { enabled })`: a progress bar on stderr. Use
 *   `progressEnabled(args)` for `enabled`: true only when stderr is a TTY or `--progress` was
 *   given; a disabled bar costs nothing and prints nothing. Call `update`/`tick` as work
 *   finishes and `done()` at the end (also on failure: it clears the line).
 * - `fmtMs(ms)`, `fmtNumber(n)`: short human formats for timings and scores.
 * - `fitToWidth(text, width)` / `terminalWidth(stream)`: wraps help text to the terminal.
 *
 * Commands throw `SemclipError`s; the entry (`cli.ts`) prints them once and sets the exit
 * code. Commands never call `process.exit`.
 */
/** Prints one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
}

/** JSON has no typed arrays, bigints or non-finite numbers; write them as what they mean. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return `<${value.constructor.name} ${(value as Uint8Array).length}>`;
  return value;
}

/** A human line on stdout. */
export function print(text = ''): void {
  process.stdout.write(`${text}\n`);
}

/** A one-line notice on stderr, e.g. a device fallback. Never touches stdout. */
export function note(text: string): void {
  process.stderr.write(`semclip: note: ${text.replace(/^semclip:\s*/i, '')}\n`);
}

/** A line on stderr about something that makes the results mean less than they seem. */
export function warning(text: string): void {
  process.stderr.write(`semclip: warning: ${text.replace(/^semclip:\s*/i, '')}\n`);
}

export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => string | number;
  /** Numbers are right-aligned by default, text left-aligned. */
  readonly align?: 'left' | 'right';
}

/**
 * Renders rows as an aligned table with a header line.
 *
 * @example
 * ```ts
 * printTable([{ header: 'tile', value: (t) => t.index }, { header: 'score', value: (t) => fmtNumber(t.score) }], ranking);
 * ```
 */
export function formatTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const aligns = columns.map((c, i) => c.align ?? (cells.length > 0 && cells.every((r) => typeof r[i] === 'number') ? 'right' : 'left'));
  const text = cells.map((r) => r.map(String));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...text.map((r) => (r[i] as string).length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (aligns[i] === 'right' ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...text.map(line)].join('\n');
}

export function printTable<Row>(columns: readonly Column<Row>[], rows: readonly Row[]): void {
  print(formatTable(columns, rows));
}

/** Milliseconds as "12 ms" or "3.4 s". */
export function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** A score with 3 significant digits, without exponent noise for ordinary values. */
export function fmtNumber(n: number): string {
  if (n === 0 || (Math.abs(n) >= 1e-3 && Math.abs(n) < 1e6)) return String(Number(n.toPrecision(3)));
  return n.toExponential(2);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the ESC that starts ANSI colour codes
const ANSI = /\u001b\[[0-9;]*m/g;
const visibleLength = (s: string) => s.replace(ANSI, '').length;

/** The width to wrap text for `stream`: its columns on a terminal, else $COLUMNS, else 80. */
export function terminalWidth(stream: { columns?: number } = process.stdout): number {
  const env = Number(process.env.COLUMNS);
  return stream.columns || (Number.isInteger(env) && env > 0 ? env : 80);
}

/**
 * Fits text (citty's usage, which pads every column to its longest cell) to `width` columns:
 * trailing spaces go, and a longer line wraps at spaces with a hanging indent under its
 * second column ("  tiles    Split an image..."), or under the line's own indent. Where the
 * first column is wider than half the width, the rest starts on the next line. ANSI colour
 * codes count as zero width; a single word longer than the width stays whole.
 */
/**
 * Lays out citty's help tables left-aligned: citty right-aligns the flag column to its longest
 * entry, so one long flag (`--benchmark=<pope|gqa|...>`) pushed every description far right and
 * wrapping made ragged columns. A flag up to 24 columns gets its description beside it at
 * most at column 28 (2 after the table's longest such flag); a longer one gets it on the next
 * line, indented 8. Other lines are kept.
 *
 * @example
 * ```ts
 * layoutHelp('OPTIONS\n\n      --k=<N>    Tiles to keep');
 * // 'OPTIONS\n\n  --k=<N>                   Tiles to keep'
 * ```
 */
export function layoutHelp(text: string): string {
  const out: string[] = [];
  let table: Array<{ flag: string; description: string | undefined } | string> | undefined;
  const flush = () => {
    if (!table) return;
    // Descriptions start 2 columns after the longest flag that fits in 24 (short command names
    // keep their text close), never past column 28.
    const widths = table.flatMap((r) => (typeof r === 'string' ? [] : [visibleLength(r.flag)])).filter((w) => w <= 24);
    const column = 2 + Math.max(0, ...widths) + 2;
    for (const r of table) {
      if (typeof r === 'string') out.push(r);
      else if (r.description === undefined) out.push(`  ${r.flag}`);
      else if (visibleLength(r.flag) <= 24) out.push(`  ${r.flag}${' '.repeat(column - 2 - visibleLength(r.flag))}${r.description}`);
      else out.push(`  ${r.flag}`, `        ${r.description}`);
    }
    table = undefined;
  };
  for (const line of text.split('\n')) {
    const plain = line.replace(ANSI, '');
    if (/^(ARGUMENTS|OPTIONS|COMMANDS)\s*$/.test(plain)) {
      flush();
      out.push(line);
      table = [];
      continue;
    }
    if (!table) {
      out.push(line);
      continue;
    }
    if (plain.trim() === '') {
      // A table ends at the first blank line after its rows.
      if (table.length > 0) {
        flush();
        out.push(line);
      } else out.push(line);
      continue;
    }
    const row = /^ {2,}(\S(?:.*?\S)?)(?: {4,}(\S.*?))?\s*$/.exec(line);
    table.push(row ? { flag: row[1] ?? '', description: row[2] } : line);
  }
  flush();
  return out.join('\n');
}

export function fitToWidth(text: string, width: number): string {
  const max = Math.max(20, Math.floor(width));
  return text
    .split('\n')
    .map((raw) => {
      const line = raw.trimEnd();
      if (visibleLength(line) <= max) return line;
      const lead = line.length - line.trimStart().length;
      const column = /^\s*\S+(?: \S+)*\s{2,}/.exec(line)?.[0];
      const out: string[] = [];
      let head = column ?? line.slice(0, lead);
      let indent = visibleLength(head);
      if (indent > max / 2) {
        if (column !== undefined) out.push(column.trimEnd());
        indent = Math.min(lead + 6, Math.floor(max / 2));
        head = ' '.repeat(indent);
      }
      let current = head;
      let empty = true;
      for (const word of line.slice((column ?? line.slice(0, lead)).length).split(/ +/)) {
        if (word === '') continue;
        if (!empty && visibleLength(current) + 1 + visibleLength(word) > max) {
          out.push(current);
          current = ' '.repeat(indent) + word;
        } else {
          current += (empty ? '' : ' ') + word;
        }
        empty = false;
      }
      out.push(current);
      return out.join('\n');
    })
    .join('\n');
}

export interface ProgressOptions {
  readonly enabled: boolean;
  /** Where to draw; default process.stderr. Tests pass a sink. */
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export interface Progress {
  /** Sets the absolute progress and an optional short note (e.g. the current stage). */
  update(done: number, note?: string): void;
  /** Advances by `n` (default 1). */
  tick(n?: number, note?: string): void;
  /** Clears the bar (TTY) or ends the line (forced, non-TTY). Idempotent. */
  done(): void;
}

/** True when a bar should be drawn: stderr is a terminal, or `--progress` forces it. */
export function progressEnabled(args: { progress?: unknown }): boolean {
  return args.progress === true || Boolean(process.stderr.isTTY);
}

const noop: Progress = { update() {}, tick() {}, done() {} };

/**
 * A progress bar on stderr. On a TTY it redraws one line in place (at most every 50 ms);
 * forced onto a pipe or file (`--progress`) it prints a line per update instead, so logs
 * stay readable.
 */
export function createProgress(label: string, total: number, options: ProgressOptions): Progress {
  if (!options.enabled) return noop;
  const stream = options.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  let current = 0;
  let lastDraw = 0;
  let lastNote = '';
  let finished = false;
  const started = performance.now();

  const draw = (force: boolean) => {
    const now = performance.now();
    if (tty && !force && now - lastDraw < 50) return;
    lastDraw = now;
    const frac = total > 0 ? Math.min(1, current / total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const text = `${label} [${bar}] ${current}/${total}${lastNote ? ` ${lastNote}` : ''} ${fmtMs(now - started)}`;
    if (tty) {
      const cols = stream.columns ?? 80;
      stream.write(`\r\u001b[2K${text.slice(0, Math.max(10, cols - 1))}`);
    } else {
      stream.write(`${text}\n`);
    }
  };

  return {
    update(done, note) {
      if (finished) return;
      current = done;
      if (note !== undefined) lastNote = note;
      draw(current >= total);
    },
    tick(n = 1, note) {
      this.update(current + n, note);
    },
    done() {
      if (finished) return;
      finished = true;
      if (tty) stream.write('\r\u001b[2K');
    },
  };
}
