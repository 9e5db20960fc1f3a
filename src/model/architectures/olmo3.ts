/**
 * OLMo 3: OLMo-2's block (post norms, full-width q/k norms) with a sliding window (sliding_window, default 4096) on
 * layer_types' sliding layers (default: all but every 4th layer) and two rotary embeddings, as transformers'
 * Olmo3Model.rotary_embs: sliding layers the default rotary of rope_theta, full-attention layers rope_theta with
 * rope_scaling (OLMo-3-7B/32B: YaRN, whose attention factor multiplies cos and sin). Per-layer-type
 * rope_parameters ({full_attention, sliding_attention}) and transformers 5's single rope_parameters are read too.
 */
import { UserError } from '../../util/errors.js';
import { defaultInvFreq, ropeFields, scaledRotary } from '../rotary.js';
import { type Architecture, num, positiveInt, type Rotary } from '../spec.js';
import { slidingLayers } from './gemma2.js';
import { olmo2 } from './olmo2.js';

function rotaries(config: Record<string, unknown>, dim: number, maxPositions: number): [Rotary, Rotary] {
  const params = config['rope_parameters'] as Record<string, unknown> | undefined;
  const full = params?.['full_attention'];
  const sliding = params?.['sliding_attention'];
  if (full && typeof full === 'object' && sliding && typeof sliding === 'object') {
    const of = (p: Record<string, unknown>) => scaledRotary(dim, num(p, 'rope_theta'), p, maxPositions);
    return [of(full as Record<string, unknown>), of(sliding as Record<string, unknown>)];
  }
  const { theta, scaling } = ropeFields(config, 10000);
  return [scaledRotary(dim, theta, scaling, maxPositions), { dim, invFreq: defaultInvFreq(dim, theta) }];
}

export const olmo3: Architecture = {
  modelTypes: ['olmo3'],
  spec(config, has) {
    // The rotary is set below; OLMo-2's adapter gets a plain theta so it does not read the scaling.
    const base = olmo2.spec({ ...config, rope_scaling: null, rope_parameters: null }, has);
    if (!base.rotary) throw new UserError('olmo3: no rotary embedding');
    const [rotary, localRotary] = rotaries(
      config,
      base.rotary.dim,
      num(config, 'max_position_embeddings', 2048),
    );
    return {
      ...base,
      rotary,
      localRotary,
      slidingWindow: positiveInt(config, 'sliding_window', 4096),
      slidingLayer: slidingLayers(config, base.nLayers, (l) => (l + 1) % 4 !== 0),
    };
  },
};
