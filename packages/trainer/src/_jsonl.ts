/**
 * An append-only JSON-lines log that survives crashes: each record is one `write` of a whole line
 * followed by `fdatasync`, so after a kill -9 the file holds complete lines plus at most one torn
 * last line (no newline). Opening it again drops that torn tail (truncating the file to the last
 * newline) and returns the complete records; any other unreadable line is an error, not silently
 * skipped.
 */
import { open, readFile, truncate } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { SemclipError } from '@semclip/core';

export interface JsonlLog<T> {
  readonly path: string;
  /** Complete records present when the log was opened, in file order. */
  readonly existing: readonly T[];
  /** Bytes of a torn last line that were dropped on open (0 when the file was clean). */
  readonly droppedBytes: number;
  /** Appends one record as one line and syncs it to disk; appends are serialised. */
  append(record: T): Promise<void>;
  close(): Promise<void>;
}

/** Reads complete records of a JSONL file (a torn last line is ignored, not repaired). */
export async function readJsonl<T = unknown>(path: string, what = 'JSON-lines file'): Promise<{ records: T[]; tornBytes: number; cleanBytes: number }> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], tornBytes: 0, cleanBytes: 0 };
    throw new SemclipError('RESULTS_INVALID', `Cannot read the ${what} ${path}: ${(cause as Error).message}.`, { cause, details: { path } });
  }
  const lastNl = buf.lastIndexOf(0x0a);
  const cleanBytes = lastNl + 1;
  const text = buf.subarray(0, cleanBytes).toString('utf8');
  const records: T[] = [];
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo += 1;
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as T);
    } catch (cause) {
      throw new SemclipError('RESULTS_INVALID', `Line ${lineNo} of the ${what} ${path} is not valid JSON: ${(cause as Error).message}.`, {
        cause,
        expected: 'one JSON object per line',
        hint: 'The file was edited or written by something else; fix or remove that line, or write to a new file',
        details: { path, line: lineNo },
      });
    }
  }
  return { records, tornBytes: buf.length - cleanBytes, cleanBytes };
}

/**
 * Opens (creating it if needed) a JSONL log for appending, after dropping a torn last line.
 *
 * @example
 * ```ts
 * const log = await openJsonlLog<{ id: string }>('labels.jsonl');
 * const done = new Set(log.existing.map((r) => r.id));
 * await log.append({ id: 'q1' });
 * await log.close();
 * ```
 */
export async function openJsonlLog<T>(path: string, what = 'JSON-lines file'): Promise<JsonlLog<T>> {
  const { records, tornBytes, cleanBytes } = await readJsonl<T>(path, what);
  await mkdir(dirname(path), { recursive: true });
  if (tornBytes > 0) await truncate(path, cleanBytes);
  let fh: FileHandle;
  try {
    fh = await open(path, 'a');
  } catch (cause) {
    throw new SemclipError('RESULTS_INVALID', `Cannot open the ${what} ${path} for writing: ${(cause as Error).message}.`, { cause, details: { path } });
  }
  let chain: Promise<void> = Promise.resolve();
  let closed = false;
  return {
    path,
    existing: records,
    droppedBytes: tornBytes,
    append(record: T): Promise<void> {
      if (closed) return Promise.reject(new SemclipError('INTERNAL', `The ${what} ${path} was closed.`));
      const line = `${JSON.stringify(record)}\n`;
      const next = chain.then(async () => {
        await fh.write(line);
        await fh.datasync();
      });
      // A failed write fails its caller; later appends still run.
      chain = next.catch(() => undefined);
      return next;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await chain;
      await fh.close();
    },
  };
}
