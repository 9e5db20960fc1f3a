import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pearson, spearman } from '../probe/index.js';
import { Rng } from '../util/rng.js';
import {
  compareProbes,
  denseColumns,
  featureTable,
  runSae,
  type SparseActivations,
  topFeatures,
} from './features.js';
import { loadSaeGolden, SAE_FIXTURES } from './fixtures.js';
import { loadSae } from './saelens.js';

/** Random sparse activations with ties, negatives and an all-zero feature, in column-compressed form. */
function randomSparse(
  n: number,
  dSae: number,
  seed: number,
): { acts: SparseActivations; dense: Float64Array } {
  const rng = new Rng(seed, 'sparse');
  const dense = new Float64Array(n * dSae);
  for (let i = 0; i < n; i++) {
    for (let j = 1; j < dSae; j++) {
      if (rng.uniform() < 0.3)
        dense[i * dSae + j] = j === 2 ? 1 : Math.round((rng.uniform() * 4 - (j === 3 ? 2 : 0)) * 2) / 2;
    }
  }
  const start = new Int32Array(dSae + 1);
  const rows: number[] = [];
  const values: number[] = [];
  for (let j = 0; j < dSae; j++) {
    for (let i = 0; i < n; i++) {
      if (dense[i * dSae + j] !== 0) {
        rows.push(i);
        values.push(dense[i * dSae + j]!);
      }
    }
    start[j + 1] = rows.length;
  }
  return { acts: { n, dSae, start, rows: Int32Array.from(rows), values: Float32Array.from(values) }, dense };
}

test('per-feature Spearman and R² from sparse activations equal the dense scipy-style statistics, per group', () => {
  const [n, dSae, t] = [60, 6, 2];
  const { acts, dense } = randomSparse(n, dSae, 4);
  const rng = new Rng(5, 'targets');
  const targets = Float64Array.from({ length: n * t }, (_, i) =>
    i % t === 0 ? Math.round(rng.uniform() * 10) : rng.uniform(),
  );
  const odd = Array.from({ length: n / 2 }, (_, i) => 2 * i + 1);
  const groups = [
    { name: 'all', rows: Array.from({ length: n }, (_, i) => i) },
    { name: 'odd', rows: odd },
  ];
  const table = featureTable(acts, targets, t, groups);
  for (const [gi, group] of groups.entries()) {
    for (let j = 0; j < dSae; j++) {
      const a = group.rows.map((i) => dense[i * dSae + j]!);
      for (let c = 0; c < t; c++) {
        const y = group.rows.map((i) => targets[i * t + c]!);
        const got = table[gi]!.spearman[c]![j]!;
        if (j === 0) {
          assert.ok(Number.isNaN(got), 'a feature that never fires has no correlation');
          continue;
        }
        assert.ok(
          Math.abs(got - spearman(a, y)) < 1e-12,
          `group ${group.name} feature ${j} target ${c}: ${got} vs ${spearman(a, y)}`,
        );
        assert.ok(Math.abs(table[gi]!.r2[c]![j]! - pearson(a, y) ** 2) < 1e-9, `R² feature ${j}`);
      }
      const fired = a.filter((v) => v !== 0).length / group.rows.length;
      assert.equal(table[gi]!.frequency[j], fired);
    }
  }
  assert.deepEqual(topFeatures(Float64Array.of(0.1, Number.NaN, -0.9, 0.5), 3), [2, 3, 0]);
  assert.deepEqual(
    Array.from(denseColumns(acts, [3, 1])),
    Array.from({ length: n * 2 }, (_, q) => dense[Math.floor(q / 2) * dSae + (q % 2 === 0 ? 3 : 1)]!),
  );
});

test('runSae reconstruction metrics match the NumPy reconstruction of a SAELens-layout TopK SAE', async () => {
  const g = loadSaeGolden<{ folders: string[] }>('layout_golden');
  const x = Float32Array.from(g.get('x'));
  const { params } = await loadSae(join(SAE_FIXTURES, 'numpy_topk'));
  const { metrics, acts } = await runSae(params, x, 12);
  const recon = g.get('numpy_topk.recon');
  const [n, d] = [12, 16];
  let err = 0;
  let total = 0;
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * d + j]! / n;
    for (let i = 0; i < n; i++) {
      err += (x[i * d + j]! - recon[i * d + j]!) ** 2;
      total += (x[i * d + j]! - m) ** 2;
    }
  }
  assert.ok(Math.abs(metrics.mse - err / (n * d)) < 1e-6);
  assert.ok(Math.abs(metrics.explainedVariance - (1 - err / total)) < 1e-6);
  assert.equal(metrics.l0, 5);
  const numpyActs = g.get('numpy_topk.acts');
  let dead = 0;
  for (let j = 0; j < 48; j++)
    if (Array.from({ length: n }, (_, i) => numpyActs[i * 48 + j]!).every((v) => v === 0)) dead++;
  assert.equal(metrics.deadFraction, dead / 48);
  assert.equal(acts.rows.length, n * 5);
});

test('every probe of the SAE comparison keeps its grid-edge warning (the top-k probe included)', async () => {
  // Noise-free targets, linear in features 1..3: the LOO optimum is the smallest alpha of a grid far too strong.
  const [n, dSae, t] = [80, 6, 2];
  const { acts, dense } = randomSparse(n, dSae, 9);
  const targets = new Float64Array(n * t);
  for (let i = 0; i < n; i++) {
    const f = (j: number) => dense[i * dSae + j]!;
    targets[i * t] = 2 * f(1) - f(3);
    targets[i * t + 1] = f(2) + 0.5 * f(4);
  }
  const x = Float32Array.from(dense);
  const alphas = [1e4, 1e5, 1e6];
  const p = await compareProbes({
    x,
    recon: x,
    n,
    d: dSae,
    acts,
    targets,
    t,
    isTest: Uint8Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0)),
    alphas,
    k: 2,
  });
  for (const [name, fit] of Object.entries({
    full: p.full,
    refit: p.refitOnReconstruction,
    top: p.topFeatures,
  })) {
    assert.equal(fit.alpha, 1e4, `${name}: the smallest alpha`);
    assert.ok(
      fit.warnings?.some((w) => /alpha 10000 is the smallest value of the grid \(low edge\)/.test(w)),
      `${name}: ${JSON.stringify(fit.warnings)}`,
    );
  }
});
