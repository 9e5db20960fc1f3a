import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { createStore, hookName, type StoreManifestInput } from '../store/index.js';
import { probeStore } from './probe-store.js';
import { alphaEdgeWarning, sizeWarnings } from './warnings.js';

const root = mkdtempSync(join(tmpdir(), 'stl-warn-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Seeded uniform numbers in [0, 1). */
function uniform(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}

/**
 * A space store of n rows (the last nTest are test rows) and width d: layer 0 holds (lon, lat) in its first two
 * columns (a perfect linear signal, LOO wants the smallest penalty), layer 1 one column of noise (LOO wants the
 * largest: shrinking to the mean).
 */
async function makeStore(name: string, n: number, nTest: number, d: number): Promise<string> {
  const rand = uniform(11);
  const targets = Array.from({ length: n }, () => [360 * rand() - 180, 160 * rand() - 80]);
  const manifest: StoreManifestInput = {
    formatVersion: 1,
    model: { id: 'test/tiny' },
    dataset: {
      name: 'few_places',
      sha256: '0'.repeat(64),
      kind: 'space',
      targetNames: ['longitude', 'latitude'],
    },
    prompt: { name: 'empty' },
    hooks: ['hook_resid_post'],
    layers: [0, 1],
    dtype: 'f32',
    n,
    d,
    aggregation: 'last',
    toolVersion: 'test',
    createdAt: new Date(0).toISOString(),
  };
  const entities = targets.map((t, i) => ({ name: `place ${i}`, is_test: i >= n - nTest, target: t }));
  const dir = join(root, name);
  const w = createStore(dir, manifest, entities);
  const signal = new Float32Array(n * d);
  targets.forEach(([lon, lat], i) => {
    signal[i * d] = lon!;
    signal[i * d + 1] = lat!;
  });
  await w.write(hookName(0), signal, n, d);
  const noise = new Float32Array(n * d);
  for (let i = 0; i < n; i++) noise[i * d + 2] = rand();
  await w.write(hookName(1), noise, n, d);
  await w.finish();
  return dir;
}

const GRID = [1e-6, 1e-3, 1, 1e3, 1e6];

test('alphaEdgeWarning names the edge and suggests a grid two decades wider on that side', () => {
  const grid = [1, 10, 100];
  const low = alphaEdgeWarning(0, grid)!;
  assert.match(low, /alpha 1 is the smallest value of the grid \(low edge\)/);
  assert.match(low, /--alphas logspace:-2:2:9$/);
  const high = alphaEdgeWarning(2, grid)!;
  assert.match(high, /alpha 100 is the largest value of the grid \(high edge\)/);
  assert.match(high, /--alphas logspace:0:4:9$/);
  assert.equal(alphaEdgeWarning(1, grid), undefined);
  assert.equal(alphaEdgeWarning(null, grid), undefined, '--cv none selects nothing');
  assert.equal(alphaEdgeWarning(0, [5]), undefined, 'a one-value grid has no edge to speak of');
  // Order of the grid does not matter: the edge is by value.
  assert.match(alphaEdgeWarning(0, [100, 10, 1])!, /largest/);
});

test('sizeWarnings: d >= training rows, and test sets under 20 rows', () => {
  assert.deepEqual(sizeWarnings(10, 100, 20), []);
  const [dims, few] = sizeWarnings(40, 40, 19);
  assert.match(dims!, /^d = 40 >= 40 training rows/);
  assert.match(few!, /^only 19 test rows \(fewer than 20\).*no best layer is named/);
  assert.match(sizeWarnings(4, 100, 0)[0]!, /^no test rows/);
});

test('19 test rows: R², correlations and proximity error undefined, no best layer; 20 rows: all defined', async () => {
  const few = (await probeStore(await makeStore('t19', 80, 19, 4), { alphas: GRID })).results;
  assert.equal(few.bestLayer, null);
  for (const l of few.layers) {
    assert.ok(Number.isNaN(l.test.r2) && Number.isNaN(l.test.proxError));
    assert.equal(l.test.spearman.length, 2);
    assert.ok([...l.test.spearman, ...l.test.pearson, ...l.test.r2PerTarget].every(Number.isNaN));
    assert.ok(Number.isFinite(l.test.mae) && Number.isFinite(l.test.haversineMaeKm!), 'errors stay defined');
    assert.ok(Number.isFinite(l.train.r2), 'the train split is not affected');
  }
  const enough = (await probeStore(await makeStore('t20', 80, 20, 4), { alphas: GRID })).results;
  assert.equal(enough.bestLayer, 0, 'the signal layer');
  assert.ok(enough.layers.every((l) => Number.isFinite(l.test.r2) && Number.isFinite(l.test.proxError)));
  assert.ok(!enough.warnings.some((w) => /test row/.test(w)));
});

test('one test row and d >= training rows: warnings in the CLI, results.json and the report; R² null', async () => {
  const store = await makeStore('t1', 30, 1, 40);
  const out = join(root, 't1.probe');
  const probe = await runCliCaptured([
    ...['probe', '--store', store, '--out', out, '--alphas', GRID.join(','), '--predictions', 'best'],
  ]);
  assert.equal(probe.code, 0, probe.err);

  const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  assert.equal(results.bestLayer, null);
  assert.deepEqual(
    results.predictions.layers,
    [0],
    'predictions of the lowest-LOO-error layer are still kept',
  );
  for (const l of results.layers) {
    assert.equal(l.test.r2, null);
    assert.deepEqual(l.test.spearman, [null, null]);
    assert.equal(l.test.proxError, null);
  }
  const [signal, noise] = results.layers;
  assert.equal(signal.alphaIndex, 0, 'an exact linear signal takes the smallest penalty');
  assert.equal(noise.alphaIndex, GRID.length - 1, 'noise takes the largest penalty');
  assert.match(
    signal.warnings.join('\n'),
    /smallest value of the grid \(low edge\).*--alphas logspace:-8:6:11/,
  );
  assert.match(
    noise.warnings.join('\n'),
    /largest value of the grid \(high edge\).*--alphas logspace:-6:8:11/,
  );
  assert.match(results.warnings.join('\n'), /d = 40 >= 29 training rows/);
  assert.match(results.warnings.join('\n'), /only 1 test row \(fewer than 20\)/);

  assert.match(probe.err, /warning: layer 0: alpha 0\.000001 is the smallest value of the grid \(low edge\)/);
  assert.match(probe.err, /warning: layer 1: alpha 1000000 is the largest value of the grid \(high edge\)/);
  assert.match(probe.err, /warning: d = 40 >= 29 training rows/);
  assert.match(probe.err, /warning: only 1 test row/);
  assert.match(probe.out, /no best layer named \(1 test rows, fewer than 20\)/);
  assert.doesNotMatch(probe.out, /^\s*\*/m, 'no layer is starred');
  const table = probe.out.split('\n').filter((l) => /^\s+[01]\s/.test(l));
  assert.equal(table.length, 2);
  for (const row of table)
    assert.match(row, /n\/a\s+n\/a\s+n\/a/, 'test R², Spearman and prox are n/a, never 0');

  const html = join(root, 't1.html');
  const report = await runCliCaptured(['report', out, '--out', html]);
  assert.equal(report.code, 0, report.err);
  const page = readFileSync(html, 'utf8');
  const warnings = /<div class="warnings">([\s\S]*?)<\/div>/.exec(page)?.[1] ?? '';
  assert.match(warnings, /only 1 test row \(fewer than 20\)/);
  assert.match(warnings, /d = 40 &gt;= 29 training rows/);
  assert.match(warnings, /layer 0: alpha 0\.000001 is the smallest value of the grid \(low edge\)/);
  assert.match(warnings, /layer 1: alpha 1000000 is the largest value of the grid \(high edge\)/);
  const runsRow = /<table class="runs">[\s\S]*?<tbody><tr class="run">([\s\S]*?)<\/tr>/.exec(page)![1]!;
  assert.match(runsRow, /<td class="num">n\/a<\/td><td class="num">n\/a<\/td>/, 'best layer and R² are n/a');
});
