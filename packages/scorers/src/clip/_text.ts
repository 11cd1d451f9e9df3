/**
 * From a question (and its multiple-choice options) to the texts the text tower encodes, and
 * from texts to token tensors. Tokenization, padding and truncation are transformers.js's; this
 * module only decides what to encode and restores the end token HF Python keeps on truncation.
 */
import { SemclipError } from '@semclip/core';
import type { ScoreQuery } from '@semclip/core';
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Tensor } from '@huggingface/transformers';

/**
 * How multiple-choice options take part:
 * - `average` (default): encode "question option" once per option and average the normalised
 *   embeddings (each text stays short, so no option is truncated away);
 * - `append`: one text "question option1 option2 ...";
 * - `ignore`: the question only.
 */
export type ChoiceMode = 'average' | 'append' | 'ignore';
export const CHOICE_MODES: readonly ChoiceMode[] = ['average', 'append', 'ignore'];

/** Characters kept per token of context before tokenizing; bounds work on huge inputs. */
const CHARS_PER_TOKEN = 32;

export function checkTemplate(template: string | undefined): string | undefined {
  if (template === undefined) return undefined;
  if (typeof template !== 'string' || !template.includes('{}')) {
    throw new SemclipError('INVALID_ARGUMENT', `The question template ${JSON.stringify(template)} has no "{}" placeholder.`, {
      expected: 'a template like "a photo of {}"',
    });
  }
  return template;
}

export function checkChoiceMode(mode: unknown): ChoiceMode {
  if (mode === undefined) return 'average';
  if (!CHOICE_MODES.includes(mode as ChoiceMode)) {
    throw new SemclipError('INVALID_ARGUMENT', `Unknown choices mode ${JSON.stringify(mode)}.`, { expected: `one of ${CHOICE_MODES.join(', ')}` });
  }
  return mode as ChoiceMode;
}

/** The texts to encode for one query; throws INVALID_QUESTION for an empty question. */
export function queryTexts(query: ScoreQuery, template: string | undefined, mode: ChoiceMode): string[] {
  if (typeof query !== 'object' || query === null || typeof query.question !== 'string') {
    throw new SemclipError('INVALID_QUESTION', 'The question must be a string.', { expected: '{ question: "What colour is the flag?" }' });
  }
  const question = query.question.replace(/\s+/g, ' ').trim();
  if (question === '') {
    throw new SemclipError('INVALID_QUESTION', 'The question is empty.', { expected: 'a question with at least one non-space character' });
  }
  let options: string[] = [];
  if (query.options !== undefined) {
    if (!Array.isArray(query.options) || query.options.some((o) => typeof o !== 'string')) {
      throw new SemclipError('INVALID_QUESTION', 'Multiple-choice options must be an array of strings.', { expected: 'options like ["red", "blue"]' });
    }
    options = query.options.map((o) => o.replace(/\s+/g, ' ').trim()).filter((o) => o !== '');
  }
  const fill = (text: string) => (template ? template.split('{}').join(text) : text);
  if (mode === 'ignore' || options.length === 0) return [fill(question)];
  if (mode === 'append') return [fill(`${question} ${options.join(' ')}`)];
  return options.map((o) => fill(`${question} ${o}`));
}

/**
 * What identifies a text's embedding: the text itself, or for a text longer than what
 * `tokenize` keeps, the kept prefix plus a marker (the embedding depends on nothing else).
 */
export function textCacheKey(text: string, maxTokens: number): string {
  const limit = maxTokens * CHARS_PER_TOKEN;
  return text.length > limit ? `${text.slice(0, limit)}\u0000` : text;
}

export interface TokenBatch {
  readonly inputs: Record<string, Tensor>;
  /** Per text: whether it was longer than the context and truncated. */
  readonly truncated: readonly boolean[];
}

/**
 * Tokenizes texts for the text tower: padded (`true` = to the longest, `max_length` = to the
 * context, as SigLIP was trained), truncated to `maxTokens`. A truncated row ends with the end
 * token again, as in Hugging Face Python (which truncates before adding special tokens), so
 * EOS/last-token pooling still reads the end token.
 *
 * Truncation is detected without a second tokenization: the tokenizer appends the end token, so
 * a full-length row whose last id is not the end token was cut. Texts longer than 32 characters
 * per token of context are cut before tokenizing (bounding the work on a 100k-character
 * question) and always count as truncated.
 */
export function tokenize(tokenizer: PreTrainedTokenizer, texts: readonly string[], maxTokens: number, padding: true | 'max_length'): TokenBatch {
  const limit = maxTokens * CHARS_PER_TOKEN;
  const cut = texts.map((t) => (t.length > limit ? t.slice(0, limit) : t));
  const encoded = (tokenizer as unknown as (t: string[], o: Record<string, unknown>) => Record<string, Tensor>)(cut, {
    padding,
    truncation: true,
    max_length: maxTokens,
  });
  const ids = encoded.input_ids;
  if (ids?.dims.length !== 2) throw new SemclipError('INTERNAL', 'The tokenizer returned no input_ids matrix.');
  const eos = (tokenizer as unknown as { eos_token_id?: number | null }).eos_token_id;
  const width = ids.dims[1]!;
  const data = ids.data as BigInt64Array;
  const truncated = cut.map((text, i) => {
    if (text !== texts[i]) return true;
    if (eos === undefined || eos === null) return tokenizer.encode(text).length > maxTokens;
    return width === maxTokens && data[i * width + width - 1] !== BigInt(eos);
  });
  if (eos !== undefined && eos !== null && width === maxTokens) {
    truncated.forEach((cutRow, i) => {
      if (cutRow) data[i * width + width - 1] = BigInt(eos);
    });
  }
  return { inputs: encoded, truncated };
}

/** Only the feeds a session declares (transformers.js warns about extra ones). */
export function pickInputs(inputs: Record<string, Tensor>, names: readonly string[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name of names) {
    const t = inputs[name];
    if (t) out[name] = t;
  }
  return out;
}
