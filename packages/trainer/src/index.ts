// Labelling: the VLM judges each tile; positives and negatives go to a resumable JSONL file.
export { labelDataset } from './label/_label.js';
export type { LabelOptions, LabelProgress, LabelSummary } from './label/_label.js';
export type { LabelsHeader, LabelledRecord, SkippedRecord, ItemRecord, LabelCounts } from './label/_records.js';

// Training: the relevance head over frozen embeddings.
export { trainHead, evaluateHead, DEFAULT_HYPERPARAMETERS } from './train/_train.js';
export type { TrainingItem, TrainingSet, Hyperparameters, HoldoutMetrics, EpochReport, TrainOptions, TrainResult } from './train/_train.js';
export { headScores } from './train/_head-math.js';
export type { HeadParams } from './train/_head-math.js';

// Export: ONNX graph, loss chart.
export { headToOnnx } from './export/_onnx.js';
export { lossChartSvg } from './export/_chart.js';
export { writeHeadFolder } from './export/_head-dir.js';
export type { WriteHeadOptions, WrittenHead } from './export/_head-dir.js';

// From a labels file to a head in the model cache.
export { trainFromLabels } from './train/_train-labels.js';
export type { TrainFromLabelsOptions, TrainFromLabelsResult, EmbedProgress } from './train/_train-labels.js';
