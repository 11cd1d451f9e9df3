import { SemclipError } from '@semclip/core';
import type { RelevanceScorer, VlmRunner } from '@semclip/core';
import type { ClipScorerOptions } from '@semclip/scorers/clip';
import type { DistantScorerOptions } from '@semclip/scorers/distant';
import type { OcrScorerOptions } from '@semclip/scorers/ocr';
import type { RandomScorerOptions } from '@semclip/scorers/random';
import type { SiglipScorerOptions } from '@semclip/scorers/siglip';
import type { RunnerConfig } from '@semclip/vlm-runner';
import type { VlmEmbedScorerOptions, VlmYesNoScorerOptions } from '@semclip/vlm-runner/scorers';

/** Runner kinds a VLM scorer can score with. */
export type ScoringRunnerKind = 'local' | 'openai';

/**
 * Options every scorer family reads; a family ignores what does not apply to it, except
 * `model` (INVALID_ARGUMENT where the family has no model) and the VLM fields (VLM scorers only).
 */
export interface CommonScorerOptions {
  /** `cpu`, `cuda`, `webgpu` or `auto` (default: CUDA if installed, else a WebGPU adapter, else CPU). */
  readonly device?: 'cpu' | 'cuda' | 'webgpu' | 'auto';
  /** Model-backed families: a manifest id (`semclip models list`); `distant`: the trained head. VLM scorers: a local VLM. */
  readonly model?: string;
  /** The `random` family's seed; others ignore it (a run passes one seed to whatever scorer it opens). */
  readonly seed?: number;
  /** Model cache directory (default SEMCLIP_CACHE_DIR or the user cache). */
  readonly cacheDir?: string;
  /** Never touch the network (also SEMCLIP_OFFLINE=1). */
  readonly offline?: boolean;
  /** One-line notices (device fallback, truncated questions). */
  readonly warn?: (message: string) => void;
  /** VLM scorers: score with this runner (the scorer never disposes it). */
  readonly runner?: VlmRunner;
  /** VLM scorers: a runner spec or config; the scorer creates the runner and disposes it with itself. */
  readonly vlm?: string | RunnerConfig;
}

/** Each built-in family's own options, by id: `openScorer('clip', { template: ... })` is type-checked. */
export interface ScorerOptionsById {
  readonly random: RandomScorerOptions;
  readonly ocr: Omit<OcrScorerOptions, 'device' | 'warn'>;
  readonly clip: Omit<ClipScorerOptions, 'model' | 'device' | 'cacheDir' | 'offline' | 'warn'>;
  readonly siglip: Omit<SiglipScorerOptions, 'model' | 'device' | 'cacheDir' | 'offline' | 'warn'>;
  readonly distant: Omit<DistantScorerOptions, 'model' | 'device' | 'cacheDir' | 'offline' | 'warn'>;
  readonly 'vlm-embed': Omit<VlmEmbedScorerOptions, 'runner' | 'vlm' | 'model' | 'device' | 'cacheDir' | 'offline' | 'warn'>;
  readonly 'vlm-yesno': Omit<VlmYesNoScorerOptions, 'runner' | 'vlm' | 'model' | 'device' | 'cacheDir' | 'offline' | 'warn'>;
}

/** The ids of the families SemClip ships. */
export type BuiltinScorerId = keyof ScorerOptionsById;

/**
 * One scorer family in the registry: how to open it and what it needs. Third-party scorers
 * are families too (`registerScorer`).
 */
export interface ScorerFamily<O = Record<string, never>> {
  readonly id: string;
  readonly description: string;
  /** True when the scorer needs a model download (`semclip models pull`) before use. */
  readonly needsDownload: boolean;
  /** The model it loads when `model` is not given. */
  readonly defaultModel?: string;
  /** `false` when `model` means nothing to this family (passing one is an error). */
  readonly takesModel: boolean;
  /** VLM scorers: the runner kinds they can score with; absent for scorers with their own models. */
  readonly runners?: readonly ScoringRunnerKind[];
  open(options: CommonScorerOptions & O): Promise<RelevanceScorer>;
}

const pick = <T extends object>(value: T | undefined) => Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;

/** The fields of CommonScorerOptions a model-backed family passes on. */
function modelOptions(o: CommonScorerOptions) {
  return pick({ model: o.model, device: o.device, cacheDir: o.cacheDir, offline: o.offline, warn: o.warn });
}

/** What is left of the options once the common fields are taken out: the family's own. */
function own<T extends object>(o: T): Omit<T, keyof CommonScorerOptions> {
  const { device: _d, model: _m, seed: _s, cacheDir: _c, offline: _o, warn: _w, runner: _r, vlm: _v, ...rest } = o as T & CommonScorerOptions;
  return rest as Omit<T, keyof CommonScorerOptions>;
}

function vlmOptions(o: CommonScorerOptions) {
  return pick({ runner: o.runner, vlm: o.vlm, model: o.model, device: o.device, cacheDir: o.cacheDir, offline: o.offline, warn: o.warn });
}

const BUILTIN: { readonly [K in BuiltinScorerId]: ScorerFamily<ScorerOptionsById[K]> } = {
  random: {
    id: 'random',
    description: 'Seeded uniform random scores (the random sub-image ablation).',
    needsDownload: false,
    takesModel: false,
    async open(o) {
      const { createRandomScorer } = await import('@semclip/scorers/random');
      return createRandomScorer({ ...own(o), ...pick({ seed: o.seed }) });
    },
  },
  ocr: {
    id: 'ocr',
    description: 'Text read in each tile by PaddleOCR (PP-OCRv4, bundled), matched against the question words. Offline default.',
    needsDownload: false,
    takesModel: false,
    async open(o) {
      const { createOcrScorer } = await import('@semclip/scorers/ocr');
      return createOcrScorer({ ...own(o), ...pick({ device: o.device, warn: o.warn }) });
    },
  },
  clip: {
    id: 'clip',
    description: 'Cosine similarity of each tile to the question in OpenAI CLIP (ViT-B/32 by default; clip-vit-large-patch14 is the paper backbone).',
    needsDownload: true,
    defaultModel: 'clip-vit-base-patch32',
    takesModel: true,
    async open(o) {
      const { createClipScorer } = await import('@semclip/scorers/clip');
      return createClipScorer({ ...own(o), ...modelOptions(o) });
    },
  },
  siglip: {
    id: 'siglip',
    description: 'SigLIP pair probability sigmoid(scale * cosine + bias) of each tile and the question (base patch16 224).',
    needsDownload: true,
    defaultModel: 'siglip-base-patch16-224',
    takesModel: true,
    async open(o) {
      const { createSiglipScorer } = await import('@semclip/scorers/siglip');
      return createSiglipScorer({ ...own(o), ...modelOptions(o) });
    },
  },
  distant: {
    id: 'distant',
    description:
      'A relevance head trained by distant supervision (semclip label + semclip train) over frozen CLIP/SigLIP embeddings; model names the trained head.',
    needsDownload: true,
    takesModel: true,
    async open(o) {
      const { createDistantScorer } = await import('@semclip/scorers/distant');
      return createDistantScorer({ ...own(o), ...modelOptions(o) });
    },
  },
  'vlm-embed': {
    id: 'vlm-embed',
    description:
      "The paper's VLM-embedding scorer: cosine between each tile's projected CLS token (pool 'mean': the mean of its visual tokens) and the last hidden state of the question's final token; exports without them fall back only with a notice. Local VLMs only.",
    needsDownload: true,
    takesModel: true,
    runners: ['local'],
    async open(o) {
      const { createVlmEmbedScorer } = await import('@semclip/vlm-runner/scorers');
      return createVlmEmbedScorer({ ...own(o), ...vlmOptions(o) });
    },
  },
  'vlm-yesno': {
    id: 'vlm-yesno',
    description: 'P("Yes") that the tile holds what the question needs, asked of the VLM per tile (logits, top logprobs, else its answer).',
    needsDownload: false,
    takesModel: true,
    runners: ['local', 'openai'],
    async open(o) {
      const { createVlmYesNoScorer } = await import('@semclip/vlm-runner/scorers');
      return createVlmYesNoScorer({ ...own(o), ...vlmOptions(o) });
    },
  },
};

const families = new Map<string, ScorerFamily<Record<string, unknown>>>(
  Object.values(BUILTIN).map((f) => [f.id, f as unknown as ScorerFamily<Record<string, unknown>>]),
);

/**
 * Adds a scorer family to the one registry every command, route and run opens scorers from.
 * An id already taken is refused unless `replace` is set.
 *
 * @example
 * ```ts
 * import { defineScorer } from '@semclip/core';
 * import { registerScorer, openScorer } from '@semclip/pipeline';
 *
 * registerScorer({
 *   id: 'centre',
 *   description: 'Prefers the tiles nearest the centre.',
 *   needsDownload: false,
 *   takesModel: false,
 *   async open() {
 *     return defineScorer({ id: 'centre', async score(_q, source) { ... }, dispose() {} });
 *   },
 * });
 * const scorer = await openScorer('centre');
 * ```
 */
export function registerScorer<O>(family: ScorerFamily<O>, options: { readonly replace?: boolean } = {}): void {
  if (!family || typeof family.id !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(family.id) || typeof family.open !== 'function') {
    throw new SemclipError('INVALID_ARGUMENT', 'A scorer family needs an id (lower-case letters, digits, ".", "_", "-") and an open() function.', {
      expected: '{ id, description, needsDownload, takesModel, open(options) }',
    });
  }
  if (families.has(family.id) && !options.replace) {
    throw new SemclipError('INVALID_ARGUMENT', `A scorer called "${family.id}" is already registered.`, {
      hint: 'Pick another id, or pass { replace: true } to replace it',
      details: { id: family.id },
    });
  }
  families.set(family.id, family as unknown as ScorerFamily<Record<string, unknown>>);
}

/**
 * Every registered scorer family, built-in ones first.
 *
 * @example
 * ```ts
 * listScorers().map((f) => f.id); // ['random', 'ocr', 'clip', 'siglip', 'distant', 'vlm-embed', 'vlm-yesno']
 * ```
 */
export function listScorers(): readonly ScorerFamily<Record<string, unknown>>[] {
  return [...families.values()];
}

/**
 * Looks a family up by id; UNKNOWN_SCORER lists every registered id.
 *
 * @example
 * ```ts
 * getScorerFamily('vlm-yesno').runners; // ['local', 'openai']
 * ```
 */
export function getScorerFamily(id: string): ScorerFamily<Record<string, unknown>> {
  const family = typeof id === 'string' ? families.get(id) : undefined;
  if (!family) {
    const valid = [...families.keys()];
    throw new SemclipError('UNKNOWN_SCORER', `There is no scorer called "${String(id)}".`, {
      expected: `one of ${valid.join(', ')}`,
      hint: 'vlm-embed and vlm-yesno score with a vision-language model (a runner or --vlm)',
      details: { valid },
    });
  }
  return family;
}

/** True when the family scores with a vision-language model (it takes `runner` or `vlm`). */
export function isVlmScorer(id: string): boolean {
  return getScorerFamily(id).runners !== undefined;
}

/**
 * Checks, before anything is loaded, that the options suit the family: a model only where the
 * family has one, the VLM fields only for VLM scorers, a VLM scorer's runner of a kind it can use.
 * Throws INVALID_ARGUMENT or UNKNOWN_SCORER; returns the family.
 *
 * @example
 * ```ts
 * checkScorerOptions('vlm-embed', { vlm: 'openai:http://127.0.0.1:8000/v1#llava' });
 * // throws INVALID_ARGUMENT: vlm-embed needs a local: VLM, not openai:
 * ```
 */
export function checkScorerOptions(id: string, options: CommonScorerOptions & { readonly runnerKind?: string } = {}): ScorerFamily<Record<string, unknown>> {
  const family = getScorerFamily(id);
  if (options.model !== undefined && !family.takesModel) {
    throw new SemclipError('INVALID_ARGUMENT', `The ${id} scorer takes no model, but got "${options.model}".`, {
      hint: `Drop the model; scorers with models: ${listScorers()
        .filter((f) => f.takesModel)
        .map((f) => f.id)
        .join(', ')}`,
      details: { scorer: id, option: 'model' },
    });
  }
  if (!family.runners) {
    const vlmFields = (['runner', 'vlm'] as const).filter((k) => options[k] !== undefined);
    if (vlmFields.length > 0) {
      throw new SemclipError('INVALID_ARGUMENT', `The ${id} scorer does not score with a VLM, but got ${vlmFields.join(' and ')}.`, {
        hint: 'Only vlm-embed and vlm-yesno take a VLM to score with',
        details: { scorer: id },
      });
    }
    return family;
  }
  const kind =
    options.runnerKind ??
    (typeof options.vlm === 'string' ? options.vlm.split(':', 1)[0] : options.vlm?.kind) ??
    (options.model !== undefined ? 'local' : undefined);
  if (kind !== undefined && !(family.runners as readonly string[]).includes(kind)) {
    throw new SemclipError('INVALID_ARGUMENT', `The ${id} scorer needs a ${family.runners.join(' or ')}: VLM, not ${kind}:.`, {
      ...(id === 'vlm-embed'
        ? { hint: 'Score with a local:<model-id> VLM (its embeddings are read in this process), or use vlm-yesno with an HTTP server' }
        : {}),
      details: { scorer: id, runner: kind },
    });
  }
  return family;
}

/**
 * Opens a scorer by id from the one registry, with its family's typed options. Options are
 * checked before any model loads (`checkScorerOptions`). The caller disposes the scorer.
 *
 * @example
 * ```ts
 * import { openScorer } from '@semclip/pipeline';
 * const clip = await openScorer('clip', { model: 'clip-vit-large-patch14', template: 'a photo of {}' });
 * const yesno = await openScorer('vlm-yesno', { vlm: 'openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf' });
 * ```
 */
export function openScorer<K extends BuiltinScorerId>(id: K, options?: CommonScorerOptions & ScorerOptionsById[K]): Promise<RelevanceScorer>;
export function openScorer(id: string, options?: CommonScorerOptions & Record<string, unknown>): Promise<RelevanceScorer>;
export async function openScorer(id: string, options: CommonScorerOptions & Record<string, unknown> = {}): Promise<RelevanceScorer> {
  const family = checkScorerOptions(id, options);
  return family.open(options as never);
}

/**
 * The scorer SemClip uses when none is named: `ocr` (reads the text in each tile; bundled, so
 * it works offline) when registered, else `random`.
 *
 * @example
 * ```ts
 * defaultScorerId(); // 'ocr'
 * ```
 */
export function defaultScorerId(): string {
  return families.has('ocr') ? 'ocr' : 'random';
}
