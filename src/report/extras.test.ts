import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeExtra } from './extras.js';

test('a PCA-like result becomes a table with flattened columns', () => {
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
});

test('an object keyed by group becomes a table', () => {
  const data = {
    groups: {
      structure: { nominal: 0.124, heldOut: 0.175 },
      natural_place: { nominal: 0.111, heldOut: 0.125 },
    },
  };
  const s = describeExtra({ title: 'hold-out', data });
  assert.equal(s.tables.length, 1);
  assert.deepEqual(s.tables[0].columns, ['key', 'nominal', 'heldOut']);
  assert.deepEqual(s.tables[0].rows, [
    ['structure', 0.124, 0.175],
    ['natural_place', 0.111, 0.125],
  ]);
});

test('odd shapes are tolerated: scalars only, empty arrays, deep nesting', () => {
  assert.deepEqual(describeExtra({ title: 'x', data: 3 }).tables, []);
  const s = describeExtra({ title: 'x', data: { a: [], b: { c: { d: [{ v: 'text only' }] } }, e: null } });
  assert.equal(s.tables.length, 1);
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
  assert.deepEqual(main.rows[1], ['Japan', 'held-out', 0.5, 0.17]);
  assert.deepEqual(s.tables[1].rows, [
    [1, 0.2],
    [2, 0.4],
  ]);
  // Free-form figure data stay a table of their scalar fields; nested point lists are left out.
  assert.deepEqual(s.tables[2].columns, ['group']);
});
