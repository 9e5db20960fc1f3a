// Public surface of the SAE stage (docs/sae.md): training, SAELens-layout IO, feature analysis.

export type {
  FeatureGroupStats,
  ProbeComparison,
  ReconstructionMetrics,
  SparseActivations,
} from './features.js';
export { compareProbes, featureTable, runSae, SAE_FEATURES_FORMAT, topFeatures } from './features.js';
export type { EpochStats, SaeTrainOptions, SaeTrainResult } from './fit.js';
export { trainSae } from './fit.js';
export type { SaeArchitecture, SaeParams } from './model.js';
export { encodeSae, forEachChunk } from './model.js';
export type { AnalyseOptions, FeatureReport, TrainOnStoreOptions } from './run.js';
export {
  analyseFeatures,
  FEATURES_CSV,
  FEATURES_JSON,
  storeHook,
  TRAINING_LOG_FILE,
  trainOnStore,
} from './run.js';
export type { LoadedSae, SaeProvenance } from './saelens.js';
export { loadSae, SAE_CFG_FILE, SAE_WEIGHTS_FILE, saveSae } from './saelens.js';
export type { AdamOptions, StepStats, TrainArchitecture } from './train.js';
export { initSae, SaeTrainer } from './train.js';
