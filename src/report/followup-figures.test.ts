import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ExperimentDoc } from './experiment-figures.js';
import { followupSections, targetVariantSuffix } from './followup-figures.js';
import { buildReportModel } from './model.js';
import { syntheticSpaceRun } from './test-data.js';

const HOSTILE = '<img src=x onerror=alert(1)>';
const base = {
  schema: 'spacetime-lens/experiment@1',
  model: '/models/tiny',
  prompt: 'coords',
  kind: 'space' as const,
};
const depth = (_model: string, last: number) => last;

const pls: ExperimentDoc = {
  ...base,
  experiment: 'pls',
  dataset: 'world_place',
  layer: 20,
  table: [
    { method: 'pls', k: 1, test_r2: 0.5 },
    { method: 'pls', k: 2, test_r2: 0.8 },
    { method: 'pca', k: 1, test_r2: 0.1 },
    { method: 'pca', k: 2, test_r2: 0.2 },
    { method: 'ridge', k: 4096, test_r2: 0.82 },
  ],
  summary: {
    ridge_test_r2: 0.82,
    best_pls_test_r2: 0.8,
    best_pls_k: 2,
    pls_k_for_90pct_ridge: 2,
    pls_k_for_95pct_ridge: 2,
  },
};
const controls: ExperimentDoc = {
  ...base,
  experiment: 'negative-controls',
  dataset: 'us_place',
  layer: null,
  table: [0, 10].flatMap((layer) => [
    { layer, target: 'real', kind: 'real', test_r2: layer ? 0.8 : 0.1 },
    { layer, target: 'permuted', kind: 'permuted', test_r2: -0.01 },
    { layer, target: 'field-1', kind: 'field', test_r2: 0.05 },
  ]),
  summary: { max_real_test_r2: 0.8, max_permuted_test_r2: -0.01, max_field_test_r2: 0.05 },
};
const bias: ExperimentDoc = {
  ...base,
  experiment: 'bias',
  dataset: 'world_place',
  layer: 20,
  settings: { unit: 'km' },
  table: [
    { column: 'page_views', n: 900, slope: -120.4, slope_se: 10.2, intercept: 900, r2: 0.1, spearman: -0.3 },
  ],
  summary: { median_error: 640.2 },
  tables: {
    bins: {
      columns: [],
      rows: [1, 2, 3].map((b) => ({
        column: 'page_views',
        bin: b,
        log10_lo: b + 2,
        log10_hi: b + 3,
        n: 300,
        mean_error: 900 - 100 * b,
        median_error: 800 - 100 * b,
      })),
    },
    groups: {
      columns: [],
      rows: [
        {
          by: 'continent',
          group: 'Europe',
          n: 400,
          share: 0.4,
          mean_error: 500,
          median_error: 400,
          centroid_lon: 10,
          centroid_lat: 50,
        },
        {
          by: 'country',
          group: HOSTILE,
          n: 300,
          share: 0.3,
          mean_error: 300,
          median_error: 250,
          centroid_lon: -100,
          centroid_lat: 40,
        },
        {
          by: 'country',
          group: 'South_Africa',
          n: 100,
          share: 0.1,
          mean_error: 900,
          median_error: 850,
          centroid_lon: 78,
          centroid_lat: 22,
        },
      ],
    },
  },
};
const spatial: ExperimentDoc = {
  ...base,
  experiment: 'spatial',
  dataset: 'world_place',
  layer: 20,
  table: [
    { source: 'neurons', rank: 1, unit: 7, moran_i: 0.9, z_rand: 40, p_rand: 0, p_sim: 0.001, z_sim: 30 },
  ],
  tables: {
    sources: { columns: [], rows: [{ source: 'neurons', units: 11008, bonferroni_significant: 900 }] },
  },
  figures: {
    maps: [
      {
        source: 'neurons',
        unit: 7,
        I: 0.9,
        pSim: 0.001,
        hotShare: 0.2,
        coldShare: 0.3,
        points: [
          [0, 0, 1.5, 1, 1],
          [10, 10, -1, 3, 1],
          [20, 5, 0.1, 2, 0],
        ],
      },
    ],
  },
};

test('follow-up sections: PLS-k, negative controls, bias maps and LISA maps, each figure with its data and an escaped table', () => {
  const sections = followupSections([spatial, bias, controls, pls], [], depth);
  assert.deepEqual(
    sections.map((s) => s.id),
    ['pls', 'negative-controls', 'bias', 'spatial'],
  );
  const [p, nc, b, sp] = sections;
  assert.equal(p!.figures[0]!.marks, 4); // PLS and PCA points; the ridge is the dashed rule
  assert.match(
    p!.tables[0]!,
    /<td>tiny · World · 20<\/td><td class="num">0\.820<\/td><td class="num">0\.800<\/td><td class="num">2<\/td>/,
  );
  assert.equal(nc!.figures[0]!.marks, 6);
  const kinds = new Set((nc!.figures[0]!.spec['data'].values as { kind: string }[]).map((v) => v.kind));
  assert.deepEqual([...kinds].sort(), ['permuted targets', 'random smooth fields', 'real targets']);
  assert.deepEqual(
    b!.figures.map((f) => f.slug),
    ['bias-fame', 'bias-map-world_place'],
  );
  assert.equal(b!.figures[1]!.marks, 2, 'one circle per country (continents are the table’s)');
  assert.ok(b!.tables.join('').includes('&lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(!b!.tables.join('').includes(HOSTILE));
  assert.match(b!.tables[0]!, /-120 km/);
  assert.match(b!.tables[1]!, /World · country South Africa<\/td>.*<td class="num">850 km<\/td>/);
  const groupsOnMap = (b!.figures[1]!.spec['layer'] as { data?: { values?: { group: string }[] } }[]).flatMap(
    (l) => l.data?.values?.map((v) => v.group) ?? [],
  );
  assert.ok(groupsOnMap.includes('South Africa'), groupsOnMap.join(', '));
  assert.equal(sp!.figures[0]!.marks, 3);
  const clusters = (sp!.figures[0]!.spec['datasets'].points as { cluster: string }[]).map((c) => c.cluster);
  assert.deepEqual(clusters, ['high-high', 'low-low', 'not significant']);
  assert.match(sp!.tables[0]!, /900 of 11008/);
});

test('a globe probe run gets its own line in the main figure and its row beside the plain probe', () => {
  const plain = syntheticSpaceRun({ n: 300, layers: [0, 8, 16], predictionLayers: [16] });
  const globe = syntheticSpaceRun({ n: 300, layers: [0, 8, 16], predictionLayers: [16], seed: 5 });
  globe.results.settings = { ...globe.results.settings, target: 'globe', fitTargetNames: ['x', 'y', 'z'] };
  assert.equal(targetVariantSuffix(globe), ' · globe probe');
  assert.equal(targetVariantSuffix(plain), '');
  const model = buildReportModel({ runs: [plain, globe] });
  assert.deepEqual(
    model.runs.map((r) => r.label.endsWith(' · globe probe')),
    [false, true],
  );
  const main = model.figures.find((f) => f.slug === 'main-r2-by-depth')!;
  const series = new Set(
    (main.spec['data'].values as { model?: string }[]).flatMap((v) => (v.model ? [v.model] : [])),
  );
  assert.equal(series.size, 2);
  const section = model.experiments.find((e) => e.id === 'target-variants')!;
  assert.match(section.tables[0]!, /longitude, latitude<\/td>/);
  assert.match(section.tables[0]!, /· globe<\/td>/);
});
