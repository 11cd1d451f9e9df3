/**
 * Every failure SemClip reports on purpose has one of these codes. They are part of the
 * public API: scripts, the CLI's exit handling and the server's HTTP mapping switch on them,
 * so a code is never renamed, only added.
 */
export const ERROR_CODES = [
  // input
  'INVALID_ARGUMENT',
  'INVALID_GRID',
  'INVALID_QUESTION',
  'IMAGE_NOT_FOUND',
  'IMAGE_EMPTY',
  'IMAGE_TRUNCATED',
  'IMAGE_CORRUPT',
  'IMAGE_UNSUPPORTED',
  'IMAGE_ANIMATED',
  'IMAGE_TOO_LARGE',
  'FILE_TOO_LARGE',
  // registries and models
  'UNKNOWN_SCORER',
  'UNKNOWN_MODEL',
  'UNKNOWN_RUNNER',
  'UNKNOWN_BENCHMARK',
  'UNKNOWN_METHOD',
  'MODEL_NOT_DOWNLOADED',
  'MODEL_INVALID',
  'MODEL_CHECKSUM_MISMATCH',
  'MODEL_OUTPUT_INVALID',
  'DEVICE_UNAVAILABLE',
  'OFFLINE',
  'DOWNLOAD_FAILED',
  // runners and upstreams
  'UPSTREAM_ERROR',
  'UPSTREAM_TIMEOUT',
  'UPSTREAM_RATE_LIMITED',
  'UPSTREAM_BAD_RESPONSE',
  'UNSUPPORTED_CAPABILITY',
  'BUDGET_EXCEEDED',
  // data and runs
  'DATASET_NOT_FOUND',
  'DATASET_INVALID',
  'RESULTS_INVALID',
  // another process is writing the results (or labels) file: one writer per file
  'RESULTS_LOCKED',
  'ABORTED',
  'INTERNAL',
] as const;

export type SemclipErrorCode = (typeof ERROR_CODES)[number];

/**
 * Codes that mean "this image cannot be used" (missing, empty, damaged, unsupported, over a
 * limit). The fault is in that one input, so a run over many items records it against the
 * item and goes on, and the CLI treats it as a usage error.
 */
export const IMAGE_ERROR_CODES = [
  'IMAGE_NOT_FOUND',
  'IMAGE_EMPTY',
  'IMAGE_TRUNCATED',
  'IMAGE_CORRUPT',
  'IMAGE_UNSUPPORTED',
  'IMAGE_ANIMATED',
  'IMAGE_TOO_LARGE',
  'FILE_TOO_LARGE',
] as const satisfies readonly SemclipErrorCode[];

export interface SemclipErrorOptions {
  /** The underlying error, kept for `--verbose` output and debugging. */
  cause?: unknown;
  /** What the input should have been, e.g. `"a grid like 2x2, 3x3 or auto"`. */
  expected?: string;
  /** How to fix it, e.g. `"run: semclip models pull clip-vit-base-patch32"`. */
  hint?: string;
  /** Structured facts for programs (the file, the limit, the valid ids...). */
  details?: Record<string, unknown>;
}

/**
 * The one error class SemClip packages throw on purpose.
 *
 * `message` is a full sentence a person can act on: what failed, what was expected and
 * how to fix it. `code` is stable and meant for programs.
 *
 * @example
 * ```ts
 * import { SemclipError, isSemclipError } from '@semclip/core';
 *
 * try {
 *   await tileImage('photo.jpg', { grid: '0x0' });
 * } catch (err) {
 *   if (isSemclipError(err, 'INVALID_GRID')) console.error(err.message);
 *   else throw err;
 * }
 * ```
 */
export class SemclipError extends Error {
  override readonly name = 'SemclipError';
  readonly code: SemclipErrorCode;
  readonly expected: string | undefined;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: SemclipErrorCode, message: string, options: SemclipErrorOptions = {}) {
    const parts = [message.trim()];
    if (options.expected) parts.push(`Expected ${options.expected}.`);
    if (options.hint) parts.push(/[.?!]$/.test(options.hint) ? options.hint : `${options.hint}.`);
    super(parts.join(' '), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.expected = options.expected;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** A plain object for JSON output (CLI `--json`, server error bodies). */
  toJSON(): { code: SemclipErrorCode; message: string; expected?: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.expected === undefined ? {} : { expected: this.expected }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

/**
 * Narrows an unknown error to a `SemclipError`, optionally with one of the given codes.
 * Works across duplicate copies of `@semclip/core` in one process (it checks the shape,
 * not the prototype).
 *
 * @example
 * ```ts
 * if (isSemclipError(err, 'MODEL_NOT_DOWNLOADED')) console.log(err.hint);
 * ```
 */
export function isSemclipError(err: unknown, ...codes: SemclipErrorCode[]): err is SemclipError {
  if (!(err instanceof Error) || err.name !== 'SemclipError') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !(ERROR_CODES as readonly string[]).includes(code)) return false;
  return codes.length === 0 || codes.includes(code as SemclipErrorCode);
}

/**
 * Wraps anything thrown into a `SemclipError`: a `SemclipError` passes through, anything
 * else becomes `INTERNAL` with the original as `cause`.
 */
export function toSemclipError(err: unknown, context = 'Unexpected failure'): SemclipError {
  if (isSemclipError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SemclipError('INTERNAL', `${context}: ${message}`, {
    cause: err,
    hint: 'This is a bug in SemClip; please report it with the command you ran and --verbose output',
  });
}

/** Throws `ABORTED` if the signal has fired; call between units of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new SemclipError('ABORTED', 'The operation was cancelled.', { cause: signal.reason });
  }
}
