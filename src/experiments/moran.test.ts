import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadGolden } from './fixtures.js';
import {
  localMoran,
  moranColumns,
  moranInference,
  moranPermutationTest,
  normalSf,
  sphereKnnWeights,
} from './moran.js';

interface MoranMeta {
  n: number;
  k: number;
  permutations: number;
  s0: number;
  s1: number;
  s2: number;
  values: string[];
  [name: string]: unknown;
}
type Stats = {
  I: number;
  EI: number;
  VI_rand: number;
  z_rand: number;
  p_rand: number;
  p_sim: number;
  EI_sim: number;
  seI_sim: number;
};

const g = loadGolden<MoranMeta>('moran_golden');
const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('k-NN weights on the sphere equal NumPy (ties by the lower row index, duplicates included), with S0, S1, S2', async () => {
  const { n, k } = g.meta;
  const w = await sphereKnnWeights(Float64Array.from(g.get('lon_lat')), n, k);
  assert.deepEqual(Array.from(w.neighbours), Array.from(g.get('neighbours')));
  close(w.s0, g.meta.s0, 1e-12, 's0');
  close(w.s1, g.meta.s1, 1e-12, 's1');
  close(w.s2, g.meta.s2, 1e-12, 's2');
});

test("Moran's I, its randomisation variance, z and p, and the replayed permutation p-value equal NumPy/SciPy", async () => {
  const { n, k } = g.meta;
  const w = await sphereKnnWeights(Float64Array.from(g.get('lon_lat')), n, k);
  const names = g.meta.values;
  const block = new Float64Array(n * names.length);
  names.forEach((name, c) => {
    const v = g.get(`${name}.values`);
    for (let i = 0; i < n; i++) block[i * names.length + c] = v[i]!;
  });
  const batch = await moranColumns(w, block, names.length);
  const orders = Array.from({ length: g.meta.permutations }, (_, p) =>
    Array.from(g.get('orders').subarray(p * n, (p + 1) * n)),
  );
  for (const [c, name] of names.entries()) {
    const want = g.meta[name] as Stats;
    const inf = moranInference(w, batch.I[c]!, batch.m2[c]!, batch.m4[c]!);
    close(inf.I, want.I, 1e-12, `${name} I`);
    close(inf.expected, want.EI, 1e-14, `${name} E[I]`);
    close(inf.variance, want.VI_rand, 1e-10, `${name} Var`);
    close(inf.z, want.z_rand, 1e-9, `${name} z`);
    assert.ok(
      Math.abs(inf.p - want.p_rand) <= 2e-7 * want.p_rand + 1e-300,
      `${name} p ${inf.p} vs ${want.p_rand}`,
    );
    const perm = await moranPermutationTest(w, g.get(`${name}.values`), { orders });
    const sim = g.get(`${name}.simulated`);
    for (let p = 0; p < sim.length; p++) close(perm.simulated[p]!, sim[p]!, 1e-12, `${name} perm ${p}`);
    assert.equal(perm.p, want.p_sim);
    close(perm.mean, want.EI_sim, 1e-12, `${name} EI_sim`);
    close(perm.sd, want.seI_sim, 1e-10, `${name} seI_sim`);
  }
  // A constant column has no I.
  assert.ok(Number.isNaN((await moranColumns(w, new Float64Array(n).fill(3), 1)).I[0]!));
});

test('seeded permutations: the organised field gets the smallest p, noise a p that is not small', async () => {
  const { n, k } = g.meta;
  const w = await sphereKnnWeights(Float64Array.from(g.get('lon_lat')), n, k);
  const lat = await moranPermutationTest(w, g.get('latitude.values'), { permutations: 999, seed: 3 });
  assert.equal(lat.p, 1 / 1000);
  const noise = await moranPermutationTest(w, g.get('noise.values'), { permutations: 999, seed: 3 });
  assert.ok(noise.p > 0.05, `noise p ${noise.p}`);
  // The permutation mean sits at E[I] = −1/(n − 1) within its standard error.
  assert.ok(Math.abs(noise.mean + 1 / (n - 1)) < 4 * (noise.sd / Math.sqrt(999)));
});

test('local Moran: I_i and quadrants equal NumPy; conditional-permutation p-values find a planted hot spot only', async () => {
  const { n, k } = g.meta;
  const lonLat = Float64Array.from(g.get('lon_lat'));
  const w = await sphereKnnWeights(lonLat, n, k);
  for (const name of g.meta.values) {
    const lisa = localMoran(w, g.get(`${name}.values`), { permutations: 19 });
    const Is = g.get(`${name}.Is`);
    for (let i = 0; i < n; i++) close(lisa.Is[i]!, Is[i]!, 1e-10, `${name} I_${i}`);
    assert.deepEqual(Array.from(lisa.quadrant), Array.from(g.get(`${name}.q`)));
  }
  // Noise: the folded p is ≤ 0.05 for about 10% of places (two tails of 5%), not for most.
  const noise = localMoran(w, g.get('noise.values'), { permutations: 199, seed: 1 });
  const small = noise.p.filter((p) => p <= 0.05).length / n;
  assert.ok(small > 0.03 && small < 0.2, `noise: ${small} of places at p ≤ 0.05`);
  // A bump around Europe (lon 10, lat 50): its members are high-high with small p.
  const bump = Float64Array.from({ length: n }, (_, i) =>
    Math.exp(-(((lonLat[2 * i]! - 10) / 15) ** 2 + ((lonLat[2 * i + 1]! - 50) / 10) ** 2)),
  );
  const hot = localMoran(w, bump, { permutations: 199, seed: 1 });
  const centre = [...bump.keys()].filter((i) => bump[i]! > 0.5);
  assert.ok(centre.length >= 5);
  for (const i of centre) {
    assert.equal(hot.quadrant[i], 1);
    assert.ok(hot.p[i]! <= 0.02, `place ${i}: p ${hot.p[i]}`);
  }
});

test('normalSf matches scipy.stats.norm.sf', () => {
  const z = g.get('normal_z');
  const want = g.get('normal_sf');
  for (let i = 0; i < z.length; i++) {
    assert.ok(
      Math.abs(normalSf(z[i]!) - want[i]!) <= 2e-7 * want[i]!,
      `z ${z[i]}: ${normalSf(z[i]!)} vs ${want[i]}`,
    );
  }
});
