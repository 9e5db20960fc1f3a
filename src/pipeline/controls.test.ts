import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { runPipeline } from './run.js';

// `run` computes the controls beside the probe: surface baselines with the model's own tokenizer and (asked) the
// random-init twin; every probe carries its group baseline and within-group probe; the report draws them.
let tmp: string;
let modelDir: string;
let dataset: EntityDataset;
const skip = skipWithoutShared();

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(join(tmpdir(), 'stl-run-controls-'));
  modelDir = await writeRandomLlama(join(tmp, 'model'));
  dataset = await loadDataset(await writePaperSlice(join(tmp, 'data'), 'world_place', 120));
});

after(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('run: surface baselines, group controls and random-init twin beside the probe; a rerun skips them', {
  skip,
}, async () => {
  const out = join(tmp, 'run');
  const first = await runPipeline({ model: modelDir, dataset, out, batchSize: 8, randomInitControl: true });
  assert.equal(first.controls.length, 4);
  const json = async (p: string) => JSON.parse(await readFile(p, 'utf8'));
  for (const kind of ['tfidf', 'bag-of-tokens', 'char-ngrams']) {
    const r = await json(join(out, 'controls', `surface-${kind}`, 'probe', 'results.json'));
    const tokenizer = kind === 'char-ngrams' ? '' : `@${modelDir}`;
    assert.equal(r.model, `surface:${kind}${tokenizer}`, 'the model’s own tokenizer');
    assert.equal(r.nTrain + r.nTest, 120);
  }
  const twin = await json(join(out, 'controls', 'random-init', 'probe', 'results.json'));
  assert.equal(twin.model, `random-init:${modelDir}`);
  assert.equal(twin.layers.length, 3);
  assert.equal(existsSync(join(out, 'probe', 'control-task.json')), false, 'no control task any more');
  const html = await readFile(first.report, 'utf8');
  assert.match(
    html,
    /<tr class="run-details"><td colspan="\d+"><span class="controls-cell"><b>controls<\/b> /,
  );
  assert.match(html, /<h3>Group baseline and within-group R²<\/h3>/);
  const real = await json(join(out, 'probe', 'results.json'));
  assert.equal(real.groupBaseline.column, 'country');
  assert.equal(real.groupBaseline.test.n, real.nTest);
  assert.equal(real.layers.length, 3);
  for (const l of real.layers)
    assert.ok(l.withinGroup.nFit <= real.nTrain, 'each layer has a within-group probe');
  // The report's group table (the test split is too small for R² here: the report tests check the numbers).
  assert.match(html, /<h3>Group baseline and within-group R²<\/h3>/);
  assert.ok(html.includes(`<td>country (${real.groupBaseline.groups})</td>`), 'the group column and count');
  const second = await runPipeline({ model: modelDir, dataset, out, batchSize: 8, randomInitControl: true });
  assert.deepEqual(second.ran, { extract: false, probe: false, report: false });
  const off = join(tmp, 'off');
  await runPipeline({ model: modelDir, dataset, out: off, batchSize: 8, limit: 30, controls: false });
  assert.equal(existsSync(join(off, 'controls')), false);
});
