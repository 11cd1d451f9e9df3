/**
 * From a built prompt to model inputs: the chat template, one expanded image placeholder per
 * image, the family's processor; checked against the visual tokens per image and reported to
 * `onTrace`.
 */
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { BuiltPrompt } from '../_prompt.js';
import type { LocalCallContext } from './_context.js';
import type { Any } from './_families.js';
import { toRgb } from './_pixels.js';

/** Model inputs for one prompt, with its token counts. */
export interface CallInputs {
  readonly inputs: Record<string, Any>;
  readonly promptTokens: number;
  readonly imageTokens: number;
}

function countToken(ids: ArrayLike<bigint | number>, token: number): number {
  let n = 0;
  for (let i = 0; i < ids.length; i++) if (Number(ids[i]) === token) n++;
  return n;
}

/**
 * Chat template -> tokens with expanded image placeholders -> model inputs. Arms the vision
 * encoder check with the prompt's image tokens; the caller clears it after its forward pass.
 */
export async function prepareInputs(
  run: LocalCallContext,
  prompt: BuiltPrompt,
  call: 'answer' | 'choose' | 'answerLogprobs',
  signal: AbortSignal | undefined,
): Promise<CallInputs> {
  const { tokenizer, chatTemplate, family, familyContext, imageTokenId, visualTokensPerImage, label } = run;
  const images = await Promise.all(prompt.images.map((p, i) => toRgb(p.image, i)));
  throwIfAborted(signal);
  const messages = [{ role: 'user', content: [...images.map(() => ({ type: 'image' })), { type: 'text', text: prompt.text }] }];
  const text: string = tokenizer.apply_chat_template(messages, {
    tokenize: false,
    add_generation_prompt: true,
    ...(chatTemplate ? { chat_template: chatTemplate } : {}),
  });
  const inputs = await family.prepare(familyContext, text, images, visualTokensPerImage);
  const ids = inputs.input_ids.data as BigInt64Array;
  const imageTokens = countToken(ids, imageTokenId);
  if (imageTokens !== images.length * visualTokensPerImage) {
    throw new SemclipError(
      'MODEL_INVALID',
      `Model ${label}: the prompt has ${imageTokens} image tokens for ${images.length} image(s), expected ${images.length * visualTokensPerImage}.`,
      {
        hint: "The model's chat template does not place one image placeholder per image; use another model revision or report it",
        details: { imageTokens, images: images.length, visualTokensPerImage },
      },
    );
  }
  run.features.expected = imageTokens;
  run.onTrace?.({ kind: 'prompt', call, images: images.length, promptTokens: ids.length, imageTokens, inputIds: Array.from(ids, Number) });
  return { inputs, promptTokens: ids.length, imageTokens };
}
