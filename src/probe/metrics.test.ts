import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../util/paths.js';
import { averageRanks, haversineKm, type Metrics, spaceDistanceKm, splitMetrics } from './metrics.js';
import { proximityErrors, sphereCountsDense, sphereCountsTree } from './proximity.js';

interface Golden {
  name: string;
  kind: 'space' | 'time';
  true: number[];
  pred: number[];
  isTest: number[];
  test: Omit<Metrics, 'proxError'>;
  train: Omit<Metrics, 'proxError'>;
  [mode: string]: unknown;
}
interface ModeGolden {
  proximity: { perPointAll: number[]; testScore: number; trainScore: number };
  haversineMaeKmTest?: number;
  haversineMaeKmTrain?: number;
}

const goldens = JSON.parse(
  readFileSync(join(packageRoot(), 'test/fixtures/probe/metrics_goldens.json'), 'utf8'),
) as { cases: Golden[] };

const close = (a: number, b: number, what: string, rtol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= rtol * Math.max(1, Math.abs(b)), `${what}: ${a} vs reference ${b}`);

for (const c of goldens.cases) {
  const t = c.kind === 'space' ? 2 : 1;
  const modes = c.kind === 'space' ? (['haversine', 'haversine-swapped'] as const) : (['absolute'] as const);
  for (const mode of modes) {
    test(`metrics match sklearn/scipy/numpy brute force: ${c.name} (${mode})`, async () => {
      const truth = Float64Array.from(c.true);
      const pred = Float64Array.from(c.pred);
      const isTest = Uint8Array.from(c.isTest);
      const g = c[mode] as ModeGolden;
      const m = await splitMetrics(truth, pred, t, isTest, mode);
      for (const split of ['train', 'test'] as const) {
        const ref = c[split];
        const ours = m[split];
        close(ours.r2, ref.r2, `${split} r2`);
        for (let j = 0; j < t; j++) {
          close(ours.r2PerTarget[j]!, ref.r2PerTarget[j]!, `${split} r2[${j}]`);
          close(ours.spearman[j]!, ref.spearman[j]!, `${split} spearman[${j}]`);
          close(ours.kendall[j]!, ref.kendall[j]!, `${split} kendall[${j}]`);
          close(ours.pearson[j]!, ref.pearson[j]!, `${split} pearson[${j}]`);
        }
        close(ours.mae, ref.mae, `${split} mae`);
        close(ours.rmse, ref.rmse, `${split} rmse`);
      }
      // Proximity counts are integers: exact agreement with the N×N brute force, strict inequality included.
      close(m.test.proxError, g.proximity.testScore, 'test proximity error', 1e-12);
      close(m.train.proxError, g.proximity.trainScore, 'train proximity error', 1e-12);
      assert.deepEqual(Array.from(m.proxErrorPerPoint), g.proximity.perPointAll, 'per-point PE_All');
      if (mode !== 'absolute') {
        close(m.test.haversineMaeKm!, g.haversineMaeKmTest!, 'test haversine MAE');
        close(m.train.haversineMaeKm!, g.haversineMaeKmTrain!, 'train haversine MAE');
      }
    });
  }
}

test('proximity error by hand on the line: strict inequality and a zero-error point', async () => {
  // t = (0, 10, 20), p = (1, 10, 30). Row 0 (own distance 1): |0−10|, |0−30| ≥ 1 → 0. Row 1 (own distance 0):
  // nothing is strictly closer → 0. Row 2 (own distance 10): |20−10| = 10 is not < 10 (strict) → 0.
  const isTest = Uint8Array.from([1, 1, 1]);
  const t = Float64Array.from([0, 10, 20]);
  let r = await proximityErrors(t, Float64Array.from([1, 10, 30]), 3, isTest, 'absolute');
  assert.deepEqual(Array.from(r.perPointAll), [0, 0, 0]);
  // p = (1, 12, 30): row 1 own 2 (|10−1| = 9, |10−30| = 20 → 0); row 2 own 10, |20−12| = 8 < 10 → 1 of 3.
  r = await proximityErrors(t, Float64Array.from([1, 12, 30]), 3, isTest, 'absolute');
  assert.deepEqual(Array.from(r.perPointAll), [0, 0, 1 / 3]);
  assert.equal(r.test, 1 / 9);
  assert.ok(Number.isNaN(r.train));
});

test('haversineKm([lon, lat] order) matches hand-computed great-circle distances and London–Paris', () => {
  // One degree of longitude on the equator: 6371 * pi / 180.
  assert.ok(Math.abs(haversineKm(0, 0, 1, 0) - (6371 * Math.PI) / 180) < 1e-9);
  // Pole to equator: a quarter of a great circle.
  assert.ok(Math.abs(haversineKm(10, 90, 10, 0) - (6371 * Math.PI) / 2) < 1e-9);
  // Antipodes on the equator: half of one.
  assert.ok(Math.abs(haversineKm(0, 0, 180, 0) - 6371 * Math.PI) < 1e-9);
  // 60°N, 10° of longitude apart: 2R asin(cos60 * sin 5°) = 2R asin(0.5 sin 5°).
  const expected = 2 * 6371 * Math.asin(0.5 * Math.sin((5 * Math.PI) / 180));
  assert.ok(Math.abs(haversineKm(0, 60, 10, 60) - expected) < 1e-9);
  // London (-0.1278, 51.5074) to Paris (2.3522, 48.8566).
  assert.ok(Math.abs(haversineKm(-0.1278, 51.5074, 2.3522, 48.8566) - 343.56) < 0.1);
});

test("spaceDistanceKm: the true haversine on [lon, lat], and the authors' swapped one reading column 0 as latitude", () => {
  // [10, 60] and [20, 60]: 10 degrees of longitude apart at 60°N, or (swapped) 10 degrees of latitude apart.
  const alongParallel = 2 * 6371 * Math.asin(0.5 * Math.sin((5 * Math.PI) / 180));
  assert.ok(Math.abs(spaceDistanceKm([10, 60], [20, 60], 'haversine') - alongParallel) < 1e-9);
  assert.ok(
    Math.abs(spaceDistanceKm([10, 60], [20, 60], 'haversine-swapped') - (6371 * Math.PI) / 18) < 1e-9,
  );
});

test('average ranks give ties their mean rank', () => {
  assert.deepEqual(Array.from(averageRanks([10, 20, 10, 30, 20, 20])), [1.5, 4, 1.5, 6, 4, 4]);
});

test('k-d tree proximity counts equal the blocked-GEMM brute force (duplicates, clusters, both haversines)', async () => {
  const n = 1500;
  let s = 99;
  const rnd = () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
  const truth = new Float64Array(2 * n);
  const pred = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    truth[2 * i] = rnd() * 360 - 180;
    truth[2 * i + 1] = rnd() * 170 - 85;
    // a third of the predictions collapse near one point (an early layer), the rest are noisy truths
    const collapsed = i % 3 === 0;
    pred[2 * i] = collapsed ? 12 + rnd() * 1e-6 : truth[2 * i]! + (rnd() - 0.5) * 40;
    pred[2 * i + 1] = collapsed ? 45 + rnd() * 1e-6 : truth[2 * i + 1]! + (rnd() - 0.5) * 20;
  }
  for (let i = 0; i < n; i += 17) pred.set(pred.subarray(0, 2), 2 * i); // exact duplicates of prediction 0
  const group = Uint8Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : i % 11 === 0 ? 255 : 0));
  for (const mode of ['haversine', 'haversine-swapped'] as const) {
    const tree = sphereCountsTree(truth, pred, n, mode, group, 2);
    const dense = await sphereCountsDense(truth, pred, n, mode, group, 2);
    assert.deepEqual(Array.from(tree), Array.from(dense), mode);
  }
});
