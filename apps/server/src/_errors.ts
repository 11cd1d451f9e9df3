import { isSemclipError, toSemclipError } from '@semclip/core';
import type { SemclipError, SemclipErrorCode } from '@semclip/core';

/**
 * Codes for failures that belong to HTTP itself rather than to SemClip's packages. Error bodies
 * carry either one of these or a `SemclipErrorCode`.
 */
export const SERVER_ERROR_CODES = [
  'UNAUTHORIZED',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'OVERLOADED',
  'NOT_CONFIGURED',
  'SHUTTING_DOWN',
  'REQUEST_TIMEOUT',
  'BODY_TIMEOUT',
  'RESPONSE_TOO_LARGE',
] as const;
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/** An HTTP-level failure with its status (auth, routing, size, overload). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: ServerErrorCode | SemclipErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly param?: string,
  ) {
    super(message);
  }
}

/**
 * The one table from `SemclipError` codes to HTTP statuses. Input problems are 4xx (413 for
 * sizes, 415 for formats), upstream problems 502/504, missing models 503, bugs 500.
 */
export const HTTP_STATUS_BY_CODE: Readonly<Record<SemclipErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  INVALID_GRID: 400,
  INVALID_QUESTION: 400,
  IMAGE_NOT_FOUND: 400,
  IMAGE_EMPTY: 400,
  IMAGE_TRUNCATED: 400,
  IMAGE_CORRUPT: 400,
  IMAGE_UNSUPPORTED: 415,
  IMAGE_ANIMATED: 400,
  IMAGE_TOO_LARGE: 413,
  FILE_TOO_LARGE: 413,
  UNKNOWN_SCORER: 400,
  UNKNOWN_MODEL: 400,
  UNKNOWN_RUNNER: 400,
  UNKNOWN_BENCHMARK: 400,
  UNKNOWN_METHOD: 400,
  MODEL_NOT_DOWNLOADED: 503,
  MODEL_INVALID: 500,
  MODEL_CHECKSUM_MISMATCH: 500,
  MODEL_OUTPUT_INVALID: 500,
  DEVICE_UNAVAILABLE: 503,
  OFFLINE: 503,
  DOWNLOAD_FAILED: 502,
  UPSTREAM_ERROR: 502,
  UPSTREAM_TIMEOUT: 504,
  UPSTREAM_RATE_LIMITED: 429,
  UPSTREAM_BAD_RESPONSE: 502,
  UNSUPPORTED_CAPABILITY: 422,
  BUDGET_EXCEEDED: 400,
  DATASET_NOT_FOUND: 400,
  DATASET_INVALID: 400,
  RESULTS_INVALID: 500,
  RESULTS_LOCKED: 409,
  // The client went away (nobody reads this) or the server cancelled the work on shutdown.
  ABORTED: 499,
  INTERNAL: 500,
};

export interface ErrorInfo {
  readonly status: number;
  readonly code: SemclipErrorCode | ServerErrorCode;
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly param?: string;
  /** The original error, for logs of 5xx. */
  readonly cause: unknown;
}

/** Any thrown value as status, code, message and headers. */
export function describeError(err: unknown): ErrorInfo {
  if (err instanceof HttpError) {
    return { status: err.status, code: err.code, message: err.message, headers: err.headers, ...(err.param ? { param: err.param } : {}), cause: err };
  }
  const e: SemclipError = isSemclipError(err) ? err : toSemclipError(err);
  const status = HTTP_STATUS_BY_CODE[e.code] ?? 500;
  const headers: Record<string, string> = {};
  const retryAfterMs = e.details?.retryAfterMs;
  if (status === 429) headers['retry-after'] = String(typeof retryAfterMs === 'number' ? Math.max(1, Math.ceil(retryAfterMs / 1000)) : 1);
  const param = typeof e.details?.param === 'string' ? e.details.param : undefined;
  return { status, code: e.code, message: e.message, headers, ...(param ? { param } : {}), cause: e };
}

/** SemClip's error body: `{ error: { code, message } }`. */
export function semclipErrorBody(info: ErrorInfo): { error: { code: string; message: string } } {
  return { error: { code: info.code, message: info.message } };
}

function openaiType(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** OpenAI's error body: `{ error: { message, type, param, code } }`, for the OpenAI-compatible routes. */
export function openaiErrorBody(info: ErrorInfo): { error: { message: string; type: string; param: string | null; code: string } } {
  return { error: { message: info.message, type: openaiType(info.status), param: info.param ?? null, code: info.code } };
}
