/**
 * SmolLM3: the Llama block with NoPE layers: no_rope_layers[l] = 0 skips rotary in layer l (default: every
 * no_rope_layer_interval-th layer, 4). With use_sliding_window, the sliding layers are layer_types' (default: the
 * NoPE layers). rope_theta default 2e6; tied embeddings by default.
 */
import { UserError } from '../../util/errors.js';
import type { Architecture } from '../spec.js';
import { bool, positiveInt } from '../spec.js';
import { slidingLayers } from './gemma2.js';
import { llamaLikeSpec } from './llama.js';

export const smollm3: Architecture = {
  modelTypes: ['smollm3'],
  spec(config, has) {
    const base = llamaLikeSpec(
      { rope_theta: 2e6, ...config, use_sliding_window: bool(config, 'use_sliding_window', false) },
      has,
    );
    const interval = positiveInt(config, 'no_rope_layer_interval', 4);
    const given = config['no_rope_layers'];
    if (given !== undefined && given !== null) {
      if (!Array.isArray(given) || given.length < base.nLayers || given.some((v) => v !== 0 && v !== 1))
        throw new UserError(
          `config.json: no_rope_layers should list 0 or 1 for each of the ${base.nLayers} layers`,
        );
    }
    const usesRope = (l: number) => (Array.isArray(given) ? given[l] === 1 : (l + 1) % interval !== 0);
    return {
      ...base,
      noRopeLayer: (l) => !usesRope(l),
      slidingLayer:
        base.slidingWindow === undefined
          ? undefined
          : slidingLayers(config, base.nLayers, (l) => !usesRope(l)),
    };
  },
};
