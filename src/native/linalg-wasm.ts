/**
 * A tiny WebAssembly SIMD kernel for the one memory-bound product that GEMM libraries do badly: the symmetric
 * matrix-vector product inside Householder tridiagonalisation (half of its flops, one call per column).
 * ORT's float64 MatMul with a single column runs at ~0.5 Gelem/s here; this kernel reads only the lower triangle
 * (half the memory traffic) with f64x2 lanes. The module is emitted byte by byte below (no toolchain needed).
 * The file is over 600 lines for that reason: one WebAssembly binary, whose kernel bodies and the two classes that
 * call them share its opcode table, function indices and memory layout.
 */

import {
  section,
  sleb,
  wasmName as str,
  uleb,
  vec,
  type WasmMemory,
  webAssembly,
  withOptimizingWasm,
} from './wasm.js';

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
  i32sub: 0x6b,
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
const f64x2sub = op.simd(241);
const f64x2mul = op.simd(242);
const v128zero = [...op.simd(12), ...new Array(16).fill(0)];

// symvLower(a, x, y, m, lo): y[lo:m] += S[lo:m, lo:m]·x[lo:m] for symmetric S (row-major m×m at byte offset a),
// reading only S[r, c] with lo ≤ c ≤ r. Byte offsets for a, x, y.
function symvBody(): number[] {
  // params 0 a, 1 x, 2 y, 3 m, 4 lo; locals 5 r, 6 c, 7 row (i32), 8 xr, 9 sum, 10 sv (f64), 11 acc, 12 xrv, 13 s (v128)
  const [A, X, Y, M, LO, R, C, ROW, XR, SUM, SV, ACC, XRV, S, ACC2] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
  ];
  const g = (i: number) => [op.get, i];
  const s = (i: number) => [op.set, i];
  const load = (offset: number) => [...op.simd(0), 4, ...uleb(offset)];
  const store = (offset: number) => [...op.simd(11), 4, ...uleb(offset)];
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
    ...v128zero,
    ...s(ACC2),
    ...g(LO),
    ...s(C),
    // four columns a step while c + 4 <= r (exit when c + 3 >= r), two sums so the adds do not wait on each other
    op.block,
    op.void,
    op.loop,
    op.void,
    ...g(C),
    ...op.i32const(3),
    op.i32add,
    ...g(R),
    op.i32geu,
    op.brIf,
    1,
    ...addr8(ROW, C),
    ...load(0),
    op.tee,
    S,
    ...addr8(X, C),
    ...load(0),
    ...f64x2mul,
    ...g(ACC),
    ...f64x2add,
    ...s(ACC),
    ...addr8(Y, C),
    ...addr8(Y, C),
    ...load(0),
    ...g(S),
    ...g(XRV),
    ...f64x2mul,
    ...f64x2add,
    ...store(0),
    ...addr8(ROW, C),
    ...load(16),
    op.tee,
    S,
    ...addr8(X, C),
    ...load(16),
    ...f64x2mul,
    ...g(ACC2),
    ...f64x2add,
    ...s(ACC2),
    ...addr8(Y, C),
    ...addr8(Y, C),
    ...load(16),
    ...g(S),
    ...g(XRV),
    ...f64x2mul,
    ...f64x2add,
    ...store(16),
    ...g(C),
    ...op.i32const(4),
    op.i32add,
    ...s(C),
    op.br,
    0,
    op.end,
    op.end,
    ...g(ACC),
    ...g(ACC2),
    ...f64x2add,
    ...s(ACC),
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
    [4, V128],
  ]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

// quadForms(z, rows, d, l, inv, out), for a fixed number P of shift pairs: for every row z_r of Z (rows×d) and every
// pair, y_0 = z_0, y_k = z_k − l[k−1]·y_{k−1}, out[r] = Σ_k y_k²·inv[k] — the same operations, in the same order, as
// the JS `shiftedQuadraticForms` (so the results are bit-identical), two shifts per f64x2 lane. The P pairs are
// unrolled with y and the sums in locals: P independent recurrences per step keep the FPU busy (one generic loop over
// pairs with y in memory ran 3-4x slower). l and inv are interleaved per k: P·16 bytes per step.
function quadBody(P: number): number[] {
  // params 0 z, 1 rows, 2 d, 3 l, 4 inv, 5 out; locals 6 r, 7 zp, 8 zend, 9 lp, 10 ip, 11 op (i32);
  // 12 zv, 13.. y_p, 13+P.. acc_p (v128)
  const [Z, ROWS, D, L, INV, OUT] = [0, 1, 2, 3, 4, 5];
  const [R, ZP, ZEND, LP, IP, OP, ZV] = [6, 7, 8, 9, 10, 11, 12];
  const Y = (q: number) => 13 + q;
  const ACC = (q: number) => 13 + P + q;
  const g = (i: number) => [op.get, i];
  const s = (i: number) => [op.set, i];
  const c = op.i32const;
  const load = (offset: number) => [...op.simd(0), 4, ...uleb(offset)];
  const store = (offset: number) => [...op.simd(11), 4, ...uleb(offset)];
  const each = (f: (q: number) => number[]) => Array.from({ length: P }, (_, q) => f(q)).flat();
  const bump = (ptr: number, bytes: number) => [...g(ptr), ...c(bytes), op.i32add, ...s(ptr)];
  const code: number[] = [
    ...c(0),
    ...s(R),
    op.block,
    op.void,
    op.loop,
    op.void,
    ...g(R),
    ...g(ROWS),
    op.i32geu,
    op.brIf,
    1,
    // zp = z + r·d·8, zend = zp + d·8
    ...g(Z),
    ...g(R),
    ...g(D),
    op.i32mul,
    ...c(3),
    op.i32shl,
    op.i32add,
    op.tee,
    ZP,
    ...g(D),
    ...c(3),
    op.i32shl,
    op.i32add,
    ...s(ZEND),
    ...g(ZP),
    ...op.f64load,
    ...f64x2splat,
    ...s(ZV),
    // y_p = z_0, acc_p = z_0·z_0·inv[0]
    ...each((q) => [
      ...g(ZV),
      ...s(Y(q)),
      ...g(ZV),
      ...g(ZV),
      ...f64x2mul,
      ...g(INV),
      ...load(16 * q),
      ...f64x2mul,
      ...s(ACC(q)),
    ]),
    ...bump(ZP, 8),
    ...g(L),
    ...s(LP),
    ...g(INV),
    ...c(16 * P),
    op.i32add,
    ...s(IP),
    op.block,
    op.void,
    op.loop,
    op.void,
    ...g(ZP),
    ...g(ZEND),
    op.i32geu,
    op.brIf,
    1,
    ...g(ZP),
    ...op.f64load,
    ...f64x2splat,
    ...s(ZV),
    ...each((q) => [
      // y = z_k − l·y; acc += y·y·inv
      ...g(ZV),
      ...g(LP),
      ...load(16 * q),
      ...g(Y(q)),
      ...f64x2mul,
      ...f64x2sub,
      op.tee,
      Y(q),
      ...g(Y(q)),
      ...f64x2mul,
      ...g(IP),
      ...load(16 * q),
      ...f64x2mul,
      ...g(ACC(q)),
      ...f64x2add,
      ...s(ACC(q)),
    ]),
    ...bump(ZP, 8),
    ...bump(LP, 16 * P),
    ...bump(IP, 16 * P),
    op.br,
    0,
    op.end,
    op.end,
    // out[r·P + p] = acc_p
    ...g(OUT),
    ...g(R),
    ...c(16 * P),
    op.i32mul,
    op.i32add,
    ...s(OP),
    ...each((q) => [...g(OP), ...g(ACC(q)), ...store(16 * q)]),
    ...g(R),
    ...c(1),
    op.i32add,
    ...s(R),
    op.br,
    0,
    op.end,
    op.end,
    op.end,
  ];
  const locals = vec([
    [6, I32],
    [...uleb(1 + 2 * P), V128],
  ]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

// panelAxpy(dst, V, W, a, b, count, stride, lo, end): dst[r] −= V_j[r]·a[j] + W_j[r]·b[j] for j < count and the
// byte range [lo, end) of each column (columns V_j = V + j·stride, f64, 16-byte aligned, lo and end multiples of 16);
// panelDots(x, V, W, outW, outV, count, stride, lo, end): outW[j] = Σ_r W_j[r]·x[r], outV[j] = Σ_r V_j[r]·x[r].
// The tridiagonalisation's panel updates (LAPACK dlatrd's dgemv calls), two lanes at a time.
function panelBody(dots: boolean): number[] {
  // params 0 dst|x, 1 V, 2 W, 3 a|outW, 4 b|outV, 5 count, 6 stride, 7 lo, 8 end; locals 9 j, 10 vp, 11 wp, 12 p,
  // 13 pend (i32); 14, 15, 16 (v128)
  const [DST, V, W, A, B, COUNT, STRIDE, LO, END] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [J, VP, WP, PP, PEND, T1, T2, T3] = [9, 10, 11, 12, 13, 14, 15, 16];
  const g = (i: number) => [op.get, i];
  const s = (i: number) => [op.set, i];
  const c = op.i32const;
  const bump = (ptr: number, bytes: number) => [...g(ptr), ...c(bytes), op.i32add, ...s(ptr)];
  const col = (base: number) => [
    ...g(base),
    ...g(J),
    ...g(STRIDE),
    op.i32mul,
    op.i32add,
    ...g(LO),
    op.i32add,
  ];
  const at8 = (base: number) => [...g(base), ...g(J), ...c(3), op.i32shl, op.i32add];
  const setup = [
    ...col(V),
    ...s(VP),
    ...col(W),
    ...s(WP),
    ...g(DST),
    ...g(LO),
    op.i32add,
    ...s(PP),
    ...g(DST),
    ...g(END),
    op.i32add,
    ...s(PEND),
  ];
  const inner = dots
    ? [
        // T1 += W·x, T2 += V·x
        ...g(PP),
        ...v128load,
        ...s(T3),
        ...g(WP),
        ...v128load,
        ...g(T3),
        ...f64x2mul,
        ...g(T1),
        ...f64x2add,
        ...s(T1),
        ...g(VP),
        ...v128load,
        ...g(T3),
        ...f64x2mul,
        ...g(T2),
        ...f64x2add,
        ...s(T2),
      ]
    : [
        // dst = (dst − V·a) − W·b
        ...g(PP),
        ...g(PP),
        ...v128load,
        ...g(VP),
        ...v128load,
        ...g(T1),
        ...f64x2mul,
        ...f64x2sub,
        ...g(WP),
        ...v128load,
        ...g(T2),
        ...f64x2mul,
        ...f64x2sub,
        ...v128store,
      ];
  const before = dots
    ? [...v128zero, ...s(T1), ...v128zero, ...s(T2)]
    : [...at8(A), ...op.f64load, ...f64x2splat, ...s(T1), ...at8(B), ...op.f64load, ...f64x2splat, ...s(T2)];
  const sum = (t: number) => [...g(t), ...f64x2lane(0), ...g(t), ...f64x2lane(1), op.f64add];
  const after = dots ? [...at8(A), ...sum(T1), ...op.f64store, ...at8(B), ...sum(T2), ...op.f64store] : [];
  const code: number[] = [
    ...c(0),
    ...s(J),
    op.block,
    op.void,
    op.loop,
    op.void,
    ...g(J),
    ...g(COUNT),
    op.i32geu,
    op.brIf,
    1,
    ...setup,
    ...before,
    op.block,
    op.void,
    op.loop,
    op.void,
    ...g(PP),
    ...g(PEND),
    op.i32geu,
    op.brIf,
    1,
    ...inner,
    ...bump(PP, 16),
    ...bump(VP, 16),
    ...bump(WP, 16),
    op.br,
    0,
    op.end,
    op.end,
    ...after,
    ...bump(J, 1),
    op.br,
    0,
    op.end,
    op.end,
    op.end,
  ];
  const locals = vec([
    [5, I32],
    [3, V128],
  ]);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

/** The module: symvLower, quadForms unrolled for `pairs` shift pairs, panelAxpy and panelDots. */
function moduleBytes(pairs: number): Uint8Array {
  const i32s = (k: number) => vec(Array.from({ length: k }, () => [I32]));
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(
      1,
      vec([
        [0x60, ...i32s(5), 0],
        [0x60, ...i32s(6), 0],
        [0x60, ...i32s(9), 0],
      ]),
    ),
    ...section(2, vec([[...str('env'), ...str('mem'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec([[0], [1], [2], [2]])),
    ...section(
      7,
      vec([
        [...str('symvLower'), 0x00, 0],
        [...str('quadForms'), 0x00, 1],
        [...str('panelAxpy'), 0x00, 2],
        [...str('panelDots'), 0x00, 3],
      ]),
    ),
    ...section(10, vec([symvBody(), quadBody(pairs), panelBody(false), panelBody(true)])),
  ];
  return Uint8Array.from(bytes);
}

const WebAssemblyApi = webAssembly!;

const cached = new Map<number, object>();

/**
 * Compiles the module with the optimising tier only: a single long call never leaves V8's baseline (Liftoff) code,
 * which runs this loop ~3x slower. The flag is restored right after compiling.
 */
function compiledModule(pairs = 1): object {
  let m = cached.get(pairs);
  if (!m) {
    m = withOptimizingWasm(() => new WebAssemblyApi.Module(moduleBytes(pairs)));
    cached.set(pairs, m);
  }
  return m;
}

/** A wasm memory holding one symmetric m×m matrix plus two vectors, and the kernel bound to it. */
export class WasmSymv {
  private readonly memory: WasmMemory;
  private readonly kernel: (a: number, x: number, y: number, m: number, lo: number) => void;
  private readonly axpyKernel: (...args: number[]) => void;
  private readonly dotsKernel: (...args: number[]) => void;
  readonly matrix: Float64Array;
  readonly x: Float64Array;
  readonly y: Float64Array;
  /** Panel workspace: `cols`, `v`, `w` regions of maxPanel columns of maxSize+1 doubles, and two coefficient rows. */
  private readonly region: { cols: number; v: number; w: number; a: Float64Array; b: Float64Array };
  private stride = 0;

  /** Returns undefined when the matrix does not fit a 32-bit wasm memory. */
  static create(maxSize: number, maxPanel = 64): WasmSymv | undefined {
    const doubles = maxSize * maxSize + 2 * maxSize + 4 + 3 * maxPanel * (maxSize + 2) + 2 * maxPanel;
    if (doubles * 8 > 2 ** 31 - 2 ** 20) return undefined;
    return new WasmSymv(maxSize, maxPanel, doubles * 8);
  }

  private constructor(
    maxSize: number,
    private readonly maxPanel: number,
    bytes: number,
  ) {
    const pages = Math.ceil(bytes / 65536);
    this.memory = new WebAssemblyApi.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssemblyApi.Instance(compiledModule(), { env: { mem: this.memory } });
    this.kernel = instance.exports['symvLower'] as typeof this.kernel;
    this.axpyKernel = instance.exports['panelAxpy'] as typeof this.axpyKernel;
    this.dotsKernel = instance.exports['panelDots'] as typeof this.dotsKernel;
    const buf = this.memory.buffer;
    this.matrix = new Float64Array(buf, 0, maxSize * maxSize);
    this.x = new Float64Array(buf, maxSize * maxSize * 8, maxSize);
    this.y = new Float64Array(buf, (maxSize * maxSize + maxSize) * 8, maxSize);
    // 16-byte aligned regions (f64x2 loads).
    let at = Math.ceil((maxSize * maxSize + 2 * maxSize) / 2) * 2 * 8;
    const take = (doubles: number) => {
      const o = at;
      at += doubles * 8;
      return o;
    };
    const cols = take(maxPanel * (maxSize + 2));
    const v = take(maxPanel * (maxSize + 2));
    const w = take(maxPanel * (maxSize + 2));
    this.region = {
      cols,
      v,
      w,
      a: new Float64Array(buf, take(maxPanel), maxPanel),
      b: new Float64Array(buf, take(maxPanel), maxPanel),
    };
  }

  /**
   * y[lo:m] = S[lo:m, lo:m]·x[lo:m], S being the leading m·m entries of `matrix` viewed as m×m.
   * Entries of y outside [lo, m) are left as they were.
   */
  multiply(m: number, lo: number): void {
    this.y.fill(0, lo, m);
    this.kernel(this.matrix.byteOffset, this.x.byteOffset, this.y.byteOffset, m, lo);
  }

  /**
   * Zeroed panel columns for a panel of `nb` (≤ maxPanel) columns of length m, in wasm memory: `cols[i]`, `v[j]`,
   * `w[j]` (views of length m; each column is padded to an even length with a zero the kernels may read).
   */
  startPanel(m: number, nb: number): { cols: Float64Array[]; v: Float64Array[]; w: Float64Array[] } {
    if (nb > this.maxPanel) throw new Error('WasmSymv: panel wider than allocated');
    this.stride = m + (m & 1);
    const buf = this.memory.buffer;
    const views = (base: number) => {
      new Float64Array(buf, base, nb * this.stride).fill(0);
      return Array.from({ length: nb }, (_, j) => new Float64Array(buf, base + j * this.stride * 8, m));
    };
    return { cols: views(this.region.cols), v: views(this.region.v), w: views(this.region.w) };
  }

  /**
   * dst[r] −= v_j[r]·a[j] + w_j[r]·b[j] for j < count and r ≥ lo (rounded down to even: callers must not need
   * dst[lo − 1]); dst is a column from startPanel.
   */
  panelAxpy(dst: Float64Array, count: number, lo: number, a: ArrayLike<number>, b: ArrayLike<number>): void {
    if (count === 0) return;
    for (let j = 0; j < count; j++) {
      this.region.a[j] = a[j]!;
      this.region.b[j] = b[j]!;
    }
    const r = this.region;
    const stride = this.stride * 8;
    this.axpyKernel(
      dst.byteOffset,
      r.v,
      r.w,
      r.a.byteOffset,
      r.b.byteOffset,
      count,
      stride,
      (lo & ~1) * 8,
      stride,
    );
  }

  /** outW[j] = Σ_{r ≥ lo} w_j[r]·x[r], outV[j] = Σ_{r ≥ lo} v_j[r]·x[r] for j < count (x[r] = 0 just below lo). */
  panelDots(x: Float64Array, count: number, lo: number, outW: Float64Array, outV: Float64Array): void {
    if (count === 0) return;
    const r = this.region;
    const stride = this.stride * 8;
    this.dotsKernel(
      x.byteOffset,
      r.v,
      r.w,
      r.a.byteOffset,
      r.b.byteOffset,
      count,
      stride,
      (lo & ~1) * 8,
      stride,
    );
    outW.set(r.a.subarray(0, count));
    outV.set(r.b.subarray(0, count));
  }
}

/**
 * Quadratic forms z_rᵀ(T + α_a I)⁻¹z_r for many rows and shifts (see `shiftedQuadraticForms`), in wasm SIMD:
 * the coefficients are loaded once, each call copies a chunk of rows in and the results out.
 */
export class WasmQuadForms {
  private readonly kernel: (...args: number[]) => void;
  private readonly z: Float64Array;
  private readonly out: Float64Array;
  private readonly offsets: { z: number; l: number; inv: number; out: number };

  /** `lk`/`inv` are interleaved per k: lk[k·A + a] (length (d−1)·A), inv[k·A + a] (length d·A). */
  static create(maxRows: number, d: number, shifts: number, lk: Float64Array, inv: Float64Array) {
    const pairs = Math.ceil(shifts / 2);
    const doubles = maxRows * d + Math.max(1, d - 1) * pairs * 2 + d * pairs * 2 + maxRows * pairs * 2;
    if (doubles * 8 > 2 ** 31 - 2 ** 20) return undefined;
    return new WasmQuadForms(maxRows, d, shifts, pairs, doubles, lk, inv);
  }

  private constructor(
    readonly maxRows: number,
    private readonly d: number,
    private readonly shifts: number,
    private readonly pairs: number,
    doubles: number,
    lk: Float64Array,
    inv: Float64Array,
  ) {
    const pages = Math.ceil((doubles * 8) / 65536);
    const memory = new WebAssemblyApi.Memory({ initial: pages, maximum: pages });
    const instance = new WebAssemblyApi.Instance(compiledModule(pairs), { env: { mem: memory } });
    this.kernel = instance.exports['quadForms'] as (...args: number[]) => void;
    const buf = memory.buffer;
    let at = 0;
    const take = (count: number) => {
      const v = new Float64Array(buf, at * 8, count);
      at += count;
      return v;
    };
    this.z = take(maxRows * d);
    const l = take(Math.max(1, d - 1) * pairs * 2);
    const iv = take(d * pairs * 2);
    this.out = take(maxRows * pairs * 2);
    // Pad the shifts to an even count with copies of the first (their results are dropped).
    const width = pairs * 2;
    for (let k = 0; k < d; k++) {
      for (let a = 0; a < width; a++) {
        const src = a < shifts ? a : 0;
        iv[k * width + a] = inv[k * shifts + src]!;
        if (k < d - 1) l[k * width + a] = lk[k * shifts + src]!;
      }
    }
    this.offsets = {
      z: this.z.byteOffset,
      l: l.byteOffset,
      inv: iv.byteOffset,
      out: this.out.byteOffset,
    };
  }

  /** out[r·A + a] for `rows` rows of z (rows × d, row-major). */
  run(z: Float64Array, rows: number, out: Float64Array): void {
    const { d, pairs, shifts } = this;
    for (let from = 0; from < rows; from += this.maxRows) {
      const count = Math.min(this.maxRows, rows - from);
      this.z.set(z.subarray(from * d, (from + count) * d));
      const o = this.offsets;
      this.kernel(o.z, count, d, o.l, o.inv, o.out);
      for (let r = 0; r < count; r++) {
        for (let a = 0; a < shifts; a++) out[(from + r) * shifts + a] = this.out[r * pairs * 2 + a]!;
      }
    }
  }
}
