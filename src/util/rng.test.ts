import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gaussian } from './gaussian.js';
import { Rng } from './rng.js';

/** Standard normal CDF by the Abramowitz–Stegun 7.1.26 erf (|error| < 1.5e-7), independent of the code under test. */
function phi(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** Kolmogorov–Smirnov distance of the draws from N(0, 1). */
function ksDistance(draws: Float64Array): number {
  const s = Float64Array.from(draws).sort();
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const f = phi(s[i]!);
    d = Math.max(d, Math.abs(f - i / s.length), Math.abs((i + 1) / s.length - f));
  }
  return d;
}

test('Rng.normal and Gaussian.normal draw N(0, 1): KS distance under the 0.1% critical value, mean and variance', () => {
  const n = 50_000;
  const critical = 1.95 / Math.sqrt(n); // KS at alpha = 0.001
  for (const [name, draw] of [
    [
      'Rng.normal',
      (
        (r) => () =>
          r.normal()
      )(new Rng(3, 'normal-test')),
    ],
    [
      'Gaussian.normal',
      (
        (g) => () =>
          g.normal()
      )(new Gaussian(3, 'normal-test')),
    ],
  ] as const) {
    const x = Float64Array.from({ length: n }, draw);
    const mean = x.reduce((a, v) => a + v, 0) / n;
    const variance = x.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
    assert.ok(Math.abs(mean) < 4 / Math.sqrt(n), `${name} mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 4 * Math.sqrt(2 / n), `${name} variance ${variance}`);
    assert.ok(ksDistance(x) < critical, `${name} KS distance ${ksDistance(x)} ≥ ${critical}`);
  }
});

test('named streams are independent and seeds reproduce', () => {
  const a = Array.from(
    { length: 4 },
    (
      (r) => () =>
        r.nextUint32()
    )(new Rng(1, 'a')),
  );
  const a2 = Array.from(
    { length: 4 },
    (
      (r) => () =>
        r.nextUint32()
    )(new Rng(1, 'a')),
  );
  const b = Array.from(
    { length: 4 },
    (
      (r) => () =>
        r.nextUint32()
    )(new Rng(1, 'b')),
  );
  assert.deepEqual(a, a2);
  assert.notDeepEqual(a, b);
});
