/** Rotary position embedding frequencies and tables, as in transformers' rope utilities. */
import { UserError } from '../util/errors.js';

/** inv_freq[i] = 1 / base^(2i/dim), i < dim/2 (computed in float64). */
export function defaultInvFreq(dim: number, base: number): Float64Array {
  const out = new Float64Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) out[i] = 1 / base ** ((2 * i) / dim);
  return out;
}

/** Applies `config.rope_scaling` (none, `linear`, or Llama-3's `llama3`) to the default frequencies. */
export function scaledInvFreq(invFreq: Float64Array, scaling: unknown): Float64Array {
  if (scaling === undefined || scaling === null) return invFreq;
  if (typeof scaling !== 'object') throw new UserError('config.json: rope_scaling should be an object');
  const s = scaling as Record<string, unknown>;
  const type = s['rope_type'] ?? s['type'] ?? 'default';
  const get = (k: string): number => {
    const v = s[k];
    if (typeof v !== 'number')
      throw new UserError(`config.json: rope_scaling.${k} is missing or not a number`);
    return v;
  };
  if (type === 'default') return invFreq;
  if (type === 'linear') return invFreq.map((f) => f / get('factor'));
  if (type === 'llama3') {
    const factor = get('factor');
    const low = get('low_freq_factor');
    const high = get('high_freq_factor');
    const old = get('original_max_position_embeddings');
    const lowWavelen = old / low;
    const highWavelen = old / high;
    return invFreq.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) return f;
      if (wavelen > lowWavelen) return f / factor;
      const smooth = (old / wavelen - low) / (high - low);
      return ((1 - smooth) * f) / factor + smooth * f;
    });
  }
  throw new UserError(
    `config.json: rope_scaling type '${String(type)}' is not supported (supported: default, linear, llama3)`,
  );
}

/** scale·cos and scale·sin of position·inv_freq for positions 0..T-1, [T, dim/2] each, rounded to f32. */
export function rotaryTables(
  invFreq: Float64Array,
  T: number,
  scale = 1,
): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(T * half);
  const sin = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = t * invFreq[i]!;
      cos[t * half + i] = Math.cos(a) * scale;
      sin[t * half + i] = Math.sin(a) * scale;
    }
  }
  return { cos, sin };
}
