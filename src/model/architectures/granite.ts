/**
 * Granite (3.x dense): the Llama block with four multipliers (GraniteConfig defaults 1): embeddings ×
 * embedding_multiplier; attention scores × attention_multiplier (instead of head_dim^-½); what attention and the MLP
 * add to the residual stream × residual_multiplier (hook_attn_out / hook_mlp_out are the multiplied values); logits
 * / logits_scaling.
 */
import type { Architecture } from '../spec.js';
import { num } from '../spec.js';
import { llamaLikeSpec } from './llama.js';

export const granite: Architecture = {
  modelTypes: ['granite'],
  spec(config, has) {
    const base = llamaLikeSpec({ ...config, use_sliding_window: false }, has);
    const attention = num(config, 'attention_multiplier', 1);
    return {
      ...base,
      embedMultiplier: num(config, 'embedding_multiplier', 1),
      attnScale: () => attention,
      residualMultiplier: num(config, 'residual_multiplier', 1),
      logitScale: num(config, 'logits_scaling', 1),
    };
  },
};
