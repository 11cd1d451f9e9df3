import { z } from 'zod';
import { SemclipError } from '@semclip/core';
import type { SelectOptions } from '@semclip/selector';

/** Options that choose the grid, the scorer and the selection; shared by /v1/select, /v1/answer and the chat `semclip` field. */
const selectionFields = {
  scorer: z.string().min(1).max(100).optional(),
  grid: z.string().min(1).max(32).optional(),
  overlap: z.number().min(0).lt(0.5).optional(),
  levels: z.union([z.literal(1), z.literal(2)]).optional(),
  k: z.number().int().min(0).max(1024).optional(),
  adaptive: z.boolean().optional(),
  margin: z.number().min(0).optional(),
  threshold: z.number().optional(),
  max_tiles: z.number().int().min(0).optional(),
  merge: z.boolean().optional(),
  include_overview: z.boolean().optional(),
  budget: z.number().int().min(0).optional(),
  tokens_per_image: z.number().int().min(1).optional(),
  level: z.union([z.number().int().min(1), z.literal('any')]).optional(),
};

const imageFields = {
  /** Base64 bytes of the image, or a `data:` URL. */
  image: z.string().min(1).optional(),
  /** A `data:` URL, or an http(s) URL when the server allows remote images. */
  image_url: z.string().min(1).optional(),
  question: z.string(),
  /** Multiple-choice options, scored with the question (and, on /v1/answer, chosen among). */
  options: z.array(z.string().min(1).max(1000)).min(2).max(26).optional(),
  return_crops: z.boolean().optional(),
  return_overlay: z.boolean().optional(),
};

export const selectRequestSchema = z.object({ ...imageFields, ...selectionFields }).strict();
export type SelectRequest = z.infer<typeof selectRequestSchema>;

export const answerRequestSchema = z
  .object({
    ...imageFields,
    ...selectionFields,
    mode: z.enum(['semclip', 'baseline', 'all-tiles']).optional(),
    instruction: z.string().max(4000).optional(),
    max_tokens: z.number().int().min(1).max(65536).optional(),
  })
  .strict();
export type AnswerRequest = z.infer<typeof answerRequestSchema>;

/** The optional `semclip` field of a chat request: `false` skips SemClip, an object overrides the defaults. */
export const chatSemclipSchema = z.union([z.literal(false), z.literal(true), z.object(selectionFields).strict()]);
export type ChatSemclipOptions = z.infer<typeof chatSemclipSchema>;

export type SelectionFields = { [K in keyof typeof selectionFields]?: z.infer<(typeof selectionFields)[K]> };

const NUMBER_FIELDS = new Set(['overlap', 'levels', 'k', 'margin', 'threshold', 'max_tiles', 'budget', 'tokens_per_image', 'max_tokens']);
const BOOLEAN_FIELDS = new Set(['adaptive', 'merge', 'include_overview', 'return_crops', 'return_overlay']);

/** Form fields are strings; turns the known numeric and boolean ones into numbers and booleans (and `options` from JSON or `a|b|c`). */
export function coerceFormFields(fields: ReadonlyMap<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of fields) {
    const v = raw.trim();
    if (NUMBER_FIELDS.has(key)) {
      out[key] = v === '' ? undefined : Number(v);
    } else if (key === 'level') {
      out[key] = v === 'any' ? 'any' : Number(v);
    } else if (BOOLEAN_FIELDS.has(key)) {
      const lower = v.toLowerCase();
      out[key] = ['1', 'true', 'on', 'yes'].includes(lower) ? true : ['0', 'false', 'off', 'no', ''].includes(lower) ? false : raw;
    } else if (key === 'options') {
      out[key] = v.startsWith('[') ? safeJson(v) : v.split('|').map((o) => o.trim());
    } else {
      out[key] = raw;
    }
  }
  return out;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Validates with a schema; the first problems become one INVALID_ARGUMENT naming the fields. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((i) => {
    const path = i.path.join('.');
    if (i.code === 'unrecognized_keys') return `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return path ? `"${path}": ${i.message}` : i.message;
  });
  const first = result.error.issues[0];
  const param = first?.code === 'unrecognized_keys' ? first.keys[0] : first?.path.join('.');
  throw new SemclipError('INVALID_ARGUMENT', `The ${what} is not valid: ${issues.join('; ')}.`, {
    hint: 'See the server README for the fields and their types',
    details: { ...(param ? { param } : {}) },
  });
}

/** Selection options from request fields over the server's defaults. Mixing top-k and adaptive fields is refused by the selector. */
export function selectOptionsOf(fields: SelectionFields, defaults: { k: number; merge: boolean }, tokensPerImage?: number): SelectOptions {
  const common = {
    ...(fields.budget === undefined ? {} : { budget: fields.budget }),
    ...(fields.tokens_per_image !== undefined ? { tokensPerImage: fields.tokens_per_image } : tokensPerImage !== undefined ? { tokensPerImage } : {}),
    ...(fields.include_overview === undefined ? {} : { includeOverview: fields.include_overview }),
    merge: fields.merge ?? defaults.merge,
    ...(fields.level === undefined ? {} : { level: fields.level }),
  };
  if (fields.adaptive) {
    if (fields.k !== undefined) {
      throw new SemclipError('INVALID_ARGUMENT', '"k" and "adaptive" cannot be combined: adaptive selection decides the count itself.', {
        hint: 'Drop k, or use max_tiles to cap adaptive selection',
        details: { param: 'k' },
      });
    }
    return {
      mode: 'adaptive',
      ...common,
      ...(fields.margin === undefined ? {} : { margin: fields.margin }),
      ...(fields.threshold === undefined ? {} : { threshold: fields.threshold }),
      ...(fields.max_tiles === undefined ? {} : { maxTiles: fields.max_tiles }),
    };
  }
  for (const name of ['margin', 'threshold', 'max_tiles'] as const) {
    if (fields[name] !== undefined) {
      throw new SemclipError('INVALID_ARGUMENT', `"${name}" applies to adaptive selection only.`, { hint: 'Add "adaptive": true, or drop it', details: { param: name } });
    }
  }
  return { ...common, k: fields.k ?? defaults.k };
}
