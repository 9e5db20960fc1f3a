// Public surface of the probe stage: ridge probes with exact LOO CV, the paper's metrics, per-layer store probing.
export type { AlphaGrid } from './alphas.js';
export { ALPHA_PRESETS, autoPreset, logspace, resolveAlphas } from './alphas.js';
export type { GroupBaseline, GroupScores, WithinGroupResult } from './group-control.js';
export { defaultGroupColumn } from './group-control.js';
export type { Metrics, SplitMetrics } from './metrics.js';
export {
  averageRanks,
  EARTH_RADIUS_KM,
  haversineKm,
  MIN_TEST_ROWS,
  pearson,
  pointMetrics,
  r2Column,
  spaceDistanceKm,
  spearman,
  splitMetrics,
} from './metrics.js';
export { fixed, formatResultsTable, resultsCsv, writeProbeResults } from './probe-output.js';
export type {
  LayerPredictions,
  LayerResult,
  ProbeOptions,
  ProbeResults,
  ProbeRun,
} from './probe-store.js';
export { PROBE_RESULTS_SCHEMA, probeStore } from './probe-store.js';
export type { DistanceMode, ProximityResult } from './proximity.js';
export {
  proximityCounts,
  proximityErrors,
  sphereCountsDense,
  sphereCountsTree,
  unitVectors,
} from './proximity.js';
export type { Floats, Matrix, RidgeCvResult, RidgeModel, RidgeOptions } from './ridge.js';
export { fitRidge, ridgeLoo, ridgePredict } from './ridge.js';
export { gatherRows } from './rows.js';
export { shuffleWithinGroups } from './shuffle.js';
export type { TargetTransform, TargetVariant } from './targets.js';
export {
  DEFAULT_REFERENCE_YEAR,
  lonLatOfVectors,
  TARGET_VARIANTS,
  targetTransform,
} from './targets.js';
export { allWarnings, alphaEdgeWarning, sizeWarnings } from './warnings.js';
