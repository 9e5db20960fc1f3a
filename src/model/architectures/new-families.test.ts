/** Config handling of the Gemma 1/2/3, Qwen3, Phi-3 and OLMo-2 adapters: defaults, both config layouts, refusals. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../util/errors.js';
import { modelSpec } from './index.js';

const base = {
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  num_hidden_layers: 12,
  intermediate_size: 16,
  vocab_size: 10,
  head_dim: 4,
};
const noBias = (name: string) => !name.endsWith('.bias') && name !== 'lm_head.weight';

test('gemma2 uses its class defaults when config.json omits them, and null turns soft-capping off', () => {
  const spec = modelSpec({ ...base, model_type: 'gemma2' }, noBias);
  assert.equal(spec.attnSoftcap, 50);
  assert.equal(spec.finalSoftcap, 30);
  assert.equal(spec.attnScale(0), 256 ** -0.5);
  assert.equal(spec.slidingWindow, 4096);
  assert.deepEqual(
    [0, 1, 2, 3].map((l) => spec.slidingLayer!(l)),
    [true, false, true, false],
  );
  assert.equal(spec.act, 'gelu_tanh');
  const off = modelSpec(
    { ...base, model_type: 'gemma2', attn_logit_softcapping: null, final_logit_softcapping: null },
    noBias,
  );
  assert.equal(off.attnSoftcap, undefined);
  assert.equal(off.finalSoftcap, undefined);
});

test('gemma3_text: every 6th layer global by default; rope_parameters and the classic fields agree', () => {
  const classic = modelSpec(
    {
      ...base,
      model_type: 'gemma3_text',
      rope_theta: 1e6,
      rope_local_base_freq: 1e4,
      rope_scaling: { rope_type: 'linear', factor: 8 },
    },
    noBias,
  );
  assert.deepEqual(
    Array.from({ length: 12 }, (_, l) => classic.slidingLayer!(l)),
    [true, true, true, true, true, false, true, true, true, true, true, false],
  );
  const layered = modelSpec(
    {
      ...base,
      model_type: 'gemma3_text',
      layer_types: Array.from({ length: 12 }, (_, l) =>
        l % 6 === 5 ? 'full_attention' : 'sliding_attention',
      ),
      rope_parameters: {
        full_attention: { rope_type: 'linear', factor: 8, rope_theta: 1e6 },
        sliding_attention: { rope_type: 'default', rope_theta: 1e4 },
      },
    },
    noBias,
  );
  assert.deepEqual(layered.rotary!.invFreq, classic.rotary!.invFreq);
  assert.deepEqual(layered.localRotary!.invFreq, classic.localRotary!.invFreq);
  // linear scaling divides the global frequencies only: inv_freq[1] = 1e6^(-1/2) / 8 vs 1e4^(-1/2).
  assert.ok(Math.abs(classic.rotary!.invFreq[1]! - 1e-3 / 8) < 1e-15);
  assert.ok(Math.abs(classic.localRotary!.invFreq[1]! - 1e-2) < 1e-15);
});

test('refused variants say what is not supported', () => {
  const refuse = (config: Record<string, unknown>, message: RegExp) =>
    assert.throws(
      () => modelSpec({ ...base, ...config }, noBias),
      (e: Error) => e instanceof UserError && message.test(e.message),
    );
  refuse(
    { model_type: 'phi3', rope_scaling: { type: 'yarn', factor: 4 } },
    /phi3: rope_scaling type 'yarn' is not supported \(supported: none, longrope\)/,
  );
  refuse(
    {
      model_type: 'phi3',
      max_position_embeddings: 128,
      original_max_position_embeddings: 64,
      rope_scaling: { type: 'longrope', short_factor: [1], long_factor: [1] },
    },
    /short_factor should list 2 positive numbers/,
  );
  refuse({ model_type: 'qwen3', use_sliding_window: true }, /qwen3 with use_sliding_window=true/);
  refuse({ model_type: 'gemma3_text', use_bidirectional_attention: true }, /bidirectional/);
  refuse({ model_type: 'gemma2', layer_types: ['sliding_attention'] }, /layer_types should list 12/);
  refuse({ model_type: 'bert' }, /model_type "bert" is not supported/);
});

test('phi3 longrope: short factors divide the frequencies, cos/sin carry the attention factor', () => {
  // Phi-3-mini-128k's proportions: 131072 / 4096 = 32, so the factor is √(1 + ln 32 / ln 4096) = √(17/12).
  const spec = modelSpec(
    {
      ...base,
      head_dim: undefined,
      model_type: 'phi3',
      rope_theta: 10000,
      max_position_embeddings: 131072,
      original_max_position_embeddings: 4096,
      rope_scaling: { type: 'longrope', short_factor: [1, 2], long_factor: [5, 6] },
    },
    noBias,
  );
  const rot = spec.rotary!;
  assert.ok(Math.abs(rot.attentionScale! - Math.sqrt(17 / 12)) < 1e-15);
  assert.equal(rot.maxPositions, 4096);
  assert.deepEqual(Array.from(rot.invFreq), [1, 1 / (2 * 10000 ** 0.5)]);
});
