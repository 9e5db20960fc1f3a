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
import { gemm64 } from '../native/linalg.js';
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

/** X·B for sparse X (rows × cols) and dense B (cols × k): rows × k. */
export function sparseTimesDense(x: Csr, b: Float64Array, k: number): Float64Array {
  const out = new Float64Array(x.rows * k);
  for (let i = 0; i < x.rows; i++) {
    const o = i * k;
    for (let p = x.ptr[i]!; p < x.ptr[i + 1]!; p++) {
      const v = x.vals[p]!;
      const s = x.idx[p]! * k;
      for (let j = 0; j < k; j++) out[o + j] = out[o + j]! + v * b[s + j]!;
    }
  }
  return out;
}

/** Xᵀ·B for sparse X (rows × cols) and dense B (rows × k): cols × k. */
export function sparseTransposeTimesDense(x: Csr, b: Float64Array, k: number): Float64Array {
  const out = new Float64Array(x.cols * k);
  for (let i = 0; i < x.rows; i++) {
    const s = i * k;
    for (let p = x.ptr[i]!; p < x.ptr[i + 1]!; p++) {
      const v = x.vals[p]!;
      const o = x.idx[p]! * k;
      for (let j = 0; j < k; j++) out[o + j] = out[o + j]! + v * b[s + j]!;
    }
  }
  return out;
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
  const inv = new Float64Array(l * l); // L⁻¹, lower, then transposed on the way out
  for (let c = 0; c < l; c++) {
    for (let i = c; i < l; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= L[i * l + k]! * inv[k * l + c]!;
      inv[i * l + c] = s / L[i * l + i]!;
    }
  }
  const out = new Float64Array(l * l);
  for (let i = 0; i < l; i++) for (let j = 0; j <= i; j++) out[j * l + i] = inv[i * l + j]!;
  return out;
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
 * Features F = X·W (rows × rank) with W (cols × rank) orthonormal, spanning the top right singular subspace of X as
 * found by subspace iteration from a Gaussian start (Halko, Martinsson & Tropp 2011, alg. 4.4), run in the smaller
 * of the row and column spaces: W = orth(XᵀX·Ω) then W = orth(XᵀX·W) (cols ≤ rows), or Y = orth(X·Ω) then
 * Y = orth(XXᵀ·Y) and W = orth(XᵀY) (rows < cols). A ridge probe on F is a ridge probe on X·W·Wᵀ, X projected onto
 * that subspace (each entity's features are its own sparse row times W); when X's rows span at most `rank`
 * dimensions the projection keeps them all and the fit is exact.
 */
export async function projectSparse(x: Csr, options: ProjectionOptions): Promise<Float32Array> {
  const l = options.rank;
  const steps = options.iterations ?? 4;
  const rng = new Gaussian(options.seed ?? 0, 'surface-projection');
  let w: Float64Array;
  if (x.cols <= x.rows) {
    w = rng.fill(new Float64Array(x.cols * l));
    for (let it = 0; it <= steps; it++) {
      const xw = sparseTimesDense(x, w, l);
      w = await orthonormalize(sparseTransposeTimesDense(x, xw, l), x.cols, l, it === steps ? 2 : 1);
    }
  } else {
    let y = await orthonormalize(
      sparseTimesDense(x, rng.fill(new Float64Array(x.cols * l)), l),
      x.rows,
      l,
      1,
    );
    for (let it = 0; it < steps; it++) {
      const xty = sparseTransposeTimesDense(x, y, l);
      y = await orthonormalize(sparseTimesDense(x, xty, l), x.rows, l, 1);
    }
    w = await orthonormalize(sparseTransposeTimesDense(x, y, l), x.cols, l, 2);
  }
  return Float32Array.from(sparseTimesDense(x, w, l));
}

/** The dense store matrix: X itself when it has at most `rank` columns (exact), else its projection. */
export async function denseFeatures(
  x: Csr,
  options: ProjectionOptions,
): Promise<{ data: Float32Array; d: number; exact: boolean }> {
  if (x.cols === 0) return { data: new Float32Array(x.rows), d: 1, exact: true }; // no terms at all
  if (x.cols <= options.rank) return { data: densify(x), d: x.cols, exact: true };
  return { data: await projectSparse(x, options), d: options.rank, exact: false };
}
