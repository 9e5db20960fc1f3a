import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadGolden } from './fixtures.js';
import { plsDirection, plsRegression } from './pls.js';

interface PlsGoldenMeta {
  cases: { n: number; d: number; t: number; K: number; ks: number[]; scale: boolean }[];
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

test('PLS predictions for every k equal scikit-learn PLSRegression within 1e-6 (1 and 2 targets, scaled and not, n < d)', async () => {
  const g = loadGolden<PlsGoldenMeta>('pls_golden');
  for (const [c, { n, d, t, K, ks, scale }] of g.meta.cases.entries()) {
    const x = Float32Array.from(g.get(`case${c}.x`));
    const y = Float64Array.from(g.get(`case${c}.y`));
    const isTest = g.get(`case${c}.is_test`);
    const train = [...isTest.keys()].filter((i) => isTest[i] === 0);
    const fit = await plsRegression(x, n, d, y, t, train, K, { scale, chunkRows: 37 });
    assert.equal(fit.components, K);
    for (const k of ks) {
      const want = g.get(`case${c}.pred${k}`);
      const scaleOfY = Math.max(...Array.from(want, Math.abs));
      const err = maxAbs(fit.predictions[k - 1]!, want);
      assert.ok(err < 1e-6 * scaleOfY, `case ${c} k ${k}: max |Δ| ${err} (|y| up to ${scaleOfY})`);
    }
    // Weights and loadings, signs as sklearn's svd_flip.
    const w = g.get(`case${c}.x_weights`);
    assert.ok(maxAbs(fit.weights, w) < 1e-7, `case ${c} weights: ${maxAbs(fit.weights, w)}`);
    assert.ok(maxAbs(fit.loadings, g.get(`case${c}.x_loadings`)) < 1e-6, `case ${c} loadings`);
    assert.ok(maxAbs(fit.yLoadings, g.get(`case${c}.y_loadings`)) < 1e-6, `case ${c} y loadings`);
    if (t === 2) {
      // sklearn's default stopping rule (squared weight change < 1e-6) stops short of the singular vector: the
      // gap to its default-tol predictions is far larger than our gap to the converged ones.
      const loose = maxAbs(fit.predictions[K - 1]!, g.get(`case${c}.default_pred${K}`));
      assert.ok(loose > 1e-6, `case ${c}: default-tol sklearn differs by ${loose}`);
    }
  }
});

test('PLS with as many components as the rank of a noiseless linear target fits it exactly; bad k is a user error', async () => {
  const n = 50;
  const d = 6;
  const x = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.77) * 3 + (i % d));
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 2 * x[i * d]! - x[i * d + 3]! + 0.5 * x[i * d + 5]!;
  const train = Array.from({ length: 40 }, (_, i) => i);
  const fit = await plsRegression(x, n, d, y, 1, train, d);
  assert.ok(maxAbs(fit.predictions[d - 1]!, y) < 1e-8);
  await assert.rejects(() => plsRegression(x, n, d, y, 1, train, d + 1), /outside 1\.\.6/);
});

test("a PLS direction reproduces scikit-learn's k-component predictions of its target from raw rows (x·w)", async () => {
  const g = loadGolden<PlsGoldenMeta>('pls_golden');
  for (const [c, { n, d, t, K, ks, scale }] of g.meta.cases.entries()) {
    const x = Float32Array.from(g.get(`case${c}.x`));
    const isTest = g.get(`case${c}.is_test`);
    const train = [...isTest.keys()].filter((i) => isTest[i] === 0);
    const fit = await plsRegression(x, n, d, Float64Array.from(g.get(`case${c}.y`)), t, train, K, { scale });
    for (const k of ks) {
      const want = g.get(`case${c}.pred${k}`); // sklearn's n×t predictions
      for (let j = 0; j < t; j++) {
        const w = plsDirection(fit, k, j);
        let err = 0;
        let size = 0;
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let c2 = 0; c2 < d; c2++) s += (x[i * d + c2]! - fit.xMean[c2]!) * w[c2]!;
          const pred = fit.yMean[j]! + fit.yScale[j]! * s;
          err = Math.max(err, Math.abs(pred - want[i * t + j]!));
          size = Math.max(size, Math.abs(want[i * t + j]!));
        }
        assert.ok(err < 1e-6 * size, `case ${c} k ${k} target ${j}: max |Δ| ${err}`);
      }
    }
    assert.throws(() => plsDirection(fit, K + 1, 0), /outside 1\.\./);
  }
});
