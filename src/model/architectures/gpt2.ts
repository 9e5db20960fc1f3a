/**
 * GPT-2: Conv1D weights stored [in, out]; fused c_attn split in thirds on the output axis; learned positions;
 * gelu_new (tanh) by default; tied head; legacy attn.bias / attn.masked_bias buffers are ignored; checkpoints
 * saved from GPT2LMHeadModel prefix every name with `transformer.`, older ones do not.
 */
import { type Architecture, activation, bool, checkShape, num, positiveInt } from '../spec.js';

export const gpt2: Architecture = {
  modelTypes: ['gpt2'],
  spec(config, has) {
    const prefix = has('transformer.wte.weight') ? 'transformer.' : '';
    const dModel = positiveInt(config, 'n_embd');
    const nHeads = positiveInt(config, 'n_head');
    const headDim = Math.floor(dModel / nHeads);
    const scaled = bool(config, 'scale_attn_weights', true);
    const byLayer = bool(config, 'scale_attn_by_inverse_layer_idx', false);
    const tied = !has('lm_head.weight');
    return checkShape({
      modelType: 'gpt2',
      nLayers: positiveInt(config, 'n_layer'),
      dModel,
      nHeads,
      nKvHeads: nHeads,
      headDim,
      dMlp: positiveInt(config, 'n_inner', 4 * dModel),
      vocabSize: positiveInt(config, 'vocab_size'),
      maxPositions: positiveInt(config, 'n_positions'),
      norm: 'layer',
      normEps: num(config, 'layer_norm_epsilon', 1e-5),
      act: activation(config['activation_function'] ?? 'gelu_new', 'activation_function'),
      gated: false,
      qkv: 'gpt2',
      linear: 'in_out',
      parallelResidual: false,
      attnScale: (l) => (scaled ? 1 / Math.sqrt(headDim) : 1) / (byLayer ? l + 1 : 1),
      tiedEmbeddings: tied,
      names: {
        embed: `${prefix}wte.weight`,
        posEmbed: `${prefix}wpe.weight`,
        finalNorm: `${prefix}ln_f.weight`,
        finalNormBias: `${prefix}ln_f.bias`,
        unembed: tied ? `${prefix}wte.weight` : 'lm_head.weight',
        layer(l) {
          const p = `${prefix}h.${l}.`;
          return {
            ln1: `${p}ln_1.weight`,
            ln1Bias: `${p}ln_1.bias`,
            ln2: `${p}ln_2.weight`,
            ln2Bias: `${p}ln_2.bias`,
            qkv: `${p}attn.c_attn.weight`,
            qkvBias: `${p}attn.c_attn.bias`,
            o: `${p}attn.c_proj.weight`,
            oBias: `${p}attn.c_proj.bias`,
            up: `${p}mlp.c_fc.weight`,
            upBias: `${p}mlp.c_fc.bias`,
            down: `${p}mlp.c_proj.weight`,
            downBias: `${p}mlp.c_proj.bias`,
          };
        },
      },
      bosId: typeof config['bos_token_id'] === 'number' ? config['bos_token_id'] : undefined,
      eosId: typeof config['eos_token_id'] === 'number' ? config['eos_token_id'] : undefined,
    });
  },
};
