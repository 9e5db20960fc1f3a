import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../util/errors.js';
import { chooseLayers, compactLarge, loadReportInputs } from './load.js';

const metrics = (r2: number) => ({
  r2,
  r2PerTarget: [r2, r2],
  spearman: [0.9, 0.8],
  pearson: [0.9, 0.9],
  mae: 1,
  rmse: 2,
  proxError: 0.1,
});
const results = {
  schema: 'spacetime-lens/probe-results@1',
  model: 'tiny',
  dataset: 'world_place',
  prompt: 'coords',
  hook: 'hook_resid_post',
  kind: 'space',
  targetNames: ['longitude', 'latitude'],
  settings: { cv: 'loo', alphas: [1, 10], alphaPreset: 'x', mode: 'default', distance: 'haversine' },
  nTrain: 2,
  nTest: 1,
  d: 8,
  layers: [0, 1].map((layer) => ({
    layer,
    alpha: 1,
    looMse: [1, 2],
    train: metrics(0.5),
    test: metrics(0.4 + layer / 10),
  })),
  bestLayer: 1,
  predictions: { file: 'predictions.csv', layers: [0, 1] },
};
const CSV = `row,name,is_test,layer,true_longitude,true_latitude,pred_longitude,pred_latitude,prox_error,continent
0,Paris,false,0,2.35,48.86,3,47,0.5,Europe
1,"Kaya, Burkina Faso",true,0,-1.08,13.09,-2,12,0.25,Africa
2,<b>x</b>,False,0,139.7,35.7,,,,Asia
0,Paris,false,1,2.35,48.86,2.5,48.5,0,Europe
1,"Kaya, Burkina Faso",true,1,-1.08,13.09,-1,13,0,Africa
2,<b>x</b>,False,1,139.7,35.7,139,36,0.5,Asia
`;

function probeDir(csv = CSV): string {
  const dir = mkdtempSync(join(tmpdir(), 'report-load-'));
  writeFileSync(join(dir, 'results.json'), JSON.stringify(results));
  writeFileSync(join(dir, 'predictions.csv'), csv);
  return dir;
}

test('a probe output folder loads into a run with predictions per layer and extra columns', async () => {
  const dir = probeDir();
  const { runs, extras } = await loadReportInputs([dir]);
  assert.equal(runs.length, 1);
  assert.equal(extras.length, 0);
  const p = runs[0].predictions!;
  assert.deepEqual(p.names, ['Paris', 'Kaya, Burkina Faso', '<b>x</b>']);
  assert.deepEqual([...p.isTest], [0, 1, 0]);
  assert.deepEqual([...p.truth[0]], [2.35, -1.08, 139.7]);
  assert.deepEqual([...p.pred.get(1)![1]], [48.5, 13, 36]);
  assert.ok(Number.isNaN(p.pred.get(0)![0][2]), 'an empty prediction is NaN');
  assert.deepEqual([...p.proxError.get(0)!].slice(0, 2), [0.5, 0.25]);
  assert.deepEqual(runs[0].columns, { continent: ['Europe', 'Africa', 'Asia'] });
});

test('a folder of result folders and other JSON files loads them all; unknown JSON becomes an extra', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'report-parent-'));
  const a = join(parent, 'a');
  await mkdir(a);
  writeFileSync(join(a, 'results.json'), JSON.stringify({ ...results, predictions: undefined }));
  writeFileSync(join(parent, 'pca.json'), JSON.stringify({ experiment: 'pca', rows: [{ k: 2, r2: 0.1 }] }));
  const { runs, extras } = await loadReportInputs([parent]);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].predictions, undefined);
  assert.deepEqual(
    extras.map((e) => e.title),
    ['pca'],
  );
});

test('store entities give colouring columns', async () => {
  const dir = probeDir();
  const store = mkdtempSync(join(tmpdir(), 'report-store-'));
  writeFileSync(join(store, 'manifest.json'), JSON.stringify({ dataset: { name: 'world_place' } }));
  writeFileSync(
    join(store, 'entities.jsonl'),
    [
      '{"name":"Paris","country":"France","is_test":false,"target":[2.35,48.86]}',
      '{"name":"Kaya","country":"Burkina_Faso"}',
      '{"name":"x","country":"Japan"}',
    ].join('\n'),
  );
  const { runs } = await loadReportInputs([dir], { stores: [store] });
  assert.deepEqual(runs[0].columns!['country'], ['France', 'Burkina_Faso', 'Japan']);
  assert.deepEqual(runs[0].columns!['continent'], ['Europe', 'Africa', 'Asia']);
});

test('malformed inputs are user errors that name the file and line', async () => {
  await assert.rejects(
    loadReportInputs(['/nonexistent/results']),
    (e) => e instanceof UserError && /does not exist/.test(e.message),
  );
  const bad = probeDir(CSV.replace('0,Paris,false,1,', 'x,Paris,false,1,'));
  await assert.rejects(
    loadReportInputs([bad]),
    (e) => e instanceof UserError && /predictions\.csv line 5: field "row"/.test(e.message),
  );
  const missing = probeDir('row,name,is_test,layer\n0,a,true,0\n');
  await assert.rejects(loadReportInputs([missing]), /missing column "true_longitude"/);
  const notJson = mkdtempSync(join(tmpdir(), 'report-bad-'));
  writeFileSync(join(notJson, 'results.json'), '{"schema": ');
  await assert.rejects(loadReportInputs([notJson]), /results\.json is not valid JSON/);
});

test('chooseLayers keeps all layers when few, else the best and requested ones plus evenly spaced others', () => {
  assert.deepEqual([...chooseLayers([3, 1, 2], 16, [])].sort(), [1, 2, 3]);
  const many = Array.from({ length: 80 }, (_, i) => i);
  const kept = chooseLayers(many, 5, [52, undefined]);
  assert.equal(kept.size, 5);
  assert.ok(kept.has(52) && kept.has(0) && kept.has(79));
});

test('full predictions of many layers are thinned like probe output: test rows only for layers but the best', () => {
  const make = (n: number, layers: number) => {
    const isTest = Uint8Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 1 : 0));
    const pred = new Map<number, Float64Array[]>();
    for (let l = 0; l < layers; l++) pred.set(l, [new Float64Array(n).fill(l), new Float64Array(n).fill(-l)]);
    return {
      rows: [...isTest.keys()],
      names: [...isTest.keys()].map(String),
      isTest,
      truth: [],
      pred,
      proxError: new Map(),
    };
  };
  const small = compactLarge(make(1000, 30), 7);
  assert.ok(
    [...small.pred.values()].every((cols) => cols.every((c) => c.every(Number.isFinite))),
    'small: untouched',
  );
  const large = compactLarge(make(40000, 30), 7); // 1.2 million entity-layer rows
  assert.deepEqual(
    [large.pred.get(7)![0][1], large.pred.get(7)![1][1]],
    [7, -7],
    'the best layer keeps train rows',
  );
  assert.ok(
    Number.isNaN(large.pred.get(3)![0][1]) && Number.isNaN(large.pred.get(3)![1][1]),
    'train row dropped',
  );
  assert.deepEqual([large.pred.get(3)![0][5], large.pred.get(3)![1][5]], [3, -3], 'test row kept');
});
