/**
 * `model info`'s counts for the published shapes of the mixture-of-experts and 2025 families, from their config.json
 * alone (the fields of each model repository's config.json that decide the shapes; Gemma 3's text_config lists only
 * what differs from Gemma3TextConfig's defaults, as the released files do). Each expected count is written out tensor
 * by tensor below, and agrees with the size the model's Hub page shows (rounded there to three digits); for MoE
 * also the active parameters (one token's top-k experts), against the model cards. Gemma 3: the text tower, plus
 * the SigLIP vision tower and projector counted from vision_config, is the checkpoint's exact total.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modelSpec } from './architectures/index.js';
import { activeParameterCount, maxLayerParameterCount, specParameterCount } from './spec.js';

interface Published {
  repo: string;
  config: Record<string, unknown>;
  has: (name: string) => boolean;
  total: number;
  /** Only for mixture-of-experts models. */
  active?: number;
  /** The Hub page's figure, in billions. */
  hub: number;
}

const noBias = (tied: boolean) => (n: string) =>
  !n.endsWith('.bias') && !n.endsWith('_proj') && (n !== 'lm_head.weight' || !tied);
const qkvBias = (n: string) =>
  !n.endsWith('_proj') && (!n.endsWith('.bias') || /self_attn\.[qkv]_proj\.bias$/.test(n));
const gemma3Old = (n: string) => n.startsWith('language_model.model.') && !n.endsWith('.bias');

// Per-layer arithmetic: attention = q + k + v + o, mlp = 3 · d · m, norms = 2 · d (pre-norms) unless noted.
const MIXTRAL_LAYER = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 2 * 4096; // attention + 2 norms
const MIXTRAL_EXPERT = 3 * 4096 * 14336;
const QWEN15_LAYER = 4 * 2048 * 2048 + 3 * 2048 + 2 * 2048 + 60 * 2048 + 3 * 2048 * 5632 + 2048; // + router, shared
const QWEN15_EXPERT = 3 * 2048 * 1408;
const QWEN3_LAYER = 2 * 2048 * 4096 + 2 * 2048 * 512 + 2 * 128 + 2 * 2048 + 128 * 2048; // + q/k norms, router
const QWEN3_EXPERT = 3 * 2048 * 768;
const OLMOE_LAYER = 4 * 2048 * 2048 + 2 * 2048 + 2 * 2048 + 64 * 2048; // + full-width q/k norms, router
const OLMOE_EXPERT = 3 * 2048 * 1024;

const GEMMA3_TEXT = (d: number, m: number, L: number, H: number, KV: number, hd: number) =>
  L * (d * H * hd * 2 + d * KV * hd * 2 + 3 * d * m + 4 * d + 2 * hd) + 262208 * d + d;

const PUBLISHED: Published[] = [
  {
    repo: 'mistralai/Mixtral-8x7B-v0.1',
    hub: 46.7,
    total: 32 * (MIXTRAL_LAYER + 8 * 4096 + 8 * MIXTRAL_EXPERT) + 2 * 32000 * 4096 + 4096,
    active: 32 * (MIXTRAL_LAYER + 8 * 4096 + 2 * MIXTRAL_EXPERT) + 2 * 32000 * 4096 + 4096, // "12.9B active"
    has: noBias(false),
    config: {
      architectures: ['MixtralForCausalLM'],
      hidden_act: 'silu',
      hidden_size: 4096,
      intermediate_size: 14336,
      max_position_embeddings: 32768,
      model_type: 'mixtral',
      num_attention_heads: 32,
      num_experts_per_tok: 2,
      num_hidden_layers: 32,
      num_key_value_heads: 8,
      num_local_experts: 8,
      rms_norm_eps: 1e-5,
      rope_theta: 1e6,
      sliding_window: null,
      tie_word_embeddings: false,
      vocab_size: 32000,
    },
  },
  {
    repo: 'Qwen/Qwen1.5-MoE-A2.7B',
    hub: 14.3,
    total: 24 * (QWEN15_LAYER + 60 * QWEN15_EXPERT) + 2 * 151936 * 2048 + 2048,
    active: 24 * (QWEN15_LAYER + 4 * QWEN15_EXPERT) + 2 * 151936 * 2048 + 2048, // "2.7B activated"
    has: qkvBias,
    config: {
      architectures: ['Qwen2MoeForCausalLM'],
      decoder_sparse_step: 1,
      hidden_act: 'silu',
      hidden_size: 2048,
      intermediate_size: 5632,
      max_position_embeddings: 8192,
      max_window_layers: 21,
      model_type: 'qwen2_moe',
      moe_intermediate_size: 1408,
      norm_topk_prob: false,
      num_attention_heads: 16,
      num_experts: 60,
      num_experts_per_tok: 4,
      num_hidden_layers: 24,
      num_key_value_heads: 16,
      rms_norm_eps: 1e-6,
      rope_theta: 1e6,
      shared_expert_intermediate_size: 5632,
      sliding_window: 32768,
      tie_word_embeddings: false,
      use_sliding_window: false,
      vocab_size: 151936,
    },
  },
  {
    repo: 'Qwen/Qwen3-30B-A3B',
    hub: 30.5,
    total: 48 * (QWEN3_LAYER + 128 * QWEN3_EXPERT) + 2 * 151936 * 2048 + 2048,
    active: 48 * (QWEN3_LAYER + 8 * QWEN3_EXPERT) + 2 * 151936 * 2048 + 2048, // "3.3B activated"
    has: noBias(false),
    config: {
      architectures: ['Qwen3MoeForCausalLM'],
      attention_bias: false,
      decoder_sparse_step: 1,
      head_dim: 128,
      hidden_act: 'silu',
      hidden_size: 2048,
      intermediate_size: 6144,
      max_position_embeddings: 40960,
      max_window_layers: 48,
      mlp_only_layers: [],
      model_type: 'qwen3_moe',
      moe_intermediate_size: 768,
      norm_topk_prob: true,
      num_attention_heads: 32,
      num_experts: 128,
      num_experts_per_tok: 8,
      num_hidden_layers: 48,
      num_key_value_heads: 4,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 1e6,
      sliding_window: null,
      tie_word_embeddings: false,
      use_sliding_window: false,
      vocab_size: 151936,
    },
  },
  {
    repo: 'allenai/OLMoE-1B-7B-0924',
    hub: 6.92,
    total: 16 * (OLMOE_LAYER + 64 * OLMOE_EXPERT) + 2 * 50304 * 2048 + 2048,
    active: 16 * (OLMOE_LAYER + 8 * OLMOE_EXPERT) + 2 * 50304 * 2048 + 2048, // "1.3B active"
    has: noBias(false),
    config: {
      architectures: ['OlmoeForCausalLM'],
      attention_bias: false,
      clip_qkv: null,
      hidden_act: 'silu',
      hidden_size: 2048,
      intermediate_size: 1024,
      max_position_embeddings: 4096,
      model_type: 'olmoe',
      norm_topk_prob: false,
      num_attention_heads: 16,
      num_experts: 64,
      num_experts_per_tok: 8,
      num_hidden_layers: 16,
      num_key_value_heads: 16,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      tie_word_embeddings: false,
      vocab_size: 50304,
    },
  },
  {
    repo: 'allenai/OLMo-7B-hf',
    hub: 6.89,
    // No norm parameters at all.
    total: 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008) + 2 * 50304 * 4096,
    has: noBias(false),
    config: {
      architectures: ['OlmoForCausalLM'],
      attention_bias: false,
      clip_qkv: null,
      hidden_act: 'silu',
      hidden_size: 4096,
      intermediate_size: 11008,
      max_position_embeddings: 2048,
      model_type: 'olmo',
      num_attention_heads: 32,
      num_hidden_layers: 32,
      num_key_value_heads: 32,
      rope_theta: 10000,
      tie_word_embeddings: false,
      vocab_size: 50304,
    },
  },
  {
    repo: 'allenai/Olmo-3-1025-7B',
    hub: 7.3,
    // + full-width q/k norms and the two post norms.
    total: 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 4 * 4096) + 2 * 100278 * 4096 + 4096,
    has: noBias(false),
    config: {
      architectures: ['Olmo3ForCausalLM'],
      attention_bias: false,
      hidden_act: 'silu',
      hidden_size: 4096,
      intermediate_size: 11008,
      max_position_embeddings: 65536,
      model_type: 'olmo3',
      num_attention_heads: 32,
      num_hidden_layers: 32,
      num_key_value_heads: 32,
      rms_norm_eps: 1e-6,
      rope_scaling: {
        attention_factor: 1.2079441541679836,
        beta_fast: 32,
        beta_slow: 1,
        factor: 8,
        original_max_position_embeddings: 8192,
        rope_type: 'yarn',
      },
      rope_theta: 500000,
      sliding_window: 4096,
      tie_word_embeddings: false,
      vocab_size: 100278,
    },
  },
  {
    repo: 'google/gemma-3-4b-pt',
    hub: 4.3,
    total: GEMMA3_TEXT(2560, 10240, 34, 8, 4, 256),
    has: gemma3Old,
    config: {
      architectures: ['Gemma3ForConditionalGeneration'],
      model_type: 'gemma3',
      text_config: {
        hidden_size: 2560,
        intermediate_size: 10240,
        model_type: 'gemma3_text',
        num_hidden_layers: 34,
        rope_scaling: { factor: 8.0, rope_type: 'linear' },
        sliding_window: 1024,
      },
      vision_config: {
        hidden_size: 1152,
        image_size: 896,
        intermediate_size: 4304,
        model_type: 'siglip_vision_model',
        num_attention_heads: 16,
        num_hidden_layers: 27,
        patch_size: 14,
        vision_use_head: false,
      },
    },
  },
  {
    repo: 'google/gemma-3-12b-pt',
    hub: 12.2,
    total: GEMMA3_TEXT(3840, 15360, 48, 16, 8, 256),
    has: gemma3Old,
    config: {
      architectures: ['Gemma3ForConditionalGeneration'],
      model_type: 'gemma3',
      text_config: {
        hidden_size: 3840,
        intermediate_size: 15360,
        model_type: 'gemma3_text',
        num_attention_heads: 16,
        num_hidden_layers: 48,
        num_key_value_heads: 8,
        rope_scaling: { factor: 8.0, rope_type: 'linear' },
        sliding_window: 1024,
      },
      vision_config: {
        hidden_size: 1152,
        image_size: 896,
        intermediate_size: 4304,
        num_attention_heads: 16,
        num_hidden_layers: 27,
        patch_size: 14,
      },
    },
  },
  {
    repo: 'google/gemma-3-27b-pt',
    hub: 27.4,
    total: GEMMA3_TEXT(5376, 21504, 62, 32, 16, 128),
    has: gemma3Old,
    config: {
      architectures: ['Gemma3ForConditionalGeneration'],
      model_type: 'gemma3',
      text_config: {
        head_dim: 128,
        hidden_size: 5376,
        intermediate_size: 21504,
        model_type: 'gemma3_text',
        num_attention_heads: 32,
        num_hidden_layers: 62,
        num_key_value_heads: 16,
        query_pre_attn_scalar: 168,
        rope_scaling: { factor: 8.0, rope_type: 'linear' },
        sliding_window: 1024,
      },
      vision_config: {
        hidden_size: 1152,
        image_size: 896,
        intermediate_size: 4304,
        num_attention_heads: 16,
        num_hidden_layers: 27,
        patch_size: 14,
      },
    },
  },
  {
    repo: 'HuggingFaceTB/SmolLM3-3B',
    hub: 3.08,
    total: 36 * (2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 11008 + 2 * 2048) + 128256 * 2048 + 2048,
    has: noBias(true),
    config: {
      architectures: ['SmolLM3ForCausalLM'],
      attention_bias: false,
      hidden_act: 'silu',
      hidden_size: 2048,
      intermediate_size: 11008,
      max_position_embeddings: 65536,
      mlp_bias: false,
      model_type: 'smollm3',
      no_rope_layer_interval: 4,
      num_attention_heads: 16,
      num_hidden_layers: 36,
      num_key_value_heads: 4,
      rms_norm_eps: 1e-6,
      rope_theta: 5000000,
      tie_word_embeddings: true,
      use_sliding_window: false,
      vocab_size: 128256,
    },
  },
  {
    repo: 'ibm-granite/granite-3.1-8b-base',
    hub: 8.17,
    total: 40 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 12800 + 2 * 4096) + 49155 * 4096 + 4096,
    has: noBias(true),
    config: {
      architectures: ['GraniteForCausalLM'],
      attention_bias: false,
      attention_multiplier: 0.0078125,
      embedding_multiplier: 12.0,
      hidden_act: 'silu',
      hidden_size: 4096,
      intermediate_size: 12800,
      logits_scaling: 16.0,
      max_position_embeddings: 131072,
      mlp_bias: false,
      model_type: 'granite',
      num_attention_heads: 32,
      num_hidden_layers: 40,
      num_key_value_heads: 8,
      residual_multiplier: 0.22,
      rms_norm_eps: 1e-5,
      rope_theta: 10000000.0,
      tie_word_embeddings: true,
      vocab_size: 49155,
    },
  },
  {
    repo: 'ibm-granite/granite-3.0-2b-base',
    hub: 2.53,
    total: 40 * (2 * 2048 * 2048 + 2 * 2048 * 512 + 3 * 2048 * 8192 + 2 * 2048) + 49155 * 2048 + 2048,
    has: noBias(true),
    config: {
      architectures: ['GraniteForCausalLM'],
      attention_bias: false,
      attention_multiplier: 0.015625,
      embedding_multiplier: 12.0,
      hidden_act: 'silu',
      hidden_size: 2048,
      intermediate_size: 8192,
      logits_scaling: 8.0,
      max_position_embeddings: 4096,
      mlp_bias: false,
      model_type: 'granite',
      num_attention_heads: 32,
      num_hidden_layers: 40,
      num_key_value_heads: 8,
      residual_multiplier: 0.22,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      tie_word_embeddings: true,
      vocab_size: 49155,
    },
  },
];

const billions = (n: number) => Number((n / 1e9).toPrecision(3));

for (const p of PUBLISHED) {
  test(`${p.repo}: ${p.total.toLocaleString('en-US')} parameters from config.json (Hub: ${p.hub}B)`, () => {
    const spec = modelSpec(p.config, p.has);
    assert.equal(specParameterCount(spec), p.total);
    if (p.active !== undefined) assert.equal(activeParameterCount(spec), p.active);
    else assert.equal(activeParameterCount(spec), p.total, 'a dense model uses every parameter');
    if (!p.repo.startsWith('google/gemma-3')) assert.equal(billions(p.total), p.hub);
  });
}

test('Gemma 3: text tower + SigLIP vision tower + projector (from vision_config) = the checkpoint totals', () => {
  // SigLIP: per layer q/k/v/o with biases, fc1/fc2 with biases, two LayerNorms (weight + bias); patch embedding
  // (3·p²·h + h), positions ((image / patch)² · h), post LayerNorm; the projector's h × d_text matrix and soft-emb norm.
  const siglip = (v: Record<string, number>, dText: number) => {
    const h = v['hidden_size']!;
    const m = v['intermediate_size']!;
    const layer = 4 * (h * h + h) + (h * m + m) + (m * h + h) + 4 * h;
    const patches = (v['image_size']! / v['patch_size']!) ** 2;
    const embeddings = 3 * v['patch_size']! ** 2 * h + h + patches * h;
    return v['num_hidden_layers']! * layer + embeddings + 2 * h + (h * dText + h);
  };
  // The Hub's exact counts of google/gemma-3-{4b,12b,27b}-pt.
  const totals: Record<string, number> = {
    'google/gemma-3-4b-pt': 4_300_079_472,
    'google/gemma-3-12b-pt': 12_187_325_040,
    'google/gemma-3-27b-pt': 27_432_406_640,
  };
  for (const p of PUBLISHED.filter((x) => x.repo in totals)) {
    const spec = modelSpec(p.config, p.has);
    const vision = siglip(
      { image_size: 896, ...(p.config['vision_config'] as Record<string, number>) },
      spec.dModel,
    );
    assert.equal(specParameterCount(spec) + vision, totals[p.repo], p.repo);
    assert.equal(billions(specParameterCount(spec) + vision), p.hub);
  }
});

test('a streamed MoE layer holds all its experts: Mixtral-8x7B 1.45B parameters, Qwen1.5-MoE its largest layer', () => {
  const mixtral = modelSpec(PUBLISHED[0]!.config, PUBLISHED[0]!.has);
  assert.equal(maxLayerParameterCount(mixtral), MIXTRAL_LAYER + 8 * 4096 + 8 * MIXTRAL_EXPERT);
  const qwen = PUBLISHED[1]!;
  const dense = modelSpec({ ...qwen.config, mlp_only_layers: [0] }, qwen.has);
  assert.equal(maxLayerParameterCount(dense), QWEN15_LAYER + 60 * QWEN15_EXPERT);
});
