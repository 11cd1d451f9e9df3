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

export { MODEL_FAMILIES, familyOf, imagePolicyFor, internvlTokens, llavaNextTokens, qwen2vlTokens } from './_policy.js';
export type { ImagePolicy, ImagePolicyOptions, ModelFamily } from './_policy.js';

export { ASK_MODES, DEFAULT_IMAGE_FORMAT, askWithSelection, buildPromptImages, planFor, resolveImageFormat, sentSize } from './_ask.js';
export type { AskMode, AskOptions, AskResult, AskTimings, ImageFormat, SentImage } from './_ask.js';
