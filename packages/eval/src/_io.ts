import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { SemclipError, type SemclipErrorCode } from '@semclip/core';

/** What a path is on disk, or `missing`. */
export async function pathKind(path: string): Promise<'file' | 'dir' | 'missing'> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return 'missing';
  }
}

export async function isFile(path: string): Promise<boolean> {
  return (await pathKind(path)) === 'file';
}

export async function isDir(path: string): Promise<boolean> {
  return (await pathKind(path)) === 'dir';
}

/** Reads a text file; a missing file is `DATASET_NOT_FOUND` (or `code`) with the layout hint. */
export async function readText(path: string, what: string, expected: string, code: SemclipErrorCode = 'DATASET_NOT_FOUND'): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    // A BOM would make the first JSON line or TSV header fail to match.
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (cause) {
    throw new SemclipError(code, `Cannot read ${what} ${path}: ${errorText(cause)}.`, {
      cause,
      expected,
      hint: 'Check the path, or download the benchmark files in the layout above',
      details: { path },
    });
  }
}

/** Parses a whole-file JSON document; malformed JSON is `DATASET_INVALID` naming the file. */
export async function readJson(path: string, what: string, expected: string, code: SemclipErrorCode = 'DATASET_INVALID'): Promise<unknown> {
  const notFound: SemclipErrorCode = code === 'RESULTS_INVALID' ? 'RESULTS_INVALID' : 'DATASET_NOT_FOUND';
  const text = await readText(path, what, expected, notFound);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new SemclipError(code, `${what} ${path} is not valid JSON (${errorText(cause)}).`, {
      cause,
      expected,
      details: { path },
    });
  }
}

export interface JsonLine {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly value: unknown;
}

/** Parses JSON lines, skipping blank lines; a bad line is reported with its number. */
export function parseJsonLines(text: string, path: string, what: string, expected: string, code: SemclipErrorCode): JsonLine[] {
  const out: JsonLine[] = [];
  let start = 0;
  let line = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const raw = text.slice(start, end).trim();
    start = end + 1;
    if (raw === '') continue;
    try {
      out.push({ line, value: JSON.parse(raw) as unknown });
    } catch (cause) {
      throw new SemclipError(code, `${what} ${path} line ${line} is not valid JSON (${errorText(cause)}).`, {
        cause,
        expected,
        hint: 'Each line must hold one JSON object; fix or remove that line',
        details: { path, line },
      });
    }
  }
  return out;
}

export async function readJsonLines(path: string, what: string, expected: string, code: SemclipErrorCode = 'DATASET_INVALID'): Promise<JsonLine[]> {
  const notFound: SemclipErrorCode = code === 'RESULTS_INVALID' ? 'RESULTS_INVALID' : 'DATASET_NOT_FOUND';
  return parseJsonLines(await readText(path, what, expected, notFound), path, what, expected, code);
}

export function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\.$/, '');
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where a record came from, for error messages: `file line 12` or `file record "123"`. */
export function at(path: string, where: number | string): string {
  return typeof where === 'number' ? `${basename(path)} line ${where}` : `${basename(path)} record ${JSON.stringify(where)}`;
}

/** A field of a record that must be a non-empty string (numbers are accepted and stringified). */
export function needString(rec: Record<string, unknown>, key: string, where: string, expected: string, code: SemclipErrorCode = 'DATASET_INVALID'): string {
  const v = rec[key];
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  throw new SemclipError(code, `${where} has no ${JSON.stringify(key)} (got ${describe(v)}).`, { expected });
}

export function optString(rec: Record<string, unknown>, key: string): string | undefined {
  const v = rec[key];
  if (typeof v === 'string' && v.trim() !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return v.length > 40 ? `"${v.slice(0, 37)}..."` : JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}
