// Public surface of the model stage: checkpoints, tokenizers, architectures and the hooked engine.
export { ARCHITECTURES, modelSpec, supportedModelTypes } from './architectures/index.js';
export type { Checkpoint, WeightDtype } from './checkpoint.js';
export { openCheckpoint } from './checkpoint.js';
export type { EditInfo, EngineOptions, HookEdit, RunOptions } from './hooked-model.js';
export { HookedModel, layerBytes } from './hooked-model.js';
export type { HookKind, ParsedHook } from './hooks.js';
export { hookNames, parseHook } from './hooks.js';
export type { DownloadProgress, HubRef, ResolveOptions } from './hub.js';
export { DEFAULT_HUB_URL, parseHubId, resolveModelSource } from './hub.js';
export type { MemoryOptions, ModelInfo } from './info.js';
export { estimateExtractionMemory, formatModelInfo, modelInfo } from './info.js';
export type { LoadModelOptions } from './load.js';
export { inspectCheckpoint, loadModel } from './load.js';
export type {
  Activation,
  Architecture,
  LayerNames,
  ModelSpec,
  NormKind,
  QkvLayout,
  WeightSource,
} from './spec.js';
export type {
  BosRule,
  LoadTokenizerOptions,
  ModelTokenizer,
  ProbeEncoding,
  TokenEncoding,
} from './tokenizer.js';
export { encodeForProbe, entityTokenSpan, loadTokenizer } from './tokenizer.js';
