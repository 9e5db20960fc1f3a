import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../util/paths.js';
import { fitRidge, type Matrix, ridgeLoo, ridgePredict } from './ridge.js';

interface GoldenCase {
  name: string;
  n: number;
  d: number;
  t: number;
  xFloat32: boolean;
  X?: number[];
  Y: number[];
  train: number[];
  alphas: number[];
  fixedAlpha?: number;
  expected: {
    alphaIndex?: number;
    alpha: number;
    looMse?: number[];
    looErrors?: number[];
    coefStandardized: number[];
    coef: number[];
    intercept: number[];
    predictions: number[];
  };
}

const goldens = JSON.parse(
  readFileSync(join(packageRoot(), 'test/fixtures/probe/ridge_goldens.json'), 'utf8'),
) as { cases: GoldenCase[] };

/** |a − b| ≤ 1e-6·|b| + 1e-9·max|b| elementwise (1e-6 relative, with a floor for entries near zero). */
function assertClose(actual: ArrayLike<number>, expected: number[], what: string, rtol = 1e-6): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs), 1e-300);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    assert.ok(Math.abs(a - b) <= rtol * Math.abs(b) + 1e-9 * scale, `${what}[${i}]: ${a} vs sklearn ${b}`);
  }
}

/** The formula_wide case's X: (i·7919 + j·104729 + i·j·31) mod 2003 / 100 − 10, exact in both languages. */
function formulaX(n: number, d: number): Float64Array {
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) x[i * d + j] = ((i * 7919 + j * 104729 + i * j * 31) % 2003) / 100 - 10;
  return x;
}

function matrixOf(c: GoldenCase): Matrix {
  if (!c.X) return { data: formulaX(c.n, c.d), rows: c.n, cols: c.d };
  const data = c.xFloat32 ? Float32Array.from(c.X) : Float64Array.from(c.X);
  return { data, rows: c.n, cols: c.d };
}

for (const c of goldens.cases) {
  test(`ridge matches scikit-learn: ${c.name} (n=${c.train.length}, d=${c.d}, t=${c.t})`, async () => {
    const x = matrixOf(c);
    const y = Float64Array.from(c.Y);
    const e = c.expected;
    if (c.fixedAlpha !== undefined) {
      const model = await fitRidge(x, y, c.t, c.fixedAlpha, { rows: c.train });
      assertClose(model.coefStandardized, e.coefStandardized, 'coefStandardized');
      assertClose(model.coef, e.coef, 'coef');
      assertClose(model.intercept, e.intercept, 'intercept');
      assertClose(await ridgePredict(model, x), e.predictions, 'predictions');
      return;
    }
    // A small chunk size so that every streamed pass runs over several chunks.
    const fit = await ridgeLoo(x, y, c.t, c.alphas, { rows: c.train, keepLooErrors: true, rowsPerChunk: 37 });
    assertClose(fit.looMse, e.looMse!, 'looMse');
    if (e.looErrors) assertClose(fit.looErrors!, e.looErrors, 'looErrors');
    if (c.name === 'all_zero_layer') {
      // Every alpha gives the same model; sklearn's pick among the exact ties is decided by rounding noise
      // (its scores differ in the last bit). Ours ties exactly and keeps the first alpha, as documented.
      assert.equal(fit.alphaIndex, 0);
      assert.ok(fit.warnings.some((w) => w.includes('same activation')));
    } else {
      assert.equal(fit.alphaIndex, e.alphaIndex, 'chosen alpha index');
      assert.equal(fit.alpha, e.alpha);
    }
    assertClose(fit.coefStandardized, e.coefStandardized, 'coefStandardized');
    assertClose(fit.coef, e.coef, 'coef');
    assertClose(fit.intercept, e.intercept, 'intercept');
    assertClose(await ridgePredict(fit, x, { rowsPerChunk: 41 }), e.predictions, 'predictions');
  });
}

test('both routes give the same LOO errors (primal forced on n ≤ d, dual forced on n > d)', async () => {
  for (const name of ['primal_two_targets', 'dual_two_targets']) {
    const c = goldens.cases.find((k) => k.name === name)!;
    const x = matrixOf(c);
    const y = Float64Array.from(c.Y);
    const route = name.startsWith('primal') ? 'dual' : 'primal';
    const fit = await ridgeLoo(x, y, c.t, c.alphas, { rows: c.train, route });
    assert.equal(fit.route, route);
    assertClose(fit.looMse, c.expected.looMse!, `${name} via ${route}: looMse`);
    assertClose(fit.coef, c.expected.coef, `${name} via ${route}: coef`);
  }
});

test('three-point ridge by hand: x = (0, 1, 2), y = (0, 1, 3), alpha = 1, unstandardised', async () => {
  // Centred: xc = (−1, 0, 1), yc = (−4/3, −1/3, 5/3); slope = Σxc·yc / (Σxc² + α) = 3 / 3 = 1;
  // intercept = ȳ − slope·x̄ = 4/3 − 1 = 1/3. Hat diag h_i = 1/3 + xc_i²/3 = (2/3, 1/3, 2/3);
  // fitted = (1/3, 4/3, 7/3); LOO e_i = r_i / (1 − h_i) = (−1/3)/(1/3), (−1/3)/(2/3), (2/3)/(1/3) = (−1, −1/2, 2).
  const x: Matrix = { data: Float64Array.from([0, 1, 2]), rows: 3, cols: 1 };
  const y = Float64Array.from([0, 1, 3]);
  const fit = await ridgeLoo(x, y, 1, [1], { standardize: false, keepLooErrors: true });
  assert.ok(Math.abs(fit.coef[0]! - 1) < 1e-12);
  assert.ok(Math.abs(fit.intercept[0]! - 1 / 3) < 1e-12);
  const expected = [1, 0.25, 4];
  for (const [i, v] of expected.entries()) assert.ok(Math.abs(fit.looErrors![i]! - v) < 1e-12, `e²[${i}]`);
  assert.ok(Math.abs(fit.looMse[0]! - (1 + 0.25 + 4) / 3) < 1e-12);
});

test('brute-force LOO agrees on a random n > d problem (refit without each row)', async () => {
  const n = 25;
  const d = 4;
  const alpha = 2.5;
  let s = 12345;
  const rnd = () => {
    s = (s * 48271) % 2147483647;
    return (s / 2147483647) * 2 - 1;
  };
  const xs = Float64Array.from({ length: n * d }, rnd);
  const ys = Float64Array.from({ length: n }, (_, i) => xs[i * d]! * 2 - xs[i * d + 2]! + 0.3 * rnd());
  const fit = await ridgeLoo({ data: xs, rows: n, cols: d }, ys, 1, [alpha], {
    standardize: false,
    keepLooErrors: true,
  });
  for (let leave = 0; leave < n; leave++) {
    const rows = Array.from({ length: n }, (_, i) => i).filter((i) => i !== leave);
    const m = await fitRidge({ data: xs, rows: n, cols: d }, ys, 1, alpha, { rows, standardize: false });
    const pred = await ridgePredict(m, { data: xs.subarray(leave * d, (leave + 1) * d), rows: 1, cols: d });
    const e2 = (ys[leave]! - pred[0]!) ** 2;
    assert.ok(
      Math.abs(fit.looErrors![leave]! - e2) <= 1e-10 * (1 + e2),
      `row ${leave}: ${fit.looErrors![leave]} vs ${e2}`,
    );
  }
});

test('bad inputs are user errors with clear messages', async () => {
  const x: Matrix = { data: new Float64Array(8), rows: 4, cols: 2 };
  await assert.rejects(ridgeLoo(x, Float64Array.from([1, 2, 3, 4]), 1, [0]), /positive/);
  await assert.rejects(ridgeLoo(x, Float64Array.from([1, 2, 3, 4]), 1, []), /empty/);
  await assert.rejects(
    ridgeLoo(x, Float64Array.from([5, 5, 5, 5]), 1, [1], { targetNames: ['year'] }),
    /year is constant on the 4 training rows/,
  );
  const bad: Matrix = { data: Float64Array.from([1, 2, 3, Number.NaN, 5, 6, 7, 8]), rows: 4, cols: 2 };
  await assert.rejects(ridgeLoo(bad, Float64Array.from([1, 2, 3, 4]), 1, [1]), /column 1 has NaN/);
});
