/**
 * `embedImages` / `embedText`: the model's own embeddings, images through the vision encoder
 * (and projector) in one batched run as their projected CLS token or the mean of their visual
 * tokens, texts as the decoder's last hidden state or the mean of their input embeddings. The
 * pooling arithmetic is in `_embed.ts`.
 */
import { SemclipError, throwIfAborted } from '@semclip/core';
import type { EncodedImage, RawImage } from '@semclip/core';
import { assertFinite } from '@semclip/runtime';
import { floatData, ones, runError } from './_context.js';
import type { LocalCallContext } from './_context.js';
import { CLS_OUTPUT, IMAGE_POOLS, firstRows, lastTokenState, meanPoolGroups } from './_embed.js';
import type { ImagePool, TextRepresentation } from './_embed.js';
import type { Any } from './_families.js';
import { toRgb } from './_pixels.js';
import type { EmbedImagesOptions, EmbedTextOptions, ImageEmbeddings, TextEmbedding } from './_types.js';

/** What `embedText` uses by default: the decoder's hidden state when the export has it, else mean input embeddings. */
export function defaultTextRepresentation(run: Pick<LocalCallContext, 'hiddenOutput'>): TextRepresentation {
  return run.hiddenOutput ? 'last-hidden-state' : 'mean-input-embeddings';
}

/**
 * Every image through the vision encoder in one run; each image's visual tokens mean-pooled,
 * or its projected CLS token taken (`pool: 'cls'`, where the export gives it).
 */
export async function embedImages(
  run: LocalCallContext,
  images: readonly (RawImage | EncodedImage)[],
  embedOptions: EmbedImagesOptions = {},
): Promise<ImageEmbeddings> {
  const { model, family, familyContext, visualTokensPerImage, label, clsSource } = run;
  const signal = embedOptions.signal;
  run.checkOpen(signal);
  const start = performance.now();
  if (!Array.isArray(images) || images.length === 0) {
    throw new SemclipError('INVALID_ARGUMENT', 'embedImages() needs at least one image.', { expected: 'an array of RawImage or EncodedImage' });
  }
  const pool: ImagePool = embedOptions.pool ?? 'mean';
  if (!IMAGE_POOLS.includes(pool)) {
    throw new SemclipError('INVALID_ARGUMENT', `Image pooling "${String(pool)}" is not known.`, { expected: "'cls' or 'mean'" });
  }
  if (pool === 'cls' && clsSource === undefined) {
    throw new SemclipError('UNSUPPORTED_CAPABILITY', `Model ${label}: its ONNX vision encoder does not give the projected CLS token.`, {
      expected: `a vision encoder that keeps CLS as each image's first feature (a CLIP tower exported with vision_feature_select_strategy "full") or outputs ${CLS_OUTPUT}`,
      hint: "Use pool 'mean' (the mean of the visual tokens), or a model exported with its CLS token",
      details: { outputs: model.sessions.vision_encoder?.outputNames, visualTokensPerImage },
    });
  }
  const rgb = await Promise.all(images.map((im, i) => toRgb(im, i)));
  throwIfAborted(signal);
  return run.lock.run(async () => {
    run.checkOpen(signal);
    if (pool === 'cls' && clsSource === 'cls_features') {
      // The CLS output of its own: one run of the vision encoder that reads only that output.
      // transformers.js 4.3.2's encode_image returns image_features alone; _encode_input (the
      // method it calls) returns any one output of a session.
      let cls: Any;
      try {
        cls = await model._encode_input('vision_encoder', await family.visionInputs(familyContext, rgb), CLS_OUTPUT);
      } catch (err) {
        throw runError(label, err, `encoding images (${CLS_OUTPUT})`);
      }
      const dims: number[] = cls?.dims ?? [];
      const dim = dims.at(-1) as number;
      const rows = dims.slice(0, -1).reduce((a, b) => a * b, 1);
      if (!cls || rows !== rgb.length) {
        throw new SemclipError(
          'MODEL_OUTPUT_INVALID',
          `Model ${label}: the vision encoder's ${CLS_OUTPUT} has shape [${dims.join(', ')}] for ${rgb.length} image(s).`,
          {
            expected: `[${rgb.length}, hidden] or [${rgb.length}, 1, hidden]`,
          },
        );
      }
      const data = floatData(cls);
      assertFinite(data, `Model ${label}: the ${CLS_OUTPUT}`);
      run.onTrace?.({ kind: 'vision', batch: rgb.length, featureTokens: rows });
      return { vectors: firstRows(data, rgb.length, 1, dim), pool, dim, tokensPerImage: 1, visionRuns: 1, latencyMs: performance.now() - start };
    }
    let features: Any;
    // The wrapped encode_image checks the count and reports the batch to onTrace.
    run.features.expected = rgb.length * visualTokensPerImage;
    try {
      features = await model.encode_image(await family.visionInputs(familyContext, rgb));
    } catch (err) {
      throw runError(label, err, 'encoding images');
    } finally {
      run.features.expected = undefined;
    }
    const dims: number[] = features.dims;
    const dim = dims.at(-1) as number;
    const data = floatData(features);
    assertFinite(data, `Model ${label}: the image features`);
    return {
      // first-token: CLIP's CLS is each image's first projected feature.
      vectors: pool === 'cls' ? firstRows(data, rgb.length, visualTokensPerImage, dim) : meanPoolGroups(data, rgb.length, visualTokensPerImage, dim),
      pool,
      dim,
      tokensPerImage: pool === 'cls' ? 1 : visualTokensPerImage,
      visionRuns: 1,
      latencyMs: performance.now() - start,
    };
  }, signal);
}

/** The text's representation (see `EmbedTextOptions.representation`), in the image vectors' space. */
export async function embedText(run: LocalCallContext, text: string, embedOptions: EmbedTextOptions = {}): Promise<TextEmbedding> {
  const { tf, model, tokenizer, hiddenOutput, label } = run;
  const signal = embedOptions.signal;
  run.checkOpen(signal);
  const start = performance.now();
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (!trimmed) throw new SemclipError('INVALID_QUESTION', 'The text to embed is empty.', { expected: 'a non-empty string' });
  const wanted = embedOptions.representation ?? 'auto';
  if (wanted !== 'auto' && wanted !== 'last-hidden-state' && wanted !== 'mean-input-embeddings') {
    throw new SemclipError('INVALID_ARGUMENT', `Text representation "${String(wanted)}" is not known.`, {
      expected: "'auto', 'last-hidden-state' or 'mean-input-embeddings'",
    });
  }
  const representation: TextRepresentation = wanted === 'auto' ? defaultTextRepresentation(run) : wanted;
  if (representation === 'last-hidden-state' && !hiddenOutput) {
    throw new SemclipError('UNSUPPORTED_CAPABILITY', `Model ${label}: its ONNX decoder has no hidden-state output (last_hidden_state or hidden_states).`, {
      hint: "Use representation 'mean-input-embeddings' (or 'auto'), or export the decoder with hidden states",
      details: { outputs: model.sessions.decoder_model_merged?.outputNames },
    });
  }
  return run.lock.run(async () => {
    run.checkOpen(signal);
    // The mean of input embeddings leaves out special tokens (a BOS would pull every
    // question the same way); the decoder sees the text as the tokenizer writes it.
    const encoded = tokenizer(trimmed, representation === 'mean-input-embeddings' ? { add_special_tokens: false } : {});
    const tokens: number = encoded.input_ids.dims[1];
    if (!(tokens > 0)) throw new SemclipError('INVALID_QUESTION', 'The text to embed tokenises to nothing.', { expected: 'a non-empty string' });
    let vector: Float32Array;
    try {
      if (representation === 'mean-input-embeddings') {
        const embeds = await model.encode_text({ input_ids: encoded.input_ids });
        const dims: number[] = embeds.dims;
        const data = floatData(embeds);
        assertFinite(data, `Model ${label}: the input embeddings`);
        vector = meanPoolGroups(data, 1, tokens, dims.at(-1) as number)[0]!;
      } else {
        const out = await model({ input_ids: encoded.input_ids, attention_mask: encoded.attention_mask ?? ones(tf, 1, tokens) });
        const states = out[hiddenOutput as string];
        if (!states) throw new SemclipError('MODEL_OUTPUT_INVALID', `Model ${label}: the decoder returned no ${hiddenOutput}.`);
        const data = floatData(states);
        assertFinite(data, `Model ${label}: the decoder's ${hiddenOutput}`);
        vector = lastTokenState(states.dims, data, `Model ${label}: the decoder's ${hiddenOutput}`);
      }
    } catch (err) {
      throw runError(label, err, 'embedding the text');
    }
    return { vector, representation, tokens, latencyMs: performance.now() - start };
  }, signal);
}
