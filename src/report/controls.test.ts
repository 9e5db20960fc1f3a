import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { controlLabel, splitControls } from './controls.js';
import { renderReport } from './html.js';
import { loadReportInputs } from './load.js';
import { buildReportModel } from './model.js';
import {
  syntheticBaseline as baseline,
  syntheticSpaceRun,
  syntheticRunsWithControls as withControls,
} from './test-data.js';
import type { ReportRun } from './types.js';

const scratch = mkdtempSync(join(tmpdir(), 'stl-report-controls-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('report with controls: grey reference lines in the R² figure, a controls column in the runs table', () => {
  const { real, runs } = withControls();
  const model = buildReportModel({ runs });
  const fig = model.figures.find((f) => f.slug === 'main-r2-by-depth')!;
  // The paper's reference markers share the data without a series.
  const values = (
    fig.spec['data']['values'] as {
      series?: string;
      value: number;
      x: number;
      control?: boolean;
    }[]
  ).filter((v) => v.series !== undefined);
  // The coloured series are the real run only; the controls come in flagged.
  assert.deepEqual(
    [...new Set(values.filter((v) => !v.control).map((v) => v.series))],
    ['org/model-7b · coords'],
  );
  const flat = values.filter((v) => v.series === 'surface:tfidf');
  assert.deepEqual(
    flat.map((v) => [v.x, v.value]),
    [
      [0, 0.4],
      [1, 0.4],
    ],
    'a one-layer baseline spans the panel as a flat line',
  );
  assert.equal(values.filter((v) => v.series === 'random-init').length, 8, 'the twin by layer');
  const within = values.filter((v) => v.series === 'within-group R² · coords');
  assert.deepEqual(
    within.map((v) => v.value),
    real.results.layers.map((l) => l.layer / 10),
    'the within-group R² by layer',
  );
  const base = values.filter((v) => v.series === 'group baseline (by country)');
  assert.deepEqual(
    base.map((v) => [v.x, v.value]),
    [
      [0, 0.7],
      [1, 0.7],
    ],
    'the group baseline spans the panel',
  );
  const layers = fig.spec['spec']['layer'] as {
    mark: { color?: string };
    transform?: { filter?: string }[];
  }[];
  assert.ok(layers.filter((l) => l.mark.color === '#8a9099').length >= 2, 'grey layers');
  assert.ok(
    layers
      .filter((l) => l.mark.color !== '#8a9099')
      .every((l) => l.transform?.[0]?.filter === '!datum.control'),
    'the real runs’ layers skip the control points',
  );
  const dashed = layers.filter((l) => (l.mark as { strokeDash?: number[] }).strokeDash?.length);
  assert.equal(dashed.length, 2, 'within-group dotted, baseline dashed');
  const summary = model.runs.find((r) => r.model === 'org/model-7b')!;
  const best = real.results.bestLayer!;
  assert.equal(summary.controls, 'surface:tfidf 0.400 · surface:char-ngrams 0.450 · random-init 0.050');
  assert.deepEqual(summary.groups, {
    label: 'org/model-7b · world_place · coords',
    kind: 'space',
    column: 'country',
    groups: 12,
    layer: best,
    testR2: real.results.layers.find((l) => l.layer === best)!.test.r2,
    baselineR2: 0.7,
    baselineError: 812.4,
    withinR2: best / 10,
    withinError: 300 + best,
    scored: 12,
    unseen: 0,
  });
  assert.equal(model.runs.find((r) => r.model === 'surface:char-ngrams')!.controls, '');
  const html = renderReport({ runs });
  assert.match(
    html,
    /<tr class="run-details"><td colspan="\d+"><span class="controls-cell"><b>controls<\/b> surface:tfidf 0\.400/,
  );
  assert.match(html, /<h3>Group baseline and within-group R²<\/h3>/);
  assert.match(html, new RegExp(`<td>country \\(12\\)</td><td class="num">${best}</td>`));
  assert.match(
    html,
    new RegExp(
      `<td class="num">0\\.700</td><td class="num">812 km</td><td class="num">${(best / 10).toFixed(3)}</td><td class="num">${300 + best} km</td>`,
    ),
  );
  assert.doesNotMatch(html, /selectivity/);
});

test('controls: a report of baselines only (the demo) draws them as ordinary runs; labels are short', () => {
  const runs = [baseline('static:glove-100d', 0.3), baseline('surface:tfidf', 0.4)];
  runs[0]!.results['groupBaseline'] = { column: 'country', groups: 5, test: { r2: 0.9 } };
  (runs[0]!.results.layers[0] as { withinGroup?: unknown }).withinGroup = { test: { n: 8, r2: 0.05 } };
  assert.equal(splitControls(runs).main.length, 2);
  const spec = buildReportModel({ runs }).figures[0]!.spec;
  const values = (
    spec['data']['values'] as { series?: string; control?: boolean; within?: number; baseline?: number }[]
  ).filter((v) => v.series !== undefined); // not the paper's reference markers
  assert.ok(values.length === 2 && values.every((v) => !v.control));
  // The bars carry the within-group R² (a tick) and the group baseline (a dashed rule) where the results have them.
  const glove = values.find((v) => v.series?.startsWith('static:glove-100d'))!;
  assert.deepEqual([glove.within, glove.baseline], [0.05, 0.9]);
  const marks = (spec['spec']['layer'] as { mark: { type: string } }[]).map((l) => l.mark.type);
  assert.ok(marks.includes('tick') && marks.includes('rule'), marks.join());
  assert.equal(controlLabel('surface:bag-of-tokens@/a/b'), 'surface:bag-of-tokens');
  assert.equal(controlLabel('random-init:/m/x'), 'random-init');
  assert.equal(controlLabel('static:glove-100d'), 'static:glove-100d');
});

test('loadReportInputs: results without group controls (older files) load; hostile names stay escaped', async () => {
  const dir = join(scratch, 'probe');
  const run = syntheticSpaceRun({ n: 30, layers: [0, 1], model: '<b>m</b>' });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ ...run.results, predictions: undefined }));
  const loaded = await loadReportInputs([dir]);
  assert.equal(buildReportModel(loaded).runs[0]!.groups, undefined);
  const surface = baseline('surface:tfidf@<i>x</i>', 0.2);
  const html = renderReport({ runs: [loaded.runs[0]!, surface] });
  assert.doesNotMatch(html.replace(/<script[\s\S]*?<\/script>/g, ''), /<i>x<\/i>|<b>m<\/b>/);
});

test('two models on one dataset: each run lists only its own twin and tokenizer baselines', () => {
  const a = syntheticSpaceRun({ n: 40, layers: [0, 1, 2], model: '/m/a' });
  const b = syntheticSpaceRun({ n: 40, layers: [0, 1, 2], model: '/m/b' });
  const twinA = syntheticSpaceRun({ n: 40, layers: [0, 1, 2], model: 'random-init:/m/a' });
  const runs = [a, b, twinA, baseline('surface:tfidf@/m/b', 0.3), baseline('surface:char-ngrams', 0.2)];
  const model = buildReportModel({ runs });
  const cell = (m: string) => model.runs.find((r) => r.model === m)!.controls!;
  assert.match(cell('/m/a'), /^random-init 0\.\d+ · surface:char-ngrams 0\.200$/);
  assert.equal(cell('/m/b'), 'surface:tfidf 0.300 · surface:char-ngrams 0.200');
  const values = model.figures[0]!.spec['data']['values'] as { series: string; control?: boolean }[];
  const labels = new Set(values.filter((v) => v.control).map((v) => v.series));
  assert.deepEqual([...labels].sort(), ['random-init (a)', 'surface:char-ngrams', 'surface:tfidf (b)']);
});
