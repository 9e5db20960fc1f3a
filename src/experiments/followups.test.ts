import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { saveSae } from '../sae/saelens.js';
import { packageRoot } from '../util/paths.js';
import { Rng } from '../util/rng.js';
import { continentsOf, runBias } from './bias.js';
import type { LayerData } from './layer-data.js';
import { moranColumns, sphereKnnWeights } from './moran.js';
import { negativeControlTargets, probeTargetSets } from './negative-controls.js';
import { syntheticPlaces, syntheticYears, writeSyntheticStore } from './synthetic.test-util.js';

const root = mkdtempSync(join(tmpdir(), 'stl-followups-'));
after(() => rmSync(root, { recursive: true, force: true }));

const golden = JSON.parse(
  readFileSync(join(packageRoot(), 'test/fixtures/experiments/bias_golden.json'), 'utf8'),
  // biome-ignore lint/suspicious/noExplicitAny: golden JSON
) as any;
const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

function layerData(
  kind: 'space' | 'time',
  targets: number[],
  isTest: boolean[],
  columns: Record<string, string[]>,
): LayerData {
  const n = isTest.length;
  return {
    model: 'm',
    dataset: kind === 'space' ? 'world_place' : 'art',
    prompt: 'p',
    hook: 'hook_resid_post',
    layer: 0,
    kind,
    targetNames: kind === 'space' ? ['longitude', 'latitude'] : ['release_date'],
    n,
    d: 1,
    t: kind === 'space' ? 2 : 1,
    x: new Float32Array(n),
    targets: Float64Array.from(targets),
    isTest: Uint8Array.from(isTest, Number),
    names: columns['name'] ?? isTest.map((_, i) => `row ${i}`),
    columns,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: golden JSON
function checkRegression(got: any, want: any, what: string) {
  assert.equal(got.n, want.n, `${what} n`);
  for (const key of ['slope', 'slopeSe', 'intercept', 'r2', 'spearman'])
    close(got[key], want[key], 1e-9, `${what} ${key}`);
  assert.equal(got.bins.length, want.bins.length);
  // biome-ignore lint/suspicious/noExplicitAny: golden JSON
  got.bins.forEach((b: any, i: number) => {
    for (const key of ['lo', 'hi', 'meanError', 'medianError'])
      close(b[key], want.bins[i][key], 1e-9, `${what} bin ${i} ${key}`);
    assert.equal(b.n, want.bins[i].n);
  });
}

test('bias on real world_place and art rows: regressions on log10 page views / population, bins and groups equal SciPy/NumPy', async () => {
  const s = golden.space;
  const space = layerData('space', s.lonLat, s.isTest, s.columns);
  const res = await runBias(space, Float64Array.from(s.pred), {
    distance: 'haversine',
    groupColumns: ['country'],
  });
  assert.equal(res.unit, 'km');
  close(res.meanError, s.meanError, 1e-9, 'mean km');
  close(res.medianError, s.medianError, 1e-9, 'median km');
  for (const col of ['page_views', 'population']) {
    checkRegression(
      res.regressions.find((r) => r.column === col),
      s.regressions[col],
      col,
    );
  }
  assert.ok(res.regressions[0]!.slope < 0, 'famous places are predicted better in the planted data');
  const countries = res.groups.filter((g) => g.by === 'country');
  assert.equal(countries.length, Object.keys(s.groups.country).length);
  for (const g of countries) {
    const want = s.groups.country[g.group];
    assert.equal(g.n, want.n);
    close(g.share, want.share, 1e-12, `${g.group} share`);
    close(g.meanError, want.meanError, 1e-9, `${g.group} mean`);
    close(g.medianError, want.medianError, 1e-9, `${g.group} median`);
    close(g.centroid![0], want.centroid[0], 1e-9, `${g.group} lon`);
    close(g.centroid![1], want.centroid[1], 1e-9, `${g.group} lat`);
  }
  const t = golden.time;
  const time = layerData('time', t.years, t.isTest, t.columns);
  const tr = await runBias(time, Float64Array.from(t.pred), {
    distance: 'absolute',
    groupColumns: ['entity_type', 'decade'],
  });
  assert.equal(tr.unit, 'years');
  close(tr.meanError, t.meanError, 1e-9, 'mean years');
  checkRegression(tr.regressions[0], t.regressions.page_views, 'art page_views');
  for (const by of ['entity_type', 'decade']) {
    for (const g of tr.groups.filter((x) => x.by === by)) {
      close(g.meanError, t.groups[by][g.group].meanError, 1e-9, `${by} ${g.group}`);
      assert.equal(g.centroid, undefined);
    }
  }
});

test('continents: from the country name, else the nearest place with a known country (England, Wales -> Europe)', async () => {
  const countries = ['United_States', 'England', 'France', 'Wales', 'Japan', 'Nowhere_Land'];
  const lonLat = Float64Array.from([-100, 40, -1.5, 52.5, 2.3, 48.9, -3.5, 52.3, 139.7, 35.7, 140, 36]);
  assert.deepEqual(await continentsOf(countries, lonLat), [
    'North America',
    'Europe',
    'Europe',
    'Europe',
    'Asia',
    'Asia',
  ]);
  assert.equal(await continentsOf(['a', 'b', 'c'], Float64Array.from([0, 0, 1, 1, 2, 2])), undefined);
});

test('negative controls: fields are smooth, orthogonal to any linear read-out of position; a position code probes real targets only', async () => {
  const s = golden.space;
  const n = s.isTest.length;
  const lonLat = Float64Array.from(s.lonLat);
  // A perfect linear position code: the 3-D unit vector, mixed into 6 dimensions, plus a little noise.
  const rng = new Rng(1, 'code');
  const mix = Array.from({ length: 18 }, () => rng.normal());
  const x = new Float32Array(n * 6);
  for (let i = 0; i < n; i++) {
    const lam = (lonLat[2 * i]! * Math.PI) / 180;
    const phi = (lonLat[2 * i + 1]! * Math.PI) / 180;
    const u = [Math.cos(phi) * Math.cos(lam), Math.cos(phi) * Math.sin(lam), Math.sin(phi)];
    for (let j = 0; j < 6; j++)
      x[i * 6 + j] = u[0]! * mix[j]! + u[1]! * mix[6 + j]! + u[2]! * mix[12 + j]! + 0.01 * rng.normal();
  }
  const data = { ...layerData('space', s.lonLat, s.isTest, s.columns), x, d: 6 };
  const sets = await negativeControlTargets(data, 3, 0);
  assert.deepEqual(
    sets.map((c) => c.name),
    ['real', 'permuted', 'field-1', 'field-2', 'field-3'],
  );
  const w = await sphereKnnWeights(lonLat, n, 8);
  for (const f of sets.filter((c) => c.kind === 'field')) {
    let mean = 0;
    let ss = 0;
    for (const v of f.targets) {
      mean += v / n;
      ss += v * v;
    }
    assert.ok(Math.abs(mean) < 1e-12 && Math.abs(ss / n - 1) < 1e-12);
    for (let j = 0; j < 3; j++) {
      let dot = 0;
      for (let i = 0; i < n; i++) {
        const lam = (lonLat[2 * i]! * Math.PI) / 180;
        const phi = (lonLat[2 * i + 1]! * Math.PI) / 180;
        const u = [Math.cos(phi) * Math.cos(lam), Math.cos(phi) * Math.sin(lam), Math.sin(phi)][j]!;
        dot += u * f.targets[i]!;
      }
      assert.ok(Math.abs(dot) < 1e-9, `field orthogonal to coordinate ${j}: ${dot}`);
    }
    const I = (await moranColumns(w, f.targets, 1)).I[0]!;
    assert.ok(I > 0.3, `a smooth field is spatially autocorrelated (I = ${I})`);
  }
  const perm = sets[1]!.targets;
  assert.deepEqual(
    [...perm].sort((a, b) => a - b),
    [...data.targets].sort((a, b) => a - b),
  );
  const rows = await probeTargetSets(data, sets, { alphas: [1e-3, 1e-2, 0.1, 1], distance: 'haversine' });
  const r2 = Object.fromEntries(rows.map((r) => [r.target, r.test['r2']!]));
  assert.ok(r2['real']! > 0.3, `real ${r2['real']}`);
  assert.ok(r2['permuted']! < 0.02, `permuted ${r2['permuted']}`);
  for (const f of ['field-1', 'field-2', 'field-3']) assert.ok(r2[f]! < 0.05, `${f}: ${r2[f]}`);
});

const cli = (...argv: string[]) => runCliCaptured(argv);
const places = syntheticPlaces({ blocks: 6, perBlock: 40, d: 12, seed: 3, types: ['city', 'structure'] });
const years = syntheticYears({ n: 240, d: 10, seed: 4 });
const stores = { places: join(root, 'places'), years: join(root, 'years') };
const ready = (async () => {
  const rng = new Rng(3, 'noise');
  const noise = Float32Array.from(places.x, () => rng.normal());
  await writeSyntheticStore(stores.places, places, [noise, places.x]);
  await writeSyntheticStore(stores.years, years, [Float32Array.from(years.x, () => rng.normal()), years.x]);
})();

test('experiment pls writes PLS, PCA and ridge rows; the k that reaches the ridge is small on a 2-D code', async () => {
  await ready;
  const out = join(root, 'out-pls');
  const r = await cli(
    'experiment',
    'pls',
    '--store',
    stores.places,
    '--layer',
    '1',
    '--components',
    '1..6',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(readFileSync(join(out, 'pls.json'), 'utf8'));
  assert.equal(json.experiment, 'pls');
  assert.deepEqual(json.settings.components, [1, 2, 3, 4, 5, 6]);
  const methods = json.table.map((row: { method: string }) => row.method);
  assert.equal(methods.filter((m: string) => m === 'pls').length, 6);
  assert.equal(methods.filter((m: string) => m === 'pca').length, 6);
  assert.equal(methods.filter((m: string) => m === 'ridge').length, 1);
  assert.ok(json.summary.pls_k_for_95pct_ridge <= 3, `k ${json.summary.pls_k_for_95pct_ridge}`);
  const bad = await cli('experiment', 'pls', '--store', stores.places, '--components', '0..3', '--out', out);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /--components: bad range/);
});

test("experiment spatial ranks residual dimensions and SAE features by Moran's I and maps the top ones", async () => {
  await ready;
  const d = places.d;
  const dSae = 5;
  const rng = new Rng(5, 'sae');
  const sae = join(root, 'sae');
  await saveSae(
    sae,
    {
      architecture: 'standard',
      dIn: d,
      dSae,
      applyBDecToInput: false,
      wEnc: Float32Array.from({ length: d * dSae }, () => rng.normal()),
      bEnc: new Float32Array(dSae),
      wDec: Float32Array.from({ length: dSae * d }, () => rng.normal()),
      bDec: new Float32Array(d),
    },
    { hookName: 'blocks.1.hook_resid_post', hookLayer: 1 },
  );
  const out = join(root, 'out-spatial');
  const r = await cli(
    'experiment',
    'spatial',
    '--store',
    stores.places,
    '--layer',
    '1',
    '--sae',
    sae,
    '--k',
    '6',
    '--permutations',
    '99',
    '--lisa-permutations',
    '49',
    '--top',
    '3',
    '--maps',
    '1',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(readFileSync(join(out, 'spatial.json'), 'utf8'));
  assert.deepEqual(
    json.settings.sources.map((s: { name: string }) => s.name),
    ['residual', 'sae'],
  );
  assert.equal(json.table.length, 6);
  // Every residual dimension is a linear code of position: strongly organised, the smallest permutation p.
  const top = json.table[0];
  assert.equal(top.source, 'residual');
  assert.ok(top.moran_i > 0.8 && top.p_sim === 0.01, JSON.stringify(top));
  assert.equal(json.figures.maps.length, 2);
  assert.equal(json.figures.maps[0].points.length, places.n);
  const timeStore = await cli('experiment', 'spatial', '--store', stores.years, '--out', out);
  assert.equal(timeStore.code, 1);
  assert.match(timeStore.err, /needs places/);
});

test('experiment spatial on a store of MLP neurons (mlp.hook_post) ranks them as neurons; --hooks it lacks is a user error', async () => {
  await ready;
  const neurons = join(root, 'neurons');
  const rng = new Rng(6, 'neurons');
  // 3 neurons: two noise, one a smooth function of place (a "region" unit, not a linear code of position).
  const x = new Float32Array(places.n * 3);
  for (let i = 0; i < places.n; i++) {
    const [lon, lat] = [places.targets[2 * i]!, places.targets[2 * i + 1]!];
    x[i * 3] = rng.normal();
    x[i * 3 + 1] = Math.cos((lon * Math.PI) / 60) * Math.cos((lat * Math.PI) / 45);
    x[i * 3 + 2] = rng.normal();
  }
  await writeSyntheticStore(neurons, { ...places, d: 3 }, [x.map(() => rng.normal()), x], {
    hook: 'mlp.hook_post',
  });
  const out = join(root, 'out-neurons');
  const args = ['--store', neurons, '--layer', '1', '--permutations', '99', '--top', '3', '--maps', '1'];
  const r = await cli('experiment', 'spatial', ...args, '--lisa-permutations', '19', '--out', out, '--quiet');
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(readFileSync(join(out, 'spatial.json'), 'utf8'));
  assert.deepEqual(
    json.settings.sources.map((s: { name: string; origin: string }) => [s.name, s.origin]),
    [['neurons', 'blocks.1.mlp.hook_post']],
  );
  assert.equal(json.table[0].source, 'neurons');
  assert.equal(json.table[0].unit, 1);
  assert.ok(json.table[0].moran_i > 0.5 && json.table[0].p_sim === 0.01, JSON.stringify(json.table[0]));
  for (const noise of json.table.slice(1)) assert.ok(noise.moran_i < 0.2, JSON.stringify(noise));
  const missing = await cli(
    'experiment',
    'spatial',
    '--store',
    neurons,
    '--hooks',
    'resid_post',
    '--out',
    out,
  );
  assert.equal(missing.code, 1);
  assert.equal(missing.err.trim().split('\n').length, 1, missing.err);
});

test('experiment bias and negative-controls run on stores (places and dates)', async () => {
  await ready;
  const out = join(root, 'out-bias');
  const b = await cli(
    'experiment',
    'bias',
    '--store',
    stores.places,
    '--layer',
    '1',
    '--alphas',
    '0.01,0.1,1',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(b.code, 0, b.err);
  const bias = JSON.parse(readFileSync(join(out, 'bias.json'), 'utf8'));
  assert.equal(bias.settings.unit, 'km');
  assert.ok(
    bias.tables.groups.rows.some((g: { by: string }) => g.by === 'entity_type'),
    JSON.stringify(bias.settings),
  );
  const grouped = await cli(
    'experiment',
    'bias',
    '--store',
    stores.places,
    '--layer',
    '1',
    '--group-columns',
    'block',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(grouped.code, 0, grouped.err);
  const blocks = JSON.parse(readFileSync(join(out, 'bias.json'), 'utf8')).tables.groups.rows;
  assert.deepEqual([...new Set(blocks.map((g: { by: string }) => g.by))], ['block']);
  assert.equal(blocks.length, 6);
  const missing = await cli(
    'experiment',
    'bias',
    '--store',
    stores.places,
    '--group-columns',
    'nope',
    '--out',
    out,
  );
  assert.match(missing.err, /no column 'nope'/);
  const y = await cli(
    'experiment',
    'negative-controls',
    '--store',
    stores.years,
    '--layers',
    '0,1',
    '--fields',
    '2',
    '--alphas',
    '0.01,0.1,1',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(y.code, 0, y.err);
  const nc = JSON.parse(readFileSync(join(out, 'negative-controls.json'), 'utf8'));
  assert.equal(nc.table.length, 2 * 4);
  const real = nc.table.find(
    (row: { layer: number; target: string }) => row.layer === 1 && row.target === 'real',
  );
  assert.ok(real.test_r2 > 0.9);
  assert.ok(nc.summary.max_permuted_test_r2 < 0.1);
});
