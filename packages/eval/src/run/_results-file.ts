/**
 * Opening a results file for a run: locked (one writer per file), created with its header, or
 * resumed (the config must match, a half-written last line from a crash is dropped, the keys
 * already there are skipped; keys whose last row failed are asked again unless `retryFailed` is
 * false; rows and identical headers that older versions wrote twice are tolerated and counted).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SemclipError } from '@semclip/core';
import {
  RESULTS_FORMAT,
  RESULTS_VERSION,
  diffConfig,
  fileSize,
  parseResults,
  resultKey,
  truncateFile,
  type JsonValue,
  type RunConfig,
  type RunHeader,
} from './results.js';
import { AppendWriter } from './_writer.js';
import { lockOutputFile, type LockOptions, type OutputLock } from './lock.js';

export interface OpenedResults {
  readonly writer: AppendWriter;
  /** The file's writer lock; release it after closing the writer. */
  readonly lock: OutputLock;
  /** Keys the run skips: rows the file already holds (failed rows only when they are kept). */
  readonly existing: ReadonlySet<string>;
  /** Keys whose last row in the file failed (`error`); asked again unless `retryFailed` is false. */
  readonly failed: ReadonlySet<string>;
  /** True when the file existed (this run resumes it). */
  readonly resumed: boolean;
  /** Bytes of a half-written last line (or a cut-off header) that were dropped. */
  readonly repairedBytes: number;
  /** Rows the file holds twice under one key, not retries of a failed row (the last of each counts). */
  readonly duplicates: number;
  /** Line numbers of repeated identical header lines (skipped). */
  readonly extraHeaders: readonly number[];
}

/** Reads what an existing file holds; refuses files of another config or format. Repairs a torn end. */
async function readExisting(out: string, config: RunConfig, retryFailed: boolean): Promise<Omit<OpenedResults, 'writer' | 'lock'>> {
  const none = { existing: new Set<string>(), failed: new Set<string>(), resumed: false, repairedBytes: 0, duplicates: 0, extraHeaders: [] };
  if ((await fileSize(out)) <= 0) return none;
  const buf = await readFile(out);
  const parsed = parseResults(buf, out);
  if (!parsed) {
    // No complete line: a header cut off by a crash, or some other file.
    if (!buf.toString('utf8', 0, Math.min(buf.length, 40)).startsWith(`{"type":"${RESULTS_FORMAT}"`)) {
      throw new SemclipError('RESULTS_INVALID', `${out} exists and is not a semclip eval results file.`, {
        hint: 'Choose another --out; SemClip does not overwrite other files',
        details: { path: out },
      });
    }
    await truncateFile(out, 0);
    return { ...none, repairedBytes: buf.length };
  }
  const diff = diffConfig(parsed.header.config, config);
  if (diff.length > 0) {
    const shown = diff.slice(0, 6).map((d) => `${d.path}: ${JSON.stringify(d.file)} in the file, ${JSON.stringify(d.now)} now`);
    throw new SemclipError('RESULTS_INVALID', `${out} holds results of another configuration (${shown.join('; ')}).`, {
      hint: 'Resume with the same settings as the run that made the file, or write these results to another --out',
      details: { path: out, differences: diff.map((d) => ({ path: d.path, file: d.file as never, now: d.now as never })) },
    });
  }
  if (parsed.truncatedBytes > 0) await truncateFile(out, parsed.validBytes);
  // The file is append-only: a retried key gets a new row after its failed one, and readers
  // (parseResults) keep the last row per key.
  const failed = new Set(parsed.rows.filter((r) => r.error !== undefined).map(resultKey));
  const existing = new Set(parsed.rows.map(resultKey).filter((k) => !retryFailed || !failed.has(k)));
  return { existing, failed, resumed: true, repairedBytes: parsed.truncatedBytes, duplicates: parsed.duplicates, extraHeaders: parsed.extraHeaders };
}

/**
 * Locks `out` (an absolute path; `RESULTS_LOCKED` when another run writes it) and opens it for
 * appending: a new file gets its header line first. The caller closes the writer, then
 * releases the lock.
 */
export async function openResultsFile(
  out: string,
  config: RunConfig,
  info: { readonly [key: string]: JsonValue },
  options: { readonly retryFailed?: boolean; readonly lock?: LockOptions } = {},
): Promise<OpenedResults> {
  await mkdir(dirname(out), { recursive: true });
  // Before reading: what a resume skips must not change under it.
  const lock = await lockOutputFile(out, options.lock);
  let writer: AppendWriter | undefined;
  try {
    const found = await readExisting(out, config, options.retryFailed ?? true);
    writer = await AppendWriter.open(out);
    if (!found.resumed) {
      const header: RunHeader = { type: RESULTS_FORMAT, version: RESULTS_VERSION, createdAt: new Date().toISOString(), config, info };
      await writer.append([JSON.stringify(header)]);
    }
    return { writer, lock, ...found };
  } catch (err) {
    await writer?.close();
    await lock.release();
    throw err;
  }
}
