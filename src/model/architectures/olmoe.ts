/**
 * OLMoE (OLMoE-1B-7B): the Llama block with q_norm/k_norm RMSNorms over the full projected query and key widths,
 * then q, k and v clamped to ±clip_qkv (when set), then rotary; every layer a sparse MoE block (router mlp.gate,
 * experts mlp.experts.{e} of intermediate_size), top num_experts_per_tok, renormalised only when norm_topk_prob
 * (default false). RMSNorm eps default 1e-5.
 */
import type { Architecture } from '../spec.js';
import { num, positiveInt } from '../spec.js';
import { optionalNumber } from './gemma2.js';
import { llamaLikeSpec, withLayerNames } from './llama.js';
import { QWEN_LAYOUT, routing, withMoe } from './moe.js';

export const olmoe: Architecture = {
  modelTypes: ['olmoe'],
  spec(config, has) {
    const base = llamaLikeSpec({ ...config, use_sliding_window: false }, has);
    const attention = withLayerNames(
      {
        ...base,
        qkNorm: 'full',
        normEps: num(config, 'rms_norm_eps', 1e-5),
        clipQkv: optionalNumber(config, 'clip_qkv', undefined),
      },
      (l) => ({
        qNorm: `model.layers.${l}.self_attn.q_norm.weight`,
        kNorm: `model.layers.${l}.self_attn.k_norm.weight`,
      }),
    );
    return withMoe(
      attention,
      has,
      {
        nExperts: positiveInt(config, 'num_experts', 64),
        ...routing(config, false),
        dExpert: base.dMlp,
        sparseLayer: () => true,
      },
      QWEN_LAYOUT,
    );
  },
};
