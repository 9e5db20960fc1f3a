// Public surface of the neurons / interventions / familiarity area (docs/neurons.md). The lead re-exports it from
// src/experiments/index.ts.

export type { AblationEntityRow, AblationOptions, AblationResult, AblationSummaryRow } from './ablation.js';
export { probeAblation } from './ablation.js';
export type { EditedScores, EditSite, ScoredPrompt, StreamEdit } from './causal-edits.js';
export { orthonormalBasis, randomSubspaces, scoreUnderEdits } from './causal-edits.js';
export type { AblateRunOptions, CausalCommon, PatchRunOptions } from './causal-run.js';
export { defaultCausalLayer, EXTRA_ATTRIBUTES, runAblation, runPatching } from './causal-run.js';
export type { ExpertRoutingOptions } from './experts.js';
export { EXPERT_WEIGHTS_HOOK, equalCountBins, expertLayers, expertRouting, topExperts } from './experts.js';
export type {
  FamiliarityProbeRow,
  FamiliarityScore,
  FamiliarityScoreKind,
  FamiliarityTemplate,
} from './familiarity.js';
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
  RandomBand,
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
export type { InterveneRunOptions } from './intervene-run.js';
export { runIntervene } from './intervene-run.js';
export type { NeuronWeights, WeightType } from './neuron-weights.js';
export { neuronRows, weightTypes } from './neuron-weights.js';
export type {
  ActivationSource,
  CorrelationHit,
  CorrelationSearchOptions,
  CorrelationSearchResult,
  CosineHit,
  CosineSearchOptions,
  ProbeDirections,
  SingleNeuronRow,
} from './neurons.js';
export {
  correlationSearch,
  engineActivations,
  entityTypeColumn,
  neuronFeatures,
  probeCosineSearch,
  readProbeDirections,
  singleNeuronStats,
  storeActivations,
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
export type {
  Measure,
  PatchCell,
  PatchEffect,
  PatchEntity,
  PatchingOptions,
  PatchingResult,
  ReadoutEditOptions,
  SteeringDirection,
} from './patching.js';
export { directedPatching, doseResponse, sideEffectCells } from './patching.js';
export type { Readout, ReadoutCandidate, ReadoutPrompt } from './readouts.js';
export { defaultReadouts, expectedAnswer, readoutPrompt } from './readouts.js';
