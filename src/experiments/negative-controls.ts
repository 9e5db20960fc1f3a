/**
 * Negative-control targets (docs/experiments.md#negative-controls): attributes a language model has no reason to
 * encode linearly, probed exactly like the real targets, to show the probe's floor beside them.
 *
 * - `permuted`: the real targets with whole rows permuted at random among entities (seeded Fisher–Yates). No
 *   activation can predict a test entity's permuted target; the test R² should sit at or below 0.
 * - `field-j`: a random smooth field of the entity's true position (places) or date (dates): a sum of 64 random
 *   cosines cos(ω·u / s + φ) with ω ~ N(0, 3² I), φ ~ U(0, 2π), amplitudes ~ N(0, 1), where u is the 3-D unit vector
 *   (or the standardised date) and s the data's angular spread, so the field wiggles a few times across the
 *   dataset whatever its extent. The field is then residualised on [1, x, y, z] (or [1, date]) over all rows and
 *   standardised: no linear read-out of the true position predicts it. A probe still can, through whatever
 *   non-linear features of place the model has, so its R² measures how much of an arbitrary smooth function of
 *   place a probe picks up: the bar a "real" place attribute has to clear.
 */
import { shuffleWithinGroups, unitVectors } from '../probe/index.js';
import { Rng } from '../util/rng.js';
import { sphericalCentroid } from './holdout.js';
import type { LayerData } from './layer-data.js';
import { orthonormalize } from './linalg.js';
import { fitRidgeLoo, predictLinear, type ScalarMetrics, scoreSplit } from './linear.js';
import { splitRows } from './prompts.js';

const FEATURES = 64;
const FREQUENCY = 3;

/** The targets with whole rows permuted among all entities (seeded). */
export function permutedTargets(targets: Float64Array, n: number, t: number, seed: number): Float64Array {
  return shuffleWithinGroups(targets, t, new Array<string>(n).fill(''), seed);
}

/** Removes the least-squares fit on the design columns (n each) from y and scales it to unit variance (ddof 0). */
export async function residualise(y: Float64Array, design: Float64Array[]): Promise<Float64Array> {
  const n = y.length;
  const q = design.length;
  const a = new Float64Array(n * q);
  design.forEach((col, c) => {
    for (let i = 0; i < n; i++) a[i * q + c] = col[i]!;
  });
  const basis = await orthonormalize(a, n, q); // n×q, orthonormal columns spanning the design
  const out = Float64Array.from(y);
  for (let c = 0; c < q; c++) {
    let dot = 0;
    for (let i = 0; i < n; i++) dot += basis[i * q + c]! * out[i]!;
    for (let i = 0; i < n; i++) out[i] -= dot * basis[i * q + c]!;
  }
  let ss = 0;
  for (const v of out) ss += v * v;
  const sd = Math.sqrt(ss / n);
  return sd > 0 ? out.map((v) => v / sd) : out;
}

function randomCosines(coords: Float64Array, n: number, dim: number, scale: number, rng: Rng): Float64Array {
  const f = new Float64Array(n);
  for (let m = 0; m < FEATURES; m++) {
    const w = Array.from({ length: dim }, () => (rng.normal() * FREQUENCY) / scale);
    const phase = 2 * Math.PI * rng.uniform();
    const a = rng.normal();
    for (let i = 0; i < n; i++) {
      let arg = phase;
      for (let c = 0; c < dim; c++) arg += w[c]! * coords[i * dim + c]!;
      f[i] += a * Math.cos(arg);
    }
  }
  return f;
}

/** `count` random smooth fields of position ((lon, lat) rows), each residualised on [1, x, y, z] and standardised. */
export function smoothSphereFields(
  lonLat: Float64Array,
  n: number,
  count: number,
  seed: number,
): Promise<Float64Array[]> {
  const u = unitVectors(lonLat, n, 'haversine');
  const [clon, clat] = sphericalCentroid(
    lonLat,
    2,
    Array.from({ length: n }, (_, i) => i),
  );
  const c = unitVectors(Float64Array.of(clon ?? 0, clat ?? 0), 1, 'haversine');
  let spread = 0;
  for (let i = 0; i < n; i++) {
    const dot = u[3 * i]! * c[0]! + u[3 * i + 1]! * c[1]! + u[3 * i + 2]! * c[2]!;
    spread += Math.acos(Math.max(-1, Math.min(1, dot))) ** 2;
  }
  spread = Math.max(Math.sqrt(spread / n), 1e-4);
  const design = [0, 1, 2].map((j) => Float64Array.from({ length: n }, (_, i) => u[3 * i + j]!));
  const ones = new Float64Array(n).fill(1);
  return Promise.all(
    Array.from({ length: count }, (_, k) =>
      residualise(randomCosines(u, n, 3, spread, new Rng(seed, `field-${k}`)), [ones, ...design]),
    ),
  );
}

/** `count` random smooth functions of the date, each residualised on [1, date] and standardised. */
export function smoothTimeFields(
  dates: Float64Array,
  n: number,
  count: number,
  seed: number,
): Promise<Float64Array[]> {
  let mean = 0;
  for (const v of dates) mean += v;
  mean /= n;
  let ss = 0;
  for (const v of dates) ss += (v - mean) ** 2;
  const sd = Math.sqrt(ss / n) || 1;
  const z = Float64Array.from(dates, (v) => (v - mean) / sd);
  const ones = new Float64Array(n).fill(1);
  return Promise.all(
    Array.from({ length: count }, (_, k) =>
      residualise(randomCosines(z, n, 1, 1, new Rng(seed, `field-${k}`)), [ones, z]),
    ),
  );
}

export interface ControlTargetSet {
  name: string;
  /** real | permuted | field */
  kind: 'real' | 'permuted' | 'field';
  t: number;
  targets: Float64Array;
}

/** The real targets, their permutation and `fields` smooth random fields, for a dataset kind. */
export async function negativeControlTargets(
  data: Pick<LayerData, 'kind' | 'n' | 't' | 'targets'>,
  fields: number,
  seed: number,
): Promise<ControlTargetSet[]> {
  const sets: ControlTargetSet[] = [
    { name: 'real', kind: 'real', t: data.t, targets: data.targets },
    {
      name: 'permuted',
      kind: 'permuted',
      t: data.t,
      targets: permutedTargets(data.targets, data.n, data.t, seed),
    },
  ];
  const made = await (data.kind === 'space'
    ? smoothSphereFields(data.targets, data.n, fields, seed)
    : smoothTimeFields(data.targets, data.n, fields, seed));
  made.forEach((f, k) => {
    sets.push({ name: `field-${k + 1}`, kind: 'field', t: 1, targets: f });
  });
  return sets;
}

export interface NegativeControlRow {
  target: string;
  kind: ControlTargetSet['kind'];
  alpha: number;
  train: ScalarMetrics;
  test: ScalarMetrics;
}

/** The LOO ridge probe (same grid) on each target set at one layer. */
export async function probeTargetSets(
  data: LayerData,
  sets: ControlTargetSet[],
  options: { alphas: number[]; distance: 'haversine' | 'haversine-swapped' | 'absolute' },
): Promise<NegativeControlRow[]> {
  const { train } = splitRows(data);
  const rows: NegativeControlRow[] = [];
  for (const set of sets) {
    const view = {
      ...data,
      targets: set.targets,
      t: set.t,
      targetNames: set.t === data.t ? data.targetNames : [set.name],
    };
    const fit = await fitRidgeLoo(view, train, options.alphas);
    const pred = await predictLinear(fit, data.x, data.n);
    const distance = set.t === data.t ? options.distance : 'absolute';
    const scores = await scoreSplit(view, pred, distance);
    rows.push({ target: set.name, kind: set.kind, alpha: fit.alpha, train: scores.train, test: scores.test });
  }
  return rows;
}
