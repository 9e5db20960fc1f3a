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
