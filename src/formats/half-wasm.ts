/**
 * f16 -> f32 and bf16 -> f32 widening with WebAssembly SIMD, eight values per step: a plain JS loop runs several
 * times slower than NumPy's F16C path. The module is emitted byte by byte below (no toolchain needed).
 *
 * Per lane: o = (h & 0x7fff) << 13 read as an f32 and multiplied by 2^112 rescales the exponent exactly, normal and
 * subnormal halves alike (wasm never flushes denormals); inf/NaN (exponent 31) take o | 0x7f800000 instead, which
 * keeps the NaN payload; then the sign is OR-ed in. Results are bit-identical to the table in float16.ts (tested
 * on all 65,536 halves).
 */
import { wasmName as name, section, uleb, webAssembly as wasm, withOptimizingWasm } from '../native/wasm.js';

const simd = (code: number): number[] => [0xfd, ...uleb(code)];
const i32x4 = (v: number): number[] => {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setUint32(0, v, true);
  b.copyWithin(4, 0, 4).copyWithin(8, 0, 8);
  return [...simd(12), ...b]; // v128.const
};
const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const tee = (i: number) => [0x22, i];
const I32_CONST = (v: number) => [0x41, ...uleb(v)]; // small non-negative values only
const V128_LOAD = [...simd(0), 4, 0];
const V128_STORE = (offset: number) => [...simd(11), 4, ...uleb(offset)];
const V128_AND = simd(78);
const V128_OR = simd(80);
const V128_BITSELECT = simd(82);
const I32X4_EQ = simd(55);
const I32X4_SHL = simd(171);
const EXTEND_LOW_U = simd(169);
const EXTEND_HIGH_U = simd(170);
const F32X4_MUL = simd(230);

/** Widens the i32x4 on the stack (four halves, zero-extended) into four f32 bit patterns. Locals: 4 x, 5 o. */
const widenHalf = [
  ...set(4),
  ...get(4),
  ...i32x4(0x7fff),
  ...V128_AND,
  ...I32_CONST(13),
  ...I32X4_SHL,
  ...tee(5),
  ...i32x4(0x7f800000),
  ...V128_OR, // inf / NaN bits
  ...get(5),
  ...i32x4(0x77800000), // 2^112 as f32
  ...F32X4_MUL, // finite values
  ...get(4),
  ...i32x4(0x7c00),
  ...V128_AND,
  ...i32x4(0x7c00),
  ...I32X4_EQ,
  ...V128_BITSELECT,
  ...get(4),
  ...i32x4(0x8000),
  ...V128_AND,
  ...I32_CONST(16),
  ...I32X4_SHL,
  ...V128_OR,
];

/** bf16 is the top half of an f32: shift the zero-extended lanes left by 16. */
const widenBf16 = [...I32_CONST(16), ...I32X4_SHL];

/** A function body (src, dst, groups): groups of 8 16-bit values at byte address src -> 8 f32 at address dst. */
function loopBody(widen: number[]): number[] {
  const [SRC, DST, GROUPS, V] = [0, 1, 2, 3];
  const code = [
    0x02,
    0x40, // block
    ...get(GROUPS),
    0x45, // i32.eqz
    0x0d,
    0, // br_if 0
    0x03,
    0x40, // loop
    ...get(DST),
    ...get(SRC),
    ...V128_LOAD,
    ...tee(V),
    ...EXTEND_LOW_U,
    ...widen,
    ...V128_STORE(0),
    ...get(DST),
    ...get(V),
    ...EXTEND_HIGH_U,
    ...widen,
    ...V128_STORE(16),
    ...get(SRC),
    ...I32_CONST(16),
    0x6a,
    ...set(SRC), // src += 16
    ...get(DST),
    ...I32_CONST(32),
    0x6a,
    ...set(DST), // dst += 32
    ...get(GROUPS),
    ...I32_CONST(1),
    0x6b,
    ...tee(GROUPS), // --groups
    0x0d,
    0, // br_if 0 (loop)
    0x0b, // end loop
    0x0b, // end block
    0x0b, // end function
  ];
  const body = [...uleb(1), ...uleb(3), 0x7b, ...code]; // locals: 3 x v128
  return [...uleb(body.length), ...body];
}

/** Exports widen (f16) and widenBf16, both (src, dst, groups), and the memory. */
function moduleBytes(pages: number): Uint8Array {
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]),
    ...section(3, [2, 0, 0]),
    ...section(5, [1, 0x00, ...uleb(pages)]),
    ...section(7, [3, ...name('widen'), 0x00, 0, ...name('widenBf16'), 0x00, 1, ...name('mem'), 0x02, 0]),
    ...section(10, [2, ...loopBody(widenHalf), ...loopBody(widenBf16)]),
  ]);
}

/** Halves per call: 2 MiB in, 4 MiB out. */
const CHUNK = 1 << 20;
interface Kernel {
  widen: (src: number, dst: number, groups: number) => void;
  widenBf16: (src: number, dst: number, groups: number) => void;
  mem: { buffer: ArrayBuffer };
}
let kernel: Kernel | null | undefined;

function load(): Kernel | null {
  if (kernel !== undefined) return kernel;
  try {
    // Optimising tier only, compiled now rather than lazily on the first call: a few long calls never leave V8's
    // baseline code, which runs this loop ~30x slower. The flags are restored right after (Node's defaults).
    kernel = withOptimizingWasm(() => {
      const instance = new wasm!.Instance(new wasm!.Module(moduleBytes((CHUNK * 6) / 65536)), {});
      const exports = instance.exports as unknown as Kernel;
      exports.widen(0, 2 * CHUNK, 1); // first calls, still under these flags
      exports.widenBf16(0, 2 * CHUNK, 1);
      return exports;
    });
  } catch {
    kernel = null; // no WebAssembly SIMD here: callers use the JS loop
  }
  return kernel;
}

/**
 * Widens f16 (or bf16) `src` into `out` (same length) with the SIMD kernel, chunk by chunk through wasm memory; returns false when
 * the kernel is unavailable. Safe when `src` aliases the upper half of `out`'s bytes (each chunk is copied in before
 * its output is written, and output chunk k only covers source elements below (k + 1) * CHUNK).
 */
export function widenHalvesWasm(src: Uint16Array, out: Float32Array, kind: 'f16' | 'bf16' = 'f16'): boolean {
  const k = load();
  if (!k) return false;
  const widen = kind === 'f16' ? k.widen : k.widenBf16;
  const input = new Uint16Array(k.mem.buffer, 0, CHUNK);
  const output = new Float32Array(k.mem.buffer, 2 * CHUNK, CHUNK);
  for (let at = 0; at < src.length; at += CHUNK) {
    const n = Math.min(CHUNK, src.length - at);
    input.set(src.subarray(at, at + n));
    const groups = Math.ceil(n / 8);
    input.fill(0, n, groups * 8);
    widen(0, 2 * CHUNK, groups);
    out.set(output.subarray(0, n), at);
  }
  return true;
}
