import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../util/rng.js';
import { loadGolden } from './fixtures.js';
import { runHoldout } from './holdout.js';
import type { LayerData } from './layer-data.js';
import { runMlpExperiment } from './mlp-experiment.js';
import { runPcaExperiment } from './pca-experiment.js';
import { promptSensitivity, promptTransfer } from './prompts.js';
import { syntheticPlaces, syntheticYears } from './synthetic.test-util.js';

test('block hold-out: a geometric code generalises to unseen blocks, a memorised block code does not', async () => {
  const geometric = syntheticPlaces({ blocks: 6, perBlock: 50, d: 16, seed: 1 });
  const good = await runHoldout(geometric, { column: 'block', alpha: 1, distance: 'haversine' });
  assert.equal(good.groups.length, 6);
  for (const g of good.groups) {
    const expectedNominal = geometric.columns['block']!.filter(
      (b, i) => b === g.group && geometric.isTest[i],
    ).length;
    assert.equal(g.nGroup, 50);
    assert.equal(g.nNominal, expectedNominal);
    assert.equal(g.nHeldOutTrain, 250);
    assert.ok(g.centroid.angleDeg! < 10, `${g.group}: angle ${g.centroid.angleDeg}`);
    assert.ok(g.heldOut['proxError']! < 0.05, `${g.group}: held-out prox ${g.heldOut['proxError']}`);
  }
  // the unweighted mean over groups
  const mean = good.groups.reduce((s, g) => s + g.heldOut['proxError']!, 0) / good.groups.length;
  assert.ok(Math.abs(good.means.heldOut['proxError']! - mean) < 1e-15);
  assert.equal(good.maps.length, 6);
  assert.equal(good.maps[0]!.truth.length, 50);

  // block identity as a random offset, geography barely encoded: fine on seen blocks, lost on unseen ones
  const memorised = syntheticPlaces({
    blocks: 6,
    perBlock: 50,
    d: 16,
    seed: 1,
    blockOffset: 2,
    signal: 0.02,
  });
  const bad = await runHoldout(memorised, { column: 'block', alpha: 1, distance: 'haversine' });
  assert.ok(
    bad.means.heldOut['proxError']! > 4 * good.means.heldOut['proxError']!,
    `memorised held-out prox ${bad.means.heldOut['proxError']} vs geometric ${good.means.heldOut['proxError']}`,
  );
  assert.ok(bad.means.heldOut['proxError']! > 2 * bad.means.nominal['proxError']!);
  assert.ok(
    bad.meanAngleDeg! > 20 * good.meanAngleDeg!,
    `mean angle ${bad.meanAngleDeg} vs ${good.meanAngleDeg}`,
  );
});

test('entity and century hold-outs on time data: values, skipped groups, 1-D centroid direction', async () => {
  const data = syntheticYears({ n: 300, d: 12, seed: 2 });
  const res = await runHoldout(data, {
    column: 'century',
    values: ['1000', '1500', '1900', '2500'],
    alpha: 1,
    distance: 'absolute',
  });
  assert.deepEqual(
    res.groups.map((g) => g.group),
    ['1000', '1500', '1900'],
  );
  assert.deepEqual(res.skipped, [{ group: '2500', reason: 'no rows' }]);
  for (const g of res.groups) {
    assert.equal(g.centroid.angleDeg, 0, `${g.group} predicted on the right side of the training mean`);
    // a linear code of the year extrapolates: held-out MAE is a few years, not centuries
    assert.ok(g.heldOut['mae']! < 20, `${g.group}: MAE ${g.heldOut['mae']}`);
  }
  assert.equal(res.maps.length, 0); // no maps for time data by default
});

test('prompt transfer: centring removes a prompt-specific offset; same vs different means', async () => {
  const base = syntheticPlaces({ blocks: 8, perBlock: 40, d: 16, seed: 3 });
  const rng = new Rng(3, 'offset');
  const offset = Array.from({ length: base.d }, () => 4 * rng.normal());
  const shifted = Float32Array.from(base.x, (v, i) => v + offset[i % base.d]! + 0.02 * rng.normal());
  const layers: Record<string, LayerData> = {
    plain: base,
    shifted: { ...base, prompt: 'shifted', x: shifted },
  };
  const load = async (prompt: string, _layer: number) => layers[prompt]!;
  const res = await promptTransfer(['plain', 'shifted'], 0, load, {
    alphas: [0.1, 1, 10],
    distance: 'haversine',
  });
  assert.equal(res.rows.length, 2 + 2 * 2);
  const find = (a: string, b: string, centred: boolean) =>
    res.rows.find((r) => r.activationPrompt === a && r.probePrompt === b && r.centred === centred)!;
  assert.ok(find('plain', 'plain', false).test['r2']! > 0.95);
  assert.ok(find('shifted', 'plain', true).test['r2']! > 0.9, 'centred transfer works');
  assert.ok(find('shifted', 'plain', false).test['r2']! < 0.5, 'uncentred transfer is biased by the offset');
  const sameMean =
    (find('plain', 'plain', false).test['r2']! + find('shifted', 'shifted', false).test['r2']!) / 2;
  assert.ok(Math.abs(res.same['r2']! - sameMean) < 1e-12);
  const diff = res.rows.filter((r) => r.activationPrompt !== r.probePrompt).map((r) => r.test['r2']!);
  assert.ok(Math.abs(res.different['r2']! - diff.reduce((s, v) => s + v, 0) / diff.length) < 1e-12);

  const sens = await promptSensitivity(['plain', 'shifted'], [0], load, {
    alphas: [0.1, 1, 10],
    distance: 'haversine',
  });
  assert.equal(sens.length, 2);
  // a constant offset does not change what a probe with an intercept can fit
  assert.ok(Math.abs(sens[0]!.test['r2']! - sens[1]!.test['r2']!) < 0.01);
});

test('PCA probes: a target hidden in a low-variance direction needs more components than the big ones', async () => {
  const n = 400;
  const d = 12;
  const rng = new Rng(4, 'pca-planted');
  const x = new Float32Array(n * d);
  const targets = new Float64Array(n);
  const isTest = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const year = 1500 + 200 * rng.normal();
    targets[i] = year;
    for (let j = 0; j < 4; j++) x[i * d + j] = 5 * rng.normal() * (1 + j * 0.3); // loud, irrelevant
    x[i * d + 4] = (year - 1500) / 400 + 0.05 * rng.normal(); // the signal, variance ~0.25
    for (let j = 5; j < d; j++) x[i * d + j] = 0.1 * rng.normal();
    isTest[i] = i % 5 === 0 ? 1 : 0;
  }
  const data: LayerData = {
    ...syntheticYears({ n, d }),
    x,
    targets,
    isTest,
  };
  const res = await runPcaExperiment(data, {
    ks: [2, 4, 5, 8, 50],
    alphas: [1e-3, 1e-2, 0.1, 1],
    distance: 'absolute',
  });
  assert.deepEqual(
    res.rows.map((r) => r.k),
    [2, 4, 5, 8, 12],
  );
  assert.deepEqual(res.skippedKs, [50]);
  const r2 = Object.fromEntries(res.rows.map((r) => [r.k, r.test['r2']!]));
  assert.ok(r2[2]! < 0.1 && r2[4]! < 0.1, `k ≤ 4 misses the signal: ${JSON.stringify(r2)}`);
  assert.ok(r2[5]! > 0.95 && r2[12]! > 0.95, `k ≥ 5 finds it: ${JSON.stringify(r2)}`);
  assert.ok(res.rows.at(-1)!.raw);
  // explained variance is cumulative and ends below 1 for k < d
  const ev = res.rows.map((r) => r.explainedVariance);
  for (let i = 1; i < ev.length; i++) assert.ok(ev[i]! >= ev[i - 1]!);
  assert.ok(ev[3]! < 1 && ev[4] === 1);
});

test('MLP experiment: a nonlinear target the MLP finds and the linear probe does not', async () => {
  const n = 1000;
  const d = 6;
  const rng = new Rng(5, 'mlp-planted');
  const x = new Float32Array(n * d);
  const targets = new Float64Array(n);
  const isTest = new Uint8Array(n);
  const w = [1, -0.7, 0.4, 0, 0.5, -0.2];
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) {
      x[i * d + j] = rng.normal();
      s += x[i * d + j]! * w[j]!;
    }
    targets[i] = 1800 + 50 * Math.abs(s);
    isTest[i] = i % 5 === 0 ? 1 : 0;
  }
  const data: LayerData = { ...syntheticYears({ n, d }), x, targets, isTest };
  const res = await runMlpExperiment(data, {
    alphas: [0.1, 1, 10],
    distance: 'absolute',
    mlp: { seed: 1, weightDecays: [0.01, 0.1], batchSize: 50, maxEpochs: 12 },
  });
  assert.ok(res.linear.test['r2']! < 0.1, `linear R² ${res.linear.test['r2']}`);
  assert.ok(res.mlp.test['r2']! > 0.85, `MLP R² ${res.mlp.test['r2']}`);
  assert.ok(res.mlp.test['proxError']! < res.linear.test['proxError']!);
  assert.ok([0.01, 0.1].includes(res.mlp.weightDecay));
});

interface HoldoutGoldenMeta {
  n: number;
  d: number;
  alpha: number;
  groups: string[];
  isTest: number[];
  results: {
    group: string;
    nGroup: number;
    nNominal: number;
    heldOut: { r2: number; mae: number; proxError: number };
    nominal: { r2: number; mae: number; proxError: number };
    angleDeg: number;
    trueCentroid: number[];
  }[];
}

test('block hold-out matches an independent scikit-learn/NumPy computation of docs/method.md#block-holdout (golden)', async () => {
  const g = loadGolden<HoldoutGoldenMeta>('holdout_golden');
  const { n, d } = g.meta;
  const data: LayerData = {
    ...syntheticPlaces({ blocks: 1, perBlock: n, d }),
    x: Float32Array.from(g.get('x')),
    targets: Float64Array.from(g.get('lonlat')),
    isTest: Uint8Array.from(g.meta.isTest),
    columns: { region: g.meta.groups },
  };
  const res = await runHoldout(data, {
    column: 'region',
    values: ['north', 'south', 'east', 'west', 'pacific'],
    alpha: g.meta.alpha,
    distance: 'haversine',
  });
  for (const [i, want] of g.meta.results.entries()) {
    const got = res.groups[i]!;
    assert.equal(got.group, want.group);
    assert.equal(got.nGroup, want.nGroup);
    assert.equal(got.nNominal, want.nNominal);
    for (const key of ['r2', 'mae', 'proxError'] as const) {
      assert.ok(
        Math.abs(got.heldOut[key]! - want.heldOut[key]) < 1e-8,
        `${want.group} held-out ${key}: ${got.heldOut[key]} vs ${want.heldOut[key]}`,
      );
      assert.ok(
        Math.abs(got.nominal![key]! - want.nominal[key]) < 1e-8,
        `${want.group} nominal ${key}: ${got.nominal![key]} vs ${want.nominal[key]}`,
      );
    }
    // Spherical centroids and bearings (the 'pacific' block straddles 180°, where a flat mean would sit near 0°).
    assert.ok(Math.abs(got.centroid.angleDeg! - want.angleDeg) < 1e-8, `${want.group} angle`);
    assert.ok(
      Math.abs(got.centroid.trueCentroid[1]! - want.trueCentroid[1]!) < 1e-9,
      `${want.group} centroid`,
    );
  }
});

interface TransferGoldenMeta {
  n: number;
  d: number;
  alphas: number[];
  prompts: string[];
  isTest: number[];
  rows: { a: string; b: string; centred: boolean; r2: number; spearman: number; alpha: number }[];
  same: { r2: number; spearman: number };
  different: { r2: number; spearman: number };
}

test('prompt transfer matches an independent scikit-learn RidgeCV/SciPy computation of docs/method.md#prompt-experiments (golden)', async () => {
  const g = loadGolden<TransferGoldenMeta>('transfer_golden');
  const { n, d } = g.meta;
  const targets = Float64Array.from(g.get('lonlat'));
  const isTest = Uint8Array.from(g.meta.isTest);
  const base = syntheticPlaces({ blocks: 1, perBlock: n, d });
  const load = async (prompt: string) => ({
    ...base,
    prompt,
    x: Float32Array.from(g.get(`x.${prompt}`)),
    targets,
    isTest,
  });
  const res = await promptTransfer(g.meta.prompts, 0, load, { alphas: g.meta.alphas, distance: 'haversine' });
  assert.equal(res.rows.length, g.meta.rows.length);
  for (const want of g.meta.rows) {
    const got = res.rows.find(
      (r) => r.activationPrompt === want.a && r.probePrompt === want.b && r.centred === want.centred,
    )!;
    assert.ok(
      Math.abs(got.test['r2']! - want.r2) < 1e-8,
      `${want.a}<-${want.b} ${want.centred}: r2 ${got.test['r2']} vs ${want.r2}`,
    );
    assert.ok(Math.abs(got.test['spearman']! - want.spearman) < 1e-12, `${want.a}<-${want.b} spearman`);
    assert.equal(res.alphas[want.b], want.alpha);
  }
  assert.ok(Math.abs(res.same['r2']! - g.meta.same.r2) < 1e-8);
  assert.ok(Math.abs(res.different['r2']! - g.meta.different.r2) < 1e-8);
  assert.ok(Math.abs(res.different['spearman']! - g.meta.different.spearman) < 1e-12);
});
