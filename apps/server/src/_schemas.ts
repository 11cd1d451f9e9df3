import { z } from 'zod';
import { SemclipError } from '@semclip/core';
import type { PipelineOptions } from '@semclip/pipeline';
import type { ServerLimits } from './_config.js';

/** The selection options a pipeline takes (top-k or adaptive). */
export type SelectOptions = NonNullable<PipelineOptions['select']>;

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
    /** semclip mode: `topk` (the selection fields, default), `zoom` (confidence-gated search, several calls) or `pack` (best cells in one image, arrangement kept). */
    strategy: z.enum(['topk', 'zoom', 'pack']).optional(),
    /** zoom: most VLM calls, the answer included (default 12). */
    max_calls: z.number().int().min(1).max(100).optional(),
    instruction: z.string().max(4000).optional(),
    max_tokens: z.number().int().min(1).max(65536).optional(),
  })
  .strict();
export type AnswerRequest = z.infer<typeof answerRequestSchema>;

/** The optional `semclip` field of a chat request: `false` skips SemClip, an object overrides the defaults. */
export const chatSemclipSchema = z.union([z.literal(false), z.literal(true), z.object(selectionFields).strict()], {
  errorMap: () => ({ message: 'must be true, false or an object of selection options (k, grid, merge...)' }),
});
export type ChatSemclipOptions = z.infer<typeof chatSemclipSchema>;

/** An image part: `image_url` as `{ url, detail? }`, or the bare URL some clients send. */
const chatImagePart = z
  .object({
    type: z.literal('image_url'),
    image_url: z.union([z.string().min(1), z.object({ url: z.string().min(1), detail: z.string().optional() }).passthrough()], {
      errorMap: () => ({ message: 'must be { "url": "data:image/...;base64,..." } (or the URL itself)' }),
    }),
  })
  .passthrough();
const chatTextPart = z.object({ type: z.literal('text'), text: z.string() }).passthrough();
/** Any other part (audio, files...) is forwarded as it is. */
const chatOtherPart = z
  .object({
    type: z.string().superRefine((type, ctx) => {
      // Fatal: a text or image part that failed its own schema must not pass as "other".
      if (type === 'text' || type === 'image_url') ctx.addIssue({ code: z.ZodIssueCode.custom, message: `is a ${type} part`, fatal: true });
    }),
  })
  .passthrough();
const chatPart = z.union([chatImagePart, chatTextPart, chatOtherPart], { errorMap: () => ({ message: 'must be an object with a string "type"' }) });
export type ChatPart = z.infer<typeof chatPart>;
export type ChatImagePart = z.infer<typeof chatImagePart>;

const chatMessage = z
  .object({
    role: z.string().min(1),
    content: z
      .union([z.string(), z.array(chatPart), z.null()], { errorMap: () => ({ message: 'must be a string, an array of content parts or null' }) })
      .optional(),
  })
  .passthrough();
export type ChatMessage = z.infer<typeof chatMessage>;

const chatBody = z
  .object({
    model: z.string().optional(),
    messages: z.array(chatMessage),
    stream: z.boolean().nullable().optional(),
    semclip: chatSemclipSchema.optional(),
  })
  .passthrough();
export type ChatRequest = z.infer<typeof chatBody>;

/** The URL of an image part. */
export function chatImageUrl(part: ChatImagePart): string {
  return typeof part.image_url === 'string' ? part.image_url : part.image_url.url;
}

const chatSchemas = new WeakMap<object, z.ZodType<ChatRequest, z.ZodTypeDef, unknown>>();

/**
 * The body of POST /v1/chat/completions under the server's limits. The counts are checked
 * first, in one cheap pass (a 10,000-part message is refused before any part is looked at);
 * then every message and part. Fields SemClip does not read pass through to the upstream.
 */
export function chatRequestSchema(limits: Pick<ServerLimits, 'maxMessages' | 'maxParts' | 'maxImages'>): z.ZodType<ChatRequest, z.ZodTypeDef, unknown> {
  const cached = chatSchemas.get(limits);
  if (cached) return cached;
  const counts = z
    .object({ messages: z.array(z.unknown()).min(1, 'must not be empty') })
    .passthrough()
    .superRefine((body, ctx) => {
      if (body.messages.length > limits.maxMessages) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['messages'],
          message: `${body.messages.length} messages are over the limit of ${limits.maxMessages}`,
        });
        return;
      }
      let parts = 0;
      for (const m of body.messages) if (m && typeof m === 'object' && 'content' in m && Array.isArray(m.content)) parts += m.content.length;
      if (parts > limits.maxParts) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['messages'], message: `${parts} content parts are over the limit of ${limits.maxParts}` });
      }
    });
  const full = chatBody.superRefine((body, ctx) => {
    const images = body.messages.reduce((n, m) => n + (Array.isArray(m.content) ? m.content.filter((p) => p.type === 'image_url').length : 0), 0);
    if (images > limits.maxImages) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['messages'], message: `${images} images are over the limit of ${limits.maxImages}` });
    }
  });
  const schema = counts.pipe(full);
  chatSchemas.set(limits, schema);
  return schema;
}

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

/**
 * A union's failure told from the branch the value was meant for: a branch that refused the
 * value's own type, or its `type` discriminator, is the wrong one. With no right one, the
 * union's own message.
 */
function explain(issue: z.ZodIssue): z.ZodIssue {
  if (issue.code !== 'invalid_union') return issue;
  const depth = issue.path.length;
  for (const branch of issue.unionErrors) {
    const wrong = branch.issues.some(
      (i) =>
        (i.path.length === depth && (i.code === 'invalid_type' || i.code === 'invalid_literal')) || (i.path.length === depth + 1 && i.path[depth] === 'type'),
    );
    const first = branch.issues[0];
    if (!wrong && first) return explain(first);
  }
  return issue;
}

/** Validates with a schema; the first problems become one INVALID_ARGUMENT naming the fields. */
export function validate<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const explained = result.error.issues.slice(0, 3).map(explain);
  const issues = explained.map((i) => {
    const path = i.path.join('.');
    const message = i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
    return path ? `"${path}": ${message}` : message;
  });
  const first = explained[0];
  const param = first?.code === 'unrecognized_keys' ? [...first.path, first.keys[0]].join('.') : first?.path.join('.');
  throw new SemclipError('INVALID_ARGUMENT', `The ${what} is not valid: ${issues.join('; ')}.`, {
    hint: 'See the server README for the fields and their types',
    details: { ...(param ? { param } : {}) },
  });
}

/**
 * Selection options from request fields over the server's defaults. Mixing top-k and adaptive
 * fields is refused here; the rest is checked by the pipeline. Without `tokens_per_image`, the
 * pipeline counts a tile's tokens by the VLM's model family.
 */
export function selectOptionsOf(fields: SelectionFields, defaults: { k: number; merge: boolean }): SelectOptions {
  const common = {
    ...(fields.budget === undefined ? {} : { budget: fields.budget }),
    ...(fields.tokens_per_image === undefined ? {} : { tokensPerImage: fields.tokens_per_image }),
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
      throw new SemclipError('INVALID_ARGUMENT', `"${name}" applies to adaptive selection only.`, {
        hint: 'Add "adaptive": true, or drop it',
        details: { param: name },
      });
    }
  }
  return { ...common, k: fields.k ?? defaults.k };
}
