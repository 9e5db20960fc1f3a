import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { createStore, hookName } from '../store/index.js';
import { Rng } from '../util/rng.js';
import type { FeatureReport } from './run.js';

/**
 * A store whose activations are sparse sums of 8 planted directions; direction 0 is on for the entities from 1900
 * on, with a coefficient that grows with the year, so one SAE feature should track time.
 */
async function plantedStore(dir: string, n = 1500, d = 16): Promise<string> {
  const rng = new Rng(11, 'store');
  const normal = () => rng.normal();
  const dirs = Array.from({ length: 8 }, () => {
    const v = Array.from({ length: d }, normal);
    const norm = Math.hypot(...v);
    return v.map((a) => a / norm);
  });
  const x = new Float32Array(n * d);
  const entities = [];
  for (let i = 0; i < n; i++) {
    const year = 1800 + Math.floor(rng.uniform() * 200);
    const active: [number, number][] = year >= 1900 ? [[0, 0.5 + (year - 1900) / 40]] : [];
    for (const p of rng.permutation(7).subarray(0, 2)) active.push([p + 1, 1 + rng.uniform()]);
    for (let j = 0; j < d; j++)
      x[i * d + j] = 0.01 * normal() + active.reduce((s, [p, c]) => s + c * dirs[p]![j]!, 0);
    entities.push({
      name: `e${i}`,
      is_test: i % 5 === 0,
      target: [year],
      entity_type: i % 2 ? 'odd' : 'even',
    });
  }
  const path = join(dir, 'store');
  const writer = createStore(
    path,
    {
      formatVersion: 1,
      model: { id: 'synthetic' },
      dataset: { name: 'synthetic_time', sha256: '0'.repeat(64), kind: 'time', targetNames: ['year'] },
      prompt: { name: 'empty' },
      hooks: ['hook_resid_post'],
      layers: [0],
      dtype: 'f32',
      n,
      d,
      aggregation: 'last',
      toolVersion: 'test',
      createdAt: new Date(0).toISOString(),
    },
    entities,
  );
  await writer.write(hookName(0), x, n, d);
  await writer.finish();
  return path;
}

test('sae train + features + info on a planted store: a feature tracks the year, files in both formats', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sae-cli-'));
  try {
    const store = await plantedStore(dir);
    const out = join(dir, 'sae');
    const train = await runCliCaptured(
      [
        'sae',
        'train',
        '--store',
        store,
        '--layer',
        '0',
        '--out',
        out,
        '--d-sae',
        '32',
        '--k',
        '3',
        '--lr',
        '1e-2',
      ].concat(['--batch-size', '128', '--epochs', '15', '--quiet']),
    );
    assert.equal(train.code, 0, train.err);
    assert.match(train.out, /saved .*blocks\.0\.hook_resid_post, 15 epochs/);
    const features = await runCliCaptured([
      'sae',
      'features',
      '--sae',
      out,
      '--store',
      store,
      '--alphas',
      '0.01,0.1,1,10',
    ]);
    assert.equal(features.code, 0, features.err);
    const report = JSON.parse(await readFile(join(out, 'sae-features.json'), 'utf8')) as FeatureReport;
    assert.equal(report.format, 'spacetime-lens/sae-features@1');
    assert.equal(report.store.hookName, 'blocks.0.hook_resid_post');
    assert.deepEqual(
      report.groups.map((g) => [g.group, g.rows]),
      [
        ['all', 1500],
        ['entity_type=even', 750],
        ['entity_type=odd', 750],
      ],
    );
    const best = report.groups[0]!.top['year']![0]!;
    // The planted direction's own coefficient has ρ ≈ 0.935 with the year (zero for half the rows); others ≈ 0.
    assert.ok(best.spearman! > 0.75, `best feature ρ ${best.spearman}`);
    assert.ok(
      report.metrics.explainedVariance > 0.9,
      `explained variance ${report.metrics.explainedVariance}`,
    );
    assert.ok(Math.abs(report.metrics.l0 - 3) < 0.01);
    assert.ok(report.probe.full.meanR2 > 0.5, `full probe ${report.probe.full.meanR2}`);
    assert.ok(
      report.probe.onReconstruction.keptFraction > 0.8,
      JSON.stringify(report.probe.onReconstruction),
    );
    assert.ok(report.probe.topFeatures.keptFraction > 0.7, JSON.stringify(report.probe.topFeatures));
    assert.equal(report.activations.features[0]!.values.length, 1500);
    assert.equal(report.activations.features[0]!.feature, best.feature);
    assert.equal(report.activations.names[7], 'e7');
    assert.equal(report.activations.targets['year']!.length, 1500);
    const csv = (await readFile(join(out, 'sae-features.csv'), 'utf8')).split('\n');
    assert.equal(csv[0], 'group,target,feature,spearman,r2,frequency');
    assert.ok(csv.some((l) => l.startsWith(`all,year,${best.feature},`)));
    // The report takes the file as a further result (tables of its scalars and top features).
    const html = await runCliCaptured([
      'report',
      join(out, 'sae-features.json'),
      '--out',
      join(dir, 'r.html'),
    ]);
    assert.equal(html.code, 0, html.err);
    const page = await readFile(join(dir, 'r.html'), 'utf8');
    assert.ok(page.includes('explainedVariance'), 'the metrics appear in the report');
    assert.match(page, /SAE feature \d+, best for year/, 'a timeline coloured by the best feature');
    assert.ok(page.length < 3_000_000, `report size ${page.length}`);
    const info = await runCliCaptured(['sae', 'info', out]);
    assert.match(info.out, /architecture topk \(k=3\)/);
    assert.match(info.out, /decoder row norms 1\.0000 \.\. 1\.0000/);
    const bad = await runCliCaptured(['sae', 'features', '--sae', out, '--store', store, '--layer', '3']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /has no blocks\.3\.hook_resid_post/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
