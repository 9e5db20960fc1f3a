/**
 * The paper's proximity error (METHOD.md §4), streamed: E[i,j] = 1 when d(t_i, p_j) < d(t_i, p_i) (strict), and
 * PE_S(i) = mean over j ∈ S of E[i,j]. Never builds the N×N matrix.
 *
 * Space: on the sphere d(t, p) < d(t, p') ⇔ u(t)·u(p) > u(t)·u(p') with u the 3-D unit vector, so each block of
 * rows is one float64 GEMM against all predictions, a compare against the row's own entry (gathered from the same
 * GEMM output, so i = j and duplicate predictions compare exactly equal), and a count per group of columns (a second
 * small GEMM with the group indicator matrix). Time: |t − p| with the predictions sorted and binary-searched.
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
    : sphereCounts(truth, pred, n, mode, group, groups);
}

async function sphereCounts(
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

/** The proximity errors of METHOD.md §4 in one streamed pass. NaN for an empty split. */
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
