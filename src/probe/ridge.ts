/**
 * Ridge regression probes with exact leave-one-out cross-validation over an alpha grid, as scikit-learn's
 * `RidgeCV(alphas, cv=None)` computes it (docs/method.md#probes):
 *   - targets standardised with the train mean and std (ddof 0), predictions de-standardised;
 *   - X and Y centred on the training rows, intercept unpenalised;
 *   - one alpha shared by all targets, chosen by the mean squared LOO error over rows and targets; ties keep the
 *     earlier alpha.
 * Primal route (n > d): C = XcᵀXc (float64 GEMM) = Q T Qᵀ (Householder tridiagonalisation), Z = Xc Q; then for every
 * alpha the leverages h_i = 1/n + z_iᵀ(T+αI)⁻¹z_i and the coefficients Q(T+αI)⁻¹QᵀXcᵀY cost O(n·d).
 * Dual route (n ≤ d): M = XcXcᵀ = Q T Qᵀ; c = (M+αI)⁻¹Y, diag(G⁻¹)_i = q_iᵀ(T+αI)⁻¹q_i − 1/(nα), e = c / diag.
 * Both are exact (no eigenvectors of T are needed; the LDLᵀ of the shifted tridiagonal gives every quantity).
 */
import { cholesky, choleskySolve } from '../native/cholesky.js';
import { formQ, gemm64, shiftedQuadraticForms, TridiagonalShift, tridiagonalize } from '../native/linalg.js';
import { cachedSession, GraphBuilder, ort } from '../native/onnx.js';
import { UserError } from '../util/errors.js';
import { gatherRows } from './rows.js';

export type Floats = Float32Array | Float64Array;

/** Row-major activations: `rows` × `cols`. */
export interface Matrix {
  data: Floats;
  rows: number;
  cols: number;
}

export interface RidgeOptions {
  /** Training rows (indices into X and Y); default all rows. */
  rows?: ArrayLike<number>;
  /** Standardise targets with the train mean/std (ddof 0), as the paper does (default true). */
  standardize?: boolean;
  /** Target names, for messages. */
  targetNames?: string[];
  /** Keep the per-row squared LOO errors (nTrain × t × nAlphas), like sklearn's `cv_values_`. */
  keepLooErrors?: boolean;
  /** Force the primal (Gram) or dual (kernel) route; default: dual when nTrain ≤ d. */
  route?: 'primal' | 'dual';
  /** Rows per streamed chunk (memory knob; default keeps a float64 chunk near 32 MB). */
  rowsPerChunk?: number;
  /** When given, filled with seconds spent per phase (gram, tridiagonalize, formQ, project, leverages). */
  timings?: Record<string, number>;
}

export interface RidgeModel {
  /** Feature count d and target count t. */
  d: number;
  t: number;
  alpha: number;
  /** d × t row-major, in target units. */
  coef: Float64Array;
  /** Length t, in target units. */
  intercept: Float64Array;
  /** d × t row-major, in standardised-target units (the paper's `probe_directions`). */
  coefStandardized: Float64Array;
  xMean: Float64Array;
  yMean: Float64Array;
  /** Train std per target (1 when not standardised). */
  yScale: Float64Array;
}

export interface RidgeCvResult extends RidgeModel {
  alphas: number[];
  alphaIndex: number;
  /** Mean squared LOO error per alpha, on the standardised targets. */
  looMse: number[];
  /** Squared LOO errors [row][target][alpha] flattened, when requested. */
  looErrors?: Float64Array;
  nTrain: number;
  route: 'primal' | 'dual';
  warnings: string[];
}

/** Rows per chunk so that a float64 chunk of d columns stays around 32 MB. */
function chunkRows(d: number): number {
  return Math.max(64, Math.min(8192, Math.floor(4_000_000 / Math.max(1, d))));
}

function validateAlphas(alphas: number[]): void {
  if (alphas.length === 0) throw new UserError('the alpha grid is empty');
  for (const a of alphas) {
    if (!(Number.isFinite(a) && a > 0))
      throw new UserError(`alphas must be positive finite numbers, got ${a}`);
  }
}

interface Prepared {
  d: number;
  t: number;
  n: number;
  rows: ArrayLike<number>;
  xMean: Float64Array;
  yMean: Float64Array;
  yScale: Float64Array;
  /** Standardised, centred train targets, n × t. */
  ys: Float64Array;
  warnings: string[];
  /** Rows per chunk. */
  step: number;
}

function prepare(x: Matrix, y: Float64Array, t: number, options: RidgeOptions): Prepared {
  const step = options.rowsPerChunk ?? chunkRows(x.cols);
  const d = x.cols;
  if (x.data.length !== x.rows * d) throw new Error('ridge: X size does not match rows × cols');
  if (y.length !== x.rows * t) throw new Error('ridge: Y size does not match X rows × targets');
  const rows = options.rows ?? Uint32Array.from({ length: x.rows }, (_, i) => i);
  const n = rows.length;
  if (n < 2) throw new UserError(`ridge needs at least 2 training rows, got ${n}`);
  const names = options.targetNames ?? Array.from({ length: t }, (_, j) => `target ${j}`);
  const xMean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const o = rows[i]! * d;
    for (let c = 0; c < d; c++) xMean[c] = xMean[c]! + x.data[o + c]!;
  }
  for (let c = 0; c < d; c++) {
    xMean[c] = xMean[c]! / n;
    if (!Number.isFinite(xMean[c]!)) {
      throw new UserError(
        `activations: column ${c} has NaN or Inf values (or overflows) in the training rows`,
      );
    }
  }
  const yMean = new Float64Array(t);
  const yScale = new Float64Array(t).fill(1);
  for (let i = 0; i < n; i++) for (let j = 0; j < t; j++) yMean[j] = yMean[j]! + y[rows[i]! * t + j]!;
  for (let j = 0; j < t; j++) {
    yMean[j] = yMean[j]! / n;
    if (!Number.isFinite(yMean[j]!)) throw new UserError(`${names[j]}: training targets contain NaN or Inf`);
  }
  if (options.standardize ?? true) {
    const ss = new Float64Array(t);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < t; j++) {
        const r = y[rows[i]! * t + j]! - yMean[j]!;
        ss[j] = ss[j]! + r * r;
      }
    }
    for (let j = 0; j < t; j++) {
      const sd = Math.sqrt(ss[j]! / n);
      if (!(sd > 1e-12 * Math.max(1, Math.abs(yMean[j]!)))) {
        throw new UserError(
          `${names[j]} is constant on the ${n} training rows (value ${yMean[j]}); a probe cannot be fitted`,
        );
      }
      yScale[j] = sd;
    }
  }
  const ys = new Float64Array(n * t);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < t; j++) ys[i * t + j] = (y[rows[i]! * t + j]! - yMean[j]!) / yScale[j]!;
  }
  const warnings: string[] = [];
  return { d, t, n, rows, xMean, yMean, yScale, ys, warnings, step };
}

type ElemType = 'float32' | 'float64';
const elemType = (a: Floats): ElemType => (a instanceof Float32Array ? 'float32' : 'float64');

/** Centres a chunk (Cast to f64, subtract the mean) and multiplies it by a right-hand matrix: (X − 1x̄ᵀ)·B. */
async function centredProduct(
  chunk: Floats,
  r: number,
  d: number,
  mean: Float64Array,
  b: Float64Array,
  k: number,
) {
  const type = elemType(chunk);
  const session = await cachedSession(`ridge:centred-product:${type}`, () => {
    const g = new GraphBuilder('centred-product');
    g.input('X', type, ['r', 'd']);
    g.input('mean', 'float64', ['d']);
    g.input('B', 'float64', ['d', 'k']);
    const xc = g.op('Sub', [g.op('Cast', ['X'], { to: 11 }), 'mean']);
    g.op('MatMul', [xc, 'B'], {}, 'P');
    g.output('P', 'float64', ['r', 'k']);
    return g;
  });
  const out = await session.run({
    X: new ort.Tensor(type, chunk, [r, d]),
    mean: new ort.Tensor('float64', mean, [d]),
    B: new ort.Tensor('float64', b, [d, k]),
  });
  return out['P']!.data as Float64Array;
}

/** Column panels for the Gram: the lower block triangle only (about 9/16 of the full product's flops). */
function gramPanels(d: number): number[] {
  const count = d >= 512 ? 8 : 1;
  const width = Math.ceil(d / count);
  const edges: number[] = [];
  for (let c = 0; c < d; c += width) edges.push(c);
  edges.push(d);
  return edges;
}

/**
 * Accumulates the lower block triangle of Gram += XcᵀXc, and XtY += XcᵀYs, over one chunk (float64). Panel I gives
 * rows edges[I]..edges[I+1] of the Gram, columns 0..edges[I+1].
 */
async function gramStep(
  chunk: Floats,
  r: number,
  d: number,
  mean: Float64Array,
  ys: Float64Array,
  t: number,
  gram: Float64Array,
  xty: Float64Array,
): Promise<void> {
  const type = elemType(chunk);
  const edges = gramPanels(d);
  const panels = edges.length - 1;
  const session = await cachedSession(`ridge:gram:${type}:${d}`, () => {
    const g = new GraphBuilder('gram');
    g.input('X', type, ['r', d]);
    g.input('mean', 'float64', [d]);
    g.input('Y', 'float64', ['r', 't']);
    const xc = g.op('Sub', [g.op('Cast', ['X'], { to: 11 }), 'mean']);
    const axis = g.constant({ type: 'int64', dims: [1], values: [1] });
    const at = (v: number) => g.constant({ type: 'int64', dims: [1], values: [v] });
    for (let p = 0; p < panels; p++) {
      const rowsOf = g.op('Slice', [xc, at(edges[p]!), at(edges[p + 1]!), axis]);
      const colsOf = p === panels - 1 ? xc : g.op('Slice', [xc, at(0), at(edges[p + 1]!), axis]);
      g.op('Gemm', [rowsOf, colsOf], { transA: 1 }, `P${p}`);
      g.output(`P${p}`, 'float64', [edges[p + 1]! - edges[p]!, edges[p + 1]!]);
    }
    g.op('Gemm', [xc, 'Y'], { transA: 1 }, 'B');
    g.output('B', 'float64', [d, 't']);
    return g;
  });
  const out = await session.run({
    X: new ort.Tensor(type, chunk, [r, d]),
    mean: new ort.Tensor('float64', mean, [d]),
    Y: new ort.Tensor('float64', ys, [r, t]),
  });
  for (let p = 0; p < panels; p++) {
    const block = out[`P${p}`]!.data as Float64Array;
    const width = edges[p + 1]!;
    for (let i = edges[p]!; i < edges[p + 1]!; i++) {
      const src = (i - edges[p]!) * width;
      const dst = i * d;
      for (let j = 0; j < width; j++) gram[dst + j] = gram[dst + j]! + block[src + j]!;
    }
  }
  const b = out['B']!.data as Float64Array;
  for (let i = 0; i < d * t; i++) xty[i] = xty[i]! + b[i]!;
}

/** Z = Xc·Q and F = Xc·Coefs for one chunk, in one pass over the chunk. */
async function projectStep(
  chunk: Floats,
  r: number,
  d: number,
  mean: Float64Array,
  q: Float64Array,
  coefs: Float64Array,
  k: number,
) {
  const type = elemType(chunk);
  const session = await cachedSession(`ridge:project:${type}`, () => {
    const g = new GraphBuilder('project');
    g.input('X', type, ['r', 'd']);
    g.input('mean', 'float64', ['d']);
    g.input('Q', 'float64', ['d', 'd']);
    g.input('W', 'float64', ['d', 'k']);
    const xc = g.op('Sub', [g.op('Cast', ['X'], { to: 11 }), 'mean']);
    g.op('MatMul', [xc, 'Q'], {}, 'Z');
    g.op('MatMul', [xc, 'W'], {}, 'F');
    g.output('Z', 'float64', ['r', 'd']);
    g.output('F', 'float64', ['r', 'k']);
    return g;
  });
  const out = await session.run({
    X: new ort.Tensor(type, chunk, [r, d]),
    mean: new ort.Tensor('float64', mean, [d]),
    Q: new ort.Tensor('float64', q, [d, d]),
    W: new ort.Tensor('float64', coefs, [d, k]),
  });
  return { z: out['Z']!.data as Float64Array, f: out['F']!.data as Float64Array };
}

/** Solves (T + α_a I) s = b_j for every alpha a and target j: returns dim × (A·t), column a·t + j. */
function solveAll(shifts: TridiagonalShift[], b: Float64Array, dim: number, t: number): Float64Array {
  const nA = shifts.length;
  const out = new Float64Array(dim * nA * t);
  const col = new Float64Array(dim);
  for (let j = 0; j < t; j++) {
    for (let i = 0; i < dim; i++) col[i] = b[i * t + j]!;
    for (let a = 0; a < nA; a++) {
      const s = shifts[a]!.solve(col);
      const k = a * t + j;
      for (let i = 0; i < dim; i++) out[i * nA * t + k] = s[i]!;
    }
  }
  return out;
}

function rangeTrace(m: Float64Array, dim: number): number {
  let tr = 0;
  for (let i = 0; i < dim; i++) tr += m[i * dim + i]!;
  return tr;
}

/**
 * Ridge with exact leave-one-out CV over `alphas` (sklearn RidgeCV, cv=None, one alpha for all targets).
 * X: n × d activations (float32 or float64); Y: n × t targets (row-major). Only `options.rows` are used to fit.
 */
export async function ridgeLoo(
  x: Matrix,
  y: Float64Array,
  t: number,
  alphas: number[],
  options: RidgeOptions = {},
): Promise<RidgeCvResult> {
  validateAlphas(alphas);
  const p = prepare(x, y, t, options);
  const route = options.route ?? (p.n > p.d ? 'primal' : 'dual');
  const res =
    route === 'primal' ? await primalLoo(x, p, alphas, options) : await dualLoo(x, p, alphas, options);
  let best = 0;
  for (let a = 1; a < alphas.length; a++) if (res.looMse[a]! < res.looMse[best]!) best = a;
  const coefStd = res.coefs.subarray(0); // d × (A·t)
  const model = finishModel(p, alphas[best]!, pickAlpha(coefStd, p.d, alphas.length, t, best));
  return {
    ...model,
    alphas: [...alphas],
    alphaIndex: best,
    looMse: res.looMse,
    ...(res.looErrors ? { looErrors: res.looErrors } : {}),
    nTrain: p.n,
    route,
    warnings: p.warnings,
  };
}

/** Plain ridge at one fixed alpha (sklearn `Ridge(alpha)` on standardised targets): no cross-validation. */
export async function fitRidge(
  x: Matrix,
  y: Float64Array,
  t: number,
  alpha: number,
  options: RidgeOptions = {},
): Promise<RidgeModel & { nTrain: number; warnings: string[] }> {
  validateAlphas([alpha]);
  const p = prepare(x, y, t, options);
  const route = options.route ?? (p.n > p.d ? 'primal' : 'dual');
  // One alpha: a Cholesky solve of the shifted Gram (or kernel) is all it takes (d³/3 flops, GEMM-bound).
  let coefStd: Float64Array;
  if (route === 'primal') {
    const { gram, xty } = await gramAndXty(x, p);
    checkDegenerate(rangeTrace(gram, p.d), p);
    for (let i = 0; i < p.d; i++) gram[i * p.d + i] = gram[i * p.d + i]! + alpha;
    coefStd = choleskySolve(await cholesky(gram, p.d), xty, t);
  } else {
    const xc = centredTrain(x, p);
    const kernel = await gemm64(xc, xc, p.n, p.d, p.n, { transB: true });
    checkDegenerate(rangeTrace(kernel, p.n), p);
    for (let i = 0; i < p.n; i++) kernel[i * p.n + i] = kernel[i * p.n + i]! + alpha;
    const c = choleskySolve(await cholesky(kernel, p.n), p.ys, t);
    coefStd = await gemm64(xc, c, p.d, p.n, t, { transA: true });
  }
  return { ...finishModel(p, alpha, coefStd), nTrain: p.n, warnings: p.warnings };
}

function pickAlpha(coefs: Float64Array, d: number, nA: number, t: number, a: number): Float64Array {
  const out = new Float64Array(d * t);
  for (let i = 0; i < d; i++) for (let j = 0; j < t; j++) out[i * t + j] = coefs[i * nA * t + a * t + j]!;
  return out;
}

function finishModel(p: Prepared, alpha: number, coefStd: Float64Array): RidgeModel {
  const { d, t } = p;
  const coef = new Float64Array(d * t);
  const intercept = new Float64Array(t);
  for (let j = 0; j < t; j++) {
    let dot = 0;
    for (let i = 0; i < d; i++) {
      const c = coefStd[i * t + j]! * p.yScale[j]!;
      coef[i * t + j] = c;
      dot += p.xMean[i]! * c;
    }
    intercept[j] = p.yMean[j]! - dot;
  }
  return {
    d,
    t,
    alpha,
    coef,
    intercept,
    coefStandardized: coefStd,
    xMean: p.xMean,
    yMean: p.yMean,
    yScale: p.yScale,
  };
}

function checkDegenerate(trace: number, p: Prepared): void {
  if (trace === 0) {
    p.warnings.push(
      'every training row has the same activation vector (e.g. an all-zero layer): the probe predicts the mean',
    );
  }
}

async function gramAndXty(x: Matrix, p: Prepared) {
  const { d, t, n } = p;
  const gram = new Float64Array(d * d);
  const xty = new Float64Array(d * t);
  const step = p.step;
  for (let from = 0; from < n; from += step) {
    const to = Math.min(n, from + step);
    const chunk = gatherRows(x.data, x.cols, p.rows, { from, to });
    await gramStep(chunk, to - from, d, p.xMean, p.ys.subarray(from * t, to * t), t, gram, xty);
  }
  // Mirror the lower triangle (exactly symmetric input for the tridiagonalisation).
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) gram[i * d + j] = gram[j * d + i]!;
  return { gram, xty };
}

function centredTrain(x: Matrix, p: Prepared): Float64Array {
  const { d, n } = p;
  const xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const o = p.rows[i]! * d;
    for (let c = 0; c < d; c++) xc[i * d + c] = x.data[o + c]! - p.xMean[c]!;
  }
  return xc;
}

/** Adds the seconds since the last call to `timings[phase]` (no phase: just restart the clock). */
function timer(timings: Record<string, number> | undefined): (phase?: string) => void {
  let last = performance.now();
  return (phase) => {
    const now = performance.now();
    if (timings && phase) timings[phase] = (timings[phase] ?? 0) + (now - last) / 1000;
    last = now;
  };
}

interface LooParts {
  looMse: number[];
  looErrors?: Float64Array;
  /** Standardised coefficients for every alpha: d × (A·t). */
  coefs: Float64Array;
}

async function primalLoo(x: Matrix, p: Prepared, alphas: number[], options: RidgeOptions): Promise<LooParts> {
  const { d, t, n } = p;
  const nA = alphas.length;
  const clock = timer(options.timings);
  const { gram, xty } = await gramAndXty(x, p);
  clock('gram');
  checkDegenerate(rangeTrace(gram, d), p);
  const red = await tridiagonalize(gram, d);
  clock('tridiagonalize');
  const q = await formQ(red);
  clock('formQ');
  const shifts = alphas.map((a) => new TridiagonalShift(red, a));
  const b = await gemm64(q, xty, d, d, t, { transA: true });
  const coefs = await gemm64(q, solveAll(shifts, b, d, t), d, d, nA * t);
  const sse = new Float64Array(nA);
  const looErrors = options.keepLooErrors ? new Float64Array(n * t * nA) : undefined;
  const step = p.step;
  const inv = 1 / n;
  for (let from = 0; from < n; from += step) {
    const to = Math.min(n, from + step);
    const r = to - from;
    const chunk = gatherRows(x.data, x.cols, p.rows, { from, to });
    clock();
    const { z, f } = await projectStep(chunk, r, d, p.xMean, q, coefs, nA * t);
    clock('project');
    const h = shiftedQuadraticForms(z, r, shifts);
    clock('leverages');
    for (let i = 0; i < r; i++) {
      for (let a = 0; a < nA; a++) {
        const denom = 1 - inv - h[i * nA + a]!;
        for (let j = 0; j < t; j++) {
          const e = (p.ys[(from + i) * t + j]! - f[i * nA * t + a * t + j]!) / denom;
          sse[a] = sse[a]! + e * e;
          if (looErrors) looErrors[((from + i) * t + j) * nA + a] = e * e;
        }
      }
    }
  }
  const looMse = Array.from(sse, (s) => s / (n * t));
  return { looMse, ...(looErrors ? { looErrors } : {}), coefs };
}

async function dualLoo(x: Matrix, p: Prepared, alphas: number[], options: RidgeOptions): Promise<LooParts> {
  const { d, t, n } = p;
  const nA = alphas.length;
  const xc = centredTrain(x, p);
  const kernel = await gemm64(xc, xc, n, d, n, { transB: true });
  checkDegenerate(rangeTrace(kernel, n), p);
  const red = await tridiagonalize(kernel, n);
  const q = await formQ(red);
  const shifts = alphas.map((a) => new TridiagonalShift(red, a));
  const b = await gemm64(q, p.ys, n, n, t, { transA: true });
  const c = await gemm64(q, solveAll(shifts, b, n, t), n, n, nA * t); // n × (A·t): (M+αI)⁻¹Ys
  const diag = shiftedQuadraticForms(q, n, shifts); // n × A: q_iᵀ(T+αI)⁻¹q_i
  const sse = new Float64Array(nA);
  const looErrors = options.keepLooErrors ? new Float64Array(n * t * nA) : undefined;
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < nA; a++) {
      const g = diag[i * nA + a]! - 1 / (n * alphas[a]!);
      for (let j = 0; j < t; j++) {
        const e = c[i * nA * t + a * t + j]! / g;
        sse[a] = sse[a]! + e * e;
        if (looErrors) looErrors[(i * t + j) * nA + a] = e * e;
      }
    }
  }
  const coefs = await gemm64(xc, c, d, n, nA * t, { transA: true });
  const looMse = Array.from(sse, (s) => s / (n * t));
  return { looMse, ...(looErrors ? { looErrors } : {}), coefs };
}

/** Predictions in target units for every row of X: (X − x̄)·coef + ȳ, float64. Returns rows × t. */
export async function ridgePredict(
  model: RidgeModel,
  x: Matrix,
  options: { rowsPerChunk?: number } = {},
): Promise<Float64Array> {
  if (x.cols !== model.d)
    throw new UserError(`probe expects ${model.d} features, activations have ${x.cols}`);
  const { d, t } = model;
  const out = new Float64Array(x.rows * t);
  const step = options.rowsPerChunk ?? chunkRows(d);
  for (let from = 0; from < x.rows; from += step) {
    const to = Math.min(x.rows, from + step);
    const chunk = x.data.subarray(from * d, to * d);
    const f = await centredProduct(chunk, to - from, d, model.xMean, model.coef, t);
    for (let i = 0; i < (to - from) * t; i++) out[from * t + i] = f[i]! + model.yMean[i % t]!;
  }
  return out;
}
