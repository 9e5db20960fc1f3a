/**
 * Phi-3 (Phi-3/3.5-mini, Phi-3-medium, Phi-4-mini): the Mistral block with fused qkv_proj ([q|k|v] on the output
 * axis, grouped-query widths) and gate_up_proj (gate first), partial rotary when partial_rotary_factor < 1, and the
 * config's sliding_window applied in every layer.
 *
 * Rope scaling: none, or `longrope` (legacy name `su`; the 128k-context models) with its short factors,
 * inv_freq[i] = 1 / (short_factor[i] · base^(2i/dim)), and cos/sin scaled by the attention factor
 * √(1 + ln(max_position_embeddings / original_max_position_embeddings) / ln(original_max_position_embeddings))
 * unless rope_scaling.attention_factor gives it. Transformers switches to the long factors when a batch reaches
 * beyond original_max_position_embeddings; such sequences are refused. Other types (yarn...) are refused.
 */
import { UserError } from '../../util/errors.js';
import { type Architecture, type ModelSpec, num, positiveInt, type Rotary } from '../spec.js';
import { llamaLikeSpec, withLayerNames } from './llama.js';

function longrope(config: Record<string, unknown>, scaling: Record<string, unknown>, dim: number): Rotary {
  const short = scaling['short_factor'];
  if (
    !Array.isArray(short) ||
    short.length !== dim / 2 ||
    short.some((f) => typeof f !== 'number' || !(f > 0))
  ) {
    throw new UserError(`config.json: rope_scaling.short_factor should list ${dim / 2} positive numbers`);
  }
  const base = num(config, 'rope_theta', 10000);
  const original = positiveInt(config, 'original_max_position_embeddings');
  const factor = num(config, 'max_position_embeddings') / original;
  const given = scaling['attention_factor'];
  const attentionScale =
    typeof given === 'number'
      ? given
      : factor <= 1
        ? 1
        : Math.sqrt(1 + Math.log(factor) / Math.log(original));
  const invFreq = new Float64Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) invFreq[i] = 1 / ((short[i] as number) * base ** ((2 * i) / dim));
  return { dim, invFreq, attentionScale, maxPositions: original };
}

export const phi3: Architecture = {
  modelTypes: ['phi3'],
  spec(config, has) {
    const scaling = config['rope_scaling'] as Record<string, unknown> | null | undefined;
    const type = scaling ? (scaling['rope_type'] ?? scaling['type']) : undefined;
    const isLongrope = type === 'longrope' || type === 'su';
    if (type !== undefined && type !== 'default' && !isLongrope) {
      throw new UserError(
        `phi3: rope_scaling type '${String(type)}' is not supported (supported: none, longrope)`,
      );
    }
    const spec: ModelSpec = llamaLikeSpec({ ...config, rope_scaling: null }, has);
    const rotary = isLongrope && spec.rotary ? longrope(config, scaling!, spec.rotary.dim) : spec.rotary;
    return withLayerNames({ ...spec, qkv: 'fused', rotary }, (l) => {
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
