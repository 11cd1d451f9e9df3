/**
 * Argument definitions and parsers shared by commands. Spread `commonArgs` into a command's
 * `args` so `--json`, `--verbose` and `--progress` show in its `--help`; the entry reads
 * `--json`/`--verbose` itself for error output. Parse numbers with `intArg`/`numberArg`, which
 * throw `INVALID_ARGUMENT` naming the flag (exit code 2).
 */
import { SemclipError } from '@semclip/core';
import type { SelectOptions } from '@semclip/selector';

export const commonArgs = {
  json: { type: 'boolean', description: 'Print one JSON document on stdout (errors too: {"error":{...}})' },
  verbose: { type: 'boolean', description: 'Show stack traces and causes on errors, and say when models fall back to the CPU' },
  progress: { type: 'boolean', description: 'Draw progress on stderr even when it is not a terminal' },
} as const;

/** The flags that pick the grid, shared by `tiles`, `select` and `demo`. */
export const gridArgs = {
  grid: { type: 'string', description: 'Grid: RxC (rows x columns, like 2x2 or 3x3) or auto', default: '2x2', valueHint: '2x2|3x3|auto' },
  overlap: { type: 'string', description: 'Overlap between neighbouring tiles, a fraction of the tile size in [0, 0.5)', default: '0', valueHint: 'F' },
  levels: { type: 'string', description: 'Grid levels: 1, or 2 to split every tile again', default: '1', valueHint: '1|2' },
} as const;

function bad(flag: string, value: string, expected: string): SemclipError {
  return new SemclipError('INVALID_ARGUMENT', `--${flag} ${JSON.stringify(value)} is not valid.`, { expected, details: { flag, value } });
}

/** A string flag as an integer in [min, max]; `undefined` stays `undefined`. */
export function intArg(flag: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = /^[+-]?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw bad(flag, String(value), max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`);
  }
  return n;
}

/** A string flag as a finite number in [min, max]; `undefined` stays `undefined`. */
export function numberArg(flag: string, value: unknown, min = -Infinity, max = Infinity, expected?: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = text === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || n < min || n > max) {
    const range = Number.isFinite(min) && Number.isFinite(max) ? `from ${min} to ${max}` : Number.isFinite(min) ? `of at least ${min}` : 'a finite number';
    throw bad(flag, String(value), expected ?? `a number ${range}`);
  }
  return n;
}

/** A value from a fixed list. */
export function choiceArg<const T extends string>(flag: string, value: unknown, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(String(value))) throw bad(flag, String(value), `one of ${choices.join(', ')}`);
  return value as T;
}

/** A non-empty question; whitespace-only is `INVALID_QUESTION`. */
export function questionArg(value: unknown): string {
  const q = typeof value === 'string' ? value.trim() : '';
  if (q === '') {
    throw new SemclipError('INVALID_QUESTION', 'The question is empty.', {
      expected: 'a question about the image, like "What is the wait time?"',
      hint: 'Quote it so the shell passes it as one argument',
    });
  }
  return q;
}

/** Parsed `--overlap` and `--levels`. */
export function gridOptions(args: { overlap?: unknown; levels?: unknown }): { overlap: number; levels: 1 | 2 } {
  // The range (0 <= overlap < 0.5) is checked by @semclip/tiling, which owns the rule.
  const overlap = numberArg('overlap', args.overlap ?? '0', -Infinity, Infinity, 'a fraction from 0 to below 0.5, like 0.1') ?? 0;
  const levels = intArg('levels', args.levels ?? '1', 1, 2) as 1 | 2;
  return { overlap, levels };
}

/** The flags of `semclip select` that choose the scorer and the selection (also used by `demo`). */
export const selectArgs = {
  scorer: {
    type: 'string',
    description: 'Relevance scorer id (random, ocr, clip... as registered in @semclip/scorers). Default: ocr when available, else random',
    valueHint: 'ID',
  },
  model: { type: 'string', description: "Model manifest id for model-backed scorers (default: the scorer's own)", valueHint: 'ID' },
  seed: { type: 'string', description: 'Seed for the random scorer', valueHint: 'N' },
  device: {
    type: 'string',
    description: 'Where models run: cpu, cuda, webgpu or auto (CUDA when installed, else a WebGPU adapter, else CPU)',
    valueHint: 'cpu|cuda|webgpu|auto',
  },
  k: { type: 'string', description: 'Keep the k best tiles (default 1; 0 = overview only)', valueHint: 'N' },
  adaptive: { type: 'boolean', description: 'Keep every tile within --margin of the best and at least --threshold, instead of top-k' },
  margin: { type: 'string', description: 'Adaptive: keep tiles scoring at least best - M (score units; default 0.1)', valueHint: 'M' },
  threshold: { type: 'string', description: 'Adaptive: never keep a tile scoring below T (score units; default 0)', valueHint: 'T' },
  'max-tiles': { type: 'string', description: 'Adaptive: keep at most N tiles (default all)', valueHint: 'N' },
  budget: { type: 'string', description: 'Visual-token budget for overview + regions; regions are capped to what fits', valueHint: 'TOKENS' },
  'tokens-per-image': { type: 'string', description: 'Visual tokens one image costs the VLM (default 576, LLaVA-1.5)', valueHint: 'N' },
  overview: { type: 'boolean', default: true, description: 'Send the overview (whole image) first', negativeDescription: 'Send only the selected regions' },
  merge: { type: 'boolean', description: 'Merge selected neighbouring tiles that form a full rectangle into one crop' },
  level: {
    type: 'string',
    description: 'With --levels 2: which tiles compete: 1, 2 or any (a tile never with its parent)',
    default: '1',
    valueHint: '1|2|any',
  },
} as const;

interface SelectFlagValues {
  k?: unknown;
  adaptive?: unknown;
  margin?: unknown;
  threshold?: unknown;
  'max-tiles'?: unknown;
  maxTiles?: unknown;
  budget?: unknown;
  'tokens-per-image'?: unknown;
  tokensPerImage?: unknown;
  overview?: unknown;
  merge?: unknown;
  level?: unknown;
}

/** Selection options from the flags; mixing top-k and adaptive flags fails in the selector with a clear message. */
export function selectOptionsFrom(args: SelectFlagValues): SelectOptions {
  const common = {
    ...(args.budget === undefined ? {} : { budget: intArg('budget', args.budget, 0) as number }),
    ...((args['tokens-per-image'] ?? args.tokensPerImage) === undefined
      ? {}
      : { tokensPerImage: intArg('tokens-per-image', args['tokens-per-image'] ?? args.tokensPerImage, 1) as number }),
    includeOverview: args.overview !== false,
    merge: args.merge === true,
    level: args.level === undefined ? 1 : args.level === 'any' ? ('any' as const) : (intArg('level', args.level, 1, 2) as number),
  };
  const maxTiles = args['max-tiles'] ?? args.maxTiles;
  if (args.adaptive === true) {
    if (args.k !== undefined) {
      throw new SemclipError('INVALID_ARGUMENT', '--k and --adaptive cannot be combined: adaptive mode decides the count itself.', {
        hint: 'Drop --k, or use --max-tiles to cap adaptive selection',
      });
    }
    return {
      mode: 'adaptive',
      ...common,
      ...(args.margin === undefined ? {} : { margin: numberArg('margin', args.margin, 0) as number }),
      ...(args.threshold === undefined ? {} : { threshold: numberArg('threshold', args.threshold) as number }),
      ...(maxTiles === undefined ? {} : { maxTiles: intArg('max-tiles', maxTiles, 0) as number }),
    };
  }
  for (const [flag, value] of [
    ['margin', args.margin],
    ['threshold', args.threshold],
    ['max-tiles', maxTiles],
  ] as const) {
    if (value !== undefined) {
      throw new SemclipError('INVALID_ARGUMENT', `--${flag} only applies with --adaptive.`, { hint: `Add --adaptive, or drop --${flag}` });
    }
  }
  return { ...common, ...(args.k === undefined ? {} : { k: intArg('k', args.k, 0) as number }) };
}

const PAD_CHOICES = ['auto', 'square', 'none'] as const;

/** `--pad`, shared by `ask`, `eval run` and `label`: how the images sent are padded (the pipeline applies it). */
export const padArgs = {
  pad: {
    type: 'string',
    description:
      "Pad each image sent (overview and tiles) to a square: auto (as the model family's own evaluation does: LLaVA-1.5 ids get a square of the processor mean (122,116,104), Qwen2-VL, LLaVA-NeXT and others none), square, or none",
    default: 'auto',
    valueHint: 'auto|square|none',
  },
} as const;

/** The `--pad` choice, checked (INVALID_ARGUMENT names the flag). */
export function padArg(value: unknown): (typeof PAD_CHOICES)[number] {
  return choiceArg('pad', value ?? 'auto', PAD_CHOICES) as (typeof PAD_CHOICES)[number];
}

const LOGPROBS = ['auto', 'on', 'off'] as const;

/** Flags of an OpenAI-compatible VLM server, shared by `ask` and `eval run`. */
export const httpVlmArgs = {
  composite: { type: 'boolean', description: 'Pack overview and tiles side by side into one image (servers that take one image per request)' },
  'max-side': { type: 'string', description: 'Long-side cap in pixels of each image sent (default 1024)', valueHint: 'PX' },
  quality: { type: 'string', description: 'JPEG quality of the images sent, 1-100 (default 90)', valueHint: 'Q' },
  timeout: { type: 'string', description: 'Seconds to wait for the VLM per attempt (default 120)', valueHint: 'S' },
  retries: { type: 'string', description: 'Retries on 429, 5xx and dropped connections (default 3)', valueHint: 'N' },
  logprobs: {
    type: 'string',
    description: 'Multiple choice by logprobs: auto (try, fall back to the answer text), on, off',
    default: 'auto',
    valueHint: 'auto|on|off',
  },
} as const;

export interface HttpVlmFlags {
  readonly logprobs: (typeof LOGPROBS)[number];
  readonly image: { readonly format: 'jpeg'; readonly maxSide: number; readonly quality: number };
  /** Overrides for the openai runner (`createRunner(config, overrides)`). */
  readonly overrides: {
    readonly imageMode: 'composite' | 'separate';
    readonly image: { readonly format: 'jpeg'; readonly maxSide: number; readonly quality: number };
    readonly visualTokensPerImage?: number;
    readonly timeoutMs?: number;
    readonly retries?: number;
    readonly logprobs: 'auto' | boolean;
  };
}

/** Parses `httpVlmArgs` (and `--tokens-per-image`); bad values fail with the flag's name. */
export function httpVlmOptions(args: Record<string, unknown>): HttpVlmFlags {
  const logprobs = choiceArg('logprobs', args.logprobs ?? 'auto', LOGPROBS) as (typeof LOGPROBS)[number];
  const image = {
    format: 'jpeg' as const,
    maxSide: intArg('max-side', args['max-side'], 16, 16384) ?? 1024,
    quality: intArg('quality', args.quality, 1, 100) ?? 90,
  };
  const timeoutS = intArg('timeout', args.timeout, 1, 86400);
  const retries = intArg('retries', args.retries, 0, 20);
  const tokensPerImage = intArg('tokens-per-image', args['tokens-per-image'], 1);
  return {
    logprobs,
    image,
    overrides: {
      imageMode: args.composite ? 'composite' : 'separate',
      image,
      ...(tokensPerImage === undefined ? {} : { visualTokensPerImage: tokensPerImage }),
      ...(timeoutS === undefined ? {} : { timeoutMs: timeoutS * 1000 }),
      ...(retries === undefined ? {} : { retries }),
      logprobs: logprobs === 'auto' ? 'auto' : logprobs === 'on',
    },
  };
}

/** The runner kinds a `--vlm` spec names (`local:<model-id>`, `openai:<base-url>#<model>`). */
export type RunnerKind = 'local' | 'openai';

/**
 * The flags that apply to one kind of runner only (every other flag applies to any runner):
 * the one table `refuseRunnerFlags` reads. `unset` is the value a flag has when it was not
 * given (citty fills defaults in).
 */
export const RUNNER_FLAGS = {
  composite: { kind: 'openai' },
  quality: { kind: 'openai' },
  timeout: { kind: 'openai' },
  retries: { kind: 'openai' },
  logprobs: { kind: 'openai', unset: 'auto' },
  dtype: { kind: 'local' },
  device: { kind: 'local' },
} as const satisfies Record<string, { readonly kind: RunnerKind; readonly unset?: string }>;

export type RunnerFlag = keyof typeof RUNNER_FLAGS;

/** The flags of an OpenAI-compatible server (`httpVlmArgs`) that a local runner has no use for. */
export const HTTP_ONLY_FLAGS = ['composite', 'quality', 'timeout', 'retries', 'logprobs'] as const satisfies readonly RunnerFlag[];

/**
 * Refuses, before any work, runner flags given where no runner in use takes them: each of
 * `flags` that was given must belong to one of `kinds` (`--composite` with only a local: VLM
 * is INVALID_ARGUMENT). A flag at its default counts as not given.
 *
 * @example
 * ```ts
 * refuseRunnerFlags(args, [config.kind], HTTP_ONLY_FLAGS);
 * // local: VLM with --composite: "--composite only applies to openai: runners, not local:."
 * ```
 */
export function refuseRunnerFlags(args: Readonly<Partial<Record<RunnerFlag, unknown>>>, kinds: readonly RunnerKind[], flags: readonly RunnerFlag[]): void {
  const given = (flag: RunnerFlag): boolean => {
    const spec: { readonly kind: RunnerKind; readonly unset?: string } = RUNNER_FLAGS[flag];
    const value = args[flag];
    return value !== undefined && value !== false && value !== spec.unset;
  };
  const wrong = flags.filter((f) => given(f) && !kinds.includes(RUNNER_FLAGS[f].kind));
  const first = wrong[0];
  if (first === undefined) return;
  const kind = RUNNER_FLAGS[first].kind;
  const named = wrong.filter((f) => RUNNER_FLAGS[f].kind === kind).map((f) => `--${f}`);
  throw new SemclipError(
    'INVALID_ARGUMENT',
    `${named.join(', ')} only appl${named.length === 1 ? 'ies' : 'y'} to ${kind}: runners, not ${[...new Set(kinds)].join(': or ')}:.`,
    {
      hint: `Drop ${named.join(', ')}`,
      details: { flags: named, runners: [...new Set(kinds)] },
    },
  );
}

/** Edit distance counting a swap of neighbours as one edit ("gird" is 1 from "grid"). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The candidate a mistyped word most likely meant, for "did you mean ...?": at most 2 edits
 * away and less than 60% changed (ignoring case and leading dashes); `undefined` when nothing
 * is that close.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const [a, b] = [word, name].map((s) => s.replace(/^-+/, '').toLowerCase()) as [string, string];
    const distance = editDistance(a, b);
    if (distance > 2 || distance / Math.max(a.length, b.length) >= 0.6) continue;
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  return best?.name;
}

/** The root package.json scripts that run the CLI (`pnpm semclip ...`, `pnpm demo`). */
const ROOT_PACKAGE = 'semclip-monorepo';
const ROOT_SCRIPTS: readonly string[] = ['semclip', 'demo'];

/**
 * The directory relative paths on the command line are meant from. pnpm runs the root
 * `semclip` and `demo` scripts from the repository root but records where the user typed the
 * command in INIT_CWD; for those scripts that is the directory (so `pnpm semclip tiles photo.jpg`
 * works from any folder of a clone). Anything else (an installed `semclip`, another package's
 * script, whose paths npm means from that package's root) keeps the working directory:
 * `undefined`.
 */
export function launchDirectory(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.INIT_CWD;
  if (!dir || env.npm_package_name !== ROOT_PACKAGE || !ROOT_SCRIPTS.includes(env.npm_lifecycle_event ?? '')) return undefined;
  return dir;
}

/**
 * How the user runs the CLI, for hints that tell them what to type next: `pnpm semclip` when
 * they ran one of the clone's root scripts (`pnpm semclip ...`, `pnpm demo`), where plain
 * `semclip` may not be on their PATH; `semclip` otherwise.
 *
 * @example
 * ```ts
 * programName({ npm_package_name: 'semclip-monorepo', npm_lifecycle_event: 'demo' }); // 'pnpm semclip'
 * ```
 */
export function programName(env: NodeJS.ProcessEnv = process.env): string {
  return env.npm_package_name === ROOT_PACKAGE && ROOT_SCRIPTS.includes(env.npm_lifecycle_event ?? '') ? 'pnpm semclip' : 'semclip';
}

/**
 * Whether to say that models fall back to the CPU (no CUDA execution provider): only with
 * `--verbose` or an explicit `--device auto`, so a CPU-only machine does not hear it on every
 * command. The libraries report it only when SEMCLIP_DEVICE_NOTICE=1 (see @semclip/runtime).
 */
export function wantsDeviceNotice(rawArgs: readonly string[]): boolean {
  const dashdash = rawArgs.indexOf('--');
  const flags = dashdash < 0 ? rawArgs : rawArgs.slice(0, dashdash);
  return flags.some((a, i) => a === '--verbose' || a === '--device=auto' || (a === '--device' && flags[i + 1] === 'auto'));
}
