/**
 * GPT-NeoX / Pythia: fused query_key_value grouped per head as [q|k|v], partial rotary (rotary_pct of each head's
 * first dims), parallel residual (x + attn(ln1 x) + mlp(ln2 x)), LayerNorm with bias, exact GELU, `embed_out` head.
 */
import { defaultInvFreq, scaledInvFreq } from '../rotary.js';
import { type Architecture, activation, bool, checkShape, num, optional, positiveInt } from '../spec.js';

export const gptNeox: Architecture = {
  modelTypes: ['gpt_neox'],
  spec(config, has) {
    const dModel = positiveInt(config, 'hidden_size');
    const nHeads = positiveInt(config, 'num_attention_heads');
    const headDim = Math.floor(dModel / nHeads);
    const rotaryDim = Math.floor(headDim * num(config, ['rotary_pct', 'partial_rotary_factor'], 1));
    const base = num(config, ['rotary_emb_base', 'rope_theta'], 10000);
    const tied = !has('embed_out.weight');
    return checkShape({
      modelType: 'gpt_neox',
      nLayers: positiveInt(config, 'num_hidden_layers'),
      dModel,
      nHeads,
      nKvHeads: nHeads,
      headDim,
      dMlp: positiveInt(config, 'intermediate_size'),
      vocabSize: positiveInt(config, 'vocab_size'),
      maxPositions: num(config, 'max_position_embeddings', 0) || undefined,
      norm: 'layer',
      normEps: num(config, 'layer_norm_eps', 1e-5),
      act: activation(config['hidden_act'] ?? 'gelu', 'hidden_act'),
      gated: false,
      qkv: 'neox',
      linear: 'out_in',
      rotary: {
        dim: rotaryDim,
        invFreq: scaledInvFreq(defaultInvFreq(rotaryDim, base), config['rope_scaling']),
      },
      parallelResidual: bool(config, 'use_parallel_residual', true),
      attnScale: () => 1 / Math.sqrt(headDim),
      tiedEmbeddings: tied,
      names: {
        embed: 'gpt_neox.embed_in.weight',
        finalNorm: 'gpt_neox.final_layer_norm.weight',
        finalNormBias: 'gpt_neox.final_layer_norm.bias',
        unembed: tied ? 'gpt_neox.embed_in.weight' : 'embed_out.weight',
        layer(l) {
          const p = `gpt_neox.layers.${l}.`;
          return {
            ln1: `${p}input_layernorm.weight`,
            ln1Bias: `${p}input_layernorm.bias`,
            ln2: `${p}post_attention_layernorm.weight`,
            ln2Bias: `${p}post_attention_layernorm.bias`,
            qkv: `${p}attention.query_key_value.weight`,
            qkvBias: optional(has, `${p}attention.query_key_value.bias`),
            o: `${p}attention.dense.weight`,
            oBias: optional(has, `${p}attention.dense.bias`),
            up: `${p}mlp.dense_h_to_4h.weight`,
            upBias: optional(has, `${p}mlp.dense_h_to_4h.bias`),
            down: `${p}mlp.dense_4h_to_h.weight`,
            downBias: optional(has, `${p}mlp.dense_4h_to_h.bias`),
          };
        },
      },
      bosId: typeof config['bos_token_id'] === 'number' ? config['bos_token_id'] : undefined,
      eosId: typeof config['eos_token_id'] === 'number' ? config['eos_token_id'] : undefined,
    });
  },
};
