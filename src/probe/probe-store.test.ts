import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { main } from '../cli/main.js';
import { runCliCaptured } from '../cli/testing.js';
import { SafetensorsFile } from '../formats/safetensors.js';
import { createStore, hookName, type StoreManifestInput } from '../store/index.js';
import { packageRoot } from '../util/paths.js';
import { writeProbeResults } from './probe-output.js';
import { probeStore } from './probe-store.js';

interface GoldenCase {
  name: string;
  n: number;
  d: number;
  X: number[];
  Y: number[];
  train: number[];
  alphas: number[];
  expected: { alphaIndex: number; alpha: number; predictions: number[]; r2Test: number; coef: number[] };
}

const golden = (
  JSON.parse(readFileSync(join(packageRoot(), 'test/fixtures/probe/ridge_goldens.json'), 'utf8')) as {
    cases: GoldenCase[];
  }
).cases.find((c) => c.name === 'store_layer')!;

const root = mkdtempSync(join(tmpdir(), 'stl-probe-'));
after(() => rmSync(root, { recursive: true, force: true }));

const { n, d } = golden;
const isTrain = new Set(golden.train);

/** A store whose layer 1 is the golden's activations, layer 0 all zeros and layer 2 noise. */
async function makeStore(name: string, layer2?: Float32Array): Promise<string> {
  const manifest: StoreManifestInput = {
    formatVersion: 1,
    model: { id: 'test/tiny' },
    dataset: {
      name: 'golden_places',
      sha256: '0'.repeat(64),
      kind: 'space',
      targetNames: ['longitude', 'latitude'],
    },
    prompt: { name: 'empty' },
    hooks: ['hook_resid_post'],
    layers: [0, 1, 2],
    dtype: 'f32',
    n,
    d,
    aggregation: 'last',
    toolVersion: 'test',
    createdAt: new Date(0).toISOString(),
  };
  const entities = Array.from({ length: n }, (_, i) => ({
    name: i === 3 ? 'Quote "and", comma' : `place ${i}`,
    is_test: !isTrain.has(i),
    target: [golden.Y[2 * i]!, golden.Y[2 * i + 1]!],
  }));
  const dir = join(root, name);
  const w = createStore(dir, manifest, entities);
  await w.write(hookName(0), new Float32Array(n * d), n, d);
  await w.write(hookName(1), Float32Array.from(golden.X), n, d);
  let s = 7;
  const noise = Float32Array.from({ length: n * d }, () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  });
  await w.write(hookName(2), layer2 ?? noise, n, d);
  await w.finish();
  return dir;
}

test('probeStore on a 3-layer store: sklearn-equal probe on the real layer, all-zero layer flagged, files written', async () => {
  const dir = await makeStore('s1');
  const run = await probeStore(dir, { alphas: golden.alphas, predictions: 'all' });
  const r = run.results;
  assert.equal(r.schema, 'spacetime-lens/probe-results@1');
  assert.deepEqual(
    r.layers.map((l) => l.layer),
    [0, 1, 2],
  );
  assert.equal(r.nTrain, golden.train.length);
  assert.equal(r.nTest, n - golden.train.length);
  assert.equal(r.settings.distance, 'haversine');
  assert.equal(r.settings.mode, 'default');
  const l1 = r.layers[1]!;
  assert.equal(l1.alphaIndex, golden.expected.alphaIndex);
  assert.equal(l1.alpha, golden.expected.alpha);
  const pred = run.predictions.get(1)!.pred;
  golden.expected.predictions.forEach((v, i) => {
    assert.ok(
      Math.abs(pred[i]! - v) <= 1e-6 * Math.abs(v) + 1e-9,
      `prediction ${i}: ${pred[i]} vs sklearn ${v}`,
    );
  });
  assert.ok(Math.abs(l1.test.r2 - golden.expected.r2Test) < 1e-6);
  // test R² of the zero layer: predictions are the train mean
  const zero = r.layers[0]!;
  assert.ok(zero.warnings?.some((w) => w.includes('same activation')));
  assert.ok(zero.test.r2 <= 0 && zero.test.r2 > -0.2);
  assert.equal(r.bestLayer, 1);

  const out = join(root, 'out1');
  await writeProbeResults(out, run);
  const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(json.layers.length, 3);
  assert.deepEqual(json.predictions, {
    file: 'predictions.csv',
    layers: [0, 1, 2],
    mode: 'all',
    testRowsOnly: false,
  });
  const csv = readFileSync(join(out, 'predictions.csv'), 'utf8').trimEnd().split('\n');
  assert.equal(
    csv[0],
    'row,name,is_test,layer,true_longitude,true_latitude,pred_longitude,pred_latitude,prox_error',
  );
  assert.equal(csv.length, 1 + 3 * n);
  assert.ok(csv.some((line) => line.startsWith('3,"Quote ""and"", comma",')));
  const table = readFileSync(join(out, 'results.csv'), 'utf8').trimEnd().split('\n');
  assert.equal(table.length, 4);
  assert.ok(table[0]!.startsWith('layer,alpha,best,train_r2,train_r2_longitude'));
  const probes = await SafetensorsFile.open(join(out, 'probes.safetensors'));
  const coef = new Float64Array((await probes.readRaw('layer.1.coef')).slice().buffer);
  await probes.close();
  for (const [i, v] of golden.expected.coef.entries())
    assert.ok(Math.abs(coef[i]! - v) <= 1e-6 * Math.abs(v) + 1e-9);
});

test('R² in results is recomputable from predictions.csv (best layer only)', async () => {
  const dir = await makeStore('s2');
  const run = await probeStore(dir, {
    alphas: golden.alphas,
    layers: '1:3',
    paperCompat: true,
    predictions: 'best',
  });
  assert.deepEqual(
    run.results.layers.map((l) => l.layer),
    [1, 2],
  );
  assert.equal(run.results.settings.distance, 'haversine-swapped');
  const out = join(root, 'out2');
  await writeProbeResults(out, run);
  const lines = readFileSync(join(out, 'predictions.csv'), 'utf8').trimEnd().split('\n').slice(1);
  assert.equal(lines.length, n);
  const test = lines.map((l) => l.split(',')).filter((c) => c[2] === 'true');
  // R² = 1 − SS_res / SS_tot, written out (not the r2Column under test)
  const truth = test.map((c) => Number(c[4]));
  const pred = test.map((c) => Number(c[6]));
  const mean = truth.reduce((a, v) => a + v, 0) / truth.length;
  const ssRes = truth.reduce((a, v, i) => a + (v - pred[i]!) ** 2, 0);
  const ssTot = truth.reduce((a, v) => a + (v - mean) ** 2, 0);
  const lon = 1 - ssRes / ssTot;
  assert.ok(Math.abs(lon - run.results.layers[0]!.test.r2PerTarget[0]!) < 1e-12);
});

test('compact predictions (the default): every layer, the best in full, the others to 6 digits and test rows only when large', async () => {
  const dir = await makeStore('s5');
  const small = await probeStore(dir, { alphas: golden.alphas });
  assert.equal(small.results.predictions.mode, 'compact');
  assert.deepEqual(small.results.predictions.layers, [0, 1, 2]);
  assert.equal(small.results.predictions.testRowsOnly, false);
  const large = await probeStore(dir, { alphas: golden.alphas, compactRowLimit: 1 });
  assert.equal(large.results.predictions.testRowsOnly, true);
  const out = join(root, 'out5');
  await writeProbeResults(out, large);
  const rows = (
    parse(readFileSync(join(out, 'predictions.csv'), 'utf8'), { skip_empty_lines: true }) as string[][]
  ).slice(1);
  const best = large.results.bestLayer;
  const nTest = large.results.nTest;
  for (const layer of [0, 1, 2]) {
    const at = rows.filter((c) => Number(c[3]) === layer);
    assert.equal(at.length, layer === best ? n : nTest, `rows of layer ${layer}`);
    const p = large.predictions.get(layer)!.pred;
    for (const c of at) {
      const i = Number(c[0]);
      const written = Number(c[6]);
      if (layer === best) assert.equal(written, p[i * 2]);
      else
        assert.ok(
          Math.abs(written - p[i * 2]!) <= 5e-6 * Math.abs(p[i * 2]!),
          `6 significant digits: ${c[6]}`,
        );
    }
  }
});

test('a layer with a NaN is skipped and named (CLI output, results.json); the other layers are probed', async () => {
  const bad = new Float32Array(n * d).fill(1);
  bad[5 * d + 2] = Number.NaN;
  const dir = await makeStore('s3', bad);
  const out = join(root, 's3-out');
  const cli = await runCliCaptured([
    'probe',
    '--store',
    dir,
    '--out',
    out,
    '--alphas',
    golden.alphas.join(','),
  ]);
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, /skipped layers .*: 2$/m);
  assert.match(cli.err, /layer 2 skipped: blocks\.2\.hook_resid_post: row 5 \('place 5'\)/);
  const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.deepEqual(
    r.layers.map((l: { layer: number }) => l.layer),
    [0, 1],
  );
  assert.equal(r.skippedLayers.length, 1);
  assert.equal(r.skippedLayers[0].layer, 2);
  assert.match(
    r.skippedLayers[0].reason,
    /row 5 \('place 5'\) has a non-finite activation \(NaN\) in column 2/,
  );
  assert.equal(r.bestLayer, 1);
  // The probed layers are the same as without the bad one (layer 1 is the golden's, fitted as sklearn did).
  assert.equal(r.layers[1].alpha, golden.expected.alpha);
  const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
  assert.deepEqual(
    csv.slice(1).map((l) => l.split(',')[0]),
    ['0', '1'],
  );
  const probes = await SafetensorsFile.open(join(out, 'probes.safetensors'));
  assert.ok(probes.tensors.has('layer.1.coef') && !probes.tensors.has('layer.2.coef'));
  await probes.close();
  // Only bad layers: nothing to probe is an error naming them.
  await assert.rejects(
    probeStore(dir, { alphas: [1], layers: [2] }),
    /no layer could be probed: layer 2: blocks\.2\.hook_resid_post: row 5 \('place 5'\)/,
  );
});

test('CLI: probe writes results and exits 0; bad flags exit 1', async () => {
  const dir = await makeStore('s4');
  const out = join(root, 'cli-out');
  const log = console.log;
  const err = console.error;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(...a.join(' ').split('\n'));
  console.error = () => {};
  try {
    assert.equal(await main(['probe', '--store', dir, '--out', out, '--alphas', golden.alphas.join(',')]), 0);
    assert.ok(existsSync(join(out, 'results.json')));
    assert.ok(
      lines.some((l) => /^\s*\*\s+1\s/.test(l)),
      'best layer 1 marked with *',
    );
    assert.equal(await main(['probe', '--store', dir, '--out', out, '--alphas', 'seven']), 1);
    assert.equal(await main(['probe', '--store', dir, '--out', out, '--cv', 'none', '--alphas', '1,2']), 1);
    assert.equal(await main(['probe', '--store', dir, '--out', out, '--layers', '7']), 1);
    assert.equal(await main(['probe', '--store', dir, '--out', out, '--hook', 'mlp_post']), 1);
    assert.equal(
      await main(['probe', '--store', dir, '--out', join(root, 'cv-none'), '--cv', 'none', '--alphas', '3']),
      0,
    );
  } finally {
    console.log = log;
    console.error = err;
  }
});
