/**
 * Qwen3: the Llama block with an explicit head_dim and an RMSNorm over each head's queries and keys (q_norm /
 * k_norm, weight [head_dim]) applied after the projections and before rotary. The released models keep
 * use_sliding_window false; the per-layer window (max_window_layers) is refused.
 */
import { UserError } from '../../util/errors.js';
import type { Architecture } from '../spec.js';
import { llamaLikeSpec, withLayerNames } from './llama.js';

export const qwen3: Architecture = {
  modelTypes: ['qwen3'],
  spec(config, has) {
    if (config['use_sliding_window'] === true)
      throw new UserError('qwen3 with use_sliding_window=true is not supported');
    const spec = llamaLikeSpec({ ...config, use_sliding_window: false }, has);
    return withLayerNames({ ...spec, qkNorm: 'head' }, (l) => ({
      qNorm: `model.layers.${l}.self_attn.q_norm.weight`,
      kNorm: `model.layers.${l}.self_attn.k_norm.weight`,
    }));
  },
};
