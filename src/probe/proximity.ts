/**
 * The paper's proximity error (docs/method.md#metrics), streamed: E[i,j] = 1 when d(t_i, p_j) < d(t_i, p_i) (strict), and
 * PE_S(i) = mean over j ∈ S of E[i,j]. Never builds the N×N matrix.
 *
 * Space: on the sphere d(t, p) < d(t, p') ⇔ u(t)·u(p) > u(t)·u(p') with u the 3-D unit vector: the closer
 * predictions lie in a spherical cap around t_i, counted with a k-d tree over the predicted unit vectors (exact;
 * `sphereCountsDense` is the blocked-GEMM brute force used to cross-check it). Time: |t − p| with the predictions
 * sorted and binary-searched.
 */
import { cachedSession, GraphBuilder, ort } from '../native/onnx.js';

/** 'haversine' = true great-circle distance on (lon, lat); 'haversine-swapped' = the authors' quirk (column 0 taken
 *  as latitude); 'absolute' = |t − p| for one-dimensional targets (time). */
export type DistanceMode = 'haversine' | 'haversine-swapped' | 'absolute';

const RAD = Math.PI / 180;

/** Unit vectors (3 per row) of (lon, lat) rows, honouring the swapped quirk. */
export function unitVectors(lonLat: Float64Array, n: number, mode: DistanceMode): Float64Array {
  const u = new Float64Array(n * 3);
  const swapped = mode === 'haversine-swapped';
  for (let i = 0; i < n; i++) {
    const lat = (swapped ? lonLat[2 * i]! : lonLat[2 * i + 1]!) * RAD;
    const lon = (swapped ? lonLat[2 * i + 1]! : lonLat[2 * i]!) * RAD;
    const c = Math.cos(lat);
    u[3 * i] = c * Math.cos(lon);
    u[3 * i + 1] = c * Math.sin(lon);
    u[3 * i + 2] = Math.sin(lat);
  }
  return u;
}

/**
 * counts[i·G + g] = #{ j : group[j] = g and d(t_i, p_j) < d(t_i, p_i) }. `group[j]` in [0, G); rows with a group of
 * 255 are left out as columns (they still get their own counts). truth/pred are n × (2 for space, 1 for time).
 */
export async function proximityCounts(
  truth: Float64Array,
  pred: Float64Array,
  n: number,
  mode: DistanceMode,
  group: Uint8Array,
  groups: number,
): Promise<Float64Array> {
  return mode === 'absolute'
    ? absoluteCounts(truth, pred, n, group, groups)
    : sphereCountsTree(truth, pred, n, mode, group, groups);
}

/** u·v for 3-vectors, always evaluated in this order (the own-distance and every comparison use it). */
function dot3(a: Float64Array, i: number, b: Float64Array, j: number): number {
  return a[3 * i]! * b[3 * j]! + a[3 * i + 1]! * b[3 * j + 1]! + a[3 * i + 2]! * b[3 * j + 2]!;
}

const LEAF = 16;
/** Slack for the conservative box tests; exact per-point comparisons decide everything inside it. */
const BOX_TOL = 1e-12;

/**
 * Space proximity counts with a k-d tree over the predicted unit vectors: the points closer to t_i than p_i lie in
 * a spherical cap (u(t_i)·u > u(t_i)·u(p_i)); boxes entirely inside or outside the cap are counted or skipped whole
 * (with a 1e-12 safety margin), boxes on its rim are opened down to leaves and compared point by point with the same
 * dot product as the own distance. Exact, and about O(√N) work per row instead of O(N).
 */
export function sphereCountsTree(
  truth: Float64Array,
  pred: Float64Array,
  n: number,
  mode: DistanceMode,
  group: Uint8Array,
  groups: number,
): Float64Array {
  const ut = unitVectors(truth, n, mode);
  const up = unitVectors(pred, n, mode);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  // Nodes in flat arrays: box (6), range [start, end), children, per-group counts.
  const cap = 2 * Math.ceil(n / LEAF) * 2 + 2;
  const box = new Float64Array(cap * 6);
  const start = new Int32Array(cap);
  const end = new Int32Array(cap);
  const left = new Int32Array(cap).fill(-1);
  const right = new Int32Array(cap).fill(-1);
  const counts = new Float64Array(cap * groups);
  let nodes = 0;
  const build = (from: number, to: number): number => {
    const id = nodes++;
    start[id] = from;
    end[id] = to;
    for (let k = 0; k < 3; k++) {
      box[id * 6 + k] = Number.POSITIVE_INFINITY;
      box[id * 6 + 3 + k] = Number.NEGATIVE_INFINITY;
    }
    for (let q = from; q < to; q++) {
      const j = order[q]!;
      if (group[j]! < groups) counts[id * groups + group[j]!]! += 1;
      for (let k = 0; k < 3; k++) {
        const v = up[3 * j + k]!;
        if (v < box[id * 6 + k]!) box[id * 6 + k] = v;
        if (v > box[id * 6 + 3 + k]!) box[id * 6 + 3 + k] = v;
      }
    }
    if (to - from > LEAF) {
      let axis = 0;
      for (let k = 1; k < 3; k++) {
        if (box[id * 6 + 3 + k]! - box[id * 6 + k]! > box[id * 6 + 3 + axis]! - box[id * 6 + axis]!) axis = k;
      }
      const part = Array.from(order.subarray(from, to)).sort((a, b) => up[3 * a + axis]! - up[3 * b + axis]!);
      order.set(part, from);
      const mid = (from + to) >> 1;
      left[id] = build(from, mid);
      right[id] = build(mid, to);
    }
    return id;
  };
  build(0, n);
  const out = new Float64Array(n * groups);
  const stack = new Int32Array(cap);
  for (let i = 0; i < n; i++) {
    const own = dot3(ut, i, up, i);
    const a0 = ut[3 * i]!;
    const a1 = ut[3 * i + 1]!;
    const a2 = ut[3 * i + 2]!;
    let top = 0;
    stack[top++] = 0;
    while (top > 0) {
      const id = stack[--top]!;
      const b = id * 6;
      const lo0 = a0 >= 0 ? a0 * box[b]! : a0 * box[b + 3]!;
      const hi0 = a0 >= 0 ? a0 * box[b + 3]! : a0 * box[b]!;
      const lo1 = a1 >= 0 ? a1 * box[b + 1]! : a1 * box[b + 4]!;
      const hi1 = a1 >= 0 ? a1 * box[b + 4]! : a1 * box[b + 1]!;
      const lo2 = a2 >= 0 ? a2 * box[b + 2]! : a2 * box[b + 5]!;
      const hi2 = a2 >= 0 ? a2 * box[b + 5]! : a2 * box[b + 2]!;
      if (lo0 + lo1 + lo2 > own + BOX_TOL) {
        for (let g = 0; g < groups; g++) out[i * groups + g]! += counts[id * groups + g]!;
      } else if (hi0 + hi1 + hi2 < own - BOX_TOL) {
        // entirely outside the cap
      } else if (left[id]! < 0) {
        for (let q = start[id]!; q < end[id]!; q++) {
          const j = order[q]!;
          if (group[j]! < groups && dot3(ut, i, up, j) > own) out[i * groups + group[j]!]! += 1;
        }
      } else {
        stack[top++] = left[id]!;
        stack[top++] = right[id]!;
      }
    }
  }
  return out;
}

/**
 * The same counts by brute force in blocks of rows: one float64 GEMM of unit vectors per block, a compare against
 * the row's own entry of that GEMM, and a per-group count (a second GEMM). O(N²) work, O(block·N) memory; kept as an
 * independent cross-check of the tree.
 */
export async function sphereCountsDense(
  truth: Float64Array,
  pred: Float64Array,
  n: number,
  mode: DistanceMode,
  group: Uint8Array,
  groups: number,
): Promise<Float64Array> {
  const ut = unitVectors(truth, n, mode);
  const up = unitVectors(pred, n, mode);
  const upT = new Float64Array(3 * n); // 3 × n
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) upT[k * n + i] = up[3 * i + k]!;
  const indicator = new Float32Array(n * groups); // n × G
  for (let j = 0; j < n; j++) if (group[j]! < groups) indicator[j * groups + group[j]!] = 1;
  const session = await cachedSession('probe:proximity-sphere', () => {
    const g = new GraphBuilder('proximity');
    g.input('Ut', 'float64', ['b', 3]);
    g.input('UpT', 'float64', [3, 'n']);
    g.input('self', 'int64', ['b', 1]);
    g.input('G', 'float32', ['n', 'g']);
    const s = g.op('MatMul', ['Ut', 'UpT']); // b × n cosines
    const own = g.op('GatherElements', [s, 'self'], { axis: 1 });
    const closer = g.op('Cast', [g.op('Greater', [s, own])], { to: 1 });
    g.op('MatMul', [closer, 'G'], {}, 'counts');
    g.output('counts', 'float32', ['b', 'g']);
    return g;
  });
  const counts = new Float64Array(n * groups);
  const block = Math.max(1, Math.min(n, Math.ceil(4_000_000 / n)));
  const upTensor = new ort.Tensor('float64', upT, [3, n]);
  const gTensor = new ort.Tensor('float32', indicator, [n, groups]);
  for (let from = 0; from < n; from += block) {
    const to = Math.min(n, from + block);
    const b = to - from;
    const self = new BigInt64Array(b);
    for (let i = 0; i < b; i++) self[i] = BigInt(from + i);
    const out = await session.run({
      Ut: new ort.Tensor('float64', ut.subarray(3 * from, 3 * to), [b, 3]),
      UpT: upTensor,
      self: new ort.Tensor('int64', self, [b, 1]),
      G: gTensor,
    });
    const c = out['counts']!.data as Float32Array;
    for (let i = 0; i < b * groups; i++) counts[from * groups + i] = c[i]!;
  }
  return counts;
}

/** Time: count p_j with |t_i − p_j| < |t_i − p_i|, by binary search in the sorted predictions of each group. */
function absoluteCounts(
  truth: Float64Array,
  pred: Float64Array,
  n: number,
  group: Uint8Array,
  groups: number,
): Float64Array {
  const sorted: Float64Array[] = [];
  for (let g = 0; g < groups; g++) {
    const vals: number[] = [];
    for (let j = 0; j < n; j++) if (group[j] === g) vals.push(pred[j]!);
    sorted.push(Float64Array.from(vals).sort());
  }
  const counts = new Float64Array(n * groups);
  for (let i = 0; i < n; i++) {
    const t = truth[i]!;
    const r = Math.abs(t - pred[i]!);
    if (!(r > 0)) continue; // nothing is strictly closer than distance 0
    for (let g = 0; g < groups; g++) {
      const p = sorted[g]!;
      // |t − p_j| computed exactly as the brute force does; it is monotone on each side of t, so the closer set is
      // one contiguous run of the sorted array around t.
      const mid = lowerBound(p, t); // first p_j ≥ t
      let lo = 0; // first index on the left with |t − p| < r
      let hi = mid;
      while (lo < hi) {
        const m = (lo + hi) >> 1;
        if (Math.abs(t - p[m]!) < r) hi = m;
        else lo = m + 1;
      }
      const left = lo;
      lo = mid; // first index on the right with |t − p| ≥ r
      hi = p.length;
      while (lo < hi) {
        const m = (lo + hi) >> 1;
        if (Math.abs(t - p[m]!) < r) lo = m + 1;
        else hi = m;
      }
      counts[i * groups + g] = lo - left;
    }
  }
  return counts;
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (a[m]! < x) lo = m + 1;
    else hi = m;
  }
  return lo;
}

export interface ProximityResult {
  /** PE_All(i): the fraction of all N predictions closer to t_i than p_i (the paper's per-point `prox_error`). */
  perPointAll: Float64Array;
  /** Mean over test rows of PE_Test(i) (test × test sub-matrix): the reported score. */
  test: number;
  /** Mean over train rows of PE_Train(i). */
  train: number;
}

/** The proximity errors of docs/method.md#metrics in one streamed pass. NaN for an empty split. */
export async function proximityErrors(
  truth: Float64Array,
  pred: Float64Array,
  n: number,
  isTest: Uint8Array,
  mode: DistanceMode,
): Promise<ProximityResult> {
  const group = Uint8Array.from(isTest, (v) => (v ? 1 : 0)); // 0 train, 1 test
  const counts = await proximityCounts(truth, pred, n, mode, group, 2);
  const perPointAll = new Float64Array(n);
  let nTest = 0;
  for (let i = 0; i < n; i++) nTest += group[i]!;
  const nTrain = n - nTest;
  let test = 0;
  let train = 0;
  for (let i = 0; i < n; i++) {
    const cTrain = counts[2 * i]!;
    const cTest = counts[2 * i + 1]!;
    perPointAll[i] = (cTrain + cTest) / n;
    if (group[i]) test += cTest / nTest;
    else train += cTrain / nTrain;
  }
  return {
    perPointAll,
    test: nTest ? test / nTest : Number.NaN,
    train: nTrain ? train / nTrain : Number.NaN,
  };
}
