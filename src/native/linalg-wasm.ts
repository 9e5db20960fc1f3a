/**
 * A tiny WebAssembly SIMD kernel for the one memory-bound product that GEMM libraries do badly: the symmetric
 * matrix-vector product inside Householder tridiagonalisation (half of its flops, one call per column).
 * ORT's float64 MatMul with a single column runs at ~0.5 Gelem/s here; this kernel reads only the lower triangle
 * (half the memory traffic) with f64x2 lanes. The module is emitted byte by byte below (no toolchain needed).
 */

import { setFlagsFromString } from 'node:v8';

// --- minimal wasm encoder ------------------------------------------------------------------------------------------
function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}
const str = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

const I32 = 0x7f;
const F64 = 0x7c;
const V128 = 0x7b;
// opcodes
const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  void: 0x40,
  get: 0x20,
  set: 0x21,
  tee: 0x22,
  i32const: (v: number) => [0x41, ...sleb(v)],
  i32add: 0x6a,
  i32mul: 0x6c,
  i32shl: 0x74,
  i32geu: 0x4f,
  i32ltu: 0x49,
  f64load: [0x2b, 3, 0],
  f64store: [0x39, 3, 0],
  f64add: 0xa0,
  f64mul: 0xa2,
  simd: (code: number) => [0xfd, ...uleb(code)],
};
const v128load = [...op.simd(0), 4, 0];
const v128store = [...op.simd(11), 4, 0];
const f64x2splat = op.simd(20);
const f64x2lane = (lane: number) => [...op.simd(33), lane];
const f64x2add = op.simd(240);
const f64x2mul = op.simd(242);
const v128zero = [...op.simd(12), ...new Array(16).fill(0)];

// symvLower(a, x, y, m, lo): y[lo:m] += S[lo:m, lo:m]·x[lo:m] for symmetric S (row-major m×m at byte offset a),
// reading only S[r, c] with lo ≤ c ≤ r. Byte offsets for a, x, y.
function symvBody(): number[] {
  // params 0 a, 1 x, 2 y, 3 m, 4 lo; locals 5 r, 6 c, 7 row (i32), 8 xr, 9 sum, 10 sv (f64), 11 acc, 12 xrv, 13 s (v128)
  const [A, X, Y, M, LO, R, C, ROW, XR, SUM, SV, ACC, XRV, S] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
  ];
  const g = (i: number) => [op.get, i];
  const s = (i: number) => [op.set, i];
  const addr8 = (base: number, idx: number) => [
    ...g(base),
    ...g(idx),
    ...op.i32const(3),
    op.i32shl,
    op.i32add,
  ];
  const code: number[] = [
    ...g(LO),
    ...s(R),
    op.block,
    op.void,
    op.loop,
    op.void,
    ...g(R),
    ...g(M),
    op.i32geu,
    op.brIf,
    1,
    // row = a + r*m*8
    ...g(A),
    ...g(R),
    ...g(M),
    op.i32mul,
    ...op.i32const(3),
    op.i32shl,
    op.i32add,
    ...s(ROW),
    ...addr8(X, R),
    ...op.f64load,
    op.tee,
    XR,
    ...f64x2splat,
    ...s(XRV),
    ...v128zero,
    ...s(ACC),
    ...g(LO),
    ...s(C),
    op.block,
    op.void,
    op.loop,
    op.void,
    // while c + 2 <= r  (exit when c + 1 >= r)
    ...g(C),
    ...op.i32const(1),
    op.i32add,
    ...g(R),
    op.i32geu,
    op.brIf,
    1,
    ...addr8(ROW, C),
    ...v128load,
    op.tee,
    S,
    ...addr8(X, C),
    ...v128load,
    ...f64x2mul,
    ...g(ACC),
    ...f64x2add,
    ...s(ACC),
    ...addr8(Y, C),
    ...addr8(Y, C),
    ...v128load,
    ...g(S),
    ...g(XRV),
    ...f64x2mul,
    ...f64x2add,
    ...v128store,
    ...g(C),
    ...op.i32const(2),
    op.i32add,
    ...s(C),
    op.br,
    0,
    op.end,
    op.end,
    ...g(ACC),
    ...f64x2lane(0),
    ...g(ACC),
    ...f64x2lane(1),
    op.f64add,
    ...s(SUM),
    // leftover column c = r − 1
    ...g(C),
    ...g(R),
    op.i32ltu,
    op.if,
    op.void,
    ...addr8(ROW, C),
    ...op.f64load,
    ...s(SV),
    ...g(SUM),
    ...g(SV),
    ...addr8(X, C),
    ...op.f64load,
    op.f64mul,
    op.f64add,
    ...s(SUM),
    ...addr8(Y, C),
    ...addr8(Y, C),
    ...op.f64load,
    ...g(XR),
    ...g(SV),
    op.f64mul,
    op.f64add,
    ...op.f64store,
    op.end,
    // y[r] += sum + S[r,r]·x[r]
    ...addr8(Y, R),
    ...addr8(Y, R),
    ...op.f64load,
    ...g(SUM),
    op.f64add,
    ...addr8(ROW, R),
    ...op.f64load,
    ...g(XR),
    op.f64mul,
    op.f64add,
    ...op.f64store,
    ...g(R),
    ...op.i32const(1),
    op.i32add,
    ...s(R),
    op.br,
    0,
    op.end,
    op.end,
    op.end,
  ];
  const locals = vec([
    [3, I32],
    [3, F64],
    [3, V128],
  ]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function moduleBytes(): Uint8Array {
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), 0]])),
    ...section(2, vec([[...str('env'), ...str('mem'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...str('symvLower'), 0x00, 0]])),
    ...section(10, vec([symvBody()])),
  ];
  return Uint8Array.from(bytes);
}

// Node's WebAssembly global, typed minimally (the project's lib settings do not include its declarations).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let cached: object | undefined;

/**
 * Compiles the module with the optimising tier only: a single long call never leaves V8's baseline (Liftoff) code,
 * which runs this loop ~3x slower. The flag is restored right after compiling.
 */
function compiledModule(): object {
  if (!cached) {
    setFlagsFromString('--no-liftoff');
    try {
      cached = new WebAssemblyApi.Module(moduleBytes());
    } finally {
      setFlagsFromString('--liftoff');
    }
  }
  return cached;
}

/** A wasm memory holding one symmetric m×m matrix plus two vectors, and the kernel bound to it. */
export class WasmSymv {
  private readonly memory: WasmMemory;
  private readonly kernel: (a: number, x: number, y: number, m: number, lo: number) => void;
  readonly matrix: Float64Array;
  readonly x: Float64Array;
  readonly y: Float64Array;

  /** Returns undefined when the matrix does not fit a 32-bit wasm memory. */
  static create(maxSize: number): WasmSymv | undefined {
    const bytes = (maxSize * maxSize + 2 * maxSize + 4) * 8;
    if (bytes > 2 ** 31 - 2 ** 20) return undefined;
    return new WasmSymv(maxSize, bytes);
  }

  private constructor(maxSize: number, bytes: number) {
    const pages = Math.ceil(bytes / 65536);
    this.memory = new WebAssemblyApi.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssemblyApi.Instance(compiledModule(), { env: { mem: this.memory } });
    this.kernel = instance.exports['symvLower'] as typeof this.kernel;
    const buf = this.memory.buffer;
    this.matrix = new Float64Array(buf, 0, maxSize * maxSize);
    this.x = new Float64Array(buf, maxSize * maxSize * 8, maxSize);
    this.y = new Float64Array(buf, (maxSize * maxSize + maxSize) * 8, maxSize);
  }

  /**
   * y[lo:m] = S[lo:m, lo:m]·x[lo:m], S being the leading m·m entries of `matrix` viewed as m×m.
   * Entries of y outside [lo, m) are left as they were.
   */
  multiply(m: number, lo: number): void {
    this.y.fill(0, lo, m);
    this.kernel(this.matrix.byteOffset, this.x.byteOffset, this.y.byteOffset, m, lo);
  }
}
