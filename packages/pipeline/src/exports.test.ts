import { expect, it } from 'vitest';

// The public surface, listed: widening or narrowing it is a visible diff here.
it('exports exactly these names', async () => {
  expect(Object.keys(await import('./index.js')).sort()).toEqual([
    'ASK_MODES',
    'CLIP_MEAN_COLOUR',
    'DEFAULT_IMAGE_FORMAT',
    'MODEL_FAMILIES',
    'PADDING_CHOICES',
    'ZOOM_YESNO_PROMPT',
    'askWithSelection',
    'boxesSource',
    'buildPromptImages',
    'checkScorerOptions',
    'createPipeline',
    'defaultScorerId',
    'describePadding',
    'describeSelectOptions',
    'encoderSideOf',
    'familyOf',
    'getScorerFamily',
    'imagePolicyFor',
    'internvlTokens',
    'isVlmScorer',
    'listScorers',
    'llavaNextTokens',
    'openScorer',
    'paddedSize',
    'paddingFor',
    'planFor',
    'qwen2vlTokens',
    'registerScorer',
    'resolveImageFormat',
    'resolveZoomOptions',
    'sentSize',
    'zoomAsk',
  ]);
});
