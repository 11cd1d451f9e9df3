import { SemclipError } from '@semclip/core';
import type { RelevanceScorer, VlmRunner } from '@semclip/core';
import { createPipeline, getScorerFamily, openScorer } from '@semclip/pipeline';
import type { CommonScorerOptions } from '@semclip/pipeline';
import { createRunner, parseRunnerSpec } from '@semclip/vlm-runner';
import type { RunnerConfig, RunnerOverrides } from '@semclip/vlm-runner';
import { isRunner, runnerKindOf } from './_config.js';
import type { ResolvedServerConfig, ServerScorerOptions } from './_config.js';

/** The upstream the chat proxy forwards to: `upstream`, else the base URL of an `openai:` runner. */
export function upstreamOf(config: ResolvedServerConfig): { url: string; model: string | undefined } | undefined {
  if (config.upstream) return { url: config.upstream, model: config.model };
  const vlm = config.vlm;
  let runnerConfig: RunnerConfig | undefined;
  if (typeof vlm === 'string') runnerConfig = parseRunnerSpec(vlm);
  else if (vlm && !isRunner(vlm)) runnerConfig = vlm;
  if (runnerConfig?.kind === 'openai') return { url: runnerConfig.baseUrl.replace(/\/+$/, ''), model: config.model ?? runnerConfig.model };
  return undefined;
}

/**
 * The models a server holds: its scorers and its runner, created once at start, shared by every
 * request, and disposed on close.
 */
export class ModelPool {
  private constructor(
    readonly scorers: ReadonlyMap<string, RelevanceScorer>,
    readonly runner: VlmRunner | undefined,
    readonly loadMs: number,
  ) {}

  static async load(config: ResolvedServerConfig): Promise<ModelPool> {
    const started = performance.now();
    const scorers = new Map<string, RelevanceScorer>();
    const remote = new Set<string>();
    let runner: VlmRunner | undefined;
    try {
      // The runner first: the VLM scorers score with it.
      runner = await createConfiguredRunner(config);
      for (const s of config.scorers) {
        if (typeof s === 'string') {
          const options = scorerOptionsFor(s, config.scorerOptions, runner);
          scorers.set(s, await openScorer(s, options));
          // A scorer that asks an HTTP server has nothing in this process to warm up.
          if (getScorerFamily(s).runners && runnerKindOf(options) === 'openai') remote.add(s);
        } else {
          scorers.set(s.id, s);
        }
      }
      if (config.warmup) await warmUp([...scorers].filter(([id]) => !remote.has(id)).map(([, scorer]) => scorer));
    } catch (err) {
      await Promise.allSettled([...scorers.values()].map((s) => s.dispose()));
      await runner?.dispose();
      throw err;
    }
    return new ModelPool(scorers, runner, performance.now() - started);
  }

  /** A loaded scorer; `UNKNOWN_SCORER` lists the loaded ones. */
  scorer(id: string): RelevanceScorer {
    const scorer = this.scorers.get(id);
    if (!scorer) {
      const loaded = [...this.scorers.keys()];
      throw new SemclipError('UNKNOWN_SCORER', `This server has no scorer "${id}" loaded.`, {
        expected: `one of ${loaded.join(', ')}`,
        hint: 'Start the server with the scorer in --scorers (or SEMCLIP_SCORERS)',
        details: { param: 'scorer', loaded },
      });
    }
    return scorer;
  }

  async dispose(): Promise<void> {
    await Promise.allSettled([...this.scorers.values()].map((s) => s.dispose()));
    await this.runner?.dispose();
  }
}

async function createConfiguredRunner(config: ResolvedServerConfig): Promise<VlmRunner | undefined> {
  const vlm = config.vlm;
  if (isRunner(vlm)) return vlm;
  let spec: string | RunnerConfig | undefined = vlm;
  if (spec === undefined && config.upstream && config.model) spec = { kind: 'openai', baseUrl: config.upstream, model: config.model };
  if (spec === undefined) return undefined;
  const kind = typeof spec === 'string' ? parseRunnerSpec(spec).kind : spec.kind;
  const overrides: RunnerOverrides =
    kind === 'openai'
      ? {
          imageMode: config.composite ? 'composite' : 'separate',
          image: { format: 'jpeg', maxSide: config.imageMaxSide, quality: config.imageQuality },
          timeoutMs: config.limits.upstreamTimeoutMs,
          concurrency: config.limits.maxUpstreamInFlight,
          fetch: config.fetch,
          // The key comes from the server's config only, never from whatever OPENAI_API_KEY the process has.
          ...(config.upstreamApiKey ? { env: { SEMCLIP_UPSTREAM_API_KEY: config.upstreamApiKey }, apiKeyEnv: 'SEMCLIP_UPSTREAM_API_KEY' } : { env: {} }),
        }
      : {};
  return createRunner(spec, overrides);
}

/**
 * The shared scorer options as one family takes them (the registry refuses what a family does
 * not read): `model` only where the family has one; the VLM fields only for VLM scorers, which
 * score with the server's runner unless the options name their own VLM.
 */
export function scorerOptionsFor(id: string, shared: ServerScorerOptions, runner: VlmRunner | undefined): CommonScorerOptions & Record<string, unknown> {
  const family = getScorerFamily(id);
  const { model, runner: ownRunner, vlm, ...rest } = shared;
  const out: CommonScorerOptions & Record<string, unknown> = { ...rest, ...(family.takesModel && model !== undefined ? { model } : {}) };
  if (!family.runners) return out;
  if (ownRunner !== undefined || vlm !== undefined || model !== undefined)
    return { ...out, ...(ownRunner === undefined ? {} : { runner: ownRunner }), ...(vlm === undefined ? {} : { vlm }) };
  return runner ? { ...out, runner } : out;
}

/** One run per scorer on a tiny image, so sessions and caches are built before the first request. */
async function warmUp(scorers: readonly RelevanceScorer[]): Promise<void> {
  const size = 96;
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  for (const scorer of scorers) {
    const pipeline = createPipeline({ scorer, grid: '2x2' });
    await pipeline.run({ image: { data, width: size, height: size, channels: 3 }, question: 'What is written on the sign?' });
  }
}
