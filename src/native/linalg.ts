/**
 * Dense float64 linear algebra without LAPACK: the O(d³) bulk runs as onnxruntime GEMMs, the O(d²) glue in JS.
 *
 * - `gemm64`: C = op(A)·op(B) (+ beta·C0) in float64 through ORT (accepts typed-array views).
 * - `tridiagonalize`: blocked Householder reduction A = Q T Qᵀ of a symmetric matrix (LAPACK dsytrd/dlatrd, lower):
 *   panel columns in JS, the panel's matrix-vector products and the symmetric rank-2k trailing update through ORT.
 *   `formQ` builds Q explicitly from the block reflectors (dorgtr, blocked WY, all GEMM).
 * - `TridiagonalShift`: LDLᵀ of T + αI (T positive semi-definite, α > 0) for solves and quadratic forms in O(d),
 *   which is all the ridge maths needs: zᵀ(T+αI)⁻¹z and (T+αI)⁻¹b, with no tridiagonal eigenvectors at all.
 * - `topTridiagonalEigenvalues`: the k largest eigenvalues of T by Sturm bisection (the PCA's Lanczos step);
 *   `tridiagonalEigenvalues` all of them (diagnostics and tests).
 *
 * The blocked Cholesky factorisation (direct ridge solves) is in cholesky.ts.
 */
import { WasmQuadForms, WasmSymv } from './linalg-wasm.js';
import { cachedSession, GraphBuilder, ort } from './onnx.js';

type F64 = Float64Array;

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  /** Added to the product: C = op(A)·op(B) + beta·C0 (m×n). */
  c0?: F64;
  beta?: number;
  /** Scale of the product (default 1). */
  alpha?: number;
}

/** C = alpha·op(A)·op(B) + beta·C0 in float64, row-major. op(A) is m×k, op(B) is k×n. */
export async function gemm64(
  a: F64,
  b: F64,
  m: number,
  k: number,
  n: number,
  options: GemmOptions = {},
): Promise<F64> {
  const tA = options.transA ? 1 : 0;
  const tB = options.transB ? 1 : 0;
  if (a.length !== m * k || b.length !== k * n) throw new Error(`gemm64: sizes do not match ${m}x${k}x${n}`);
  const withC = options.c0 !== undefined;
  if (withC && options.c0!.length !== m * n) throw new Error('gemm64: C0 size does not match');
  const alpha = options.alpha ?? 1;
  const beta = options.beta ?? 1;
  const key = `linalg:gemm64:${tA}${tB}:${withC ? 1 : 0}:${alpha}:${beta}`;
  const session = await cachedSession(key, () => {
    const g = new GraphBuilder('gemm64');
    g.input('A', 'float64', tA ? ['k', 'm'] : ['m', 'k']);
    g.input('B', 'float64', tB ? ['n', 'k'] : ['k', 'n']);
    const ins = ['A', 'B'];
    if (withC) ins.push(g.input('C0', 'float64', ['m', 'n']));
    g.op('Gemm', ins, { transA: tA, transB: tB, alpha: { float: alpha }, beta: { float: beta } }, 'C');
    g.output('C', 'float64', ['m', 'n']);
    return g;
  });
  const feeds: Record<string, ort.Tensor> = {
    A: new ort.Tensor('float64', a, tA ? [k, m] : [m, k]),
    B: new ort.Tensor('float64', b, tB ? [n, k] : [k, n]),
  };
  if (withC) feeds['C0'] = new ort.Tensor('float64', options.c0!, [m, n]);
  const out = await session.run(feeds);
  return out['C']!.data as F64;
}

/** One Householder panel: reflectors H_j = I − tau_j v_j v_jᵀ for global columns start..start+count−1. */
export interface ReflectorPanel {
  start: number;
  count: number;
  /** (size−start) × count, row-major; local row r ↔ global row start+r; v_j has 1 at local row j+1, zeros above. */
  v: F64;
  tau: F64;
}

export interface Tridiagonal {
  /** Diagonal, length d. */
  diag: F64;
  /** Sub-diagonal, length d−1. */
  off: F64;
}

export interface TridiagonalReduction extends Tridiagonal {
  size: number;
  panels: ReflectorPanel[];
}

const INT64_MAX = 9223372036854775807n;

/**
 * Householder tridiagonalisation of a symmetric d×d matrix (row-major, both triangles filled): A = Q T Qᵀ.
 * `a` is not modified. Cost 4/3·d³ flops; half of them are matrix-vector products bound by memory bandwidth.
 */
export async function tridiagonalize(a: F64, d: number, blockSize = 48): Promise<TridiagonalReduction> {
  if (a.length !== d * d) throw new Error('tridiagonalize: matrix size does not match');
  const diag = new Float64Array(d);
  const off = new Float64Array(Math.max(0, d - 1));
  const panels: ReflectorPanel[] = [];
  if (d === 1) {
    diag[0] = a[0]!;
    return { diag, off, panels, size: d };
  }
  const mv = await cachedSession('linalg:matvec64', () => {
    const g = new GraphBuilder('matvec64');
    g.input('S', 'float64', ['m', 'm']);
    g.input('x', 'float64', ['m', 'p']);
    g.op('MatMul', ['S', 'x'], {}, 'y');
    g.output('y', 'float64', ['m', 'p']);
    return g;
  });
  const update = await cachedSession('linalg:syr2k-trailing', () => {
    const g = new GraphBuilder('syr2k');
    g.input('S', 'float64', ['m', 'm']);
    g.input('V', 'float64', ['q', 'b']);
    g.input('W', 'float64', ['q', 'b']);
    g.input('starts', 'int64', [2]);
    g.input('ends', 'int64', [2]);
    const s22 = g.op('Slice', ['S', 'starts', 'ends']);
    const t = g.op('Gemm', ['V', 'W', s22], { transB: 1, alpha: { float: -1 }, beta: { float: 1 } });
    g.op('Gemm', ['W', 'V', t], { transB: 1, alpha: { float: -1 }, beta: { float: 1 } }, 'out');
    g.output('out', 'float64', ['q', 'q']);
    return g;
  });

  const wasm = WasmSymv.create(d, blockSize);
  let s: F64 = a.slice(); // trailing block as of the panel start, contiguous m×m
  let k = 0;
  const coefA = new Float64Array(blockSize);
  const coefB = new Float64Array(blockSize);
  while (d - k > 1) {
    const m = d - k;
    const nb = Math.min(blockSize, m - 1);
    let panel: F64[];
    let vcols: F64[];
    let wcols: F64[];
    if (wasm) {
      wasm.matrix.set(s.subarray(0, m * m));
      s = wasm.matrix.subarray(0, m * m);
      ({ cols: panel, v: vcols, w: wcols } = wasm.startPanel(m, nb));
      for (let i = 0; i < nb; i++) panel[i]!.set(s.subarray(i * m, (i + 1) * m)); // column i = row i (symmetric)
    } else {
      panel = Array.from({ length: nb }, (_, i) => s.slice(i * m, (i + 1) * m));
      vcols = Array.from({ length: nb }, () => new Float64Array(m));
      wcols = Array.from({ length: nb }, () => new Float64Array(m));
    }
    const tau = new Float64Array(nb);
    const sTensor = new ort.Tensor('float64', s, [m, m]);
    for (let i = 0; i < nb; i++) {
      const col = panel[i]!;
      // Bring column i up to date with the panel's earlier reflectors: col −= V·W[i,:]ᵀ + W·V[i,:]ᵀ.
      if (wasm) {
        for (let j = 0; j < i; j++) {
          coefA[j] = wcols[j]![i]!;
          coefB[j] = vcols[j]![i]!;
        }
        wasm.panelAxpy(col, i, i, coefA, coefB);
      } else {
        for (let j = 0; j < i; j++) {
          const vj = vcols[j]!;
          const wj = wcols[j]!;
          const wi = wj[i]!;
          const vi = vj[i]!;
          for (let r = i; r < m; r++) col[r] = col[r]! - vj[r]! * wi - wj[r]! * vi;
        }
      }
      diag[k + i] = col[i]!;
      // Reflector annihilating col[i+2..m-1] (LAPACK dlarfg).
      const alpha = col[i + 1]!;
      let xnorm2 = 0;
      for (let r = i + 2; r < m; r++) xnorm2 += col[r]! * col[r]!;
      const v = vcols[i]!;
      if (xnorm2 === 0) {
        off[k + i] = alpha;
        tau[i] = 0;
        v[i + 1] = 1;
        continue; // H = I, w = 0
      }
      const beta = -Math.sign(alpha || 1) * Math.sqrt(alpha * alpha + xnorm2);
      tau[i] = (beta - alpha) / beta;
      const scale = 1 / (alpha - beta);
      v[i + 1] = 1;
      for (let r = i + 2; r < m; r++) v[r] = col[r]! * scale;
      off[k + i] = beta;
      // w = tau·(S v − V(Wᵀv) − W(Vᵀv)); then w += −½·tau·(wᵀv)·v.
      let y: F64;
      if (wasm) {
        wasm.x.set(v.subarray(i + 1), i + 1);
        wasm.multiply(m, i + 1);
        y = wasm.y;
      } else {
        y = (await mv.run({ S: sTensor, x: new ort.Tensor('float64', v, [m, 1]) }))['y']!.data as F64;
      }
      const w = wcols[i]!;
      for (let r = i + 1; r < m; r++) w[r] = y[r]!;
      if (wasm) {
        // (v is 0 above row i+1, and w's entries above row i+1 are never read, as the kernels' even start needs.)
        wasm.panelDots(v, i, i + 1, coefA, coefB);
        wasm.panelAxpy(w, i, i + 1, coefA, coefB);
      } else {
        for (let j = 0; j < i; j++) {
          const vj = vcols[j]!;
          const wj = wcols[j]!;
          let wv = 0;
          let vv = 0;
          for (let r = i + 1; r < m; r++) {
            wv += wj[r]! * v[r]!;
            vv += vj[r]! * v[r]!;
          }
          for (let r = i + 1; r < m; r++) w[r] = w[r]! - vj[r]! * wv - wj[r]! * vv;
        }
      }
      const t = tau[i]!;
      let wdotv = 0;
      for (let r = i + 1; r < m; r++) {
        w[r] = w[r]! * t;
        wdotv += w[r]! * v[r]!;
      }
      const a2 = -0.5 * t * wdotv;
      for (let r = i + 1; r < m; r++) w[r] = w[r]! + a2 * v[r]!;
    }
    const q = m - nb;
    const vq = new Float64Array(q * nb);
    const wq = new Float64Array(q * nb);
    const vAll = new Float64Array(m * nb);
    for (let r = 0; r < m; r++) {
      for (let j = 0; j < nb; j++) {
        vAll[r * nb + j] = vcols[j]![r]!;
        if (r >= nb) {
          vq[(r - nb) * nb + j] = vcols[j]![r]!;
          wq[(r - nb) * nb + j] = wcols[j]![r]!;
        }
      }
    }
    panels.push({ start: k, count: nb, v: vAll, tau });
    const out = await update.run({
      S: sTensor,
      V: new ort.Tensor('float64', vq, [q, nb]),
      W: new ort.Tensor('float64', wq, [q, nb]),
      starts: new ort.Tensor('int64', BigInt64Array.from([BigInt(nb), BigInt(nb)]), [2]),
      ends: new ort.Tensor('int64', BigInt64Array.from([INT64_MAX, INT64_MAX]), [2]),
    });
    s = out['out']!.data as F64;
    k += nb;
  }
  diag[d - 1] = s[0]!;
  return { diag, off, panels, size: d };
}

/** T factor of a block reflector H_0…H_{b−1} = I − V T Vᵀ (LAPACK dlarft, forward, columnwise). */
export async function blockReflectorT(panel: ReflectorPanel, rows: number): Promise<F64> {
  const b = panel.count;
  const vtv = await gemm64(panel.v, panel.v, b, rows, b, { transA: true });
  const t = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    const ti = panel.tau[i]!;
    t[i * b + i] = ti;
    if (ti === 0) continue;
    // T[0:i, i] = −tau_i · T[0:i, 0:i] · (V[:, 0:i]ᵀ v_i)
    for (let r = 0; r < i; r++) {
      let acc = 0;
      for (let c = r; c < i; c++) acc += t[r * b + c]! * vtv[c * b + i]!;
      t[r * b + i] = -ti * acc;
    }
  }
  return t;
}

/** Merges consecutive panels into wider block reflectors (fewer, fatter GEMMs and fewer passes over Q). */
function mergePanels(panels: ReflectorPanel[], size: number, width: number): ReflectorPanel[] {
  const out: ReflectorPanel[] = [];
  for (let p = 0; p < panels.length; ) {
    let q = p;
    let count = 0;
    while (q < panels.length && (q === p || count + panels[q]!.count <= width)) count += panels[q++]!.count;
    const start = panels[p]!.start;
    const rows = size - start;
    const v = new Float64Array(rows * count);
    const tau = new Float64Array(count);
    let col = 0;
    for (let k = p; k < q; k++) {
      const pk = panels[k]!;
      const off = pk.start - start;
      for (let r = 0; r < size - pk.start; r++) {
        for (let j = 0; j < pk.count; j++) v[(r + off) * count + col + j] = pk.v[r * pk.count + j]!;
      }
      tau.set(pk.tau, col);
      col += pk.count;
    }
    out.push({ start, count, v, tau });
    p = q;
  }
  return out;
}

/**
 * Q of a tridiagonal reduction as an explicit d×d orthogonal matrix (row-major): A = Q T Qᵀ. Block reflectors are
 * applied last to first, Q_region ← (I − V T Vᵀ)·blockdiag(I, Q_next), with Vᵀ·blockdiag(I, Q_next) formed without
 * materialising the block diagonal.
 */
export async function formQ(red: TridiagonalReduction, blockWidth = 192): Promise<F64> {
  const d = red.size;
  const apply = await cachedSession('linalg:formq2', () => {
    const g = new GraphBuilder('formq');
    g.input('Qprev', 'float64', ['p', 'p']);
    g.input('Ib', 'float64', ['b', 'b']);
    g.input('V', 'float64', ['M', 'b']);
    g.input('T', 'float64', ['b', 'b']);
    g.input('split', 'int64', [2]); // [b, p]
    const [vTop, vBot] = g.node('Split', ['V', 'split'], { axis: 0 }, ['Vtop', 'Vbot']) as [string, string];
    const wl = g.op('Transpose', [vTop], { perm: [1, 0] }); // b × b
    const wr = g.op('Gemm', [vBot, 'Qprev'], { transA: 1 }); // b × p
    const pm = g.op('MatMul', ['V', 'T']); // M × b
    const [pTop, pBot] = g.node('Split', [pm, 'split'], { axis: 0 }, ['Ptop', 'Pbot']) as [string, string];
    const neg = { alpha: { float: -1 }, beta: { float: 1 } };
    const tl = g.op('Gemm', [pTop, wl, 'Ib'], neg);
    const tr = g.op('Gemm', [pTop, wr], { alpha: { float: -1 } });
    const bl = g.op('Gemm', [pBot, wl], { alpha: { float: -1 } });
    const br = g.op('Gemm', [pBot, wr, 'Qprev'], neg);
    const top = g.op('Concat', [tl, tr], { axis: 1 });
    const bottom = g.op('Concat', [bl, br], { axis: 1 });
    g.op('Concat', [top, bottom], { axis: 0 }, 'out');
    g.output('out', 'float64', ['M', 'M']);
    return g;
  });
  const blocks = mergePanels(red.panels, d, blockWidth);
  let qprev: F64 = new Float64Array(0); // region of rows/cols ≥ start+count+1 of the next block
  for (let p = blocks.length - 1; p >= 0; p--) {
    const panel = blocks[p]!;
    const b = panel.count;
    const rows = d - panel.start;
    const big = rows - 1; // region: global rows/cols ≥ start+1
    const t = await blockReflectorT(panel, rows);
    const vr = panel.v.subarray(b); // drop local row 0 (always zero)
    const pdim = big - b;
    if (pdim === 0) {
      // Last block: Q region = I − V T Vᵀ.
      const vt = await gemm64(vr, t, big, b, b);
      qprev = await gemm64(vt, vr, big, b, big, { transB: true, alpha: -1, c0: identity(big), beta: 1 });
      continue;
    }
    const out = await apply.run({
      Qprev: new ort.Tensor('float64', qprev, [pdim, pdim]),
      Ib: new ort.Tensor('float64', identity(b), [b, b]),
      V: new ort.Tensor('float64', vr, [big, b]),
      T: new ort.Tensor('float64', t, [b, b]),
      split: new ort.Tensor('int64', BigInt64Array.from([BigInt(b), BigInt(pdim)]), [2]),
    });
    qprev = out['out']!.data as F64;
  }
  const q = new Float64Array(d * d);
  q[0] = 1;
  const r = d - 1;
  for (let i = 0; i < r; i++) q.set(qprev.subarray(i * r, (i + 1) * r), (i + 1) * d + 1);
  return q;
}

function identity(n: number): F64 {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

/**
 * T + αI = L D Lᵀ for a symmetric tridiagonal T with T + αI positive definite (T PSD and α > 0 here).
 * Gives quadratic forms zᵀ(T+αI)⁻¹z and solves in O(d), stably (no pivoting needed for SPD).
 */
export class TridiagonalShift {
  /** Sub-diagonal multipliers of L (length d−1). */
  readonly l: F64;
  /** 1 / D (length d). */
  readonly invD: F64;

  constructor(
    readonly t: Tridiagonal,
    readonly alpha: number,
  ) {
    const d = t.diag.length;
    this.l = new Float64Array(Math.max(0, d - 1));
    this.invD = new Float64Array(d);
    let pivot = t.diag[0]! + alpha;
    for (let k = 0; k < d; k++) {
      if (!(pivot > 0)) throw new Error(`TridiagonalShift: not positive definite at ${k} (pivot ${pivot})`);
      this.invD[k] = 1 / pivot;
      if (k < d - 1) {
        const lk = t.off[k]! / pivot;
        this.l[k] = lk;
        pivot = t.diag[k + 1]! + alpha - t.off[k]! * lk;
      }
    }
  }

  /** Solves (T + αI) x = b in place-free fashion; b has length d. */
  solve(b: ArrayLike<number>): F64 {
    const d = this.invD.length;
    const x = new Float64Array(d);
    let y = b[0]!;
    x[0] = y;
    for (let k = 1; k < d; k++) {
      y = b[k]! - this.l[k - 1]! * y;
      x[k] = y;
    }
    x[d - 1] = x[d - 1]! * this.invD[d - 1]!;
    for (let k = d - 2; k >= 0; k--) x[k] = x[k]! * this.invD[k]! - this.l[k]! * x[k + 1]!;
    return x;
  }
}

const kernels = new WeakMap<TridiagonalShift[], WasmQuadForms>();
/** Rows per wasm call: about 8 MB of Z. */
const kernelRows = (d: number) => Math.max(1, Math.floor(1_000_000 / d));

/**
 * Quadratic forms out[r·A + a] = z_rᵀ (T + α_a I)⁻¹ z_r for every row z_r of Z (rows×d, row-major) and every shift.
 * One forward substitution per row and shift; the shifts run side by side in the inner loop.
 */
export function shiftedQuadraticForms(
  z: F64,
  rows: number,
  shifts: TridiagonalShift[],
  out?: F64,
  implementation: 'wasm' | 'js' = 'wasm',
): F64 {
  const nA = shifts.length;
  const d = shifts[0]?.invD.length ?? 0;
  const res = out ?? new Float64Array(rows * nA);
  // Interleave the per-shift coefficients: lk[k·A + a], invD[k·A + a].
  const lk = new Float64Array(Math.max(0, d - 1) * nA);
  const inv = new Float64Array(d * nA);
  for (let a = 0; a < nA; a++) {
    const s = shifts[a]!;
    for (let k = 0; k < d; k++) {
      inv[k * nA + a] = s.invD[k]!;
      if (k < d - 1) lk[k * nA + a] = s.l[k]!;
    }
  }
  if (implementation === 'wasm' && d > 0 && rows > 0) {
    // One kernel per shift list, reused by every chunk of rows: a new one allocates and faults in its memory.
    let kernel = kernels.get(shifts);
    if (!kernel || kernel.maxRows < Math.min(rows, kernelRows(d))) {
      kernel = WasmQuadForms.create(Math.min(rows, kernelRows(d)), d, nA, lk, inv);
      if (kernel) kernels.set(shifts, kernel);
    }
    if (kernel) {
      kernel.run(z, rows, res);
      return res;
    }
  }
  const y = new Float64Array(nA);
  const acc = new Float64Array(nA);
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    const z0 = z[base]!;
    for (let a = 0; a < nA; a++) {
      y[a] = z0;
      acc[a] = z0 * z0 * inv[a]!;
    }
    for (let k = 1; k < d; k++) {
      const zk = z[base + k]!;
      const lo = (k - 1) * nA;
      const io = k * nA;
      for (let a = 0; a < nA; a++) {
        const yk = zk - lk[lo + a]! * y[a]!;
        y[a] = yk;
        acc[a] = acc[a]! + yk * yk * inv[io + a]!;
      }
    }
    for (let a = 0; a < nA; a++) res[r * nA + a] = acc[a]!;
  }
  return res;
}

/** Number of eigenvalues of T strictly less than x (Sturm count, LDLᵀ of T − xI); a zero pivot becomes −tiny. */
function sturmCountBelow(t: Tridiagonal, x: number, tiny: number): number {
  const d = t.diag.length;
  let count = 0;
  let q = t.diag[0]! - x;
  for (let k = 0; k < d; k++) {
    if (k > 0) q = t.diag[k]! - x - (t.off[k - 1]! * t.off[k - 1]!) / q;
    if (q === 0) q = -tiny;
    if (q < 0) count++;
  }
  return count;
}

/** The k largest eigenvalues of a symmetric tridiagonal matrix, descending, by Sturm bisection. */
export function topTridiagonalEigenvalues(t: Tridiagonal, k: number): Float64Array {
  const d = t.diag.length;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < d; i++) {
    const r = (i > 0 ? Math.abs(t.off[i - 1]!) : 0) + (i < d - 1 ? Math.abs(t.off[i]!) : 0);
    lo = Math.min(lo, t.diag[i]! - r);
    hi = Math.max(hi, t.diag[i]! + r);
  }
  const span = Math.max(Math.abs(lo), Math.abs(hi), Number.MIN_VALUE);
  const tiny = span * 1e-300 || Number.MIN_VALUE;
  const out = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const index = d - 1 - i; // ascending index of the i-th largest
    let a = lo - span * 1e-15;
    let b = hi + span * 1e-15;
    while (b - a > 2 * Number.EPSILON * span) {
      const mid = 0.5 * (a + b);
      if (mid === a || mid === b) break;
      if (sturmCountBelow(t, mid, tiny) > index) b = mid;
      else a = mid;
    }
    out[i] = 0.5 * (a + b);
  }
  return out;
}

/** Eigenvalues of a symmetric tridiagonal matrix, ascending (diagnostics and tests). */
export function tridiagonalEigenvalues(t: Tridiagonal): F64 {
  return topTridiagonalEigenvalues(t, t.diag.length).reverse();
}
