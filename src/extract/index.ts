// Public surface of the extract stage: dataset x prompt x model -> activation store, resumable and shardable
// (docs/extract.md), shard merging, the one-command pipeline, and the paper's 8-bit quantisation.

export { type ExtractionModel, extractBatch, hookWidth, type ObserverEdit } from './batch.js';
export {
  EXPERIMENT_MATHS,
  EXTRACT_MATHS,
  expectedStoreKey,
  type KeyDifference,
  keyDifferences,
  manifestKey,
  mismatchMessage,
  PROBE_MATHS,
  type StoreKey,
  shortKeyHash,
} from './cache-key.js';
export {
  configHash,
  DEFAULT_BATCH_SIZE,
  defaultBatchSize,
  type ExtractOptions,
  type ExtractResult,
  extract,
  LARGE_MODEL_BATCH_SIZE,
} from './extract.js';
export { creationTime } from './finish.js';
export { type MergeOptions, type MergeResult, mergeStores } from './merge.js';
export { maxTokenId, type PreparedRow, prepareRows, RANDOM_TOKEN_LOW } from './prepare.js';
export { barProgress, logProgress, type ProgressSink, silentProgress } from './progress.js';
export {
  dequantize,
  paperQuantize,
  type QuantizedMatrix,
  quantizePerChannel,
  roundHalfEven,
  roundThroughF16,
} from './quantize.js';
export { randomTokenIds } from './rng.js';
export {
  type Aggregation,
  type ExtractDtype,
  parseAggregation,
  parseDtype,
  parsePositiveInt,
  parseSeed,
  resolveShard,
  type Shard,
  shardOutDir,
  shardRows,
} from './spec.js';
export { extractStatic, isStaticModel, sliceDataset } from './static-route.js';
