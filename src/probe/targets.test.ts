import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { SafetensorsFile } from '../formats/safetensors.js';
import { createStore, hookName, type StoreManifestInput } from '../store/index.js';
import { packageRoot } from '../util/paths.js';
import { writeProbeResults } from './probe-output.js';
import { probeStore } from './probe-store.js';
import { lonLatOfVectors, targetTransform } from './targets.js';

interface Case {
  names: string[];
  n: number;
  d: number;
  X: number[];
  isTest: boolean[];
  alphas: number[];
  // biome-ignore lint/suspicious/noExplicitAny: golden JSON
  expected: Record<string, any>;
}
const golden = JSON.parse(
  readFileSync(join(packageRoot(), 'test/fixtures/probe/targets_golden.json'), 'utf8'),
) as { globe: Case & { lonLat: number[] }; logTime: Case & { years: number[]; referenceYear: number } };

const root = mkdtempSync(join(tmpdir(), 'stl-targets-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function store(name: string, c: Case, dataset: string, kind: 'space' | 'time', targets: number[]) {
  const t = kind === 'space' ? 2 : 1;
  const manifest: StoreManifestInput = {
    formatVersion: 1,
    model: { id: 'test/tiny' },
    dataset: {
      name: dataset,
      sha256: '0'.repeat(64),
      kind,
      targetNames: kind === 'space' ? ['longitude', 'latitude'] : ['release_date'],
    },
    prompt: { name: 'empty' },
    hooks: ['hook_resid_post'],
    layers: [0],
    dtype: 'f32',
    n: c.n,
    d: c.d,
    aggregation: 'last',
    toolVersion: 'test',
    createdAt: new Date(0).toISOString(),
  };
  const entities = c.names.map((name, i) => ({
    name,
    is_test: c.isTest[i]!,
    target: targets.slice(i * t, i * t + t),
  }));
  const dir = join(root, name);
  const w = createStore(dir, manifest, entities);
  await w.write(hookName(0), Float32Array.from(c.X), c.n, c.d);
  await w.finish();
  return dir;
}

const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

test('--target globe: RidgeCV on (x, y, z), projected back to the sphere, great-circle km equal NumPy/sklearn; no seam', async () => {
  const c = golden.globe;
  const dir = await store('globe', c, 'world_place', 'space', c.lonLat);
  const run = await probeStore(dir, { alphas: c.alphas, target: 'globe', predictions: 'all' });
  const r = run.results;
  const layer = r.layers[0]!;
  assert.equal(r.settings.target, 'globe');
  assert.deepEqual(r.settings.fitTargetNames, ['x', 'y', 'z']);
  assert.deepEqual(r.targetNames, ['longitude', 'latitude']);
  assert.equal(layer.alpha, c.expected.alpha);
  const pred = run.predictions.get(0)!.pred;
  // longitudes within 1e-7 degrees (mod 360: a point on the seam may read as ±180)
  let worst = 0;
  for (let i = 0; i < c.n; i++) {
    const dl = Math.abs(pred[2 * i]! - c.expected.predLonLat[2 * i]);
    worst = Math.max(
      worst,
      Math.min(dl, 360 - dl),
      Math.abs(pred[2 * i + 1]! - c.expected.predLonLat[2 * i + 1]),
    );
  }
  assert.ok(worst < 1e-7, `max |Δ| ${worst}°`);
  assert.ok(Math.abs(layer.test.haversineMaeKm! - c.expected.testKm) < 1e-6);
  assert.ok(Math.abs(layer.train.haversineMaeKm! - c.expected.trainKm) < 1e-6);
  assert.ok(Math.abs(layer.fitR2!.test - c.expected.fitR2Test) < 1e-9);
  assert.ok(Math.abs(layer.test.r2 - c.expected.testR2) < 1e-9);
  // The same activations through the lon/lat probe: the seam costs it thousands of km (NumPy says how many).
  const native = (await probeStore(dir, { alphas: c.alphas })).results.layers[0]!;
  assert.ok(Math.abs(native.test.haversineMaeKm! - c.expected.nativeTestKm) < 1e-6);
  assert.ok(c.expected.seamTestKmNative > 20 * c.expected.seamTestKmGlobe);
  // The probes file holds the three fitted columns.
  const out = join(root, 'globe.probe');
  await writeProbeResults(out, run);
  const file = await SafetensorsFile.open(join(out, 'probes.safetensors'));
  assert.deepEqual(file.tensors.get('layer.0.coef')!.shape, [c.d, 3]);
  assert.equal(file.metadata['targetNames'], JSON.stringify(['x', 'y', 'z']));
  await file.close();
});

test('--target log-time: RidgeCV on ln(R − year), read back as R − e^f, equals sklearn; the bad reference year is refused', async () => {
  const c = golden.logTime;
  const dir = await store('logtime', c, 'art', 'time', c.years);
  const run = await probeStore(dir, {
    alphas: c.alphas,
    target: 'log-time',
    referenceYear: c.referenceYear,
    predictions: 'all',
  });
  const layer = run.results.layers[0]!;
  assert.equal(run.results.settings.referenceYear, 2025);
  assert.equal(layer.alpha, c.expected.alpha);
  assert.ok(maxAbs(run.predictions.get(0)!.pred, c.expected.pred) < 1e-8);
  assert.ok(Math.abs(layer.test.r2 - c.expected.testR2) < 1e-9);
  assert.ok(Math.abs(layer.fitR2!.test - c.expected.fitR2Test) < 1e-9);
  const linear = (await probeStore(dir, { alphas: c.alphas })).results.layers[0]!;
  assert.ok(Math.abs(linear.test.r2 - c.expected.linearTestR2) < 1e-9);
  await assert.rejects(
    () => probeStore(dir, { target: 'log-time', referenceYear: 2000 }),
    /not before the reference year 2000/,
  );
  await assert.rejects(() => probeStore(dir, { target: 'globe' }), /needs a space dataset/);
});

test('probe --target globe / log-time on the command line: the golden km and R²; wrong kind and bad years are one-line errors', async () => {
  const g = golden.globe;
  const globeDir = await store('globe-cli', g, 'world_place', 'space', g.lonLat);
  const out = join(root, 'globe-cli.probe');
  const alphas = ['--alphas', g.alphas.join(',')];
  const ok = await runCliCaptured([
    'probe',
    '--store',
    globeDir,
    '--out',
    out,
    ...alphas,
    '--target',
    'globe',
  ]);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /target globe \(fitted on x, y, z\)/);
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(r.settings.target, 'globe');
  assert.ok(Math.abs(r.layers[0].test.haversineMaeKm - g.expected.testKm) < 1e-6);
  const t = golden.logTime;
  const timeDir = await store('logtime-cli', t, 'art', 'time', t.years);
  const logOut = join(root, 'logtime-cli.probe');
  const log = await runCliCaptured(
    [
      'probe',
      '--store',
      timeDir,
      '--out',
      logOut,
      '--alphas',
      t.alphas.join(','),
      '--target',
      'log-time',
    ].concat(['--reference-year', String(t.referenceYear)]),
  );
  assert.equal(log.code, 0, log.err);
  const lr = JSON.parse(readFileSync(join(logOut, 'results.json'), 'utf8'));
  assert.ok(Math.abs(lr.layers[0].test.r2 - t.expected.testR2) < 1e-9);
  for (const [argv, message] of [
    [['--store', timeDir, '--target', 'globe'], /needs a space dataset/],
    [['--store', globeDir, '--target', 'log-time'], /log-time/],
    [
      ['--store', timeDir, '--target', 'log-time', '--reference-year', 'soon'],
      /--reference-year: expected a year/,
    ],
  ] as const) {
    const bad = await runCliCaptured(['probe', ...argv, '--out', join(root, 'bad.probe')]);
    assert.equal(bad.code, 1, `${argv.join(' ')}: ${bad.out}`);
    assert.match(bad.err, message);
    assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
  }
  const choice = await runCliCaptured(['probe', '--store', timeDir, '--target', 'sphere']);
  assert.equal(choice.code, 1);
  assert.match(choice.err, /'sphere' is invalid\. Allowed choices are native, globe, log-time/);
});

test('lonLatOfVectors inverts the unit vectors on both sides of the antimeridian and at the poles', () => {
  const t = targetTransform('globe', 'space', 'world_place')!;
  const pts = Float64Array.from([179.5, -16.5, -179.5, -16.6, 0, 90, -45, -89.9, 12.3, 45.6]);
  const back = t.back(
    t.forward(pts, 5).map((v) => v * 3.7),
    5,
  );
  for (const i of [0, 1, 3, 4]) {
    assert.ok(
      Math.abs(back[2 * i]! - pts[2 * i]!) < 1e-9 && Math.abs(back[2 * i + 1]! - pts[2 * i + 1]!) < 1e-9,
    );
  }
  assert.ok(Math.abs(back[5]! - 90) < 1e-12);
  assert.deepEqual(Array.from(lonLatOfVectors(new Float64Array(3), 1)), [0, 0]);
});
