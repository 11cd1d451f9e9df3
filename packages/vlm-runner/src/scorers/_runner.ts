/**
 * Which runner a VLM scorer scores with: one the caller passes (and keeps: the scorer never
 * disposes it), or one it creates from a spec / local model and disposes itself.
 */
import { SemclipError, intOption } from '@semclip/core';
import type { VlmRunner } from '@semclip/core';
import type { ModelManifest } from '@semclip/hub';
import { createRunner, parseRunnerSpec } from '../_registry.js';
import type { RunnerConfig } from '../_registry.js';
import type { Device } from '@semclip/runtime';
import type { LocalDtype, LocalSession } from '../local/index.js';

/** An integer option of a VLM scorer, named as such in errors ("VLM scorer option batchSize is 0."). */
export function scorerIntOption(name: string, value: number | undefined, fallback: number, min = 1): number {
  return intOption(name, value, { fallback, min, what: 'VLM scorer option' });
}

/** How a VLM scorer gets its runner, and the local runner's loading options. */
export interface VlmScorerRunnerOptions {
  /** A runner to score with (e.g. the one that answers). The scorer never disposes it. */
  readonly runner?: VlmRunner;
  /** A runner spec (`local:<model>`, `openai:<base-url>#<model>`) or config; the scorer creates and disposes it. */
  readonly vlm?: string | RunnerConfig;
  /** Shorthand for `vlm: { kind: 'local', model }`: a model id, manifest or model folder. */
  readonly model?: string | ModelManifest;
  /** Local runners: `cpu`, `cuda` or `auto` (default). */
  readonly device?: Device;
  /** Local runners: weight variant, one for all sessions or per session. */
  readonly dtype?: LocalDtype | Partial<Record<LocalSession, LocalDtype>>;
  /** Local runners: model cache directory. */
  readonly cacheDir?: string;
  /** Local runners: never touch the network. */
  readonly offline?: boolean;
  /** Local runners: ONNX Runtime threads per operator. */
  readonly intraOpNumThreads?: number;
  /** One-line notices (device fallback...). Default: process.emitWarning. */
  readonly warn?: (message: string) => void;
}

export interface ResolvedRunner {
  readonly runner: VlmRunner;
  /** True when the scorer created it (and so disposes it). */
  readonly owned: boolean;
}

export async function resolveRunner(options: VlmScorerRunnerOptions, scorer: string): Promise<ResolvedRunner> {
  const given = (['runner', 'vlm', 'model'] as const).filter((k) => options[k] !== undefined);
  if (given.length > 1) {
    throw new SemclipError('INVALID_ARGUMENT', `The ${scorer} scorer got ${given.join(' and ')}; pass only one.`, {
      expected: 'runner (an existing runner), vlm (a runner spec) or model (a local model)',
    });
  }
  if (options.runner !== undefined) {
    const r = options.runner as Partial<VlmRunner> | null;
    if (!r || typeof r !== 'object' || typeof r.answer !== 'function' || typeof r.id !== 'string') {
      throw new SemclipError('INVALID_ARGUMENT', `The ${scorer} scorer's runner is not a VlmRunner.`, {
        hint: 'Pass the result of createRunner() from @semclip/vlm-runner',
      });
    }
    return { runner: options.runner, owned: false };
  }
  let config: RunnerConfig;
  if (options.vlm !== undefined) config = typeof options.vlm === 'string' ? parseRunnerSpec(options.vlm) : options.vlm;
  else if (options.model !== undefined) config = { kind: 'local', model: options.model };
  else {
    throw new SemclipError('INVALID_ARGUMENT', `The ${scorer} scorer needs a vision-language model to score with.`, {
      expected: 'runner, vlm (e.g. "local:llava-interleave-qwen-0.5b" or "openai:http://127.0.0.1:8000/v1#llava") or model',
      hint: 'On the command line: --vlm <spec>',
    });
  }
  const local =
    config.kind === 'local'
      ? {
          ...(options.device === undefined ? {} : { device: options.device }),
          ...(options.dtype === undefined ? {} : { dtype: options.dtype }),
          ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
          ...(options.offline === undefined ? {} : { offline: options.offline }),
          ...(options.intraOpNumThreads === undefined ? {} : { intraOpNumThreads: options.intraOpNumThreads }),
          ...(options.warn === undefined ? {} : { warn: options.warn }),
        }
      : {};
  return { runner: await createRunner(config, local), owned: true };
}
