/** Llama-2, Llama-3 (incl. rope_scaling llama3), SmolLM and relatives: RMSNorm, rotary, GQA, gated SiLU MLP. */
import { defaultInvFreq, ropeFields, scaledInvFreq } from '../rotary.js';
import {
  type Architecture,
  activation,
  bool,
  checkShape,
  type LayerNames,
  type ModelSpec,
  num,
  optional,
  positiveInt,
} from '../spec.js';

/** The shared Llama-style spec; mistral and qwen2 differ only in a few config fields. */
export function llamaLikeSpec(config: Record<string, unknown>, has: (name: string) => boolean): ModelSpec {
  const dModel = positiveInt(config, 'hidden_size');
  const nHeads = positiveInt(config, 'num_attention_heads');
  const headDim = positiveInt(config, 'head_dim', Math.floor(dModel / nHeads));
  const rotaryDim = Math.floor(headDim * num(config, 'partial_rotary_factor', 1));
  const rope = ropeFields(config, 10000);
  const invFreq = scaledInvFreq(defaultInvFreq(rotaryDim, rope.theta), rope.scaling);
  const layer = (l: number): LayerNames => {
    const p = `model.layers.${l}.`;
    return {
      ln1: `${p}input_layernorm.weight`,
      ln2: `${p}post_attention_layernorm.weight`,
      q: `${p}self_attn.q_proj.weight`,
      k: `${p}self_attn.k_proj.weight`,
      v: `${p}self_attn.v_proj.weight`,
      qBias: optional(has, `${p}self_attn.q_proj.bias`),
      kBias: optional(has, `${p}self_attn.k_proj.bias`),
      vBias: optional(has, `${p}self_attn.v_proj.bias`),
      o: `${p}self_attn.o_proj.weight`,
      oBias: optional(has, `${p}self_attn.o_proj.bias`),
      gate: `${p}mlp.gate_proj.weight`,
      gateBias: optional(has, `${p}mlp.gate_proj.bias`),
      up: `${p}mlp.up_proj.weight`,
      upBias: optional(has, `${p}mlp.up_proj.bias`),
      down: `${p}mlp.down_proj.weight`,
      downBias: optional(has, `${p}mlp.down_proj.bias`),
    };
  };
  const tied = !has('lm_head.weight');
  const window = config['sliding_window'];
  return checkShape({
    modelType: String(config['model_type']),
    nLayers: positiveInt(config, 'num_hidden_layers'),
    dModel,
    nHeads,
    nKvHeads: positiveInt(config, 'num_key_value_heads', nHeads),
    headDim,
    dMlp: positiveInt(config, 'intermediate_size'),
    vocabSize: positiveInt(config, 'vocab_size'),
    maxPositions: num(config, 'max_position_embeddings', 0) || undefined,
    norm: 'rms',
    normEps: num(config, 'rms_norm_eps', 1e-6),
    act: activation(config['hidden_act'] ?? 'silu', 'hidden_act'),
    gated: true,
    qkv: 'separate',
    linear: 'out_in',
    rotary: { dim: rotaryDim, invFreq },
    parallelResidual: false,
    attnScale: () => 1 / Math.sqrt(headDim),
    slidingWindow:
      bool(config, 'use_sliding_window', true) && typeof window === 'number' ? window : undefined,
    tiedEmbeddings: tied,
    names: {
      embed: 'model.embed_tokens.weight',
      finalNorm: 'model.norm.weight',
      unembed: tied ? 'model.embed_tokens.weight' : 'lm_head.weight',
      layer,
    },
    bosId: typeof config['bos_token_id'] === 'number' ? config['bos_token_id'] : undefined,
    eosId: typeof config['eos_token_id'] === 'number' ? config['eos_token_id'] : undefined,
  });
}

/** The spec with each layer's tensor names extended or overridden (an `undefined` removes a tensor). */
export function withLayerNames(spec: ModelSpec, extra: (layer: number) => Partial<LayerNames>): ModelSpec {
  const layer = spec.names.layer;
  return checkShape({ ...spec, names: { ...spec.names, layer: (l) => ({ ...layer(l), ...extra(l) }) } });
}

export const llama: Architecture = { modelTypes: ['llama'], spec: llamaLikeSpec };
