/**
 * IEEE half (f16) and bfloat16 (bf16) <-> f32 conversions on typed arrays.
 *
 * Everything works on bit patterns through Uint32Array views, so NaN payloads survive (reading a NaN into a JS
 * number may canonicalise it). f32 -> f16 and f32 -> bf16 round to nearest, ties to even, like NumPy and PyTorch.
 * Large f16/bf16 -> f32 conversions run in a WebAssembly SIMD kernel (half-wasm.ts), small ones in JS loops.
 */
import { widenHalvesWasm } from './half-wasm.js';

/** f16 bit pattern -> f32 bit pattern for all 65,536 halves; built on first use (256 KiB). */
let halfTable: Uint32Array | undefined;

function buildHalfTable(): Uint32Array {
  const bits = new Uint32Array(65536);
  const floats = new Float32Array(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // Zero or subnormal: mant * 2^-24 is exact in f32.
      floats[h] = (sign ? -1 : 1) * mant * 2 ** -24;
    } else if (exp === 0x1f) {
      bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, or NaN with its payload
    } else {
      bits[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  return bits;
}

/** Widens f16 bit patterns to f32 (exact). */
export function f16ToF32(src: Uint16Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(src.length);
  f16ToF32Into(src, out);
  return out;
}

/** Widens bf16 bit patterns to f32 (exact: bf16 is the top half of an f32). */
export function bf16ToF32(src: Uint16Array): Float32Array<ArrayBuffer> {
  const out = new Float32Array(src.length);
  bf16ToF32Into(src, out);
  return out;
}

/**
 * `f16ToF32` into `out` (same length). The loop runs forward, so `src` may alias the upper half of `out`'s bytes
 * (`src` at byte offset `out.byteOffset + 2 * n`): widening in place then needs no second buffer.
 */
export function f16ToF32Into(src: Uint16Array, out: Float32Array): void {
  if (out.length !== src.length) throw new RangeError('f16ToF32Into: length mismatch');
  if (src.length >= WASM_MIN && widenHalvesWasm(src, out)) return;
  f16ToF32Js(src, out);
}

/** Below this many values the table loop wins (no copies through wasm memory). */
const WASM_MIN = 1 << 14;

/** The portable path: one table lookup per value. Exported for tests. */
export function f16ToF32Js(src: Uint16Array, out: Float32Array): void {
  halfTable ??= buildHalfTable();
  const table = halfTable;
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]];
}

/** `bf16ToF32` into `out`; may alias like `f16ToF32Into`. */
export function bf16ToF32Into(src: Uint16Array, out: Float32Array): void {
  if (out.length !== src.length) throw new RangeError('bf16ToF32Into: length mismatch');
  if (src.length >= WASM_MIN && widenHalvesWasm(src, out, 'bf16')) return;
  bf16ToF32Js(src, out);
}

/** The portable bf16 path. Exported for tests. */
export function bf16ToF32Js(src: Uint16Array, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
}

/** One f32 bit pattern -> f16 bit pattern, round to nearest even (NumPy's npy_floatbits_to_halfbits). */
function halfBits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const fExp = f & 0x7f800000;
  const fMant = f & 0x007fffff;
  if (fExp >= 0x47800000) {
    // |f| >= 65536, inf or NaN.
    // NaN becomes a quiet NaN keeping the top payload bits (as x86 F16C and PyTorch do).
    if (fExp === 0x7f800000 && fMant !== 0) return sign | 0x7e00 | (fMant >>> 13);
    return sign | 0x7c00;
  }
  if (fExp <= 0x38000000) {
    // Below the smallest normal half: subnormal half or signed zero.
    if (fExp < 0x33000000) return sign; // below half the smallest subnormal
    const e = fExp >>> 23;
    let sig = (0x00800000 + fMant) >>> (113 - e);
    // Ties to even; the shift may have dropped up to 11 low bits, which break a tie when any is set.
    if ((sig & 0x3fff) !== 0x1000 || (f & 0x7ff) !== 0) sig += 0x1000;
    return sign | (sig >>> 13); // a carry into the exponent gives the smallest normal, which is right
  }
  const exp = (fExp - 0x38000000) >>> 13;
  let sig = fMant;
  if ((sig & 0x3fff) !== 0x1000) sig += 0x1000;
  return sign | ((sig >>> 13) + exp); // a carry may lift the exponent, up to inf, which is right
}

/** Narrows f32 to f16 bit patterns, round to nearest even; overflow gives +-inf, NaN stays NaN. */
export function f32ToF16(src: Float32Array): Uint16Array<ArrayBuffer> {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfBits(bits[i]);
  return out;
}

/** Narrows f32 to bf16 bit patterns, round to nearest even (as PyTorch's `.to(torch.bfloat16)`); NaN stays NaN. */
export function f32ToBf16(src: Float32Array): Uint16Array<ArrayBuffer> {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < bits.length; i++) {
    const f = bits[i];
    if ((f & 0x7fffffff) > 0x7f800000) {
      out[i] = (f >>> 16) | 0x0040; // quiet NaN, sign kept
    } else {
      out[i] = (f + 0x7fff + ((f >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}
