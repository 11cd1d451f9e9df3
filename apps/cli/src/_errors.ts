import { IMAGE_ERROR_CODES, SemclipError, isSemclipError, toSemclipError } from '@semclip/core';
import type { SemclipErrorCode } from '@semclip/core';

/**
 * Exit codes of the `semclip` command (documented in the README):
 * 0 success; 2 the input or the command line is wrong (fix the command and rerun);
 * 1 anything else failed (model, device, network, a bug); 130 cancelled (Ctrl-C).
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, aborted: 130 } as const;

/** Codes that mean "the command as typed cannot work": exit 2. */
const USAGE_CODES: ReadonlySet<SemclipErrorCode> = new Set<SemclipErrorCode>([
  'INVALID_ARGUMENT',
  'INVALID_GRID',
  'INVALID_QUESTION',
  ...IMAGE_ERROR_CODES,
  'UNKNOWN_SCORER',
  'UNKNOWN_MODEL',
  'UNKNOWN_RUNNER',
  'UNKNOWN_BENCHMARK',
  'UNKNOWN_METHOD',
  'BUDGET_EXCEEDED',
  'DATASET_NOT_FOUND',
  'DATASET_INVALID',
  'RESULTS_INVALID',
  // Another run writes that --out: wait for it, or give this one its own file.
  'RESULTS_LOCKED',
]);

export function exitCodeFor(err: SemclipError): number {
  if (err.code === 'ABORTED') return EXIT.aborted;
  return USAGE_CODES.has(err.code) ? EXIT.usage : EXIT.failure;
}

/** citty throws plain errors named CLIError with codes like EARG for its own usage errors. */
function isCittyError(err: unknown): err is Error & { code?: string } {
  return err instanceof Error && err.name === 'CLIError';
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the ESC that starts ANSI colour codes, to strip them
const ANSI = /\u001b\[[0-9;]*m/g;

/** Any thrown value as a SemclipError; citty's usage errors become INVALID_ARGUMENT. */
export function normalizeError(err: unknown, usageHint: string): SemclipError {
  if (isSemclipError(err)) return err;
  if (isCittyError(err)) {
    const text = err.message.replace(ANSI, '').trim();
    return new SemclipError('INVALID_ARGUMENT', /[.!?]$/.test(text) ? text : `${text}.`, {
      hint: usageHint,
      details: { cliCode: err.code },
    });
  }
  if (err instanceof Error && (err as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') {
    // A workspace package without its dist/ (not built yet, or mid-rebuild) or a broken install.
    return new SemclipError('INTERNAL', `A part of SemClip is missing: ${err.message.split('\n')[0]}`, {
      cause: err,
      hint: 'In a clone, build first (pnpm turbo run build --filter=@semclip/cli...); otherwise reinstall @semclip/cli',
    });
  }
  return toSemclipError(err);
}

/** The one human line for an error. */
export function errorLine(err: SemclipError): string {
  return `semclip: error [${err.code}]: ${err.message}`;
}

/** Stack and cause chain, for --verbose. */
export function errorDetails(err: unknown): string {
  const lines: string[] = [];
  let current: unknown = err;
  const seen = new Set<unknown>();
  while (current !== undefined && current !== null && !seen.has(current)) {
    seen.add(current);
    if (current instanceof Error) {
      lines.push(lines.length === 0 ? (current.stack ?? String(current)) : `Caused by: ${current.stack ?? String(current)}`);
      current = current.cause;
    } else {
      lines.push(`Caused by: ${String(current)}`);
      break;
    }
  }
  return lines.join('\n');
}
