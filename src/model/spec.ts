/**
 * The engine's normalised view of a checkpoint: every architecture adapter turns a Hugging Face `config.json`
 * (plus the tensor names present) into one `ModelSpec`, which is all the graphs and the runner look at.
 */
import type { SafetensorsDtype } from '../formats/safetensors.js';
import { UserError } from '../util/errors.js';

/** What the engine needs from a checkpoint (the loading side's `Checkpoint` satisfies it). */
export interface WeightSource {
  dir: string;
  config: Record<string, unknown>;
  tensorNames: string[];
  has(name: string): boolean;
  info(name: string): { dtype: SafetensorsDtype; shape: number[] };
  /** `into`: a buffer of the tensor's size the source may fill and return instead of a fresh one. */
  readFloat32(name: string, into?: Float32Array<ArrayBuffer>): Promise<Float32Array>;
  close?(): Promise<void>;
}

export type NormKind = 'rms' | 'layer';
/** `gelu` = exact erf GELU; `gelu_tanh` = the tanh approximation (GPT-2's gelu_new, gelu_pytorch_tanh). */
export type Activation = 'silu' | 'gelu' | 'gelu_tanh' | 'relu';
/**
 * separate q/k/v; `neox`: one fused matrix grouped per head as [q|k|v]; `gpt2`: fused, split in thirds;
 * `fused`: one [q|k|v] matrix on the output axis with grouped-query widths (Phi-3's qkv_proj).
 */
export type QkvLayout = 'separate' | 'neox' | 'gpt2' | 'fused';

/** Rotary embedding on the first `dim` dims of each head (rotate-half pairing). */
export interface Rotary {
  dim: number;
  invFreq: Float64Array;
  /** cos and sin are multiplied by this (longrope's attention factor); default 1. */
  attentionScale?: number;
  /** Longest sequence these frequencies hold for (longrope's short factors: original_max_position_embeddings). */
  maxPositions?: number;
}

/** Tensor names of one block. Optional ones are absent from the checkpoint (no bias, no gate...). */
export interface LayerNames {
  /** Pre-attention norm (absent in OLMo-2, whose norms follow the sub-blocks). */
  ln1?: string;
  ln1Bias?: string;
  /** Pre-MLP norm (Gemma 2/3's pre_feedforward_layernorm; absent in OLMo-2). */
  ln2?: string;
  ln2Bias?: string;
  /** Norm of the attention output before it joins the residual (Gemma 2/3, OLMo-2). */
  postAttnNorm?: string;
  /** Norm of the MLP output before it joins the residual (Gemma 2/3, OLMo-2). */
  postMlpNorm?: string;
  /** RMSNorm of the projected queries/keys before rotary (Qwen3, Gemma 3: per head; OLMo-2: full width). */
  qNorm?: string;
  kNorm?: string;
  q?: string;
  k?: string;
  v?: string;
  qBias?: string;
  kBias?: string;
  vBias?: string;
  qkv?: string;
  qkvBias?: string;
  o: string;
  oBias?: string;
  gate?: string;
  gateBias?: string;
  /** gate and up fused on the output axis, gate first (Phi-3's gate_up_proj); replaces gate and up. */
  gateUp?: string;
  up?: string;
  upBias?: string;
  /** The dense MLP's down projection (absent in a mixture-of-experts layer). */
  down?: string;
  downBias?: string;
  /** A mixture-of-experts layer's router and experts (then gate/up/down are absent). */
  moe?: MoeNames;
}

/** Tensor names of one mixture-of-experts layer. */
export interface MoeNames {
  /** The router, [n_experts, d]. */
  router: string;
  /** Expert e's gate, up and down ([m, d], [m, d], [d, m]): the layout the released checkpoints use. */
  expert?: (e: number) => { gate: string; up: string; down: string };
  /** transformers 5's fused layout: gate_up [n_experts, 2m, d] (each expert's gate rows, then its up rows), down [n_experts, d, m]. */
  fused?: { gateUp: string; down: string };
  /** Qwen2-MoE's shared expert (a dense gated MLP) and its gate [1, d], applied as sigmoid(gate · x). */
  shared?: { gate: string; up: string; down: string; gateWeight: string };
}

/**
 * A mixture-of-experts MLP (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE): p = softmax(router · x) over all experts in
 * float32, the top-k experts by p, their p renormalised to sum 1 when `normTopK`, and the output
 * Σ p_e · down_e(act(gate_e · x) · up_e · x) over the chosen experts only (plus the gated shared expert).
 */
export interface MoeSpec {
  nExperts: number;
  topK: number;
  /** Each expert's hidden width (moe_intermediate_size; Mixtral and OLMoE: intermediate_size). */
  dExpert: number;
  /** Divide the chosen experts' probabilities by their sum (Mixtral always; the others: norm_topk_prob). */
  normTopK: boolean;
  /** Whether layer l is sparse (Qwen's decoder_sparse_step and mlp_only_layers); dense layers use an MLP of dMlp. */
  sparseLayer: (layer: number) => boolean;
  /** Qwen2-MoE's shared-expert width. */
  dShared?: number;
}

export interface ModelSpec {
  /** The config's model_type (llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, gemma3, olmo, granite, ...). */
  modelType: string;
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  dMlp: number;
  vocabSize: number;
  /** Longest sequence the model supports (learned positions make this a hard limit). */
  maxPositions?: number;
  norm: NormKind;
  normEps: number;
  act: Activation;
  /** act(gate(x)) * up(x) (Llama family) instead of act(up(x)). */
  gated: boolean;
  qkv: QkvLayout;
  /** `out_in`: nn.Linear weights [out, in]; `in_out`: GPT-2 Conv1D weights [in, out]. */
  linear: 'out_in' | 'in_out';
  /** Rotary embedding of the (global) attention layers, or none (learned positions). */
  rotary?: Rotary;
  /** Rotary embedding of the sliding-window layers when it differs (Gemma 3's rope_local_base_freq, OLMo 3's unscaled one). */
  localRotary?: Rotary;
  /** Layers that skip rotary (SmolLM3's NoPE layers, no_rope_layers 0); default none. */
  noRopeLayer?: (layer: number) => boolean;
  /** Attention and MLP both read the block input (GPT-NeoX/Pythia); then there is no hook_resid_mid. */
  parallelResidual: boolean;
  /** Query·key scale of each layer (1/√head_dim, GPT-2 may divide by layer+1). */
  attnScale: (layer: number) => number;
  /** Attend only to the last `slidingWindow` positions (Mistral), in every layer unless `slidingLayer` says. */
  slidingWindow?: number;
  /** Which layers use the sliding window (Gemma 2 alternates, Gemma 3 follows layer_types); default all. */
  slidingLayer?: (layer: number) => boolean;
  /** RMSNorm multiplies by (1 + weight) (Gemma), every norm including q/k norms and the final norm. */
  normPlusOne?: boolean;
  /** Embeddings are multiplied by this (Gemma: √d_model, rounded to the checkpoint's dtype by the engine). */
  embedScale?: number;
  /** Attention scores become cap·tanh(scores/cap) after scaling, before the mask (Gemma 2). */
  attnSoftcap?: number;
  /** Logits become cap·tanh(logits/cap) (Gemma 2). */
  finalSoftcap?: number;
  /** q/k norm over each head's head_dim (`head`: Qwen3, Gemma 3) or the full projected width (`full`: OLMo-2). */
  qkNorm?: 'head' | 'full';
  /** q, k and v clamped to [-clip, clip] after the projections (and after OLMoE's full-width q/k norms). */
  clipQkv?: number;
  /** Every norm is a LayerNorm without weight or bias (OLMo-1): ln1, ln2 and the final norm have no tensors. */
  parameterFreeNorms?: boolean;
  /** Embeddings multiplied by this exact factor (Granite's embedding_multiplier; not rounded like embedScale). */
  embedMultiplier?: number;
  /** What attention and the MLP add to the residual stream is multiplied by this (Granite's residual_multiplier). */
  residualMultiplier?: number;
  /** Logits are divided by this (Granite's logits_scaling). */
  logitScale?: number;
  /** A mixture-of-experts MLP in the layers `moe.sparseLayer` picks. */
  moe?: MoeSpec;
  tiedEmbeddings: boolean;
  names: {
    embed: string;
    posEmbed?: string;
    /** Absent when norms have no parameters (OLMo-1). */
    finalNorm?: string;
    finalNormBias?: string;
    unembed: string;
    unembedBias?: string;
    layer(l: number): LayerNames;
  };
  /** Bos/eos ids from config.json, when given. */
  bosId?: number;
  eosId?: number;
}

/** An architecture adapter: one small file per family under architectures/. */
export interface Architecture {
  modelTypes: string[];
  spec(config: Record<string, unknown>, has: (name: string) => boolean): ModelSpec;
}

/** Reads a config number, with a default or a UserError naming the field. */
export function num(config: Record<string, unknown>, key: string | string[], fallback?: number): number {
  for (const k of Array.isArray(key) ? key : [key]) {
    const v = config[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (v !== undefined && v !== null)
      throw new UserError(`config.json: '${k}' should be a number, got ${JSON.stringify(v)}`);
  }
  if (fallback === undefined)
    throw new UserError(`config.json: missing '${Array.isArray(key) ? key[0] : key}'`);
  return fallback;
}

export function positiveInt(
  config: Record<string, unknown>,
  key: string | string[],
  fallback?: number,
): number {
  const v = num(config, key, fallback);
  if (!Number.isInteger(v) || v <= 0)
    throw new UserError(`config.json: '${[key].flat()[0]}' should be a positive integer, got ${v}`);
  return v;
}

export function bool(config: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean')
    throw new UserError(`config.json: '${key}' should be true or false, got ${JSON.stringify(v)}`);
  return v;
}

export function activation(name: unknown, field: string): Activation {
  switch (name) {
    case 'silu':
    case 'swish':
      return 'silu';
    case 'gelu':
      return 'gelu';
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return 'gelu_tanh';
    case 'relu':
      return 'relu';
    default:
      throw new UserError(
        `config.json: unsupported ${field} ${JSON.stringify(name)} (supported: silu, gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu)`,
      );
  }
}

/** A tensor name if the checkpoint has it. */
export function optional(has: (name: string) => boolean, name: string): string | undefined {
  return has(name) ? name : undefined;
}

/** Checks head/width consistency shared by every family. */
export function checkShape(spec: ModelSpec): ModelSpec {
  if (spec.nHeads % spec.nKvHeads !== 0) {
    throw new UserError(
      `config.json: ${spec.nHeads} attention heads are not a multiple of ${spec.nKvHeads} key/value heads`,
    );
  }
  if (spec.qkv === 'separate' && spec.linear !== 'out_in') {
    throw new Error('separate q/k/v projections are fused on the output axis and need [out, in] weights');
  }
  if (spec.rotary && (spec.rotary.dim % 2 !== 0 || spec.rotary.dim > spec.headDim)) {
    throw new UserError(
      `config.json: rotary dimension ${spec.rotary.dim} must be even and at most head_dim ${spec.headDim}`,
    );
  }
  return spec;
}

/** Every tensor name block `layer` uses: its plain names and, in a sparse layer, the router and every expert's. */
export function layerTensorNames(spec: ModelSpec, layer: number): string[] {
  const n = spec.names.layer(layer);
  const out = Object.values(n).filter((v): v is string => typeof v === 'string');
  const moe = n.moe;
  if (moe && spec.moe) {
    out.push(moe.router);
    if (moe.fused) out.push(moe.fused.gateUp, moe.fused.down);
    else if (moe.expert) {
      for (let e = 0; e < spec.moe.nExperts; e++) out.push(...Object.values(moe.expert(e)));
    }
    if (moe.shared) out.push(...Object.values(moe.shared));
  }
  return out;
}

/** Parameters of block `layer`, from the spec's shapes and the tensors its names say are present (all experts). */
export function layerParameterCount(spec: ModelSpec, layer = 0): number {
  return blockCount(spec, layer, spec.moe?.nExperts ?? 0);
}

/** Parameters one token uses in block `layer`: only `topK` of a sparse layer's experts (the router, all of it). */
export function activeLayerParameterCount(spec: ModelSpec, layer = 0): number {
  return blockCount(spec, layer, spec.moe?.topK ?? 0);
}

/** The largest block (Qwen2-MoE mixes dense and sparse layers): what one streamed layer holds. */
export function maxLayerParameterCount(spec: ModelSpec): number {
  let max = 0;
  for (let l = 0; l < spec.nLayers; l++) max = Math.max(max, layerParameterCount(spec, l));
  return max;
}

function blockCount(spec: ModelSpec, layer: number, experts: number): number {
  const { dModel: d, nHeads: H, nKvHeads: KV, headDim: hd, dMlp: m } = spec;
  const n = spec.names.layer(layer);
  const qkvOut = spec.qkv === 'neox' ? 3 * H * hd : (H + 2 * KV) * hd;
  const sizes: [string | undefined, number][] = [
    [n.ln1, d],
    [n.ln1Bias, d],
    [n.ln2, d],
    [n.ln2Bias, d],
    [n.postAttnNorm, d],
    [n.postMlpNorm, d],
    [n.qNorm, spec.qkNorm === 'full' ? H * hd : hd],
    [n.kNorm, spec.qkNorm === 'full' ? KV * hd : hd],
    [n.q, H * hd * d],
    [n.k, KV * hd * d],
    [n.v, KV * hd * d],
    [n.qBias, H * hd],
    [n.kBias, KV * hd],
    [n.vBias, KV * hd],
    [n.qkv, qkvOut * d],
    [n.qkvBias, qkvOut],
    [n.o, d * H * hd],
    [n.oBias, d],
    [n.gate, m * d],
    [n.gateBias, m],
    [n.gateUp, 2 * m * d],
    [n.up, m * d],
    [n.upBias, m],
    [n.down, d * m],
    [n.downBias, d],
  ];
  let total = sizes.reduce((sum, [name, size]) => sum + (name ? size : 0), 0);
  if (n.moe && spec.moe) {
    const { nExperts: E, dExpert: me, dShared } = spec.moe;
    total += E * d + experts * 3 * me * d;
    if (n.moe.shared && dShared) total += 3 * dShared * d + d;
  }
  return total;
}

/** Parameters outside the blocks: embeddings, learned positions, final norm, unembedding. */
function outerParameterCount(spec: ModelSpec): number {
  const { dModel: d, vocabSize: V, names } = spec;
  let total = V * d;
  if (names.finalNorm) total += d;
  if (names.posEmbed) total += (spec.maxPositions ?? 0) * d;
  if (names.finalNormBias) total += d;
  if (!spec.tiedEmbeddings) total += V * d;
  if (names.unembedBias) total += V;
  return total;
}

/** Parameters of the whole model from its config alone (what `model info` counts from the tensors). */
export function specParameterCount(spec: ModelSpec): number {
  let total = outerParameterCount(spec);
  for (let l = 0; l < spec.nLayers; l++) total += layerParameterCount(spec, l);
  return total;
}

/** Parameters one token goes through: every block's active part (top-k experts) plus the outer ones. */
export function activeParameterCount(spec: ModelSpec): number {
  let total = outerParameterCount(spec);
  for (let l = 0; l < spec.nLayers; l++) total += activeLayerParameterCount(spec, l);
  return total;
}
