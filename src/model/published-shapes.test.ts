/**
 * `model info` for the published shapes of the new families, from their config.json alone (values copied from the
 * Hugging Face model repositories), against the parameter counts their model pages give; and, on every golden
 * fixture, the config-only count equals the count of the tensors actually stored.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelSpec } from './architectures/index.js';
import { openCheckpoint } from './checkpoint.js';
import { FIXTURES } from './engine.test-util.js';
import { layerBytes } from './hooked-model.js';
import { estimateExtractionMemory, formatModelInfo, modelInfo, usedParameterCount } from './info.js';
import { inspectCheckpoint } from './load.js';
import { specParameterCount } from './spec.js';

interface Published {
  repo: string;
  config: Record<string, unknown>;
  /** Total parameters (the count the Hub page shows for the safetensors weights). */
  parameters: number;
  /** Published shape facts checked besides the count. */
  tied: boolean;
}

const PUBLISHED: Published[] = [
  {
    repo: 'google/gemma-2b',
    // Hub: 2.51B params.
    parameters: 2_506_172_416,
    tied: true,
    config: {
      architectures: ['GemmaForCausalLM'],
      bos_token_id: 2,
      eos_token_id: 1,
      head_dim: 256,
      hidden_act: 'gelu',
      hidden_activation: 'gelu_pytorch_tanh',
      hidden_size: 2048,
      intermediate_size: 16384,
      max_position_embeddings: 8192,
      model_type: 'gemma',
      num_attention_heads: 8,
      num_hidden_layers: 18,
      num_key_value_heads: 1,
      pad_token_id: 0,
      rms_norm_eps: 1e-6,
      rope_theta: 10000.0,
      torch_dtype: 'bfloat16',
      vocab_size: 256000,
    },
  },
  {
    repo: 'google/gemma-2-2b',
    // Hub: 2.61B params.
    parameters: 2_614_341_888,
    tied: true,
    config: {
      architectures: ['Gemma2ForCausalLM'],
      attention_bias: false,
      attn_logit_softcapping: 50.0,
      bos_token_id: 2,
      eos_token_id: 1,
      final_logit_softcapping: 30.0,
      head_dim: 256,
      hidden_act: 'gelu_pytorch_tanh',
      hidden_activation: 'gelu_pytorch_tanh',
      hidden_size: 2304,
      intermediate_size: 9216,
      max_position_embeddings: 8192,
      model_type: 'gemma2',
      num_attention_heads: 8,
      num_hidden_layers: 26,
      num_key_value_heads: 4,
      pad_token_id: 0,
      query_pre_attn_scalar: 256,
      rms_norm_eps: 1e-6,
      rope_theta: 10000.0,
      sliding_window: 4096,
      torch_dtype: 'float32',
      vocab_size: 256000,
    },
  },
  {
    repo: 'google/gemma-3-1b-pt',
    // Hub: 1,000M params (999,885,952).
    parameters: 999_885_952,
    tied: true,
    config: {
      architectures: ['Gemma3ForCausalLM'],
      attention_bias: false,
      attn_logit_softcapping: null,
      bos_token_id: 2,
      eos_token_id: 1,
      final_logit_softcapping: null,
      head_dim: 256,
      hidden_activation: 'gelu_pytorch_tanh',
      hidden_size: 1152,
      intermediate_size: 6912,
      max_position_embeddings: 32768,
      model_type: 'gemma3_text',
      num_attention_heads: 4,
      num_hidden_layers: 26,
      num_key_value_heads: 1,
      pad_token_id: 0,
      query_pre_attn_scalar: 256,
      rms_norm_eps: 1e-6,
      rope_local_base_freq: 10000,
      rope_scaling: null,
      rope_theta: 1000000,
      sliding_window: 512,
      sliding_window_pattern: 6,
      torch_dtype: 'bfloat16',
      vocab_size: 262144,
    },
  },
  {
    repo: 'Qwen/Qwen3-0.6B',
    // Model card: 0.6B parameters, 0.44B non-embedding (checked below).
    parameters: 596_049_920,
    tied: true,
    config: {
      architectures: ['Qwen3ForCausalLM'],
      attention_bias: false,
      bos_token_id: 151643,
      eos_token_id: 151645,
      head_dim: 128,
      hidden_act: 'silu',
      hidden_size: 1024,
      intermediate_size: 3072,
      max_position_embeddings: 40960,
      max_window_layers: 28,
      model_type: 'qwen3',
      num_attention_heads: 16,
      num_hidden_layers: 28,
      num_key_value_heads: 8,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 1000000,
      sliding_window: null,
      tie_word_embeddings: true,
      torch_dtype: 'bfloat16',
      use_sliding_window: false,
      vocab_size: 151936,
    },
  },
  {
    repo: 'microsoft/Phi-3-mini-4k-instruct',
    // Model card: 3.8B parameters; Hub: 3.82B.
    parameters: 3_821_079_552,
    tied: false,
    config: {
      architectures: ['Phi3ForCausalLM'],
      attention_bias: false,
      bos_token_id: 1,
      embd_pdrop: 0.0,
      eos_token_id: 32000,
      hidden_act: 'silu',
      hidden_size: 3072,
      intermediate_size: 8192,
      max_position_embeddings: 4096,
      model_type: 'phi3',
      num_attention_heads: 32,
      num_hidden_layers: 32,
      num_key_value_heads: 32,
      original_max_position_embeddings: 4096,
      pad_token_id: 32000,
      resid_pdrop: 0.0,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 10000.0,
      sliding_window: 2047,
      tie_word_embeddings: false,
      torch_dtype: 'bfloat16',
      vocab_size: 32064,
    },
  },
  {
    repo: 'allenai/OLMo-2-0425-1B',
    // Hub: 1.48B params (the "1B" of the name counts no embeddings).
    parameters: 1_484_916_736,
    tied: false,
    config: {
      architectures: ['Olmo2ForCausalLM'],
      attention_bias: false,
      eos_token_id: 100257,
      hidden_act: 'silu',
      hidden_size: 2048,
      intermediate_size: 8192,
      max_position_embeddings: 4096,
      model_type: 'olmo2',
      num_attention_heads: 16,
      num_hidden_layers: 16,
      num_key_value_heads: 16,
      pad_token_id: 100277,
      rms_norm_eps: 1e-6,
      rope_scaling: null,
      rope_theta: 500000,
      tie_word_embeddings: false,
      torch_dtype: 'float32',
      vocab_size: 100352,
    },
  },
];

/** Which tensors the published checkpoints hold: no biases, and lm_head only when untied. */
const stored = (tied: boolean) => (name: string) =>
  !name.endsWith('.bias') && (name !== 'lm_head.weight' || !tied);

for (const p of PUBLISHED) {
  test(`model info for ${p.repo}: ${p.parameters.toLocaleString('en-US')} parameters from config.json`, () => {
    const spec = modelSpec(p.config, stored(p.tied));
    assert.equal(spec.tiedEmbeddings, p.tied);
    assert.equal(specParameterCount(spec), p.parameters);
    // Memory: the f32 embedding table and one block of f32 weights (these models overflow the 2 GiB weight cache),
    // and layerBytes covers every tensor of the block (4 bytes per parameter, nothing left out).
    const { breakdown } = estimateExtractionMemory(spec, 2);
    const embeddings = spec.vocabSize * spec.dModel;
    assert.equal(breakdown.embedding, 4 * embeddings);
    const layers = spec.nLayers * layerBytes(spec);
    assert.equal(breakdown.blockWeights, layers <= 2 ** 31 ? layers : layerBytes(spec));
    assert.equal(
      layers / 4 + embeddings * (p.tied ? 1 : 2) + spec.dModel,
      p.parameters,
      'blocks + embeddings + final norm',
    );
  });
}

test('Qwen3-0.6B: 0.44B non-embedding parameters, as its model card says', () => {
  const p = PUBLISHED.find((x) => x.repo === 'Qwen/Qwen3-0.6B')!;
  const spec = modelSpec(p.config, stored(true));
  const nonEmbedding = specParameterCount(spec) - spec.vocabSize * spec.dModel;
  assert.equal(Math.round(nonEmbedding / 1e7) / 100, 0.44);
});

test('the config-only parameter count equals the stored tensors of every golden checkpoint', async () => {
  for (const name of readdirSync(FIXTURES)) {
    const checkpoint = await openCheckpoint(join(FIXTURES, name));
    try {
      const spec = modelSpec(checkpoint.config, (n) => checkpoint.has(n));
      assert.equal(specParameterCount(spec), usedParameterCount(spec, checkpoint), name);
    } finally {
      await checkpoint.close();
    }
  }
});

test('model info describes the attention, norms and experts of the new families (values from the fixtures config.json)', async () => {
  const describe = async (name: string) => {
    const { dir, checkpoint, spec } = await inspectCheckpoint(join(FIXTURES, name));
    try {
      return modelInfo(dir, checkpoint, spec);
    } finally {
      await checkpoint.close();
    }
  };
  const g2 = await describe('gemma2-f32');
  assert.equal(
    g2.attention,
    'scale 0.3536, sliding window 3 on 1/2 layers, score soft-cap 2, logit soft-cap 1.5, embeddings × √24',
  );
  assert.match(g2.norm, /scaled by \(1 \+ weight\), pre- and post-sub-block norms/);
  const g3 = await describe('gemma3-text-bf16-sharded'); // sliding_window_pattern 3: layers 0 and 1 slide
  assert.match(g3.attention, /sliding window 3 on 2\/3 layers, separate rotary for sliding layers/);
  assert.match(
    (await describe('olmo2-f32')).norm,
    /post-sub-block norms only, q\/k norm over the full width/,
  );
  // mixtral-f32: 3 layers of 4 experts (16 wide, d 24), top 2: a token skips 2 experts × 3 matrices per layer.
  const mixtral = await describe('mixtral-f32');
  assert.equal(mixtral.experts, '4 × 16 wide, top 2 renormalised, in 3/3 layers');
  assert.equal(mixtral.parameters - mixtral.activeParameters, 3 * 2 * 3 * 16 * 24);
  assert.match(formatModelInfo(mixtral), /active parameters\s+\d/);
  const qwen = await describe('qwen2-moe-f32');
  assert.equal(qwen.experts, '6 × 12 wide, top 2, in 2/3 layers, shared expert 20 wide (sigmoid-gated)');
  assert.equal(qwen.parameters - qwen.activeParameters, 2 * 4 * 3 * 12 * 24);
  // The Gemma 3 fixture's vision tower: patch embedding 8·3·2·2, fc1 16·8, post norm 8, projector 8·24 + 8.
  const gemma = await describe('gemma3-mm-4x-f32');
  assert.equal(gemma.unusedParameters, 96 + 128 + 8 + 192 + 8);
  assert.match(formatModelInfo(gemma), /not loaded\s+432 \(432\) parameters/);
  assert.equal((await describe('olmo-f32')).norm, 'LayerNorm eps 0.00001, no weight or bias');
  assert.match((await describe('smollm3-f32')).attention, /no rotary \(NoPE\) on 1\/4 layers/);
  assert.match(
    (await describe('granite-f32')).attention,
    /embeddings × 3, sub-block outputs × 0\.5, logits \/ 2/,
  );
});
