export { select } from './_select.js';
export { rankTiles } from './_rank.js';
export type { ScoresInput } from './_rank.js';
export { defineSelectOptions, DEFAULT_TOKENS_PER_IMAGE, DEFAULT_MARGIN, DEFAULT_THRESHOLD } from './_options.js';
export type { SelectOptions, TopKSelectOptions, AdaptiveSelectOptions, CommonSelectOptions } from './_options.js';
export { optionConfidence, packLayout, quadtreeChildren, zoomWeight } from './_search.js';
export type { PackCell, PackPlacement } from './_search.js';
