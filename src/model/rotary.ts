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

/**
 * The rotary embedding of `dim` dims for rope_scaling `scaling`: scaledInvFreq's types, plus `yarn` (OLMo 3's full
 * attention layers), as transformers' _compute_yarn_parameters: factor (default max_position_embeddings /
 * original_max_position_embeddings), the correction dims d(r) = dim·ln(original / (2π r)) / (2 ln base) of beta_fast
 * (default 32) and beta_slow (default 1), floored and ceiled (unless truncate: false) and clamped to [0, dim - 1];
 * inv_freq[i] = interpolated (base^(-2i/dim) / factor) · ramp_i + extrapolated (base^(-2i/dim)) · (1 - ramp_i) with
 * ramp_i = clamp((i - low) / (high - low), 0, 1); cos and sin × attention_factor (default 0.1 ln factor + 1).
 */
export function scaledRotary(
  dim: number,
  base: number,
  scaling: unknown,
  maxPositions: number,
): { dim: number; invFreq: Float64Array; attentionScale?: number } {
  const s = (scaling ?? {}) as Record<string, unknown>;
  if ((s['rope_type'] ?? s['type']) !== 'yarn')
    return { dim, invFreq: scaledInvFreq(defaultInvFreq(dim, base), scaling) };
  const opt = (k: string): number | undefined => {
    const v = s[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') throw new UserError(`config.json: rope_scaling.${k} should be a number`);
    return v;
  };
  const original = opt('original_max_position_embeddings') ?? maxPositions;
  const factor = opt('factor') ?? maxPositions / original;
  if (!(factor > 0) || !(original > 0))
    throw new UserError('config.json: yarn needs a positive factor and original_max_position_embeddings');
  const attention = opt('attention_factor') ?? (factor <= 1 ? 1 : 0.1 * Math.log(factor) + 1);
  const correction = (rotations: number) =>
    (dim * Math.log(original / (rotations * 2 * Math.PI))) / (2 * Math.log(base));
  let low = correction(opt('beta_fast') || 32);
  let high = correction(opt('beta_slow') || 1);
  if (s['truncate'] !== false) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, dim - 1);
  if (low === high) high += 0.001;
  const invFreq = defaultInvFreq(dim, base).map((f, i) => {
    const extrapolation = 1 - Math.min(1, Math.max(0, (i - low) / (high - low)));
    return (f / factor) * (1 - extrapolation) + f * extrapolation;
  });
  return { dim, invFreq, attentionScale: attention };
}

/**
 * The classic rope fields of a config: rope_theta and rope_scaling, or transformers 5's single `rope_parameters`
 * object ({rope_theta, rope_type, ...}), which holds both.
 */
export function ropeFields(
  config: Record<string, unknown>,
  defaultTheta: number,
): { theta: number; scaling: unknown } {
  const params = config['rope_parameters'];
  if (params && typeof params === 'object' && 'rope_theta' in params) {
    const p = params as Record<string, unknown>;
    const theta = p['rope_theta'];
    if (typeof theta !== 'number')
      throw new UserError('config.json: rope_parameters.rope_theta should be a number');
    return { theta, scaling: p['rope_type'] === 'default' ? null : p };
  }
  const theta = config['rope_theta'] ?? defaultTheta;
  if (typeof theta !== 'number') throw new UserError('config.json: rope_theta should be a number');
  return { theta, scaling: config['rope_scaling'] };
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
