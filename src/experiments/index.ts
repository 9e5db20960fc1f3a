// Public surface of the experiments stage: the paper's robustness experiments (docs/method.md#mlp, #pca, #block-holdout, #prompt-experiments).

export { Rng } from '../util/rng.js';
export { type BiasResult, olsLine, rowErrors, runBias } from './bias.js';
export {
  centroidAngle,
  type HoldoutOptions,
  type HoldoutResult,
  initialBearing,
  runHoldout,
  sphericalCentroid,
} from './holdout.js';
export { fullHookName, type LayerData } from './layer-data.js';
export {
  type Distance,
  defaultDistance,
  experimentAlphaGrid,
  type LinearFit,
  type ScalarMetrics,
} from './linear.js';
export {
  DEFAULT_WEIGHT_DECAYS,
  fitMlpProbe,
  initMlp,
  type MlpFit,
  type MlpFitOptions,
  type MlpParams,
  MlpTrainer,
  mlpPredict,
  predictMlpProbe,
} from './mlp.js';
export { type MlpExperimentLayer, runMlpExperiment } from './mlp-experiment.js';
export {
  localMoran,
  moranColumns,
  moranInference,
  moranPermutationTest,
  normalSf,
  type SpatialWeights,
  sphereKnnWeights,
} from './moran.js';
export {
  negativeControlTargets,
  permutedTargets,
  probeTargetSets,
  smoothSphereFields,
  smoothTimeFields,
} from './negative-controls.js';
export {
  type ExperimentName,
  type ExperimentResult,
  formatTable,
  type Row,
  type Table,
  toCsv,
  writeExperimentResult,
} from './output.js';
export { type PcaOptions, type PcaResult, pca, projectOntoComponents } from './pca.js';
export { PAPER_PCA_KS, type PcaExperiment, runPcaExperiment } from './pca-experiment.js';
export { type PlsFit, type PlsOptions, plsDirection, plsRegression } from './pls.js';
export { type PlsExperiment, runPlsExperiment } from './pls-experiment.js';
export { type LayerLoader, promptSensitivity, promptTransfer, type TransferResult } from './prompts.js';
export {
  type CommonOptions,
  holdoutExperiment,
  mlpExperiment,
  pcaExperiment,
} from './run.js';
export {
  biasExperiment,
  DEFAULT_PLS_COMPONENTS,
  negativeControlsExperiment,
  plsExperiment,
  spatialExperiment,
} from './run-followups.js';
export { promptsExperiment } from './run-prompts.js';
export {
  PAPER_FIXED_ALPHA,
  PAPER_LAYERS,
  paperExperimentLayer,
  paperFixedAlpha,
} from './settings.js';
export { type LayerSource, openLayerSource } from './source.js';
export { runSpatial, type SpatialResult, type UnitMap, type UnitSource } from './spatial-experiment.js';
