/**
 * Config handling of the mixture-of-experts and 2025 adapters (Mixtral, Qwen2/3-MoE, OLMoE, OLMo, OLMo 3, Gemma 3
 * multimodal, SmolLM3, Granite): defaults, sparse-layer patterns, both expert layouts, both Gemma 3 tensor layouts,
 * YaRN frequencies against hand-computed values, refusals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../util/errors.js';
import { modelSpec } from './index.js';

const base = {
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  num_hidden_layers: 4,
  intermediate_size: 16,
  vocab_size: 10,
};
/** A checkpoint with no biases, a tied head and per-expert tensors (the fused ones end in `_proj`, no `.weight`). */
const noBias = (name: string) =>
  !name.endsWith('.bias') && name !== 'lm_head.weight' && !name.endsWith('_proj');
const refuse = (config: Record<string, unknown>, message: RegExp) =>
  assert.throws(
    () => modelSpec({ ...base, ...config }, noBias),
    (e: Error) => e instanceof UserError && message.test(e.message),
  );

test('qwen2_moe: decoder_sparse_step and mlp_only_layers pick the sparse layers; the shared expert is named', () => {
  const spec = modelSpec(
    {
      ...base,
      model_type: 'qwen2_moe',
      num_experts: 6,
      num_experts_per_tok: 2,
      moe_intermediate_size: 4,
      shared_expert_intermediate_size: 12,
      decoder_sparse_step: 2,
      mlp_only_layers: [3],
    },
    noBias,
  );
  const moe = spec.moe!;
  assert.deepEqual([0, 1, 2, 3].map(moe.sparseLayer), [false, true, false, false]);
  assert.equal(moe.normTopK, false, 'norm_topk_prob defaults to false');
  assert.equal(moe.dShared, 12);
  const dense = spec.names.layer(0);
  assert.equal(dense.down, 'model.layers.0.mlp.down_proj.weight');
  assert.equal(dense.moe, undefined);
  const sparse = spec.names.layer(1);
  assert.equal(sparse.down, undefined);
  assert.equal(sparse.moe!.router, 'model.layers.1.mlp.gate.weight');
  assert.deepEqual(sparse.moe!.expert!(5), {
    gate: 'model.layers.1.mlp.experts.5.gate_proj.weight',
    up: 'model.layers.1.mlp.experts.5.up_proj.weight',
    down: 'model.layers.1.mlp.experts.5.down_proj.weight',
  });
  assert.equal(sparse.moe!.shared!.gateWeight, 'model.layers.1.mlp.shared_expert_gate.weight');
});

test('mixtral renormalises always and names block_sparse_moe; a fused (transformers 5) checkpoint is read as such', () => {
  const config = { ...base, model_type: 'mixtral', num_local_experts: 4, num_experts_per_tok: 2 };
  const spec = modelSpec(config, noBias);
  assert.equal(spec.moe!.normTopK, true);
  assert.equal(spec.moe!.dExpert, 16);
  const n = spec.names.layer(2).moe!;
  assert.equal(n.router, 'model.layers.2.block_sparse_moe.gate.weight');
  assert.deepEqual(n.expert!(1), {
    gate: 'model.layers.2.block_sparse_moe.experts.1.w1.weight',
    up: 'model.layers.2.block_sparse_moe.experts.1.w3.weight',
    down: 'model.layers.2.block_sparse_moe.experts.1.w2.weight',
  });
  const fused = modelSpec(config, (name) => !name.endsWith('.bias') && !/experts\.\d/.test(name)).names.layer(
    2,
  ).moe!;
  assert.equal(fused.router, 'model.layers.2.mlp.gate.weight');
  assert.deepEqual(fused.fused, {
    gateUp: 'model.layers.2.mlp.experts.gate_up_proj',
    down: 'model.layers.2.mlp.experts.down_proj',
  });
});

test('olmoe: full-width q/k norms, clip_qkv (null = off), norm_topk_prob false; qwen3_moe: per-head norms', () => {
  const olmoe = modelSpec(
    { ...base, model_type: 'olmoe', num_experts: 4, num_experts_per_tok: 2, clip_qkv: 8 },
    noBias,
  );
  assert.equal(olmoe.qkNorm, 'full');
  assert.equal(olmoe.clipQkv, 8);
  assert.equal(olmoe.normEps, 1e-5);
  assert.equal(olmoe.moe!.normTopK, false);
  const off = modelSpec(
    { ...base, model_type: 'olmoe', num_experts: 4, num_experts_per_tok: 2, clip_qkv: null },
    noBias,
  );
  assert.equal(off.clipQkv, undefined);
  const q3 = modelSpec(
    {
      ...base,
      model_type: 'qwen3_moe',
      num_experts: 4,
      num_experts_per_tok: 2,
      moe_intermediate_size: 4,
      norm_topk_prob: true,
    },
    noBias,
  );
  assert.equal(q3.qkNorm, 'head');
  assert.equal(q3.moe!.normTopK, true);
  assert.equal(q3.names.layer(0).qNorm, 'model.layers.0.self_attn.q_norm.weight');
});

test('olmo: parameter-free LayerNorms (no norm tensors at all), clip_qkv', () => {
  const spec = modelSpec({ ...base, model_type: 'olmo', clip_qkv: 8 }, noBias);
  assert.equal(spec.norm, 'layer');
  assert.equal(spec.parameterFreeNorms, true);
  assert.equal(spec.normEps, 1e-5);
  assert.equal(spec.clipQkv, 8);
  assert.equal(spec.names.finalNorm, undefined);
  assert.equal(spec.names.layer(0).ln1, undefined);
  assert.equal(spec.names.layer(0).ln2, undefined);
});

test("olmo3: 3 sliding layers in 4, YaRN on full layers only (OLMo-3-7B's rope_scaling, hand-computed ramp)", () => {
  const spec = modelSpec(
    {
      ...base,
      hidden_size: 4096,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      model_type: 'olmo3',
      rope_theta: 500000,
      max_position_embeddings: 65536,
      rope_scaling: {
        rope_type: 'yarn',
        factor: 8,
        original_max_position_embeddings: 8192,
        attention_factor: 1.2079441541679836,
        beta_fast: 32,
        beta_slow: 1,
      },
    },
    noBias,
  );
  assert.deepEqual([0, 1, 2, 3].map(spec.slidingLayer!), [true, true, true, false]);
  assert.equal(spec.slidingWindow, 4096);
  // head_dim 128: correction dims 128·ln(8192 / (2π·32)) / (2 ln 5e5) = 18.08 -> 18 and
  // 128·ln(8192 / 2π) / (2 ln 5e5) = 34.98 -> 35; below 18 the original frequency, above 35 it / 8, linear between.
  const f = (i: number) => 500000 ** (-(2 * i) / 128);
  const inv = spec.rotary!.invFreq;
  const close = (a: number, b: number) => assert.ok(Math.abs(a / b - 1) < 1e-12, `${a} vs ${b}`);
  close(inv[10]!, f(10));
  close(inv[18]!, f(18));
  close(inv[40]!, f(40) / 8);
  const ramp = (26 - 18) / (35 - 18);
  close(inv[26]!, (f(26) / 8) * ramp + f(26) * (1 - ramp));
  assert.equal(spec.rotary!.attentionScale, 1.2079441541679836);
  close(spec.localRotary!.invFreq[40]!, f(40));
  assert.equal(spec.localRotary!.attentionScale, undefined);
  // transformers 5 writes one rope_parameters object instead of rope_theta + rope_scaling: the same spec.
  const v5 = modelSpec(
    {
      ...base,
      hidden_size: 4096,
      num_attention_heads: 32,
      num_key_value_heads: 32,
      model_type: 'olmo3',
      max_position_embeddings: 65536,
      rope_parameters: {
        rope_type: 'yarn',
        rope_theta: 500000,
        factor: 8,
        original_max_position_embeddings: 8192,
        attention_factor: 1.2079441541679836,
      },
    },
    noBias,
  );
  assert.deepEqual(Array.from(v5.rotary!.invFreq), Array.from(inv));
});

test('gemma3 (multimodal): text_config over Gemma3TextConfig defaults, both tensor layouts, tied head', () => {
  const config = {
    model_type: 'gemma3',
    text_config: { hidden_size: 2560, intermediate_size: 10240, num_hidden_layers: 34, sliding_window: 1024 },
    vision_config: { hidden_size: 1152 },
  };
  const old = modelSpec(config, (n) => n.startsWith('language_model.model.') && !n.endsWith('.bias'));
  assert.equal(old.modelType, 'gemma3');
  assert.equal(old.nHeads, 8);
  assert.equal(old.nKvHeads, 4);
  assert.equal(old.headDim, 256);
  assert.equal(old.vocabSize, 262208);
  assert.equal(old.attnScale(0), 256 ** -0.5);
  assert.equal(old.names.embed, 'language_model.model.embed_tokens.weight');
  assert.equal(old.names.unembed, 'language_model.model.embed_tokens.weight');
  assert.equal(old.names.layer(5).qNorm, 'language_model.model.layers.5.self_attn.q_norm.weight');
  assert.deepEqual(
    Array.from({ length: 12 }, (_, l) => old.slidingLayer!(l)),
    [true, true, true, true, true, false, true, true, true, true, true, false],
  );
  const untied = (n: string) =>
    n === 'lm_head.weight' || (n.startsWith('model.language_model.') && !n.endsWith('.bias'));
  const v5 = modelSpec(config, untied);
  assert.equal(v5.names.embed, 'model.language_model.embed_tokens.weight');
  assert.equal(v5.names.finalNorm, 'model.language_model.norm.weight');
  assert.equal(v5.names.unembed, 'lm_head.weight');
  assert.equal(v5.tiedEmbeddings, false);
});

test('smollm3: NoPE every 4th layer by default or as no_rope_layers says; granite: its four multipliers', () => {
  const s = modelSpec({ ...base, num_hidden_layers: 8, model_type: 'smollm3' }, noBias);
  assert.deepEqual(
    Array.from({ length: 8 }, (_, l) => s.noRopeLayer!(l)),
    [false, false, false, true, false, false, false, true],
  );
  assert.equal(s.slidingWindow, undefined);
  const given = modelSpec({ ...base, model_type: 'smollm3', no_rope_layers: [0, 1, 1, 0] }, noBias);
  assert.deepEqual([0, 1, 2, 3].map(given.noRopeLayer!), [true, false, false, true]);
  const g = modelSpec(
    {
      ...base,
      model_type: 'granite',
      embedding_multiplier: 12,
      attention_multiplier: 0.0078125,
      residual_multiplier: 0.22,
      logits_scaling: 16,
    },
    noBias,
  );
  assert.equal(g.embedMultiplier, 12);
  assert.equal(g.attnScale(3), 0.0078125);
  assert.equal(g.residualMultiplier, 0.22);
  assert.equal(g.logitScale, 16);
  const plain = modelSpec({ ...base, model_type: 'granite' }, noBias);
  assert.deepEqual(
    [plain.embedMultiplier, plain.attnScale(0), plain.residualMultiplier, plain.logitScale],
    [1, 1, 1, 1],
  );
});

test('refused variants of the new families say what is not supported', () => {
  const moe = { num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 4 };
  refuse(
    { model_type: 'qwen2_moe', ...moe, shared_expert_intermediate_size: 4, use_sliding_window: true },
    /qwen2_moe with use_sliding_window=true/,
  );
  refuse(
    { model_type: 'qwen3_moe', ...moe, use_sliding_window: true },
    /qwen3_moe with use_sliding_window=true/,
  );
  refuse(
    { model_type: 'mixtral', num_local_experts: 2, num_experts_per_tok: 3 },
    /num_experts_per_tok 3 is more than the 2 experts/,
  );
  refuse(
    { model_type: 'qwen3_moe', ...moe, mlp_only_layers: 'none' },
    /mlp_only_layers should list layer indices/,
  );
  refuse(
    { model_type: 'smollm3', no_rope_layers: [1, 0] },
    /no_rope_layers should list 0 or 1 for each of the 4 layers/,
  );
  refuse({ model_type: 'gemma3', text_config: [1] }, /text_config should be an object/);
  refuse({ model_type: 'olmo3', layer_types: ['full_attention'] }, /layer_types should list 4/);
  refuse(
    { model_type: 'olmo3', rope_scaling: { rope_type: 'yarn', factor: 'x' } },
    /rope_scaling.factor should be a number/,
  );
});
