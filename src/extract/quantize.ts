import { f16ToF32, f32ToF16 } from '../formats/float16.js';

/**
 * The paper's 8-bit per-channel affine quantisation of an activation matrix (docs/method.md#activations; the authors' `utils.py
 * adjust_precision(per_channel=True)` applied after `save_activations.py` keeps activations in fp16):
 *   x <- fp32(fp16(x));  per column c over the N rows: scale_c = (max_c - min_c) / 255 (float32),
 *   zero_c = round_half_even(-min_c / scale_c) (float32, NOT clamped: all-positive columns get zero < 0),
 *   code = clamp(zero_c + round_half_even(x * fp32(1 / scale_c)), 0, 255),   value = (code - zero_c) * scale_c.
 * Mirrors torch.quantize_per_channel(..., torch.quint8) bit for bit (checked against a torch golden).
 * A constant column (max == min) would divide by zero in the authors' code; here it gets scale 1 and keeps its value
 * exactly when that value is an integer in range, otherwise the nearest representable one (documented edge case).
 */
export interface QuantizedMatrix {
  n: number;
  d: number;
  codes: Uint8Array; // n*d row-major
  scales: Float32Array; // d
  zeroPoints: Float64Array; // d (integers, may lie outside 0..255)
}

const f32 = Math.fround;

/** Round half to even, like std::nearbyint / torch.round. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Rounds every element through float16 and back (the fp16 cast the authors' pipeline applies before quantising). */
export function roundThroughF16(x: Float32Array): Float32Array {
  return f16ToF32(f32ToF16(x));
}

export function quantizePerChannel(x: Float32Array, n: number, d: number): QuantizedMatrix {
  if (x.length !== n * d) throw new Error(`quantizePerChannel: ${x.length} values is not ${n}x${d}`);
  const min = new Float32Array(d).fill(Number.POSITIVE_INFINITY);
  const max = new Float32Array(d).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let c = 0; c < d; c++) {
      const v = x[row + c]!;
      if (v < min[c]!) min[c] = v;
      if (v > max[c]!) max[c] = v;
    }
  }
  const scales = new Float32Array(d);
  const zeroPoints = new Float64Array(d);
  const inv = new Float32Array(d);
  for (let c = 0; c < d; c++) {
    let s = f32(f32(max[c]! - min[c]!) / 255);
    if (!(s > 0) || !Number.isFinite(s)) s = 1;
    scales[c] = s;
    zeroPoints[c] = roundHalfEven(f32(-min[c]! / s));
    inv[c] = f32(1 / s);
  }
  const codes = new Uint8Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let c = 0; c < d; c++) {
      const q = zeroPoints[c]! + roundHalfEven(f32(x[row + c]! * inv[c]!));
      codes[row + c] = Math.max(0, Math.min(255, q));
    }
  }
  return { n, d, codes, scales, zeroPoints };
}

/** value = (code - zero) * scale, in float32 like torch's dequantize. */
export function dequantize(q: QuantizedMatrix): Float32Array {
  const { n, d, codes, scales, zeroPoints } = q;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let c = 0; c < d; c++) out[row + c] = f32(f32(codes[row + c]! - zeroPoints[c]!) * scales[c]!);
  }
  return out;
}

/** fp16 round trip, quantise and dequantise: the values the authors' probes were fitted on. */
export function paperQuantize(
  x: Float32Array,
  n: number,
  d: number,
): { values: Float32Array; q: QuantizedMatrix } {
  const q = quantizePerChannel(roundThroughF16(x), n, d);
  return { values: dequantize(q), q };
}
