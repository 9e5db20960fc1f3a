import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exportFigures } from './export.js';
import { syntheticSpaceRun, syntheticTimeRun } from './test-data.js';

test('every figure is exported as SVG (headless vega) and PNG (resvg)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-figs-'));
  const runs = [
    syntheticSpaceRun({
      n: 200,
      layers: [0, 1, 2],
      predictionLayers: [1, 2],
      names: { 0: '<img src=x onerror=alert(1)>' },
    }),
    syntheticTimeRun({ n: 100, layers: [0, 1, 2] }),
  ];
  const out = await exportFigures({ runs }, dir, { layer: 2, split: 'all' });
  assert.deepEqual(
    out.map((f) => f.svg.slice(dir.length + 1)),
    [
      'main-r2-by-depth.svg',
      'main-prox-error-by-depth.svg',
      'map-synthetic-7b-world-place-coords.svg',
      'time-synthetic-7b-art-release.svg',
      'overview-world_place.svg',
      'overview-years.svg',
    ],
  );
  const map = readFileSync(out[2].svg, 'utf8');
  assert.match(map, /^<svg/);
  assert.match(
    map,
    /layer 2 · test R² 0\.\d{3} · Spearman ρ 0\.\d{3} · proximity error 0\.\d{3} · 200 all points/,
  );
  // The country outlines are drawn too (they come from a dataset shared with the other maps).
  const outlines = map.match(/<g class="mark-shape role-mark layer_0_marks"[^>]*>([\s\S]*?)<\/g>/)![1]!;
  assert.ok((outlines.match(/<path/g) ?? []).length > 100, 'country outlines drawn');
  // 200 point symbols (circles of area 10: radius sqrt(10)/2 = 1.581 in vega's symbol path), legend apart.
  assert.equal((map.match(/d="M1\.581,0A1\.581,1\.581,0,1,1,-1\.581,0/g) ?? []).length, 200);
  assert.doesNotMatch(map, /<img/);
  // The layer's test ρ and R² inside the plot, as on the page (the text mark named "stats").
  const m = runs[0]!.results.layers[2]!.test;
  const rho = (m.spearman![0]! + m.spearman![1]!) / 2;
  const stats = map.match(/<g class="mark-text role-mark stats_marks"[^>]*>([\s\S]*?)<\/g>/)![1]!;
  assert.ok(
    stats.includes(`Spearman ρ = ${rho.toFixed(3)}`) && stats.includes(`test R² = ${m.r2.toFixed(3)}`),
  );
  const scatter = readFileSync(out[3].svg, 'utf8');
  assert.match(scatter, /stats_marks[\s\S]*?Spearman ρ = 0\.\d{3}/);
  for (const f of out) {
    assert.equal(f.pngError, undefined);
    const png = readFileSync(f.png!);
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
    assert.ok(png.readUInt32BE(16) > 400, 'PNG is wide enough to be a figure');
  }
});

test('experiment figures export under their names, with the same specification as the page', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-figs-exp-'));
  const doc = {
    schema: 'spacetime-lens/experiment@1',
    experiment: 'block-holdout',
    model: 'm',
    dataset: 'world_place',
    prompt: 'coords',
    kind: 'space',
    layer: 22,
    table: [{ group: 'France', nominal_prox_error: 0.1, heldout_prox_error: 0.3, centroid_angle_deg: 12 }],
    summary: { nominal_prox_error: 0.1, heldout_prox_error: 0.3 },
    figures: {
      maps: [{ group: 'France', truth: [[2, 48]], heldOutPrediction: [[5, 47]], trainCentroid: [20, 30] }],
    },
  };
  const out = await exportFigures({ runs: [], extras: [{ title: 'blocks', data: doc }] }, dir, {});
  assert.deepEqual(
    out.map((f) => f.svg.slice(dir.length + 1)),
    ['block-holdout-groups.svg', 'block-holdout-maps-world_place.svg'],
  );
  const map = readFileSync(out[1].svg, 'utf8');
  assert.match(map, /France · 12°/);
  assert.match(map, /training centroid/);
  for (const f of out) assert.equal(f.pngError, undefined);
});
