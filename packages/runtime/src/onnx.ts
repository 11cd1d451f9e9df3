/**
 * `@semclip/runtime/onnx`: ONNX Runtime sessions. Importing this entry loads only
 * @semclip/core; onnxruntime-node is imported on the first `loadOnnxRuntime()` or
 * `createSession()`, so it must be installed next to the package that calls them.
 */
export { createSession, gpuUnavailable, loadOnnxRuntime, transformersSessionSettings } from './_session.js';
export type { OnnxRuntime, OnnxSession, OrtTensor, SessionOptions, TransformersSessionSettings } from './_session.js';
