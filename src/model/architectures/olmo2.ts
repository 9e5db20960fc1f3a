/**
 * OLMo-2: no norm before attention or the MLP; instead RMSNorms on their outputs before each joins the residual
 * stream (post_attention_layernorm, post_feedforward_layernorm), and q_norm/k_norm over the full projected query and
 * key widths (weights [heads·head_dim], [kv_heads·head_dim]) before rotary. Plain RMSNorm (w · x̂), SiLU gated MLP.
 */
import type { Architecture } from '../spec.js';
import { num } from '../spec.js';
import { llamaLikeSpec, withLayerNames } from './llama.js';

export const olmo2: Architecture = {
  modelTypes: ['olmo2'],
  spec(config, has) {
    const spec = llamaLikeSpec({ ...config, use_sliding_window: false }, has);
    return withLayerNames({ ...spec, qkNorm: 'full', normEps: num(config, 'rms_norm_eps', 1e-5) }, (l) => {
      const p = `model.layers.${l}.`;
      return {
        ln1: undefined,
        ln2: undefined,
        postAttnNorm: `${p}post_attention_layernorm.weight`,
        postMlpNorm: `${p}post_feedforward_layernorm.weight`,
        qNorm: `${p}self_attn.q_norm.weight`,
        kNorm: `${p}self_attn.k_norm.weight`,
      };
    });
  },
};
