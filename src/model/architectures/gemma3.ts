/**
 * Gemma 3 (text; model_type gemma3_text, e.g. gemma-3-1b): Gemma 2's layout without soft-capping by default, plus
 * q_norm/k_norm (Gemma RMSNorm over each head, before rotary), sliding-window layers chosen by layer_types or
 * sliding_window_pattern (every pattern-th layer is global), and two rotary embeddings: sliding layers use
 * rope_local_base_freq unscaled, global layers rope_theta with rope_scaling. Newer configs' per-layer-type
 * rope_parameters are read too. Bidirectional attention (EmbeddingGemma) is refused.
 */
import { UserError } from '../../util/errors.js';
import { defaultInvFreq, scaledInvFreq } from '../rotary.js';
import { type Architecture, bool, num, positiveInt, type Rotary } from '../spec.js';
import { gemma2LikeSpec } from './gemma2.js';
import { withLayerNames } from './llama.js';

/** inv_freq of one layer type: from rope_parameters[type] when present, else the classic fields. */
function rotaryOf(
  config: Record<string, unknown>,
  dim: number,
  type: 'full_attention' | 'sliding_attention',
): Rotary {
  const params = config['rope_parameters'] as Record<string, unknown> | undefined;
  const own = params?.[type];
  if (own && typeof own === 'object') {
    const p = own as Record<string, unknown>;
    return { dim, invFreq: scaledInvFreq(defaultInvFreq(dim, num(p, 'rope_theta')), p) };
  }
  if (type === 'sliding_attention')
    return { dim, invFreq: defaultInvFreq(dim, num(config, 'rope_local_base_freq', 10000)) };
  return {
    dim,
    invFreq: scaledInvFreq(defaultInvFreq(dim, num(config, 'rope_theta', 1e6)), config['rope_scaling']),
  };
}

export const gemma3: Architecture = {
  modelTypes: ['gemma3_text'],
  spec(config, has) {
    if (bool(config, 'use_bidirectional_attention', false))
      throw new UserError('gemma3_text with use_bidirectional_attention (EmbeddingGemma) is not supported');
    const pattern = positiveInt(config, 'sliding_window_pattern', 6);
    const base = gemma2LikeSpec(
      // rope_scaling is applied to the global layers only, below.
      { ...config, rope_scaling: null },
      has,
      { sliding: (l) => (l + 1) % pattern !== 0 },
      { rope_theta: 1e6 },
    );
    const dim = base.headDim;
    return withLayerNames(
      {
        ...base,
        qkNorm: 'head',
        rotary: rotaryOf(config, dim, 'full_attention'),
        localRotary: rotaryOf(config, dim, 'sliding_attention'),
      },
      (l) => ({
        qNorm: `model.layers.${l}.self_attn.q_norm.weight`,
        kNorm: `model.layers.${l}.self_attn.k_norm.weight`,
      }),
    );
  },
};
