/**
 * Surface-form features of entity strings, as scikit-learn's text vectorisers compute them (docs/controls.md):
 *   - `bag-of-tokens`: counts of the model tokenizer's token ids = TfidfVectorizer(analyzer=<token ids>,
 *     use_idf=False, norm=None) (a CountVectorizer);
 *   - `tfidf`: TfidfVectorizer(analyzer=<token ids>) with sklearn's defaults: tf = raw count,
 *     idf = ln((1 + n) / (1 + df)) + 1 (smooth_idf), rows scaled to unit L2 norm;
 *   - `char-ngrams`: TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 4)), lower-cased.
 * The vocabulary and idf are fitted on every entity (no labels are involved, as an LLM also sees every entity).
 * The matrix is sparse (CSR); `denseFeatures` writes it out exactly when it has at most `rank` columns, otherwise
 * projects it onto a rank-`rank` subspace of feature space found by subspace iteration (see `projectSparse`).
 */
import { inverseTransposeLower } from '../native/cholesky.js';
import { gemm64 } from '../native/linalg.js';
import { cachedSession, GraphBuilder, ort } from '../native/onnx.js';
import { Gaussian } from '../util/gaussian.js';

export type SurfaceKind = 'tfidf' | 'bag-of-tokens' | 'char-ngrams';

/** Rows of sparse features: row i holds columns cols[ptr[i]..ptr[i+1]) with values vals[...]. */
export interface Csr {
  rows: number;
  cols: number;
  ptr: Uint32Array;
  idx: Uint32Array;
  vals: Float64Array;
}

export const CHAR_NGRAM_RANGE: readonly [number, number] = [2, 4];

/**
 * sklearn's `char_wb` analyzer: lower-case, collapse whitespace runs, then the n-grams of each word padded with one
 * space on both sides; a word shorter than n yields itself once. Works on code points like Python strings.
 */
export function charWbNgrams(text: string, [lo, hi] = CHAR_NGRAM_RANGE): string[] {
  const clean = text.toLowerCase().replace(/\s\s+/g, ' ');
  const out: string[] = [];
  for (const word of clean.split(/\s+/).filter(Boolean)) {
    const w = Array.from(` ${word} `);
    for (let n = lo; n <= hi; n++) {
      let offset = 0;
      out.push(w.slice(offset, offset + n).join(''));
      while (offset + n < w.length) {
        offset++;
        out.push(w.slice(offset, offset + n).join(''));
      }
      if (offset === 0) break; // a short word: counted once
    }
  }
  return out;
}

/** Term counts per document over a vocabulary built in first-seen order (the order does not change a ridge fit). */
export function countMatrix(docs: readonly (readonly (string | number)[])[]): {
  csr: Csr;
  vocabulary: number;
} {
  const vocab = new Map<string | number, number>();
  const ptr = new Uint32Array(docs.length + 1);
  const idx: number[] = [];
  const vals: number[] = [];
  docs.forEach((terms, i) => {
    const counts = new Map<number, number>();
    for (const term of terms) {
      let c = vocab.get(term);
      if (c === undefined) {
        c = vocab.size;
        vocab.set(term, c);
      }
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    for (const [c, v] of [...counts].sort((a, b) => a[0] - b[0])) {
      idx.push(c);
      vals.push(v);
    }
    ptr[i + 1] = idx.length;
  });
  const csr = {
    rows: docs.length,
    cols: vocab.size,
    ptr,
    idx: Uint32Array.from(idx),
    vals: Float64Array.from(vals),
  };
  return { csr, vocabulary: vocab.size };
}

/** In place: tf·idf with sklearn's smooth idf, then each row scaled to unit L2 norm (empty rows stay zero). */
export function applyTfidf(csr: Csr): Float64Array {
  const df = new Float64Array(csr.cols);
  for (let k = 0; k < csr.idx.length; k++) df[csr.idx[k]!]! += 1;
  const idf = df.map((d) => Math.log((1 + csr.rows) / (1 + d)) + 1);
  for (let i = 0; i < csr.rows; i++) {
    let ss = 0;
    for (let k = csr.ptr[i]!; k < csr.ptr[i + 1]!; k++) {
      csr.vals[k] = csr.vals[k]! * idf[csr.idx[k]!]!;
      ss += csr.vals[k]! ** 2;
    }
    const norm = Math.sqrt(ss);
    if (norm > 0) for (let k = csr.ptr[i]!; k < csr.ptr[i + 1]!; k++) csr.vals[k] = csr.vals[k]! / norm;
  }
  return idf;
}

/**
 * X·B for sparse X (rows × cols) and dense B (cols × k): rows × k, through onnxruntime. The rows are grouped by their
 * count of non-zeros into power-of-two widths w (sliced ELLPACK: padding wastes under half the work); each chunk of
 * r rows is one Gather of B's rows, r × w × k, and one batched MatMul with the values, r × (1 × w)·(w × k). The
 * products run in float32 (relative error 1e-7 to 1e-6, the larger for Xᵀ's long columns): they only find and apply
 * the projection, which is orthonormalised in float64; float32 halves the memory traffic that bounds them.
 */
export async function sparseTimesDense(x: Csr, b: Float64Array, k: number): Promise<Float64Array> {
  if (b.length !== x.cols * k) throw new Error(`sparseTimesDense: B is not ${x.cols} x ${k}`);
  const out = new Float64Array(x.rows * k);
  if (x.idx.length === 0 || k === 0) return out;
  const session = await cachedSession('surface:ell-spmm', () => {
    const g = new GraphBuilder('ell_spmm');
    g.input('B', 'float32', ['c', 'k']);
    g.input('I', 'int64', ['r', 'w']);
    g.input('V', 'float32', ['r', 1, 'w']);
    g.op('Gather', ['B', 'I'], { axis: 0 }, 'G');
    g.op('MatMul', ['V', 'G'], {}, 'Y');
    g.output('Y', 'float32', ['r', 1, 'k']);
    return g;
  });
  const bTensor = new ort.Tensor('float32', Float32Array.from(b), [x.cols, k]);
  for (const slice of ellSlices(x, k)) {
    const { rows, width } = slice;
    const y = (
      await session.run({
        B: bTensor,
        I: new ort.Tensor('int64', slice.idx, [rows.length, width]),
        V: new ort.Tensor('float32', slice.vals, [rows.length, 1, width]),
      })
    )['Y']!.data as Float32Array;
    rows.forEach((row, j) => {
      out.set(y.subarray(j * k, (j + 1) * k), row * k);
    });
  }
  return out;
}

/** Bytes of one chunk's gathered rows (r × w × k float32): cache-sized, yet large enough to amortise a call. */
const ELL_CHUNK_BYTES = 4 * 2 ** 20;

interface EllSlice {
  rows: Uint32Array;
  width: number;
  idx: BigInt64Array;
  vals: Float32Array;
}

/** X's non-empty rows in ELLPACK chunks of equal power-of-two width (empty rows stay zero in the product). */
function* ellSlices(x: Csr, k: number): Generator<EllSlice> {
  const byWidth = new Map<number, number[]>();
  for (let i = 0; i < x.rows; i++) {
    const count = x.ptr[i + 1]! - x.ptr[i]!;
    if (count === 0) continue;
    const width = 2 ** Math.ceil(Math.log2(count));
    const group = byWidth.get(width) ?? [];
    if (group.length === 0) byWidth.set(width, group);
    group.push(i);
  }
  for (const [width, group] of byWidth) {
    const chunk = Math.max(1, Math.floor(ELL_CHUNK_BYTES / (width * k * 4)));
    for (let start = 0; start < group.length; start += chunk) {
      const rows = Uint32Array.from(group.slice(start, start + chunk));
      const idx = new BigInt64Array(rows.length * width);
      const vals = new Float32Array(rows.length * width); // padding: index 0, value 0
      rows.forEach((row, j) => {
        for (let p = x.ptr[row]!, q = j * width; p < x.ptr[row + 1]!; p++, q++) {
          idx[q] = BigInt(x.idx[p]!);
          vals[q] = x.vals[p]!;
        }
      });
      yield { rows, width, idx, vals };
    }
  }
}

/** Xᵀ as a CSR matrix (cols × rows): X's columns, each with its rows in increasing order. */
export function transposeCsr(x: Csr): Csr {
  const ptr = new Uint32Array(x.cols + 1);
  for (let p = 0; p < x.idx.length; p++) ptr[x.idx[p]! + 1]! += 1;
  for (let c = 0; c < x.cols; c++) ptr[c + 1]! += ptr[c]!;
  const fill = ptr.slice(0, x.cols);
  const idx = new Uint32Array(x.idx.length);
  const vals = new Float64Array(x.idx.length);
  for (let i = 0; i < x.rows; i++) {
    for (let p = x.ptr[i]!; p < x.ptr[i + 1]!; p++) {
      const q = fill[x.idx[p]!]!++;
      idx[q] = i;
      vals[q] = x.vals[p]!;
    }
  }
  return { rows: x.cols, cols: x.rows, ptr, idx, vals };
}

/** The dense rows × cols matrix. */
export function densify(x: Csr): Float32Array {
  const out = new Float32Array(x.rows * x.cols);
  for (let i = 0; i < x.rows; i++) {
    for (let p = x.ptr[i]!; p < x.ptr[i + 1]!; p++) out[i * x.cols + x.idx[p]!] = x.vals[p]!;
  }
  return out;
}

/**
 * (Lᵀ)⁻¹ for the Cholesky factor L of G + εI, ε = 1e-12·mean(diag G) (l×l, small: JS is fine). The jitter keeps
 * rank-deficient inputs factorable: a direction of singular value σ is scaled by σ/√(σ²+ε), i.e. kept (≈1) when
 * real and dropped (≈0) when it is round-off.
 */
function jitteredInverseCholeskyT(g: Float64Array, l: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < l; i++) trace += g[i * l + i]!;
  const eps = 1e-12 * Math.max(trace / l, Number.MIN_VALUE);
  const L = new Float64Array(l * l);
  for (let j = 0; j < l; j++) {
    let s = g[j * l + j]! + eps;
    for (let k = 0; k < j; k++) s -= L[j * l + k]! ** 2;
    const ljj = Math.sqrt(Math.max(s, eps));
    L[j * l + j] = ljj;
    for (let i = j + 1; i < l; i++) {
      let t = g[i * l + j]!;
      for (let k = 0; k < j; k++) t -= L[i * l + k]! * L[j * l + k]!;
      L[i * l + j] = t / ljj;
    }
  }
  return inverseTransposeLower(L, l);
}

/** Orthonormal columns (m × l) spanning A's columns: CholeskyQR (`passes` = 2: CholeskyQR2), jittered. */
async function orthonormalize(a: Float64Array, m: number, l: number, passes = 2): Promise<Float64Array> {
  let q: Float64Array = a;
  for (let pass = 0; pass < passes; pass++) {
    const g = await gemm64(q, q, l, m, l, { transA: true });
    q = await gemm64(q, jitteredInverseCholeskyT(g, l), m, l, l);
  }
  return q;
}

export interface ProjectionOptions {
  rank: number;
  /** Subspace-iteration steps after the first product (default 4). */
  iterations?: number;
  seed?: number;
}

/**
 * Features F = X·W (rows × l, l = min(rank, rows, cols)) with W (cols × l) orthonormal, spanning the top right singular subspace of X as
 * found by subspace iteration from a Gaussian start (Halko, Martinsson & Tropp 2011, alg. 4.4), run in the smaller
 * of the row and column spaces: W = orth(XᵀX·Ω) then W = orth(XᵀX·W) (cols ≤ rows), or Y = orth(X·Ω) then
 * Y = orth(XXᵀ·Y) and W = orth(XᵀY) (rows < cols). A ridge probe on F is a ridge probe on X·W·Wᵀ, X projected onto
 * that subspace (each entity's features are its own sparse row times W); when X's rows span at most `rank`
 * dimensions the projection keeps them all and the fit is exact.
 */
export async function projectSparse(x: Csr, options: ProjectionOptions): Promise<Float32Array> {
  const l = Math.min(options.rank, x.rows, x.cols); // more columns than X's rank would only hold zeros
  // A rank reaching the smaller side spans X's rows after the first product: iterating would change nothing.
  const steps = l === Math.min(x.rows, x.cols) ? 0 : (options.iterations ?? 4);
  const rng = new Gaussian(options.seed ?? 0, 'surface-projection');
  const xt = transposeCsr(x);
  let w: Float64Array;
  if (x.cols <= x.rows) {
    w = rng.fill(new Float64Array(x.cols * l));
    for (let it = 0; it <= steps; it++) {
      const xw = await sparseTimesDense(x, w, l);
      w = await orthonormalize(await sparseTimesDense(xt, xw, l), x.cols, l, it === steps ? 2 : 1);
    }
  } else {
    const start = await sparseTimesDense(x, rng.fill(new Float64Array(x.cols * l)), l);
    let y = await orthonormalize(start, x.rows, l, 1);
    for (let it = 0; it < steps; it++) {
      const xty = await sparseTimesDense(xt, y, l);
      y = await orthonormalize(await sparseTimesDense(x, xty, l), x.rows, l, 1);
    }
    w = await orthonormalize(await sparseTimesDense(xt, y, l), x.cols, l, 2);
  }
  return Float32Array.from(await sparseTimesDense(x, w, l));
}

/** The dense store matrix: X itself when it has at most `rank` columns (exact), else its projection. */
export async function denseFeatures(
  x: Csr,
  options: ProjectionOptions,
): Promise<{ data: Float32Array; d: number; exact: boolean }> {
  if (x.cols === 0) return { data: new Float32Array(x.rows), d: 1, exact: true }; // no terms at all
  if (x.cols <= options.rank) return { data: densify(x), d: x.cols, exact: true };
  return { data: await projectSparse(x, options), d: Math.min(options.rank, x.rows), exact: false };
}
