// The one registry of scorer families (by id, with the VLM scorers) is @semclip/pipeline's
// openScorer; here each family has its own subpath (@semclip/scorers/ocr, /clip, /siglip,
// /distant, /random) and the root names only types and devices.
// Device resolution lives in @semclip/runtime; re-exported so the CLI and server can list devices from here.
export { DEVICES, resolveDevice, cudaProviderInstalled } from '@semclip/runtime';
export type { Device, ResolvedDevice, Warn } from '@semclip/runtime';
// Types only (erased at runtime): reading an OCR scorer's meta never loads the OCR engine.
export type { OcrScorerOptions, OcrScoreMeta, OcrLine } from './ocr/index.js';
// Types only: reading a distant scorer's options never loads ONNX Runtime.
export type { DistantScorerOptions } from './distant/index.js';
// Types only: configuring a CLIP/SigLIP scorer never loads transformers.js.
export type { ClipScorer, ClipScorerOptions, ChoiceMode, DualEncoderInfo, DualEncoderStats } from './clip/index.js';
export type { SiglipScorer, SiglipScorerOptions } from './siglip/index.js';
