import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formQ, gemm64, topTridiagonalEigenvalues, tridiagonalize } from '../native/linalg.js';
import { Rng } from '../util/rng.js';
import { loadGolden } from './fixtures.js';
import {
  applyTridiagonalQ,
  cholesky,
  orthonormalize,
  symmetricEigen,
  tridiagonalEigenvectors,
} from './linalg.js';
import { pca, projectOntoComponents } from './pca.js';

test('symmetricEigen diagonalises a hand-checkable matrix', () => {
  // [[2,1],[1,2]] has eigenvalues 3 (vector [1,1]/√2) and 1 (vector [1,-1]/√2)
  const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
  assert.ok(Math.abs(values[0]! - 3) < 1e-14 && Math.abs(values[1]! - 1) < 1e-14);
  assert.ok(Math.abs(Math.abs(vectors[0]!) - Math.SQRT1_2) < 1e-14);
  assert.ok(Math.abs(vectors[0]! - vectors[2]!) < 1e-14); // first column is ±[1,1]/√2
});

test('cholesky and orthonormalize give L·Lᵀ = G and QᵀQ = I', async () => {
  assert.deepEqual(Array.from(cholesky(Float64Array.from([4, 2, 2, 5]), 2)!), [2, 0, 1, 2]);
  assert.equal(cholesky(Float64Array.from([1, 2, 2, 1]), 2), undefined);
  const n = 50;
  const q = 4;
  const y = Float64Array.from({ length: n * q }, (_, i) => Math.sin(i * 1.7) + (i % q === 0 ? 3 : 0));
  const Q = await orthonormalize(y, n, q);
  for (let a = 0; a < q; a++) {
    for (let b = 0; b < q; b++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += Q[i * q + a]! * Q[i * q + b]!;
      assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-12);
    }
  }
});

interface PcaGoldenMeta {
  cases: { n: number; d: number; k: number }[];
}

test('pca matches scikit-learn PCA (explained variance, ratio, components) for n > d and n < d', async () => {
  const g = loadGolden<PcaGoldenMeta>('pca_golden');
  for (const [c, { n, d, k }] of g.meta.cases.entries()) {
    const x = Float32Array.from(g.get(`case${c}.x`));
    for (const [method, tol] of [
      ['exact', 1e-9],
      ['subspace', 1e-5],
    ] as const) {
      const result = await pca(x, n, d, k, { seed: 1, method });
      assert.ok(result.converged, `case ${c} converged (residual ${result.residual})`);
      const ev = g.get(`case${c}.explained_variance`);
      const ratio = g.get(`case${c}.explained_variance_ratio`);
      const comps = g.get(`case${c}.components`);
      const mean = g.get(`case${c}.mean`);
      for (let j = 0; j < d; j++) assert.ok(Math.abs(result.mean[j]! - mean[j]!) < 1e-9);
      for (let i = 0; i < k; i++) {
        assert.ok(
          Math.abs(result.explainedVariance[i]! / ev[i]! - 1) < tol,
          `${method} case ${c} variance ${i}`,
        );
        assert.ok(
          Math.abs(result.explainedVarianceRatio[i]! / ratio[i]! - 1) < tol,
          `${method} case ${c} ratio ${i}`,
        );
        let cos = 0;
        for (let j = 0; j < d; j++) cos += result.components[i * d + j]! * comps[i * d + j]!;
        assert.ok(
          Math.abs(Math.abs(cos) - 1) < tol,
          `${method} case ${c} component ${i}: |cos| ${Math.abs(cos)}`,
        );
      }
      // projection = X·V[:, :k]: check one entry by hand
      const feats = await projectOntoComponents(x, n, result, 3);
      let dot = 0;
      for (let j = 0; j < d; j++) dot += x[5 * d + j]! * result.components[2 * d + j]!;
      assert.ok(Math.abs(feats[5 * 3 + 2]! - dot) < 1e-4 * Math.max(1, Math.abs(dot)));
    }
  }
});

test('tridiagonal eigenpairs: the 1-D Laplacian (closed form) and a repeated eigenvalue', () => {
  const n = 40;
  const lap = { diag: new Float64Array(n).fill(2), off: new Float64Array(n - 1).fill(-1) };
  const values = topTridiagonalEigenvalues(lap, 5);
  for (let i = 0; i < 5; i++) {
    const want = 2 - 2 * Math.cos(((n - i) * Math.PI) / (n + 1));
    assert.ok(Math.abs(values[i]! - want) < 1e-13, `eigenvalue ${i}`);
  }
  const vecs = tridiagonalEigenvectors(lap, values);
  for (let c = 0; c < 5; c++) {
    // closed form: v_j ∝ sin(j·m·π/(n+1)), m = n − c
    const m = n - c;
    let dot = 0;
    let norm = 0;
    for (let j = 0; j < n; j++) {
      const w = Math.sin(((j + 1) * m * Math.PI) / (n + 1));
      dot += w * vecs[j * 5 + c]!;
      norm += w * w;
    }
    assert.ok(Math.abs(Math.abs(dot) / Math.sqrt(norm) - 1) < 1e-10, `vector ${c}`);
  }
  // diag(3, 1, 3, 0.5), no coupling: the eigenvalue 3 is double; its two vectors must come out orthonormal
  const rep = { diag: Float64Array.of(3, 1, 3, 0.5), off: new Float64Array(3) };
  const rv = topTridiagonalEigenvalues(rep, 3);
  assert.deepEqual(
    Array.from(rv, (v) => +v.toFixed(12)),
    [3, 3, 1],
  );
  const V = tridiagonalEigenvectors(rep, rv);
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      let dot = 0;
      for (let j = 0; j < 4; j++) dot += V[j * 3 + a]! * V[j * 3 + b]!;
      assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-12, `orthonormal ${a},${b}`);
    }
  }
});

test('pca rejects k outside 1..min(n-1, d)', async () => {
  await assert.rejects(pca(new Float32Array(20), 5, 4, 5), /outside 1\.\.4/);
});

test('applyTridiagonalQ equals formQ(red)·S (block reflectors applied without forming Q)', async () => {
  const d = 70; // more than one panel of 48
  const rng = new Rng(11, 'sym');
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = rng.normal();
      a[i * d + j] = v;
      a[j * d + i] = v;
    }
  }
  const red = await tridiagonalize(a, d);
  assert.ok(red.panels.length > 1);
  const k = 5;
  const s = Float64Array.from({ length: d * k }, () => rng.normal());
  const want = await gemm64(await formQ(red), s, d, d, k);
  const got = await applyTridiagonalQ(red, s, k);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-12, `entry ${i}`);
});
