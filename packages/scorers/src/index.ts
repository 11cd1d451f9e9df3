export { SCORERS, createScorer, getScorerEntry, listScorers } from './_registry.js';
export type { ScorerEntry, ScorerId, ScorerOptions } from './_registry.js';
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
