import assert from 'node:assert/strict';
import { test } from 'node:test';
import { haversineKm } from '../probe/metrics.js';
import { UserError } from '../util/errors.js';
import { renderReport } from './html.js';
import { buildReportModel } from './model.js';
import { pageData } from './pack.js';
import { pointRows } from './points.js';
import { curvePoints } from './specs.js';
import { syntheticSpaceRun, syntheticTimeRun } from './test-data.js';
import type { ReportRun } from './types.js';

const HOSTILE = '<img src=x onerror=alert(1)>';
const BREAKOUT = '</script><img src=x onerror=alert(2)>';

function dataBlock(html: string): Promise<{
  figures: { id: string; run?: number }[];
  points: { names: string[]; truth: number[][] }[];
}> {
  return pageData(html);
}

test('the page is self-contained and no data string can break out of its script or markup', async () => {
  const run = syntheticSpaceRun({
    n: 300,
    layers: [0, 1, 2, 3],
    predictionLayers: [2, 3],
    names: { 0: HOSTILE, 1: BREAKOUT },
  });
  run.results.model = `model ${HOSTILE}`;
  const html = renderReport({
    runs: [run],
    extras: [{ title: HOSTILE, data: { rows: [{ layer: 1, name: BREAKOUT, r2: 0.5 }] } }],
  });
  const vendor = html.match(/<script>[\s\S]*?<\/script>/g)!.slice(0, 3);
  const ours = vendor.reduce((page, code) => page.replace(code, ''), html);
  assert.ok(ours.length < html.length / 4, 'the vendor builds were the first three scripts');
  assert.doesNotMatch(ours, /<img/i, 'no raw <img from data anywhere outside the vendor builds');
  assert.doesNotMatch(html, /<script[^>]*\ssrc=/i, 'no external scripts');
  assert.doesNotMatch(html, /<link[^>]*href=/i, 'no external stylesheets');
  // Exactly the scripts we write: 3 vendor builds, the data block, the page script.
  assert.equal(html.match(/<script[\s>]/g)?.length, 5);
  assert.equal(html.match(/<\/script>/g)?.length, 5);
  const data = await dataBlock(html);
  assert.equal(data.points[0].names[0], HOSTILE);
  assert.equal(data.points[0].names[1], BREAKOUT);
  assert.match(html, /model &lt;img src=x onerror=alert\(1\)&gt;/);
});

test('layer curves mark the best layer and plot layer / last layer', () => {
  const a = syntheticSpaceRun({ n: 50, layers: [0, 1, 2, 3, 4, 5, 6, 7], model: 'a' });
  const b = syntheticSpaceRun({ n: 50, layers: [0, 1, 2, 3], model: 'b' });
  a.results.bestLayer = 5;
  const points = curvePoints([a, b], 'r2');
  assert.equal(points.length, 12);
  const best = points.filter((p) => p.best);
  assert.deepEqual(
    best.map((p) => [p.series.split(' ')[0], p.layer]),
    [
      ['a', 5],
      ['b', b.results.bestLayer],
    ],
  );
  const aLast = points.find((p) => p.series.startsWith('a') && p.layer === 7)!;
  assert.equal(aLast.x, 1);
  assert.equal(points.find((p) => p.series.startsWith('b') && p.layer === 2)!.x, 2 / 3);
  assert.equal(aLast.value, a.results.layers[7].test.r2);
  // a skipped last layer still counts as the model's last layer
  b.results['skippedLayers'] = [
    { layer: 4, reason: 'non-finite' },
    { layer: 5, reason: 'non-finite' },
  ];
  assert.equal(curvePoints([b], 'r2').find((p) => p.layer === 2)!.x, 2 / 5);
});

test('map rows carry truth, prediction and the great-circle error, filtered by split', () => {
  const run = syntheticSpaceRun({ n: 400, layers: [0, 5, 10], predictionLayers: [5, 10] });
  const model = buildReportModel({ runs: [run] });
  const p = model.points[0];
  assert.equal(p.kind, 'space');
  assert.equal(p.mapKind, 'world');
  const nTest = run.predictions!.isTest.reduce((s, v) => s + v, 0);
  assert.equal(pointRows(p, 5, 'test').length, nTest);
  assert.equal(pointRows(p, 5, 'train').length, 400 - nTest);
  assert.equal(pointRows(p, 5, 'all').length, 400);
  const rows = pointRows(p, 10, 'all');
  const i = 7;
  const [lon, lat] = [run.predictions!.truth[0][i], run.predictions!.truth[1][i]];
  const [plon, plat] = [run.predictions!.pred.get(10)![0][i], run.predictions!.pred.get(10)![1][i]];
  assert.equal(rows[i].name, run.predictions!.names[i]);
  assert.ok(Math.abs((rows[i].plon as number) - plon) <= 5e-4, 'rounded to 3 decimals (~110 m)');
  assert.ok(Math.abs((rows[i].errKm as number) - haversineKm(lon, lat, plon, plat)) < 0.02);
  // Layer 7 is not present: the nearest one (5, ties go low) is used.
  assert.deepEqual(pointRows(p, 7, 'all')[i], pointRows(p, 5, 'all')[i]);
});

test('map km of a --paper-compat run use the swapped haversine its tables show; other runs the true one', () => {
  const run = syntheticSpaceRun({ n: 60, layers: [0, 3] });
  run.results.settings = { ...run.results.settings, mode: 'paper-compat', distance: 'haversine-swapped' };
  const [row] = pointRows(buildReportModel({ runs: [run] }).points[0]!, 3, 'all');
  const [lon, lat, plon, plat] = [row!.lon, row!.lat, row!.plon, row!.plat] as number[];
  // the authors' formula: column 0 (longitude) read as latitude
  assert.ok(Math.abs((row!.errKm as number) - haversineKm(lat!, lon!, plat!, plon!)) < 1e-9);
  assert.ok(
    Math.abs((row!.errKm as number) - haversineKm(lon!, lat!, plon!, plat!)) > 1,
    'differs from the true km',
  );
  run.results.settings = { ...run.results.settings, mode: 'default', distance: 'haversine' };
  const [trueRow] = pointRows(buildReportModel({ runs: [run] }).points[0]!, 3, 'all');
  assert.ok(Math.abs((trueRow!.errKm as number) - haversineKm(lon!, lat!, plon!, plat!)) < 1e-9);
});

test('world points are coloured by continent: the dataset column when present, else point in polygon', () => {
  const run = syntheticSpaceRun({ n: 30, layers: [0, 1] });
  const byPolygon = buildReportModel({ runs: [run] }).points[0];
  const tokyo = run.predictions!.names.indexOf('Tokyo');
  assert.ok(tokyo >= 0);
  assert.equal(byPolygon.groupNames[byPolygon.group[tokyo]], 'Asia');
  const withColumn: ReportRun = {
    ...run,
    columns: { continent: run.predictions!.names.map(() => 'Atlantis') },
  };
  const byColumn = buildReportModel({ runs: [withColumn] }).points[0];
  assert.deepEqual(byColumn.groupNames, ['Atlantis']);
});

test('time targets stored as years since 1970 are shown as calendar years, coloured by entity type', () => {
  const run = syntheticTimeRun({ n: 60, layers: [0, 1, 2] });
  const p = buildReportModel({ runs: [run] }).points[0];
  assert.equal(p.yearOffset, 1970);
  assert.ok(Math.abs(p.truth[0][3] - (run.predictions!.truth[0][3] + 1970)) < 0.0051, 'rounded to 0.01 year');
  assert.deepEqual(p.groupNames, ['book', 'movie', 'song']);
  const hist = syntheticTimeRun({ n: 20, layers: [0, 1], dataset: 'historical_figure' });
  assert.equal(buildReportModel({ runs: [hist] }).points[0].yearOffset, 0);
  const unit = syntheticTimeRun({ n: 20, layers: [0, 1], dataset: 'my_events' });
  unit.results.targetUnit = 'years since 1970';
  assert.equal(buildReportModel({ runs: [unit] }).points[0].yearOffset, 1970);
});

test('a layer the probe skipped leaves a gap in the layer curve and is named in the notes (escaped)', () => {
  const run = syntheticSpaceRun({ n: 40, layers: [0, 2], predictionLayers: [2] });
  run.results.skippedLayers = [{ layer: 1, reason: `blocks.1.hook_resid_post: row 5 ('${HOSTILE}') is NaN` }];
  const model = buildReportModel({ runs: [run] });
  assert.equal(model.notes.length, 1);
  assert.match(model.notes[0]!, /layer 1 was not probed \(blocks\.1\.hook_resid_post: row 5/);
  const html = renderReport({ runs: [run] });
  assert.ok(!html.includes(HOSTILE) && html.includes('layer 1 was not probed'));
});

test('bad inputs are user errors', () => {
  const run = syntheticSpaceRun({ n: 20, layers: [0, 1], predictionLayers: [1] });
  assert.throws(
    () => buildReportModel({ runs: [run] }, { layer: 0 }),
    (e) => e instanceof UserError && /layer 0 has no predictions/.test(e.message),
  );
  assert.throws(() => buildReportModel({ runs: [] }), UserError);
  const broken = { ...run, results: { ...run.results, kind: 'weather' as 'space' } };
  assert.throws(() => buildReportModel({ runs: [broken] }), /"kind" must be/);
});

test('runs sharing model, dataset and prompt are told apart by their folder', () => {
  const a = { ...syntheticSpaceRun({ n: 20, layers: [0, 1] }), source: '/runs/seed0/results.json' };
  const b = { ...syntheticSpaceRun({ n: 20, layers: [0, 1] }), source: '/runs/seed1/results.json' };
  const c = syntheticSpaceRun({ n: 20, layers: [0, 1], prompt: 'empty' });
  const model = buildReportModel({ runs: [a, b, c] });
  assert.deepEqual(
    model.runs.map((r) => r.label),
    [
      'synthetic-7b · world_place · coords [seed0]',
      'synthetic-7b · world_place · coords [seed1]',
      'synthetic-7b · world_place · empty',
    ],
  );
  const series = new Set(curvePoints([a, b, c], 'r2').map((p) => p.series));
  assert.equal(series.size, 2, 'curvePoints alone does not disambiguate; the model passes labelled runs');
  const labelled = (model.figures[0].spec.data.values as { series?: string }[]).flatMap(
    (p) => p.series ?? [],
  );
  assert.equal(new Set(labelled).size, 3);
});

test('a compact layer (test rows only, as probe writes them for large runs) is embedded and drawn as test rows', () => {
  const run = syntheticSpaceRun({ n: 300, layers: [0, 1, 2], predictionLayers: [1, 2] });
  const p = run.predictions!;
  for (const col of p.pred.get(1)!)
    for (let i = 0; i < col.length; i++) if (!p.isTest[i]) col[i] = Number.NaN;
  const model = buildReportModel({ runs: [run] }, { layer: 1 });
  const points = model.points[0];
  const nTest = p.isTest.reduce((a, b) => a + b, 0);
  assert.equal(points.pred[1][0].length, nTest, 'only test rows stored');
  assert.equal(points.pred[2][0].length, 300, 'a full layer keeps every row');
  const rows = pointRows(points, 1, 'all');
  assert.equal(rows.length, nTest);
  const last = p.isTest.lastIndexOf(1);
  const row = rows[rows.length - 1];
  assert.equal(row.name, p.names[last]);
  assert.ok(Math.abs((row.plon as number) - p.pred.get(1)![0][last]) <= 5e-4);
  assert.equal(pointRows(points, 1, 'train').length, 0);
});

test('other prompts of a shown run: a prompt selector with their best layer; entities stored once in the page', async () => {
  const layers = [0, 4, 8];
  const coords = syntheticSpaceRun({ n: 300, layers, predictionLayers: layers, prompt: 'coords' });
  const other = syntheticSpaceRun({ n: 300, layers, predictionLayers: [4, 8], prompt: 'where_is', seed: 7 });
  other.results.bestLayer = 4;
  other.predictions!.isTest = coords.predictions!.isTest; // the same split: the same entity fields
  const model = buildReportModel({ runs: [other, coords] });
  const map = model.figures.find((f) => f.section === 'maps')!;
  assert.equal(model.points[map.run!]!.label.endsWith('coords'), true, 'the canonical prompt is shown first');
  assert.deepEqual(
    map.prompts?.map((p) => p.prompt),
    ['coords', 'where_is'],
  );
  const alt = model.points[map.prompts![1]!.run]!;
  assert.deepEqual(alt.layers, [4], 'the other prompt keeps its best layer only');
  assert.deepEqual(model.layers, layers, 'the layer selector offers the shown run’s layers');
  assert.deepEqual(
    pointRows(alt, 8, 'all')[5]!.plon,
    Math.round(other.predictions!.pred.get(4)![0][5] * 1000) / 1000,
  );
  const html = renderReport({ runs: [other, coords] });
  assert.match(
    html,
    /<select id="prompt-fig-\d+" class="prompt-select" data-fig="fig-\d+"><option value="\d+" selected>coords<\/option><option value="\d+">where_is<\/option>/,
  );
  const block = JSON.parse(html.match(/id="report-data">([\s\S]*?)<\/script>/)![1]!);
  assert.equal(block.points[1].entitiesOf, 0);
  assert.equal(block.points[1].names, undefined, 'names stored once');
});
