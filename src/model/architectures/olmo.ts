/**
 * OLMo (1): the Llama block with every norm a LayerNorm without weight or bias (eps 1e-5: input_layernorm,
 * post_attention_layernorm and the final norm have no tensors), and q, k, v clamped to ±clip_qkv after the
 * projections when clip_qkv is set (OLMo-7B-0424/0724).
 */
import type { Architecture } from '../spec.js';
import { optionalNumber } from './gemma2.js';
import { llamaLikeSpec, withLayerNames } from './llama.js';

export const olmo: Architecture = {
  modelTypes: ['olmo'],
  spec(config, has) {
    const base = llamaLikeSpec({ ...config, use_sliding_window: false }, has);
    return withLayerNames(
      {
        ...base,
        norm: 'layer',
        normEps: 1e-5,
        parameterFreeNorms: true,
        clipQkv: optionalNumber(config, 'clip_qkv', undefined),
        names: { ...base.names, finalNorm: undefined },
      },
      () => ({ ln1: undefined, ln2: undefined }),
    );
  },
};
