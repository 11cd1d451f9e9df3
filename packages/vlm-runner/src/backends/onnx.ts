/**
 * The local backend's one door to @huggingface/transformers, which creates and runs the
 * onnxruntime-node sessions of local models. It loads lazily, so the `openai` backend never
 * loads ONNX Runtime. Device resolution, session settings and output checks are
 * @semclip/runtime's, shared with @semclip/scorers.
 */
export type Transformers = typeof import('@huggingface/transformers');

let transformers: Promise<Transformers> | undefined;

/**
 * Loads @huggingface/transformers (and with it onnxruntime-node) on first use. Its own logging
 * is lowered to errors: SemClip reports what matters through its own errors and warnings.
 */
export function loadTransformers(): Promise<Transformers> {
  transformers ??= import('@huggingface/transformers').then((mod) => {
    mod.env.logLevel = mod.LogLevel.ERROR;
    return mod;
  });
  return transformers;
}
