// Public surface of the neurons / interventions / familiarity area (docs/neurons.md). The lead re-exports it from
// src/experiments/index.ts.
export type { FamiliarityProbeRow, FamiliarityScore, FamiliarityTemplate } from './familiarity.js';
export {
  answerOf,
  FAMILIARITY_FILE,
  FAMILIARITY_TEMPLATES,
  familiarityProbe,
  familiarityTemplate,
  quantile,
  readFamiliarity,
  scoreFamiliarity,
  writeFamiliarity,
} from './familiarity.js';
export type {
  CandidateScore,
  EditPositions,
  ProbeDirection,
  SteeringUnit,
  SweepOptions,
  SweepRow,
} from './intervene.js';
export {
  candidateIds,
  interveneSweep,
  logSoftmaxAt,
  probeDirection,
  promptIds,
  scoreCandidates,
  steeringEdit,
  steeringVector,
  typicalResidualNorm,
} from './intervene.js';
export type {
  ActivationSource,
  CorrelationHit,
  CorrelationSearchOptions,
  CorrelationSearchResult,
  CosineHit,
  CosineSearchOptions,
  NeuronWeights,
  ProbeDirections,
  SingleNeuronRow,
  WeightType,
} from './neurons.js';
export {
  correlationSearch,
  engineActivations,
  entityTypeColumn,
  neuronFeatures,
  neuronRows,
  probeCosineSearch,
  readProbeDirections,
  singleNeuronStats,
  storeActivations,
  weightTypes,
} from './neurons.js';
export type { RankedTarget, SingleFit } from './neurons-math.js';
export {
  matmulTransB,
  rankTarget,
  rmsNormRows,
  rowCosines,
  singleNeuronFit,
  spearmanColumns,
} from './neurons-math.js';
export type { CausalExperimentResult, NeuronProcedure, NeuronsOptions } from './neurons-run.js';
export { runNeurons, writeCausalResult } from './neurons-run.js';
