import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeExtra } from './extras.js';

test('a PCA-like result becomes a table and a log-x line chart per metric', () => {
  const data = {
    experiment: 'pca',
    model: 'm',
    layer: 20,
    results: [2, 4, 8].flatMap((k) =>
      ['world_place', 'art'].map((dataset) => ({
        dataset,
        k,
        test: { r2: 1 - 1 / k, spearman: 0.5 },
        r2PerTarget: [0.1, 0.2],
      })),
    ),
  };
  const s = describeExtra({ title: 'PCA', data });
  assert.deepEqual(s.scalars, [
    ['experiment', 'pca'],
    ['model', 'm'],
    ['layer', 20],
  ]);
  assert.equal(s.tables.length, 1);
  const t = s.tables[0];
  assert.equal(t.path, 'results');
  assert.deepEqual(t.columns, ['dataset', 'k', 'test.r2', 'test.spearman', 'r2PerTarget']);
  assert.deepEqual(t.rows[0], ['world_place', 2, 0.5, 0.5, '0.1, 0.2']);
  const chart = t.chart!;
  assert.equal(chart.spec.encoding.x.title, 'k');
  assert.deepEqual(chart.spec.encoding.x.scale, { type: 'log' });
  const values = chart.data.values as { x: number; metric: string; value: number; series: string }[];
  assert.equal(values.length, 12); // 6 rows x 2 metrics
  assert.deepEqual(values[0], { x: 2, metric: 'test.r2', value: 0.5, series: 'world_place' });
});

test('an object keyed by group becomes a table with a bar chart', () => {
  const data = {
    groups: {
      structure: { nominal: 0.124, heldOut: 0.175 },
      natural_place: { nominal: 0.111, heldOut: 0.125 },
    },
  };
  const s = describeExtra({ title: 'hold-out', data });
  assert.equal(s.tables.length, 1);
  assert.deepEqual(s.tables[0].columns, ['key', 'nominal', 'heldOut']);
  assert.equal(s.tables[0].chart!.spec.mark.type, 'bar');
  assert.equal((s.tables[0].chart!.data.values as unknown[]).length, 4);
});

test('odd shapes are tolerated: scalars only, empty arrays, deep nesting', () => {
  assert.deepEqual(describeExtra({ title: 'x', data: 3 }).tables, []);
  const s = describeExtra({ title: 'x', data: { a: [], b: { c: { d: [{ v: 'text only' }] } }, e: null } });
  assert.equal(s.tables.length, 1);
  assert.equal(s.tables[0].chart, undefined);
  assert.deepEqual(s.scalars, [
    ['a', ''],
    ['e', null],
  ]);
});

test('an experiment result (schema spacetime-lens/experiment@1) shows its summary, main and secondary tables', () => {
  const data = {
    schema: 'spacetime-lens/experiment@1',
    experiment: 'block-holdout',
    title: 'Block hold-out: country',
    model: 'm',
    layer: 22,
    columns: ['group', 'split', 'r2', 'proxError'],
    table: [
      { group: 'Japan', split: 'nominal', r2: 0.8, proxError: 0.07 },
      { group: 'Japan', split: 'held-out', r2: 0.5, proxError: 0.17 },
      { group: 'Italy', split: 'nominal', r2: 0.7, proxError: 0.08 },
      { group: 'Italy', split: 'held-out', r2: 0.4, proxError: 0.2 },
    ],
    summary: { nominalProx: 0.075, heldOutProx: 0.185 },
    tables: {
      perLayer: {
        columns: ['layer', 'r2'],
        rows: [
          { layer: 1, r2: 0.2 },
          { layer: 2, r2: 0.4 },
        ],
      },
    },
    figures: { maps: [{ group: 'Japan', points: [{ lon: 1, lat: 2 }] }] },
    notes: ['fixed alpha 3000'],
  };
  const s = describeExtra({ title: data.title, data });
  assert.ok(s.scalars.some(([k, v]) => k === 'summary.heldOutProx' && v === 0.185));
  assert.ok(s.scalars.some(([k, v]) => k === 'notes' && v === 'fixed alpha 3000'));
  const paths = s.tables.map((t) => t.path);
  assert.deepEqual(paths, ['table', 'tables.perLayer.rows', 'figures.maps']);
  const main = s.tables[0];
  assert.deepEqual(main.columns, ['group', 'split', 'r2', 'proxError']);
  // No numeric x: bars per group, one colour per split.
  assert.equal(main.chart!.spec.mark.type, 'bar');
  assert.equal(main.chart!.spec.encoding.y.title, 'group');
  assert.equal(main.chart!.spec.encoding.color.title, 'split');
  assert.equal(s.tables[1].chart!.spec.encoding.x.title, 'layer');
  // Free-form figure data stay a table of their scalar fields; nested point lists are left out.
  assert.deepEqual(s.tables[2].columns, ['group']);
});

test('a ranked list with repeated x values is drawn as points, not a curve', () => {
  const data = {
    top: [
      { layer: 3, neuron: 7, corr: 0.8 },
      { layer: 3, neuron: 9, corr: 0.7 },
      { layer: 5, neuron: 1, corr: 0.6 },
    ],
  };
  const chart = describeExtra({ title: 'neurons', data }).tables[0].chart!;
  assert.equal(chart.spec.mark.type, 'point');
  assert.deepEqual(
    (chart.data.values as { metric: string }[]).map((v) => v.metric),
    ['corr', 'corr', 'corr'],
  );
});
