import { SemclipError } from '@semclip/core';
import type { RelevanceScorer } from '@semclip/core';
import type { VlmEmbedScorerOptions } from './_embed-scorer.js';
import type { VlmYesNoScorerOptions } from './_yesno-scorer.js';

/** Options every VLM scorer understands (the runner to score with, local loading options), plus each family's own. */
export type VlmScorerOptions = VlmEmbedScorerOptions & VlmYesNoScorerOptions;

export interface VlmScorerEntry {
  readonly id: string;
  readonly description: string;
  /** True when the scorer needs a model download (`semclip models pull`) before use. */
  readonly needsDownload: boolean;
  /** Runner kinds it can score with. */
  readonly runners: readonly ('local' | 'openai')[];
  create(options: VlmScorerOptions): Promise<RelevanceScorer>;
}

/**
 * The table of VLM-based scorers, in the style of @semclip/scorers' `SCORERS` (which holds the
 * light ones: random, OCR, CLIP, SigLIP, distant). They live here so that using the light
 * scorers never loads a VLM stack; each entry imports its scorer lazily.
 *
 * @example
 * ```ts
 * import { VLM_SCORERS } from '@semclip/vlm-runner/scorers';
 * VLM_SCORERS['vlm-yesno'].runners; // ['local', 'openai']
 * const scorer = await VLM_SCORERS['vlm-embed'].create({ vlm: 'local:llava-interleave-qwen-0.5b' });
 * ```
 */
export const VLM_SCORERS = {
  'vlm-embed': {
    id: 'vlm-embed',
    description:
      "Cosine between each tile's mean-pooled visual tokens (the VLM's vision encoder + projector) and the VLM's representation of the question (last hidden state, else mean input embeddings). Local VLMs only.",
    needsDownload: true,
    runners: ['local'],
    async create(options) {
      const { createVlmEmbedScorer } = await import('./_embed-scorer.js');
      return createVlmEmbedScorer(options);
    },
  },
  'vlm-yesno': {
    id: 'vlm-yesno',
    description:
      'P("Yes") that the tile holds what the question needs, asked of the VLM per tile: from its logits (local), top logprobs (OpenAI-compatible servers), else its answer read as 1/0.',
    needsDownload: false,
    runners: ['local', 'openai'],
    async create(options) {
      const { createVlmYesNoScorer } = await import('./_yesno-scorer.js');
      return createVlmYesNoScorer(options);
    },
  },
} as const satisfies Record<string, VlmScorerEntry>;

export type VlmScorerId = keyof typeof VLM_SCORERS;

/**
 * Every VLM scorer, in table order.
 *
 * @example
 * ```ts
 * listVlmScorers().map((s) => s.id); // ['vlm-embed', 'vlm-yesno']
 * ```
 */
export function listVlmScorers(): readonly VlmScorerEntry[] {
  return Object.values(VLM_SCORERS);
}

/**
 * True for the ids in `VLM_SCORERS`.
 *
 * @example
 * ```ts
 * isVlmScorerId('vlm-embed'); // true
 * isVlmScorerId('clip'); // false: a light scorer, in @semclip/scorers
 * ```
 */
export function isVlmScorerId(id: string): id is VlmScorerId {
  return Object.hasOwn(VLM_SCORERS, id);
}

/**
 * Looks a VLM scorer up by id; UNKNOWN_SCORER lists the valid ids.
 *
 * @example
 * ```ts
 * getVlmScorerEntry('vlm-embed').needsDownload; // true
 * getVlmScorerEntry('nope'); // throws UNKNOWN_SCORER: Expected one of vlm-embed, vlm-yesno.
 * ```
 */
export function getVlmScorerEntry(id: string): VlmScorerEntry {
  if (!isVlmScorerId(id)) {
    throw new SemclipError('UNKNOWN_SCORER', `There is no VLM scorer called "${id}".`, {
      expected: `one of ${Object.keys(VLM_SCORERS).join(', ')}`,
      hint: 'The light scorers (random, ocr, clip, siglip, distant) are in @semclip/scorers',
      details: { valid: Object.keys(VLM_SCORERS) },
    });
  }
  return VLM_SCORERS[id];
}

/**
 * Creates a VLM scorer by id.
 *
 * @example
 * ```ts
 * import { createVlmScorer } from '@semclip/vlm-runner/scorers';
 *
 * const scorer = await createVlmScorer('vlm-yesno', { vlm: 'openai:http://127.0.0.1:8000/v1#llava-hf/llava-1.5-7b-hf' });
 * const { scores } = await scorer.score({ question: 'What does the sign say?' }, tiled);
 * await scorer.dispose();
 * ```
 */
export async function createVlmScorer(id: string, options: VlmScorerOptions): Promise<RelevanceScorer> {
  return getVlmScorerEntry(id).create(options);
}
