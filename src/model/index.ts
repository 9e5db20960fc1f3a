/**
 * Public surface of the model stage: checkpoints, Hub downloads, tokenizers, architectures and the hooked engine.
 *
 *   const model = await loadModel('EleutherAI/pythia-160m');           // or a local checkpoint directory
 *   const ids = [model.tokenizer!.bosId!, ...model.tokenizer!.encode('Paris').ids];
 *   const acts = await model.run([ids], { hooks: ['blocks.6.hook_resid_post'], positions: [-1] });
 *   acts.get('blocks.6.hook_resid_post');                              // Float32Array [1, d]
 *   await model.dispose();
 *
 * Families: llama (Llama-2/3, SmolLM), mistral, qwen2, qwen3, gemma, gemma2, gemma3_text, phi3, olmo2,
 * gpt_neox (Pythia), gpt2; one adapter file each under architectures/. Hooks: hook_embed, hook_pos_embed (GPT-2),
 * blocks.{l}.hook_resid_pre|hook_attn_out|hook_resid_mid|mlp.hook_post|hook_mlp_out|hook_resid_post (attn_out /
 * mlp_out: what each sub-block adds to the residual stream, after Gemma 2/3's and OLMo-2's post-norms),
 * ln_final.hook_normalized (the final norm's full output, weight and bias included,
 * i.e. Hugging Face's last hidden_states entry), logits. Results: [nSeq, width] with `positions`, else
 * [nSeq, longest length, width] with zeros past each sequence's end. Compute is f32 on onnxruntime; every hook
 * matches PyTorch float64 within 1e-5 relative (max-abs error / max-abs value) on the golden models.
 */
export type { Device, DeviceRequest, WebGpuProbe } from '../native/index.js';
export { DEVICE_CHOICES, probeWebGpu, resolveDevice } from '../native/index.js';
export { ARCHITECTURES, modelSpec, supportedModelTypes } from './architectures/index.js';
export type { Checkpoint, WeightDtype } from './checkpoint.js';
export { openCheckpoint } from './checkpoint.js';
export type { EditInfo, EngineOptions, HookEdit, RunOptions } from './hooked-model.js';
export { HookedModel, layerBytes } from './hooked-model.js';
export type { HookKind, ParsedHook } from './hooks.js';
export { hookNames, parseHook } from './hooks.js';
export type { DownloadProgress, HubRef, ResolveOptions, SnapshotPlan, SourceOptions } from './hub.js';
export {
  DEFAULT_HUB_URL,
  hubCacheDir,
  modelIdentity,
  offlineFromEnv,
  parseHubId,
  planSnapshot,
  resolveModelSource,
  sourceOptions,
} from './hub.js';
export { findHubToken, type HubToken, tokenPath } from './hub-auth.js';
export { type CheckpointIdentity, checkpointIdentity } from './identity.js';
export type { MemoryOptions, ModelInfo } from './info.js';
export { estimateExtractionMemory, formatModelInfo, modelInfo, usedParameterCount } from './info.js';
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
