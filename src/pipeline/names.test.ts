import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { modelIdentity } from '../model/index.js';
import { modelDisplayName } from '../util/paths.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { modelSlug, runPipeline } from './run.js';

const skip = skipWithoutShared();

// Output folders and titles name a local model by its folder; manifests keep its absolute path.
let tmp: string;
let modelDir: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-names-'));
  modelDir = await writeRandomLlama(join(tmp, 'tiny-llama'));
});
after(() => rm(tmp, { recursive: true, force: true }));

test('modelSlug: a relative directory by its folder name, never a hidden ..-folder; Hub ids as org--name', () => {
  const rel = relative(process.cwd(), modelDir);
  assert.ok(rel.startsWith('..'), `expected a path that climbs out of the checkout, got ${rel}`);
  assert.equal(modelSlug(rel), 'tiny-llama');
  assert.equal(modelSlug(`${rel}/`), 'tiny-llama');
  assert.equal(modelSlug(modelDir), 'tiny-llama');
  assert.equal(modelSlug('../tiny-llama'), 'tiny-llama', 'also when the directory does not exist (yet)');
  assert.equal(modelSlug('HuggingFaceTB/SmolLM2-135M'), 'HuggingFaceTB--SmolLM2-135M');
  assert.equal(modelSlug('static:glove-100d'), 'static-glove-100d');
  assert.equal(modelSlug('..'), basename(resolve('..')), "'..' is the parent directory's name");
});

test('modelIdentity and modelDisplayName: absolute path for a local directory, its folder name for display', () => {
  const rel = relative(process.cwd(), modelDir);
  assert.equal(modelIdentity(rel), modelDir);
  assert.equal(modelIdentity('org/not-here'), 'org/not-here');
  assert.equal(modelIdentity('static:glove-100d'), 'static:glove-100d');
  assert.equal(modelDisplayName(modelDir), 'tiny-llama');
  assert.equal(modelDisplayName('meta-llama/Llama-2-7b-hf'), 'meta-llama/Llama-2-7b-hf');
});

test('run with a relative --model: absolute path in the manifest, folder name in the title; few test rows warned', {
  skip,
}, async () => {
  const csv = await writePaperSlice(join(tmp, 'data'), 'world_place', 40);
  const out = join(tmp, 'run');
  const log: string[] = [];
  const model = relative(process.cwd(), modelDir);
  await runPipeline({ model, dataset: csv, limit: 30, batchSize: 10, out, log: (l) => log.push(l) });
  const manifest = JSON.parse(await readFile(join(out, 'store', 'manifest.json'), 'utf8'));
  assert.equal(manifest.model.id, modelDir);
  // 30 rows of world_place hold only a few test rows: run says so and names no best layer.
  const results = JSON.parse(await readFile(join(out, 'probe', 'results.json'), 'utf8'));
  assert.ok(results.nTest < 20, `nTest ${results.nTest}`);
  assert.equal(results.bestLayer, null);
  assert.ok(
    log.some((l) => /^warning: (only \d+|no) test rows? \(fewer than 20\)/.test(l)),
    log.join('\n'),
  );
  const html = await readFile(join(out, 'report.html'), 'utf8');
  const title = /<h1>([^<]*)<\/h1>/.exec(html)?.[1];
  assert.equal(title, 'Space and time probes: tiny-llama');
  assert.doesNotMatch(html, /\.\.\/[^"<]*tiny-llama/, 'the relative path appears nowhere in the report');
  assert.match(html, /<div class="warnings">.*fewer than 20/s);
});
