export { SCORERS, createScorer, getScorerEntry, listScorers } from './_registry.js';
export type { ScorerEntry, ScorerId, ScorerOptions } from './_registry.js';
export { DEVICES, resolveDevice, cudaProviderInstalled } from './backends/_device.js';
export type { Device, ResolvedDevice, Warn } from './backends/_device.js';
// Types only (erased at runtime): reading an OCR scorer's meta never loads the OCR engine.
export type { OcrScorerOptions, OcrScoreMeta, OcrLine } from './ocr/index.js';
// Types only: reading a distant scorer's options never loads ONNX Runtime.
export type { DistantScorerOptions } from './distant/index.js';
// Types only: configuring a CLIP/SigLIP scorer never loads transformers.js.
export type { ClipScorer, ClipScorerOptions, ChoiceMode, DualEncoderInfo, DualEncoderStats } from './clip/index.js';
export type { SiglipScorer, SiglipScorerOptions } from './siglip/index.js';
