/**
 * Partial least squares regression (PLS2, NIPALS with regression-mode deflation), as scikit-learn's
 * `PLSRegression(n_components=K, scale=...)` computes it, for every k = 1..K at once (docs/experiments.md#pls).
 *
 * With `scale` (sklearn's default) X and Y are centred and divided by their ddof-1 standard deviation over the
 * training rows (a zero deviation counts as 1); without, they are only centred. Component k's weight w_k is the
 * first left singular vector of X_kᵀY_k (sklearn's power method converges to it; we take it exactly), its score is
 * t_k = X_k w_k, and X and Y are deflated by t_k: X_{k+1} = X_k − t_k p_kᵀ, Y_{k+1} = Y_k − t_k q_kᵀ.
 *
 * The deflated X is never formed: X_k = X − T_{<k}P_{<k}ᵀ, so every product with it is a product with the
 * standardised X (one streamed onnxruntime pass) minus a small correction. Because PᵀW is unit upper triangular, the
 * model with the first k components predicts Σ_{j≤k} t_j q_jᵀ, and test rows' scores follow from the same
 * recurrence t_j = X w_j − Σ_{m<j} t_m (p_mᵀ w_j): so the passes run over all rows (test rows carry no weight in the
 * fit) and give the predictions of every k in 2K passes over X.
 */
import { cachedSession, GraphBuilder, ort } from '../native/index.js';
import { UserError } from '../util/errors.js';

export interface PlsOptions {
  /** Centre and scale X and Y by their ddof-1 std (sklearn's default `scale=True`); false: centre only. */
  scale?: boolean;
  /** Rows per streamed chunk (memory knob). */
  chunkRows?: number;
}

export interface PlsFit {
  /** Components actually fitted (fewer than asked when Y's residual vanished). */
  components: number;
  d: number;
  t: number;
  xMean: Float64Array;
  /** ddof-1 std of each X column over the training rows (1 when not scaling or zero). */
  xScale: Float64Array;
  yMean: Float64Array;
  yScale: Float64Array;
  /** d×K x-weights (column k = w_k, unit norm, sign: largest |entry| positive, as sklearn's svd_flip). */
  weights: Float64Array;
  /** d×K x-loadings p_k. */
  loadings: Float64Array;
  /** t×K y-loadings q_k (scaled units). */
  yLoadings: Float64Array;
  /**
   * predictions[k−1]: n×t predictions of the k-component model for every row (target units), k = 1..components.
   */
  predictions: Float64Array[];
}

/** Mean and ddof-1 std of every X column over the training rows, and of the targets. */
function standardisation(
  x: Float32Array,
  d: number,
  y: Float64Array,
  t: number,
  train: ArrayLike<number>,
  scale: boolean,
) {
  const m = train.length;
  const xMean = new Float64Array(d);
  const xSq = new Float64Array(d);
  for (let i = 0; i < m; i++) {
    const o = train[i]! * d;
    for (let c = 0; c < d; c++) xMean[c] += x[o + c]!;
  }
  for (let c = 0; c < d; c++) xMean[c] /= m;
  for (let i = 0; i < m; i++) {
    const o = train[i]! * d;
    for (let c = 0; c < d; c++) {
      const v = x[o + c]! - xMean[c]!;
      xSq[c] += v * v;
    }
  }
  const xScale = Float64Array.from(xSq, (s) => (scale && s > 0 ? Math.sqrt(s / (m - 1)) : 1));
  const yMean = new Float64Array(t);
  const ySq = new Float64Array(t);
  for (let i = 0; i < m; i++) for (let j = 0; j < t; j++) yMean[j] += y[train[i]! * t + j]!;
  for (let j = 0; j < t; j++) yMean[j] /= m;
  for (let i = 0; i < m; i++) for (let j = 0; j < t; j++) ySq[j] += (y[train[i]! * t + j]! - yMean[j]!) ** 2;
  const yScale = Float64Array.from(ySq, (s) => (scale && s > 0 ? Math.sqrt(s / (m - 1)) : 1));
  return { xMean, xScale, yMean, yScale };
}

/** Standardised chunk times a d×c matrix (pass A: scores) or its transpose times an r×c matrix (pass B). */
function passGraph(transpose: boolean): GraphBuilder {
  const g = new GraphBuilder(transpose ? 'pls_xtv' : 'pls_xw');
  g.input('X', 'float32', ['r', 'd']);
  g.input('mu', 'float64', ['d']);
  g.input('inv', 'float64', ['d']);
  g.input('M', 'float64', transpose ? ['r', 'c'] : ['d', 'c']);
  const xs = g.op('Mul', [g.op('Sub', [g.op('Cast', ['X'], { to: 11 }), 'mu']), 'inv']);
  if (transpose) g.op('Gemm', [xs, 'M'], { transA: 1 }, 'P');
  else g.op('MatMul', [xs, 'M'], {}, 'P');
  g.output('P', 'float64', transpose ? ['d', 'c'] : ['r', 'c']);
  return g;
}

/** Top left singular vector of the d×t matrix M (t small): M·v/‖M·v‖ with v the top eigenvector of MᵀM. */
function topLeftSingular(m: Float64Array, d: number, t: number): Float64Array {
  let v: Float64Array;
  if (t === 1) v = Float64Array.of(1);
  else {
    const g = new Float64Array(t * t);
    for (let i = 0; i < d; i++)
      for (let a = 0; a < t; a++) for (let b = 0; b < t; b++) g[a * t + b] += m[i * t + a]! * m[i * t + b]!;
    v = topEigenvector(g, t);
  }
  const w = new Float64Array(d);
  let norm = 0;
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let a = 0; a < t; a++) s += m[i * t + a]! * v[a]!;
    w[i] = s;
    norm += s * s;
  }
  norm = Math.sqrt(norm);
  let biggest = 0;
  for (let i = 0; i < d; i++) if (Math.abs(w[i]!) > Math.abs(biggest)) biggest = w[i]!;
  const f = Math.sign(biggest || 1) / norm;
  for (let i = 0; i < d; i++) w[i] *= f;
  return w;
}

/** Eigenvector of the largest eigenvalue of a small symmetric t×t matrix (closed form for 2×2, Jacobi otherwise). */
function topEigenvector(g: Float64Array, t: number): Float64Array {
  if (t === 2) {
    const [a, b, , c] = [g[0]!, g[1]!, g[2]!, g[3]!];
    const half = (a - c) / 2;
    const lambda = (a + c) / 2 + Math.hypot(half, b);
    // (G − λI)v = 0: v = (b, λ − a) or (λ − c, b), whichever is better conditioned.
    const v1 = [b, lambda - a];
    const v2 = [lambda - c, b];
    const v = Math.hypot(v1[0]!, v1[1]!) >= Math.hypot(v2[0]!, v2[1]!) ? v1 : v2;
    const norm = Math.hypot(v[0]!, v[1]!);
    return norm > 0 ? Float64Array.from(v, (x) => x / norm) : Float64Array.of(1, 0);
  }
  // Power iteration on the tiny matrix (t ≥ 3 is rare: the probes have 1 or 2 targets, 3 for the globe).
  let v = new Float64Array(t).fill(1 / Math.sqrt(t));
  for (let it = 0; it < 10_000; it++) {
    const next = new Float64Array(t);
    for (let a = 0; a < t; a++) for (let b = 0; b < t; b++) next[a] += g[a * t + b]! * v[b]!;
    const norm = Math.hypot(...next);
    if (!(norm > 0)) return v;
    for (let a = 0; a < t; a++) next[a] /= norm;
    let diff = 0;
    for (let a = 0; a < t; a++) diff += (next[a]! - v[a]!) ** 2;
    v = next;
    if (diff < 1e-30) break;
  }
  return v;
}

/**
 * PLS regression with 1..K components fitted on the `train` rows of x (n×d f32, row-major) and y (n×t), predicting
 * every row. The heavy products stream through onnxruntime in f64.
 */
export async function plsRegression(
  x: Float32Array,
  n: number,
  d: number,
  y: Float64Array,
  t: number,
  train: ArrayLike<number>,
  components: number,
  options: PlsOptions = {},
): Promise<PlsFit> {
  if (x.length !== n * d || y.length !== n * t) throw new Error('plsRegression: array sizes do not match');
  const m = train.length;
  const rank = Math.min(m - 1, d);
  if (!(components >= 1 && components <= rank)) {
    throw new UserError(`PLS: ${components} components is outside 1..${rank} (training rows ${m}, d = ${d})`);
  }
  const scale = options.scale ?? true;
  const chunk = options.chunkRows ?? Math.max(64, Math.floor(4_000_000 / d));
  const st = standardisation(x, d, y, t, train, scale);
  const inv = Float64Array.from(st.xScale, (s) => 1 / s);
  const isTrain = new Uint8Array(n);
  for (let i = 0; i < m; i++) isTrain[train[i]!] = 1;
  // Y_0: standardised train targets, zero on the other rows (they carry no weight in any Xᵀ· product).
  let yk = new Float64Array(n * t);
  for (let i = 0; i < n; i++) {
    if (!isTrain[i]) continue;
    for (let j = 0; j < t; j++) yk[i * t + j] = (y[i * t + j]! - st.yMean[j]!) / st.yScale[j]!;
  }
  const sessionA = await cachedSession('pls-xw', () => passGraph(false));
  const sessionB = await cachedSession('pls-xtv', () => passGraph(true));
  const mu = new ort.Tensor('float64', st.xMean, [d]);
  const invT = new ort.Tensor('float64', inv, [d]);
  /** Xs·w for every row (n). */
  const scores = async (w: Float64Array) => {
    const out = new Float64Array(n);
    const W = new ort.Tensor('float64', w, [d, 1]);
    for (let s = 0; s < n; s += chunk) {
      const r = Math.min(chunk, n - s);
      const res = await sessionA.run({
        X: new ort.Tensor('float32', x.subarray(s * d, (s + r) * d), [r, d]),
        mu,
        inv: invT,
        M: W,
      });
      out.set(res['P']!.data as Float64Array, s);
    }
    return out;
  };
  /** Xsᵀ·V (d×c) for an n×c matrix V. */
  const transposed = async (v: Float64Array, c: number) => {
    const out = new Float64Array(d * c);
    for (let s = 0; s < n; s += chunk) {
      const r = Math.min(chunk, n - s);
      const res = await sessionB.run({
        X: new ort.Tensor('float32', x.subarray(s * d, (s + r) * d), [r, d]),
        mu,
        inv: invT,
        M: new ort.Tensor('float64', v.subarray(s * c, (s + r) * c), [r, c]),
      });
      const part = res['P']!.data as Float64Array;
      for (let i = 0; i < d * c; i++) out[i] += part[i]!;
    }
    return out;
  };

  const W: Float64Array[] = [];
  const P: Float64Array[] = [];
  const Q: Float64Array[] = [];
  const T: Float64Array[] = []; // scores for every row
  const predictions: Float64Array[] = [];
  const cumulative = new Float64Array(n * t); // Σ t_j q_jᵀ, scaled units
  let cross = await transposed(yk, t); // Xsᵀ Y_0 = X_0ᵀ Y_0
  for (let k = 0; k < components; k++) {
    if (!(norm2(cross) > 0)) break; // Y's residual vanished (sklearn: "Y residual is constant")
    const w = topLeftSingular(cross, d, t);
    const tk = await scores(w);
    for (let j = 0; j < k; j++) {
      const pw = dot(P[j]!, w);
      const tj = T[j]!;
      for (let i = 0; i < n; i++) tk[i] -= tj[i]! * pw;
    }
    let tt = 0;
    for (let i = 0; i < n; i++) if (isTrain[i]) tt += tk[i]! * tk[i]!;
    if (!(tt > 0)) break;
    const q = new Float64Array(t);
    for (let i = 0; i < n; i++) if (isTrain[i]) for (let j = 0; j < t; j++) q[j] += yk[i * t + j]! * tk[i]!;
    for (let j = 0; j < t; j++) q[j] /= tt;
    const next = new Float64Array(n * t);
    for (let i = 0; i < n; i++) {
      if (!isTrain[i]) continue;
      for (let j = 0; j < t; j++) next[i * t + j] = yk[i * t + j]! - tk[i]! * q[j]!;
    }
    yk = next;
    W.push(w);
    Q.push(q);
    T.push(tk);
    for (let i = 0; i < n; i++) for (let j = 0; j < t; j++) cumulative[i * t + j] += tk[i]! * q[j]!;
    predictions.push(Float64Array.from(cumulative, (v, idx) => v * st.yScale[idx % t]! + st.yMean[idx % t]!));
    // p_k = X_kᵀ t_k / tt and the next cross product X_{k+1}ᵀ Y_{k+1}, from one pass: Xsᵀ [t_k(train), Y_{k+1}].
    if (k === components - 1) {
      P.push(await loading(k, tk, tt));
      break;
    }
    const rhs = new Float64Array(n * (1 + t));
    for (let i = 0; i < n; i++) {
      if (!isTrain[i]) continue;
      rhs[i * (1 + t)] = tk[i]!;
      for (let j = 0; j < t; j++) rhs[i * (1 + t) + 1 + j] = yk[i * t + j]!;
    }
    const both = await transposed(rhs, 1 + t);
    const p = new Float64Array(d);
    for (let i = 0; i < d; i++) p[i] = both[i * (1 + t)]!;
    subtractProjection(p, P, T, tk, isTrain);
    for (let i = 0; i < d; i++) p[i] /= tt;
    P.push(p);
    cross = new Float64Array(d * t);
    for (let i = 0; i < d; i++) for (let j = 0; j < t; j++) cross[i * t + j] = both[i * (1 + t) + 1 + j]!;
    for (let j = 0; j < t; j++) {
      const col = Float64Array.from({ length: n }, (_, i) => yk[i * t + j]!);
      const tmp = Float64Array.from({ length: d }, (_, i) => cross[i * t + j]!);
      subtractProjection(tmp, P, T, col, isTrain);
      for (let i = 0; i < d; i++) cross[i * t + j] = tmp[i]!;
    }
  }

  async function loading(k: number, tk: Float64Array, tt: number) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) if (isTrain[i]) v[i] = tk[i]!;
    const p = await transposed(v, 1);
    subtractProjection(p, P.slice(0, k), T, tk, isTrain);
    for (let i = 0; i < d; i++) p[i] /= tt;
    return p;
  }

  const K = W.length;
  const pack = (cols: Float64Array[], rows: number) => {
    const out = new Float64Array(rows * K);
    cols.forEach((c, k) => {
      for (let i = 0; i < rows; i++) out[i * K + k] = c[i]!;
    });
    return out;
  };
  return {
    components: K,
    d,
    t,
    xMean: st.xMean,
    xScale: st.xScale,
    yMean: st.yMean,
    yScale: st.yScale,
    weights: pack(W, d),
    loadings: pack(P, d),
    yLoadings: pack(Q, t),
    predictions,
  };
}

/** v −= Σ_j p_j (t_jᵀ u) over the train rows, for the loadings p_j fitted so far: removes X's deflated part. */
function subtractProjection(
  v: Float64Array,
  P: Float64Array[],
  T: Float64Array[],
  u: Float64Array,
  isTrain: Uint8Array,
) {
  for (let j = 0; j < P.length; j++) {
    const tj = T[j]!;
    let c = 0;
    for (let i = 0; i < tj.length; i++) if (isTrain[i]) c += tj[i]! * u[i]!;
    const pj = P[j]!;
    for (let i = 0; i < v.length; i++) v[i] -= pj[i]! * c;
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function norm2(a: Float64Array): number {
  return dot(a, a);
}

/**
 * One target's direction in the k-component model: w such that x·w is its prediction in target standard deviations
 * (up to a constant), for raw rows x. The scores of scaled rows are Xs·R with R = W_k (P_kᵀW_k)⁻¹, so the scaled
 * coefficients are R·q_target (sklearn's `coef_` for the target, divided by its y std), then ÷ x_std for raw rows.
 */
export function plsDirection(fit: PlsFit, k: number, target: number): Float64Array {
  const { d, t, components: K } = fit;
  if (!(Number.isInteger(k) && k >= 1 && k <= K))
    throw new UserError(`PLS direction: ${k} components is outside 1..${K} (the components fitted)`);
  if (!(target >= 0 && target < t)) throw new Error(`plsDirection: no target ${target}`);
  const ptw = new Float64Array(k * k);
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += fit.loadings[i * K + a]! * fit.weights[i * K + b]!;
      ptw[a * k + b] = s;
    }
  }
  const v = solveSmall(
    ptw,
    Float64Array.from({ length: k }, (_, a) => fit.yLoadings[target * K + a]!),
    k,
  );
  const w = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let a = 0; a < k; a++) s += fit.weights[i * K + a]! * v[a]!;
    w[i] = s / fit.xScale[i]!;
  }
  return w;
}

/** Solves the k×k system A·v = b by Gaussian elimination with partial pivoting (k ≤ a few dozen). */
function solveSmall(a: Float64Array, b: Float64Array, k: number): Float64Array {
  const m = Float64Array.from(a);
  const v = Float64Array.from(b);
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(m[r * k + c]!) > Math.abs(m[p * k + c]!)) p = r;
    if (!(Math.abs(m[p * k + c]!) > 0)) throw new UserError('PLS direction: PᵀW is singular');
    if (p !== c) {
      for (let j = 0; j < k; j++) [m[c * k + j], m[p * k + j]] = [m[p * k + j]!, m[c * k + j]!];
      [v[c], v[p]] = [v[p]!, v[c]!];
    }
    for (let r = c + 1; r < k; r++) {
      const f = m[r * k + c]! / m[c * k + c]!;
      for (let j = c; j < k; j++) m[r * k + j] = m[r * k + j]! - f * m[c * k + j]!;
      v[r] = v[r]! - f * v[c]!;
    }
  }
  for (let c = k - 1; c >= 0; c--) {
    let s = v[c]!;
    for (let j = c + 1; j < k; j++) s -= m[c * k + j]! * v[j]!;
    v[c] = s / m[c * k + c]!;
  }
  return v;
}
