import { SemclipError } from '@semclip/core';
import type { VlmRunner } from '@semclip/core';
import type { OpenAIRunnerOptions } from './openai/index.js';
import type { LocalRunnerOptions } from './local/index.js';

/**
 * Options per runner kind. Each backend adds its kind here (the `local` backend adds
 * `local: LocalRunnerOptions`), and `RunnerConfig` follows.
 */
export interface RunnerConfigs {
  openai: OpenAIRunnerOptions;
  local: LocalRunnerOptions;
}

export type RunnerKind = keyof RunnerConfigs;

/** A runner described as data: `{ kind: 'openai', baseUrl, model, ... }`. */
export type RunnerConfig = { [K in RunnerKind]: { readonly kind: K } & RunnerConfigs[K] }[RunnerKind];

export interface RunnerEntry<K extends RunnerKind = RunnerKind> {
  readonly kind: K;
  readonly description: string;
  /** The spec string form, for help and errors, e.g. `openai:<base-url>#<model>`. */
  readonly specForm: string;
  readonly example: string;
  /** Parses what follows `<kind>:` in a spec string. */
  parseSpec(rest: string, spec: string): { readonly kind: K } & RunnerConfigs[K];
  create(config: { readonly kind: K } & RunnerConfigs[K]): Promise<VlmRunner>;
}

function malformed(spec: string, form: string, example: string, why: string): SemclipError {
  return new SemclipError('INVALID_ARGUMENT', `Runner spec "${spec}" is malformed: ${why}.`, {
    expected: `${form}, like ${example}`,
    details: { spec, form },
  });
}

/**
 * The one table of runner backends. Entries import their backend lazily, so using the
 * `openai` runner never loads ONNX Runtime. A `local` entry (transformers.js ONNX VLMs,
 * `./local/index.js`) goes next to `openai`.
 */
export const RUNNERS = {
  openai: {
    kind: 'openai',
    description: 'Any OpenAI-compatible /v1/chat/completions server with vision (vLLM, llama.cpp llama-server, Ollama, OpenAI).',
    specForm: 'openai:<base-url>#<model>',
    example: 'openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf',
    parseSpec(rest, spec) {
      const hash = rest.indexOf('#');
      if (hash < 0) throw malformed(spec, this.specForm, this.example, 'no "#<model>" after the base URL');
      const baseUrl = rest.slice(0, hash).trim();
      const model = rest.slice(hash + 1).trim();
      if (!/^https?:\/\/[^/]/i.test(baseUrl)) throw malformed(spec, this.specForm, this.example, `"${baseUrl}" is not an http(s) URL`);
      if (!model) throw malformed(spec, this.specForm, this.example, 'the model name after "#" is empty');
      return { kind: 'openai', baseUrl, model };
    },
    async create(config) {
      const { createOpenAIRunner } = await import('./openai/index.js');
      const { kind: _kind, ...options } = config;
      return createOpenAIRunner(options);
    },
  },
  local: {
    kind: 'local',
    description:
      'A vision-language model run in this process on ONNX Runtime (CPU, or CUDA where installed) through transformers.js: LLaVA-1.5/interleave/OneVision, SmolVLM/Idefics3, Qwen2-VL.',
    specForm: 'local:<model-id-or-folder>',
    example: 'local:llava-interleave-qwen-0.5b',
    parseSpec(rest, spec) {
      const model = rest.trim();
      if (!model) throw malformed(spec, this.specForm, this.example, 'the model id after "local:" is empty');
      return { kind: 'local', model };
    },
    async create(config) {
      const { createLocalRunner } = await import('./local/index.js');
      const { kind: _kind, ...options } = config;
      return createLocalRunner(options);
    },
  },
} as const satisfies { [K in RunnerKind]: RunnerEntry<K> };

/** Every registered backend, in table order. */
export function listRunners(): readonly RunnerEntry[] {
  return Object.values(RUNNERS) as RunnerEntry[];
}

function unknownRunner(kind: string): SemclipError {
  const valid = Object.keys(RUNNERS);
  return new SemclipError('UNKNOWN_RUNNER', `There is no runner kind "${kind}".`, {
    expected: `one of ${valid.join(', ')} (${listRunners()
      .map((r) => r.specForm)
      .join(' | ')})`,
    details: { valid },
  });
}

/** Looks a backend up by kind; UNKNOWN_RUNNER lists the valid kinds. */
export function getRunnerEntry(kind: string): RunnerEntry {
  if (!Object.hasOwn(RUNNERS, kind)) throw unknownRunner(kind);
  return (RUNNERS as Record<string, RunnerEntry>)[kind] as RunnerEntry;
}

/**
 * Turns a spec string into a config: `openai:<base-url>#<model>` (and `local:<model-id>` once
 * that backend is registered).
 *
 * @example
 * ```ts
 * parseRunnerSpec('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf');
 * // { kind: 'openai', baseUrl: 'http://127.0.0.1:8000/v1', model: 'llava-hf/llava-1.5-7b-hf' }
 * ```
 */
export function parseRunnerSpec(spec: string): RunnerConfig {
  const forms = listRunners()
    .map((r) => r.specForm)
    .join(' or ');
  if (typeof spec !== 'string' || !spec.trim()) {
    throw new SemclipError('INVALID_ARGUMENT', 'The runner spec is empty.', { expected: forms });
  }
  const trimmed = spec.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    throw new SemclipError('INVALID_ARGUMENT', `Runner spec "${trimmed}" has no kind.`, {
      expected: forms,
      hint: `For an OpenAI-compatible server write openai:${trimmed}${trimmed.includes('#') ? '' : '#<model>'}`,
    });
  }
  const colon = trimmed.indexOf(':');
  if (colon < 0) {
    if (Object.hasOwn(RUNNERS, trimmed)) {
      const entry = getRunnerEntry(trimmed);
      throw malformed(trimmed, entry.specForm, entry.example, 'it has only the kind');
    }
    throw unknownRunner(trimmed);
  }
  const kind = trimmed.slice(0, colon);
  const entry = getRunnerEntry(kind);
  return entry.parseSpec(trimmed.slice(colon + 1), trimmed) as RunnerConfig;
}

/**
 * Identity helper for typed runner configs.
 *
 * @example
 * ```ts
 * const config = defineRunnerConfig({ kind: 'openai', baseUrl: 'http://127.0.0.1:8080/v1', model: 'llava', imageMode: 'composite' });
 * ```
 */
export function defineRunnerConfig<T extends RunnerConfig>(config: T): T {
  return config;
}

/** Fields a spec string cannot carry, merged over it: `createRunner(spec, { concurrency: 8 })`. */
export type RunnerOverrides = { [K in RunnerKind]?: Partial<RunnerConfigs[K]> }[RunnerKind];

/**
 * Creates a runner from a spec string or a config object.
 *
 * @example
 * ```ts
 * import { createRunner } from '@semclip/vlm-runner';
 *
 * const runner = await createRunner('openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf', { concurrency: 8 });
 * const answer = await runner.answer({ images: [{ role: 'overview', image: jpeg }], question: 'What is this?' });
 * await runner.dispose();
 * ```
 */
export async function createRunner(spec: string | RunnerConfig, overrides: RunnerOverrides = {}): Promise<VlmRunner> {
  const config = typeof spec === 'string' ? parseRunnerSpec(spec) : spec;
  if (!config || typeof config !== 'object' || typeof (config as { kind?: unknown }).kind !== 'string') {
    throw new SemclipError('INVALID_ARGUMENT', 'The runner config has no kind.', {
      expected: `a spec string (${listRunners()
        .map((r) => r.specForm)
        .join(' or ')}) or an object with kind`,
    });
  }
  getRunnerEntry(config.kind);
  // Overrides fill what a spec string cannot carry; undefined ones never erase the config's values.
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  switch (config.kind) {
    case 'openai':
      return RUNNERS.openai.create({ ...config, ...(defined as Partial<RunnerConfigs['openai']>) });
    case 'local':
      return RUNNERS.local.create({ ...config, ...(defined as Partial<RunnerConfigs['local']>) });
  }
}
