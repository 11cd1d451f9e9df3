import { SemclipError } from '@semclip/core';
import { createDualEncoder } from '../clip/_dual-encoder.js';
import type { DualEncoderOptions, DualEncoderScorer, FamilySpec } from '../clip/_dual-encoder.js';
import { TOWER_DEFAULTS } from '../clip/_embedder.js';

export type { ChoiceMode, DualEncoderInfo, DualEncoderStats } from '../clip/_dual-encoder.js';

/** The SigLIP model used when none is given. */
export const DEFAULT_SIGLIP_MODEL = TOWER_DEFAULTS.siglip.model;

/**
 * SigLIP's `logit_scale` and `logit_bias` when neither the options nor config.json give them:
 * Hugging Face SiglipModel's initial values (scale exp(ln 10) = 10, bias -10). The published ONNX
 * text and vision towers do not contain the trained values (they live in the full `model.onnx`),
 * so scores are sigmoid(10 * cosine - 10) unless you pass the checkpoint's values. The ranking of
 * tiles is the same whatever the values (the map is monotonic).
 */
export const SIGLIP_DEFAULT_LOGIT_SCALE = Math.log(10);
export const SIGLIP_DEFAULT_LOGIT_BIAS = -10;

export interface SiglipScorerOptions extends DualEncoderOptions {
  /** The model's `logit_scale` parameter (log of the multiplier). Default: config.json `logit_scale`, else ln 10. */
  readonly logitScale?: number;
  /** The model's `logit_bias`. Default: config.json `logit_bias`, else -10. */
  readonly logitBias?: number;
}

export type SiglipScorer = DualEncoderScorer;

function finite(value: unknown, name: string, where: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new SemclipError('INVALID_ARGUMENT', `${name} ${String(value)} from ${where} is not a finite number.`, { expected: 'a finite number' });
  }
  return value;
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

function siglipSpec(options: SiglipScorerOptions): FamilySpec {
  return {
    family: 'siglip',
    scoreFn(config) {
      const scale =
        finite(options.logitScale, 'logitScale', 'the options') ?? finite(config.logit_scale, 'logit_scale', 'config.json') ?? SIGLIP_DEFAULT_LOGIT_SCALE;
      const bias = finite(options.logitBias, 'logitBias', 'the options') ?? finite(config.logit_bias, 'logit_bias', 'config.json') ?? SIGLIP_DEFAULT_LOGIT_BIAS;
      const source =
        options.logitScale !== undefined || options.logitBias !== undefined
          ? 'options'
          : config.logit_scale !== undefined || config.logit_bias !== undefined
            ? 'config'
            : 'default';
      const multiplier = Math.exp(scale);
      return {
        fn: (cosine) => sigmoid(multiplier * cosine + bias),
        meta: { similarity: 'sigmoid', logitScale: scale, logitBias: bias, logitSource: source },
      };
    },
  };
}

/**
 * A SigLIP relevance scorer: each tile's score is SigLIP's pair probability
 * `sigmoid(exp(logit_scale) * cosine + logit_bias)` between the tile and the question (in (0, 1)).
 * Texts are padded to SigLIP's 64-token context as it was trained. See
 * `SIGLIP_DEFAULT_LOGIT_SCALE` for where scale and bias come from. Same caching and batching as
 * the CLIP scorer.
 *
 * @example
 * ```ts
 * import { createSiglipScorer } from '@semclip/scorers/siglip';
 * import { tileImage } from '@semclip/tiling';
 *
 * const scorer = await createSiglipScorer({ device: 'cpu', template: 'a photo of {}' });
 * const tiled = await tileImage('shelf.jpg', { grid: '2x2' });
 * const { scores } = await scorer.score({ question: 'the black mug' }, tiled);
 * await scorer.dispose();
 * ```
 */
export function createSiglipScorer(options: SiglipScorerOptions = {}): Promise<SiglipScorer> {
  return createDualEncoder(siglipSpec(options), options);
}
