/**
 * Phi-3 (Phi-3-mini/medium 4k): the Mistral block with fused qkv_proj ([q|k|v] on the output
 * axis, grouped-query widths) and gate_up_proj (gate first), partial rotary when partial_rotary_factor < 1, and the
 * config's sliding_window applied in every layer. The long-context `longrope` rope scaling (Phi-3/3.5 *-128k,
 * Phi-4-mini) is refused.
 */
import { UserError } from '../../util/errors.js';
import type { Architecture } from '../spec.js';
import { llamaLikeSpec, withLayerNames } from './llama.js';

export const phi3: Architecture = {
  modelTypes: ['phi3'],
  spec(config, has) {
    const scaling = config['rope_scaling'] as Record<string, unknown> | null | undefined;
    const type = scaling ? (scaling['rope_type'] ?? scaling['type']) : undefined;
    if (type !== undefined && type !== 'default') {
      throw new UserError(
        `phi3: rope_scaling type '${String(type)}' is not supported (only unscaled rotary: the 4k-context Phi-3 ` +
          'models; the 128k ones use longrope)',
      );
    }
    const spec = llamaLikeSpec(config, has);
    return withLayerNames({ ...spec, qkv: 'fused' }, (l) => {
      const p = `model.layers.${l}.`;
      return {
        q: undefined,
        k: undefined,
        v: undefined,
        qkv: `${p}self_attn.qkv_proj.weight`,
        gate: undefined,
        up: undefined,
        gateUp: `${p}mlp.gate_up_proj.weight`,
      };
    });
  },
};
