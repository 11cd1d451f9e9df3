import { SemclipError } from '@semclip/core';

/**
 * The evaluation methods, in the order reports list them:
 *
 * - `baseline`: the overview only (what the VLM sees without SemClip).
 * - `semclip`: the overview plus the tiles the scorer selects (top-k or adaptive).
 * - `random`: the overview plus one tile drawn at random, repeated with `repeats` seeds.
 * - `majority`: one answer per tile (each paired with the overview), majority vote.
 * - `subimage-only`: the selected tile(s) without the overview.
 * - `oracle`: the optimal-selection upper bound: right if any tile (paired with the
 *   overview) gets the right answer.
 * - `all-tiles`: the overview plus every tile (LLaVA-NeXT style).
 */
export const EVAL_METHODS = ['baseline', 'semclip', 'random', 'majority', 'subimage-only', 'oracle', 'all-tiles'] as const;

/**
 * Methods that run a selection strategy the caller injects (`runEvaluation({ strategies })`),
 * asked by name only (`all` is the paper's methods above):
 *
 * - `zoom`: confidence-gated quadtree search, several VLM calls per question.
 * - `pack`: the best cells pasted in their original arrangement into one image, one call.
 */
export const STRATEGY_METHODS = ['zoom', 'pack'] as const;
export type StrategyMethod = (typeof STRATEGY_METHODS)[number];

/** Every method, in report order. */
export const ALL_EVAL_METHODS = [...EVAL_METHODS, ...STRATEGY_METHODS] as const;
export type EvalMethod = (typeof ALL_EVAL_METHODS)[number];

/** How reports name each method. */
export const METHOD_LABELS: Readonly<Record<EvalMethod, string>> = {
  baseline: 'Baseline (overview only)',
  semclip: 'SemClip',
  random: 'Random sub-image',
  majority: 'Majority vote',
  'subimage-only': 'Sub-image only',
  oracle: 'Oracle (upper bound)',
  'all-tiles': 'All tiles (LLaVA-NeXT style)',
  zoom: 'Zoom search',
  pack: 'Pack (arrangement kept)',
};

/** Methods that need a relevance scorer (they rank the tiles). */
export const SCORED_METHODS: readonly EvalMethod[] = ['semclip', 'subimage-only'];

/**
 * Narrows a string to a method, or throws `UNKNOWN_METHOD` listing the valid ones.
 *
 * @example
 * ```ts
 * assertMethod('oracle'); // 'oracle'
 * ```
 */
export function assertMethod(name: string): EvalMethod {
  if ((ALL_EVAL_METHODS as readonly string[]).includes(name)) return name as EvalMethod;
  throw new SemclipError('UNKNOWN_METHOD', `Unknown evaluation method ${JSON.stringify(name)}.`, {
    expected: `one of ${ALL_EVAL_METHODS.join(', ')}, a comma-separated list of them, or all`,
    details: { method: name, valid: [...ALL_EVAL_METHODS] },
  });
}

/**
 * Parses a method list: `"all"`, one method, or a comma-separated list (duplicates dropped).
 * Returned in the canonical order of {@link EVAL_METHODS}.
 *
 * @example
 * ```ts
 * parseMethods('semclip,baseline'); // ['baseline', 'semclip']
 * parseMethods('all').length; // 7
 * ```
 */
export function parseMethods(spec: string | readonly string[]): EvalMethod[] {
  const parts = (typeof spec === 'string' ? spec.split(',') : [...spec]).map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) {
    throw new SemclipError('UNKNOWN_METHOD', 'No evaluation method given.', {
      expected: `one of ${EVAL_METHODS.join(', ')}, a comma-separated list of them, or all`,
    });
  }
  if (parts.includes('all')) {
    if (parts.length > 1) {
      throw new SemclipError('INVALID_ARGUMENT', '"all" cannot be combined with other methods.', { expected: 'all, or a list of methods' });
    }
    return [...EVAL_METHODS];
  }
  const wanted = new Set(parts.map(assertMethod));
  return ALL_EVAL_METHODS.filter((m) => wanted.has(m));
}
