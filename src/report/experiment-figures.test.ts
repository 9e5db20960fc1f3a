import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quantile } from '../neurons/index.js';
import { type ExperimentDoc, experimentSections, htmlTable } from './experiment-figures.js';
import { yearBins } from './overview.js';

const base = {
  schema: 'spacetime-lens/experiment@1',
  model: '/models/tiny',
  prompt: 'coords',
  kind: 'space' as const,
} as const;

function mlpDoc(dataset: string, linear: number, mlp: number, prompt = 'coords'): ExperimentDoc {
  return {
    ...base,
    experiment: 'mlp',
    dataset,
    prompt,
    layer: 20,
    table: [
      { layer: 10, probe: 'linear', test_r2: 0.1 },
      { layer: 10, probe: 'mlp', test_r2: 0.2 },
      { layer: 20, probe: 'linear', test_r2: linear },
      { layer: 20, probe: 'mlp', test_r2: mlp },
    ],
  };
}

const depth = (_model: string, last: number) => last;

test("linear vs MLP: the paper's table shape at the experiment's layer, the paper's rows beneath", () => {
  const [section] = experimentSections(
    [mlpDoc('art', 0.7, 0.65, 'release'), mlpDoc('world_place', 0.8, 0.85)],
    depth,
  );
  assert.equal(section!.id, 'mlp');
  const html = section!.tables[0]!;
  // Dataset columns in the paper's order, whatever the input order.
  assert.match(html, /<th>model · probe<\/th><th class="num">World<\/th><th class="num">Entertainment<\/th>/);
  assert.match(html, /<td>tiny · Linear<\/td><td class="num">0\.800<\/td><td class="num">0\.700<\/td>/);
  assert.match(html, /<td>tiny · MLP<\/td><td class="num">0\.850<\/td><td class="num">0\.650<\/td>/);
  // The paper (docs/method.md#paper-compat): 70B linear World 0.911, Entertainment 0.885.
  assert.match(
    html,
    /<tr class="paper"><td>paper, Llama-2-70B, layer 48 · Linear<\/td><td class="num">0\.911<\/td><td class="num">0\.885<\/td>/,
  );
  // The paper's rows only where the prompt is the paper's (art's is `release`, not `empty`).
  const [other] = experimentSections(
    [mlpDoc('art', 0.7, 0.65, 'empty'), mlpDoc('world_place', 0.8, 0.85)],
    depth,
  );
  assert.match(
    other!.tables[0]!,
    /layer 48 · Linear<\/td><td class="num">0\.911<\/td><td class="num">–<\/td>/,
  );
  // Curves: one point per (doc, layer, probe), x = layer / last layer.
  const fig = section!.figures[0]!;
  assert.equal(fig.marks, 8);
  const xs = (fig.spec['data'].values as { depth: number }[]).map((v) => v.depth);
  assert.deepEqual([...new Set(xs)].sort(), [0.5, 1]);
});

test('hold-out tables average as the summary says; block maps count every finite held-out prediction', () => {
  const doc: ExperimentDoc = {
    ...base,
    experiment: 'block-holdout',
    dataset: 'world_place',
    layer: 22,
    table: [
      { group: 'France', nominal_prox_error: 0.1, heldout_prox_error: 0.3, centroid_angle_deg: 12 },
      { group: 'Japan', nominal_prox_error: null, heldout_prox_error: 0.2, centroid_angle_deg: 170 },
    ],
    summary: { nominal_prox_error: 0.1, heldout_prox_error: 0.25 },
    figures: {
      maps: [
        {
          group: 'France',
          truth: [
            [2, 48],
            [3, 45],
          ],
          heldOutPrediction: [
            [5, 47],
            [Number.NaN, 1],
          ],
          trainCentroid: [20, 30],
        },
        { group: 'Japan', truth: [[139, 35]], heldOutPrediction: [[100, 30]], trainCentroid: [10, 40] },
      ],
    },
  };
  const [section] = experimentSections([doc], depth);
  assert.match(section!.tables[0]!, /<td>tiny<\/td><td class="num">0\.100<\/td><td class="num">0\.250<\/td>/);
  // The paper (docs/method.md#paper-compat): 7B block World .071 / .170.
  assert.match(
    section!.tables[0]!,
    /paper, Llama-2-7B, layer 22<\/td><td class="num">0\.071<\/td><td class="num">0\.170<\/td>/,
  );
  const [groups, maps] = section!.figures;
  assert.equal(groups!.marks, 3, 'France nominal + held out, Japan held out (its nominal is null)');
  assert.equal(maps!.marks, 2, 'the NaN prediction is not drawn');
  const centroids = maps!.spec['datasets'].centroids as {
    group: string;
    kind: string;
    lon: number;
    lat: number;
  }[];
  const france = centroids.filter((c) => c.group === 'France');
  assert.deepEqual(
    france.map((c) => [c.kind, c.lon, c.lat]),
    [
      ['true centroid', 2.5, 46.5],
      ['predicted centroid', 5, 47], // the mean of the finite predictions
      ['training centroid', 20, 30],
    ],
  );
});

test('every value placed in a table is escaped', () => {
  const html = htmlTable(['<b>'], [{ cells: ['<img src=x>', 1.23456] }]);
  assert.doesNotMatch(html, /<img|<b>/);
  assert.match(html, /&lt;img src=x&gt;<\/td><td class="num">1\.235/);
});

test('quantiles interpolate linearly as NumPy does; year bins partition the values', () => {
  const v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  // numpy.percentile(range(1, 11), [1, 25, 50, 99]) = 1.09, 3.25, 5.5, 9.91
  assert.ok(Math.abs(quantile(v, 0.01) - 1.09) < 1e-12);
  assert.equal(quantile(v, 0.25), 3.25);
  assert.equal(quantile(v, 0.5), 5.5);
  assert.ok(Math.abs(quantile(v, 0.99) - 9.91) < 1e-12);
  const bins = yearBins('art', [1950, 1951, 1960, 2000, Number.NaN], 5);
  assert.equal(bins.length, 5);
  // numpy.histogram([1950, 1951, 1960, 2000], bins=5) -> [2, 1, 0, 0, 1]
  assert.deepEqual(
    bins.map((b) => b.count),
    [2, 1, 0, 0, 1],
  );
  assert.equal(bins[0]!.from, 1950);
  assert.equal(bins[4]!.to, 2000);
});

test('experts: one heat-map panel per layer and target bin × expert cell, the experts tracking each target', () => {
  const doc: ExperimentDoc = {
    ...base,
    experiment: 'experts',
    dataset: 'world_place',
    layer: null,
    targetNames: ['longitude', 'latitude'],
    table: [
      {
        layer: 0,
        expert: 0,
        mean_weight: 0.6,
        top1_share: 0.75,
        spearman_longitude: 0.9,
        spearman_latitude: -0.1,
      },
      {
        layer: 0,
        expert: 1,
        mean_weight: 0.4,
        top1_share: 0.25,
        spearman_longitude: -0.9,
        spearman_latitude: 0.2,
      },
    ],
    figures: {
      experts: 2,
      layers: [0],
      bins: {
        longitude: [
          [-120, -10],
          [5, 150],
        ],
        latitude: [
          [-30, 10],
          [20, 60],
        ],
      },
      top1Shares: {
        longitude: [
          [
            [1, 0],
            [0.5, 0.5],
          ],
        ],
        latitude: [
          [
            [0.75, 0.25],
            [0.75, 0.25],
          ],
        ],
      },
    },
  };
  const [section] = experimentSections([doc], depth);
  assert.equal(section!.id, 'experts');
  assert.deepEqual(
    section!.figures.map((f) => [f.slug, f.marks]),
    [
      ['experts-world_place-longitude', 4],
      ['experts-world_place-latitude', 4],
    ],
  );
  const values = section!.figures[0]!.spec['data'].values as { bin: string; expert: number; share: number }[];
  assert.deepEqual(values[1], { layer: 'layer 0', bin: '−120.0° to −10.0°', expert: 1, share: 0 });
  assert.match(
    section!.tables[0]!,
    /<td>longitude<\/td><td class="num">0<\/td><td class="num">0<\/td><td class="num">0\.900<\/td>/,
  );
});
