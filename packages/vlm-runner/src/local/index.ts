/**
 * The `local` backend: vision-language models run in this process on ONNX Runtime (CPU or
 * CUDA) through @huggingface/transformers 4.3.2, with model files from @semclip/hub's cache.
 *
 * The work is split by job: `_load.ts` (model folder, sessions, checks), `_inputs.ts` (chat
 * template and processor), `_generate.ts` (answer), `_loglik.ts` (choose, answerLogprobs),
 * `_embeddings.ts` (embedImages, embedText); this file validates options and wires them up.
 */
import { Semaphore, SemclipError, defineRunner, throwIfAborted } from '@semclip/core';
import type { VlmCapabilities } from '@semclip/core';
import { resolveDevice } from '@semclip/runtime';
import { localIntOption } from './_context.js';
import type { LocalCallContext } from './_context.js';
import { clsSourceOf, hiddenStateOutput } from './_embed.js';
import { defaultTextRepresentation, embedImages, embedText } from './_embeddings.js';
import { generateAnswer } from './_generate.js';
import { loadModel } from './_load.js';
import { answerLogprobs, chooseByLikelihood } from './_loglik.js';
import type { LocalRunner, LocalRunnerOptions } from './_types.js';

export { LOCAL_DTYPES, LOCAL_SESSIONS, parseDtypeSpec } from './_files.js';
export type { LocalDtype, LocalSession } from './_files.js';
export type { ClsSource, ImagePool, TextRepresentation } from './_embed.js';
export type { AnswerLogprobs, AnswerLogprobsRequest } from '../_answer-logprobs.js';
export type { FamilyName as LocalModelFamily } from './_families.js';
export type { Device, ResolvedDevice } from '@semclip/runtime';
export type {
  EmbedImagesOptions,
  EmbedTextOptions,
  ImageEmbeddings,
  LocalRequestExtras,
  LocalRunner,
  LocalRunnerOptions,
  LocalTraceEvent,
  TextEmbedding,
} from './_types.js';

/**
 * A `VlmRunner` that runs a vision-language model in this process: LLaVA-1.5 / LLaVA-interleave
 * (LlavaForConditionalGeneration), LLaVA-OneVision, SmolVLM / Idefics3 and Qwen2-VL, on
 * onnxruntime-node (CPU, or CUDA where its provider is installed). Greedy and deterministic;
 * the overview and the selected regions go into one prompt as separate images; `choose`
 * scores options by log-likelihood. Calls are serialised (one forward pass at a time).
 *
 * @example
 * ```ts
 * import { createLocalRunner } from '@semclip/vlm-runner/local';
 *
 * const runner = await createLocalRunner({ model: 'llava-interleave-qwen-0.5b', device: 'auto' });
 * const { text } = await runner.answer({
 *   images: [{ role: 'overview', image: overview }, { role: 'region', image: crop, position: 'top-right' }],
 *   question: 'What does the sign say?',
 * });
 * const choice = await runner.choose({ images: [{ role: 'overview', image: overview }], question: 'Which colour?', options: ['red', 'blue'] });
 * choice.index; // argmax of choice.scores (summed log-probabilities)
 * await runner.dispose();
 * ```
 */
export async function createLocalRunner(options: LocalRunnerOptions): Promise<LocalRunner> {
  if (!options || (typeof options.model !== 'string' && (typeof options.model !== 'object' || options.model === null))) {
    throw new SemclipError('INVALID_ARGUMENT', 'The local runner needs a model.', {
      expected: 'model: a model id like llava-interleave-qwen-0.5b, or a model folder path',
    });
  }
  const defaultMaxTokens = localIntOption('maxTokens', options.maxTokens, 128);
  const imageSide = localIntOption('imageSide', options.imageSide, 448);
  const chooseBy = options.chooseBy ?? 'letter';
  if (chooseBy !== 'letter' && chooseBy !== 'text') {
    throw new SemclipError('INVALID_ARGUMENT', `chooseBy "${String(chooseBy)}" is not known.`, { expected: "'letter' or 'text'" });
  }
  if (options.intraOpNumThreads !== undefined) localIntOption('intraOpNumThreads', options.intraOpNumThreads, 1);
  const device = resolveDevice(options.device ?? 'auto', options.warn);

  const loaded = await loadModel(options, device, imageSide);
  const { model, label } = loaded;
  let disposed = false;
  try {
    const id = options.id ?? `local:${typeof options.model === 'string' ? options.model : options.model.id}`;
    const lock = new Semaphore(1);
    const run: LocalCallContext = {
      tf: loaded.tf,
      model,
      tokenizer: loaded.tokenizer,
      family: loaded.family,
      familyContext: loaded.familyContext,
      label,
      chatTemplate: loaded.chatTemplate,
      imageTokenId: loaded.imageTokenId,
      visualTokensPerImage: loaded.visualTokensPerImage,
      hiddenOutput: hiddenStateOutput(model.sessions.decoder_model_merged?.outputNames),
      clsSource: clsSourceOf(loaded.config, loaded.visualTokensPerImage, model.sessions.vision_encoder?.outputNames),
      features: loaded.features,
      lock,
      buildOptions: { layout: 'separate' as const, ...(options.templates ? { templates: options.templates } : {}) },
      onTrace: options.onTrace,
      checkOpen(signal) {
        if (disposed)
          throw new SemclipError('INVALID_ARGUMENT', `Runner ${id} was disposed; its ONNX sessions are closed.`, {
            hint: 'Create a new runner with createRunner()',
          });
        throwIfAborted(signal);
      },
    };

    const runner: LocalRunner = defineRunner({
      kind: 'local' as const,
      id,
      model: label,
      family: loaded.family.name,
      device,
      dtypes: loaded.dtypes,
      dir: loaded.dir,
      visualTokensPerImage: loaded.visualTokensPerImage,
      textRepresentation: defaultTextRepresentation(run),
      clsSource: run.clsSource,
      capabilities: { multiImage: loaded.family.multiImage(loaded.config), logprobs: true, embeddings: true } satisfies VlmCapabilities,
      answer: (request) => generateAnswer(run, request, defaultMaxTokens),
      choose: (request) => chooseByLikelihood(run, request, chooseBy),
      embedImages: (images, embedOptions) => embedImages(run, images, embedOptions),
      embedText: (text, embedOptions) => embedText(run, text, embedOptions),
      answerLogprobs: (request) => answerLogprobs(run, request),
      async dispose(): Promise<void> {
        if (disposed) return;
        disposed = true;
        // Let a call in flight finish before its sessions go away.
        await lock.run(async () => {
          await model.dispose();
        });
      },
    });
    return runner;
  } catch (err) {
    disposed = true;
    await model.dispose().catch(() => undefined);
    throw err;
  }
}
