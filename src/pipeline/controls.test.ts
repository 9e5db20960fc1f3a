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

// `run` computes the controls beside the probe: surface baselines with the model's own tokenizer, the control
// task, and (asked) the random-init twin; the report draws them.
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

test('run: surface baselines, control task and random-init twin beside the probe; a rerun skips them', {
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
  const task = await json(join(out, 'probe', 'control-task.json'));
  assert.deepEqual(task.groupColumns, ['entity_type', 'country']);
  assert.equal(task.layers.length, 3);
  const html = await readFile(first.report, 'utf8');
  assert.match(
    html,
    /<tr class="run-details"><td colspan="11"><span class="controls-cell"><b>controls<\/b> /,
  );
  for (const l of task.layers) {
    if (l.real !== null && l.control !== null)
      assert.ok(Math.abs(l.selectivity - (l.real - l.control)) < 1e-12);
  }
  const real = await json(join(out, 'probe', 'results.json'));
  // The runs table gives the selectivity at the best layer; with under 20 test rows no best layer is named.
  if (real.bestLayer === null) assert.doesNotMatch(html, /selectivity -?\d/);
  else assert.match(html, /selectivity -?\d/);
  const second = await runPipeline({ model: modelDir, dataset, out, batchSize: 8, randomInitControl: true });
  assert.deepEqual(second.ran, { extract: false, probe: false, report: false });
  const off = join(tmp, 'off');
  await runPipeline({ model: modelDir, dataset, out: off, batchSize: 8, limit: 30, controls: false });
  assert.equal(existsSync(join(off, 'controls')), false);
});
