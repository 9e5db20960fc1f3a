import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import type { ExtractionModel } from '../extract/index.js';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { loadModel } from '../model/index.js';
import { UserError } from '../util/errors.js';
import { runPipeline } from './run.js';

// `run` on a small generated Llama and a 200-row slice of the paper's world_place CSV.
let tmp: string;
let modelDir: string;
let dataset: EntityDataset;
let model: ExtractionModel;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-run-'));
  modelDir = await writeRandomLlama(join(tmp, 'model'));
  dataset = await loadDataset(await writePaperSlice(join(tmp, 'data'), 'world_place', 200));
  model = (await loadModel(modelDir)) as unknown as ExtractionModel;
});

after(async () => {
  await model?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

const base = () => ({ model: modelDir, dataset, loadedModel: model, batchSize: 5 });

test('run: extract + probe + report in one call, and a second call skips every step', async () => {
  const out = join(tmp, 'run');
  const first = await runPipeline({ ...base(), limit: 60, out });
  assert.deepEqual(first.ran, { extract: true, probe: true, report: true });
  const results = JSON.parse(await readFile(join(out, 'probe/results.json'), 'utf8'));
  assert.equal(results.schema, 'spacetime-lens/probe-results@1');
  assert.equal(results.prompt, 'coords', 'the canonical world_place prompt');
  assert.equal(results.layers.length, 3);
  assert.match(await readFile(join(out, 'report.html'), 'utf8'), /<html/i);
  const second = await runPipeline({ ...base(), limit: 60, out });
  assert.deepEqual(second.ran, { extract: false, probe: false, report: false });
  await assert.rejects(runPipeline({ ...base(), limit: 60, out, prompt: 'empty' }), UserError);
});
