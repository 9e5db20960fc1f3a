import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../util/paths.js';
import { cholesky, choleskySolve } from './cholesky.js';
import {
  formQ,
  gemm64,
  shiftedQuadraticForms,
  TridiagonalShift,
  tridiagonalEigenvalues,
  tridiagonalize,
} from './linalg.js';
import { WasmSymv } from './linalg-wasm.js';

const goldens = JSON.parse(
  readFileSync(join(packageRoot(), 'test/fixtures/probe/eigen_goldens.json'), 'utf8'),
) as { cases: { d: number; A: number[]; eigenvalues: number[] }[] };

function tridiagonalMatrix(diag: Float64Array, off: Float64Array): Float64Array {
  const d = diag.length;
  const t = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    t[i * d + i] = diag[i]!;
    if (i < d - 1) {
      t[i * d + i + 1] = off[i]!;
      t[(i + 1) * d + i] = off[i]!;
    }
  }
  return t;
}

for (const c of goldens.cases) {
  test(`tridiagonalisation A = Q T Qᵀ, QᵀQ = I and eigenvalues match numpy eigvalsh (d=${c.d})`, async () => {
    const d = c.d;
    const a = Float64Array.from(c.A);
    const norm = Math.max(...c.A.map(Math.abs));
    for (const block of [5, 48]) {
      const red = await tridiagonalize(a, d, block);
      // narrow merged blocks (several apply steps) for the small panels, one wide block otherwise
      const q = await formQ(red, block === 5 ? 12 : 192);
      const qt = await gemm64(q, tridiagonalMatrix(red.diag, red.off), d, d, d);
      const rec = await gemm64(qt, q, d, d, d, { transB: true });
      const qtq = await gemm64(q, q, d, d, d, { transA: true });
      for (let i = 0; i < d * d; i++) {
        assert.ok(Math.abs(rec[i]! - a[i]!) <= 1e-13 * norm * d, `QTQᵀ[${i}] block ${block}`);
        assert.ok(Math.abs(qtq[i]! - (i % (d + 1) === 0 ? 1 : 0)) <= 1e-13 * d, `QᵀQ[${i}]`);
      }
      const ev = tridiagonalEigenvalues(red);
      const top = Math.max(...c.eigenvalues.map(Math.abs));
      c.eigenvalues.forEach((e, i) => {
        assert.ok(Math.abs(ev[i]! - e) <= 1e-12 * top * d, `eigenvalue ${i}: ${ev[i]} vs ${e}`);
      });
    }
  });
}

test('shifted tridiagonal solve and quadratic forms agree with dense arithmetic', () => {
  const diag = Float64Array.from([4, 3, 5, 2]);
  const off = Float64Array.from([1, -2, 0.5]);
  const alpha = 1.5;
  const shift = new TridiagonalShift({ diag, off }, alpha);
  const b = [1, 2, -1, 3];
  const x = shift.solve(b);
  const t = tridiagonalMatrix(diag, off);
  for (let i = 0; i < 4; i++) {
    let r = alpha * x[i]!;
    for (let j = 0; j < 4; j++) r += t[i * 4 + j]! * x[j]!;
    assert.ok(Math.abs(r - b[i]!) < 1e-13, `(T+αI)x = b row ${i}`);
  }
  const q = shiftedQuadraticForms(Float64Array.from(b), 1, [shift, new TridiagonalShift({ diag, off }, 10)]);
  assert.ok(Math.abs(q[0]! - b.reduce((s, v, i) => s + v * x[i]!, 0)) < 1e-13);
  const x10 = new TridiagonalShift({ diag, off }, 10).solve(b);
  assert.ok(Math.abs(q[1]! - b.reduce((s, v, i) => s + v * x10[i]!, 0)) < 1e-13);
  assert.throws(() => new TridiagonalShift({ diag: Float64Array.from([-3]), off: new Float64Array(0) }, 1));
});

test('wasm symmetric matrix-vector product reads the lower triangle correctly (odd and even sizes)', () => {
  for (const m of [1, 2, 7, 10]) {
    const w = WasmSymv.create(m)!;
    const s = w.matrix;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j <= i; j++) {
        const v = ((i * 7 + j * 3) % 11) - 5;
        s[i * m + j] = v;
        s[j * m + i] = v;
      }
      w.x[i] = (i % 4) - 1.5;
    }
    for (const lo of [0, Math.floor(m / 2)]) {
      w.y.fill(99);
      w.multiply(m, lo);
      for (let r = 0; r < m; r++) {
        let e = 99;
        if (r >= lo) {
          e = 0;
          for (let c = lo; c < m; c++) e += s[r * m + c]! * w.x[c]!;
        }
        assert.equal(w.y[r], e, `m=${m} lo=${lo} row ${r}`);
      }
    }
  }
});

test('blocked Cholesky solves shifted Gram systems (A·x = b to 1e-10) and rejects indefinite matrices', async () => {
  for (const c of goldens.cases.filter((k) => k.d >= 5)) {
    const d = c.d;
    const a = Float64Array.from(c.A);
    // Make it positive definite: A + (|λmin| + 1)·I.
    const shift = Math.abs(Math.min(...c.eigenvalues)) + 1;
    for (let i = 0; i < d; i++) a[i * d + i] = a[i * d + i]! + shift;
    const b = Float64Array.from({ length: d * 2 }, (_, i) => Math.sin(i + 1));
    for (const block of [7, 128]) {
      const x = choleskySolve(await cholesky(a, d, block), b, 2);
      const ax = await gemm64(a, x, d, d, 2);
      const scale = Math.max(...c.eigenvalues.map(Math.abs)) + shift;
      for (let i = 0; i < d * 2; i++) {
        assert.ok(
          Math.abs(ax[i]! - b[i]!) < 1e-10 * scale,
          `d=${d} block ${block}: residual ${ax[i]! - b[i]!}`,
        );
      }
    }
  }
  await assert.rejects(cholesky(Float64Array.from([1, 2, 2, 1]), 2), /not positive definite/);
});

test('wasm and JS quadratic forms are bit-identical (odd shift counts, one-element rows)', () => {
  for (const [rows, d, nA] of [
    [7, 1, 1],
    [9, 13, 3],
    [20, 64, 10],
  ] as const) {
    const diag = Float64Array.from({ length: d }, (_, i) => 2 + Math.sin(i));
    const off = Float64Array.from({ length: d - 1 }, (_, i) => 0.5 * Math.cos(i));
    const shifts = Array.from({ length: nA }, (_, a) => new TridiagonalShift({ diag, off }, 0.3 * (a + 1)));
    const z = Float64Array.from({ length: rows * d }, (_, i) => Math.sin(3 * i + 1));
    const js = shiftedQuadraticForms(z, rows, shifts, undefined, 'js');
    const wasm = shiftedQuadraticForms(z, rows, shifts, undefined, 'wasm');
    assert.deepEqual(Array.from(wasm), Array.from(js), `${rows}x${d}, ${nA} shifts`);
  }
});
