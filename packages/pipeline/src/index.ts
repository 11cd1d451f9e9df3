export { createPipeline, describeSelectOptions } from './_pipeline.js';
export type {
  SelectionSetup,
  OverlayInput,
  Pipeline,
  PipelineAskInput,
  PipelineOptions,
  PipelineRun,
  PipelineStage,
  PipelineTimings,
  RunInput,
} from './_pipeline.js';

export { checkScorerOptions, defaultScorerId, getScorerFamily, isVlmScorer, listScorers, openScorer, registerScorer } from './_registry.js';
export type { BuiltinScorerId, CommonScorerOptions, ScorerFamily, ScorerOptionsById, ScoringRunnerKind } from './_registry.js';

export {
  CLIP_MEAN_COLOUR,
  MODEL_FAMILIES,
  PADDING_CHOICES,
  describePadding,
  familyOf,
  imagePolicyFor,
  internvlTokens,
  llavaNextTokens,
  paddedSize,
  paddingFor,
  qwen2vlTokens,
} from './_policy.js';
export type { ImagePolicy, ImagePolicyOptions, ModelFamily, PaddingChoice } from './_policy.js';

export { ASK_MODES, DEFAULT_IMAGE_FORMAT, askWithSelection, buildPromptImages, planFor, resolveImageFormat, sentSize } from './_ask.js';
export type { AskMode, AskOptions, AskResult, AskTimings, ImageFormat, SentImage } from './_ask.js';

export { ZOOM_TARGET_PROMPT, ZOOM_YESNO_PROMPT, boxesSource, encoderSideOf, resolveZoomOptions, zoomAsk, zoomOverlay } from './_zoom.js';
export type { ZoomInput, ZoomOptions, ZoomResult, ZoomStep, ZoomTarget } from './_zoom.js';

export { PACK_NOTE, composePack, packAsk, packGrid, targetPhrases } from './_pack.js';
export type { PackOptions, PackResult, PackedCell } from './_pack.js';
