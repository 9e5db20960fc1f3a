import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { loadDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { type ExtractionModel, extract } from '../extract/index.js';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { loadModel } from '../model/index.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { hashJson } from '../util/hash.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { modelSlug, type RunPipelineOptions, runPipeline } from './run.js';

// `run` on a small generated Llama and slices of the paper's world_place CSV (sorted by entity type: structures,
// then populated places, then natural places).
const skip = skipWithoutShared();
const TYPE_STARTS = [0, 6453, 37236];
let tmp: string;
let modelDir: string;
let dataset: EntityDataset;
/** 30 rows of each of the three entity types. */
let mixed: EntityDataset;
let model: ExtractionModel;

before(async () => {
  if (skip) return;
  tmp = await mkdtemp(join(tmpdir(), 'stl-run-'));
  modelDir = await writeRandomLlama(join(tmp, 'model'));
  dataset = await loadDataset(await writePaperSlice(join(tmp, 'data'), 'world_place', 200));
  mixed = await loadDataset(await writePaperSlice(join(tmp, 'mixed'), 'world_place', 30, TYPE_STARTS));
  model = (await loadModel(modelDir)) as unknown as ExtractionModel;
});

after(async () => {
  await model?.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const base = (): RunPipelineOptions => ({ model: modelDir, dataset, loadedModel: model, batchSize: 5 });
const manifestOf = async (store: string) => (await openStore(store)).manifest;

test('run: extract + probe + report in one call, and a second call skips every step', { skip }, async () => {
  const out = join(tmp, 'run');
  const first = await runPipeline({ ...base(), limit: 60, out });
  assert.deepEqual(first.ran, { extract: true, probe: true, report: true });
  const results = JSON.parse(await readFile(join(out, 'probe/results.json'), 'utf8'));
  assert.equal(results.schema, 'spacetime-lens/probe-results@1');
  assert.equal(results.prompt, 'coords', 'the canonical world_place prompt');
  assert.equal(results.layers.length, 3);
  const key = (await manifestOf(join(out, 'store'))).extra?.['cacheKey'];
  assert.equal(results.storeKeySha256, hashJson(key), 'the probe results name the store key they came from');
  const probeKey = JSON.parse(await readFile(join(out, 'probe/cache-key.json'), 'utf8'));
  assert.equal(
    probeKey.probe.predictions,
    results.predictions.mode,
    'the key records the predictions written',
  );
  assert.match(await readFile(join(out, 'report.html'), 'utf8'), /<html/i);
  const second = await runPipeline({ ...base(), limit: 60, out });
  assert.deepEqual(second.ran, { extract: false, probe: false, report: false });
  await assert.rejects(runPipeline({ ...base(), limit: 60, out, prompt: 'empty' }), UserError);
});

describe('run: a cached store is reused only when every setting matches', { skip }, () => {
  const mixedBase = (): RunPipelineOptions => ({ ...base(), dataset: mixed, limit: 60 });

  test('explicit --out made with other settings is refused, naming the setting and its flag', async () => {
    const out = join(tmp, 'explicit');
    const logs: string[] = [];
    await runPipeline({ ...mixedBase(), out, log: (l) => logs.push(l) });
    assert.deepEqual(
      logs.filter((l) => l.startsWith('warning: --limit')),
      [],
      'the first 60 rows hold two types',
    );
    const other = await writeRandomLlama(join(tmp, 'other-model'), undefined, { seed: 2 });
    const edited = await loadDataset(
      await writePaperSlice(join(tmp, 'edited'), 'world_place', 31, TYPE_STARTS),
    );
    const cases: [Partial<RunPipelineOptions>, RegExp][] = [
      [{ limit: 50 }, /rows first 60 rows there, first 50 rows now \(--limit \/ --sample \/ --seed\)/],
      [{ limit: undefined, sample: 60 }, /rows first 60 rows there, sample of 60 \(seed 0\) now/],
      [{ layers: '0,1' }, /layers \[0,1,2\] there, \[0,1\] now \(--layers\)/],
      [{ hooks: 'resid_post,mlp_post' }, /hooks .* \(--hooks\)/],
      [{ dtype: 'f16' }, /dtype "f32" there, "f16" now \(--dtype\)/],
      [{ aggregate: 'mean' }, /aggregate "last" there, "mean" now \(--aggregate\)/],
      [{ paperCompat: true }, /paperCompat false there, true now \(--paper-compat\)/],
      [{ prompt: 'empty' }, /prompt "coords" there, "empty" now \(--prompt\)/],
      [
        { model: other, loadedModel: undefined },
        /checkpoint checkpoint \w+ there, checkpoint \w+ now \(--model/,
      ],
      [{ dataset: edited }, /datasetSha256 sha256 \w+ there, sha256 \w+ now \(--dataset\)/],
    ];
    for (const [change, message] of cases) {
      await assert.rejects(runPipeline({ ...mixedBase(), ...change, out }), (err: Error) => {
        assert.ok(err instanceof UserError, err.stack);
        assert.match(err.message, message);
        assert.match(err.message, /choose another --out/);
        assert.doesNotMatch(err.message, /\n/, 'one line');
        return true;
      });
    }
    // the store is untouched by the refused runs
    assert.equal((await manifestOf(join(out, 'store'))).n, 60);
  });

  test('the default folder carries a settings hash: other settings recompute, the same settings reuse', async () => {
    const runsRoot = join(tmp, 'runs');
    // a folder of the layout used before settings hashes: never reused, and the log says so
    const legacy = join(runsRoot, modelSlug(modelDir), 'world_place', 'coords', 'store');
    await mkdir(legacy, { recursive: true });
    await writeFile(join(legacy, 'manifest.json'), '{}');
    const logs: string[] = [];
    const first = await runPipeline({ ...mixedBase(), runsRoot, log: (l) => logs.push(l) });
    assert.equal(first.ran.extract, true);
    assert.ok(
      logs.some((l) =>
        /^note: .*coords was made before runs recorded their settings; it is not reused/.test(l),
      ),
    );
    assert.match(first.out, /world_place[/\\]coords-[0-9a-f]{8}$/);
    const fewer = await runPipeline({ ...mixedBase(), limit: 40, runsRoot });
    assert.notEqual(fewer.out, first.out);
    assert.equal(fewer.ran.extract, true);
    assert.equal((await manifestOf(fewer.store)).n, 40);
    const layers = await runPipeline({ ...mixedBase(), layers: '0,2', runsRoot });
    assert.deepEqual((await manifestOf(layers.store)).layers, [0, 2]);
    const f16 = await runPipeline({ ...mixedBase(), dtype: 'f16', runsRoot });
    assert.equal((await manifestOf(f16.store)).dtype, 'f16');
    const sample = await runPipeline({ ...mixedBase(), limit: undefined, sample: 45, runsRoot });
    const sample1 = await runPipeline({ ...mixedBase(), limit: undefined, sample: 45, seed: 1, runsRoot });
    assert.notEqual(sample.out, sample1.out);
    const names = async (store: string) => (await (await openStore(store)).entities()).map((e) => e.name);
    assert.equal((await names(sample.store)).length, 45);
    assert.notDeepEqual(await names(sample.store), await names(sample1.store), 'another seed, other rows');
    const types = (await (await openStore(sample.store)).entities()).map((e) => e['entity_type']);
    for (const t of ['structure', 'populated_place', 'natural_place'])
      assert.equal(types.filter((x) => x === t).length, 15, `${t}: its third of the sample`);
    const sampled = (await manifestOf(sample.store)).extra?.['extractor'] as { sampledRows: number[] };
    assert.equal(sampled.sampledRows.length, 45, 'the manifest records which rows were drawn');
    const again = await runPipeline({ ...mixedBase(), runsRoot });
    assert.equal(again.out, first.out);
    assert.deepEqual(again.ran, { extract: false, probe: false, report: false });
    const all = new Set([first, fewer, layers, f16, sample, sample1].map((r) => r.out));
    assert.equal(all.size, 6, 'six settings, six folders');
  });

  test('a store written before cache keys is never reused; extract --resume checks the key too', async () => {
    const out = join(tmp, 'old');
    const r = await runPipeline({ ...mixedBase(), out });
    const path = join(r.store, 'manifest.json');
    const m = JSON.parse(await readFile(path, 'utf8'));
    delete m.extra.cacheKey;
    await writeFile(path, JSON.stringify(m));
    await assert.rejects(
      runPipeline({ ...mixedBase(), out }),
      /written before stores recorded their settings/,
    );
    await assert.rejects(
      extract({ ...mixedBase(), prompt: 'coords', out: r.store, resume: true }),
      /written before stores recorded their settings .*--overwrite/,
    );
    const fresh = join(tmp, 'resume');
    await extract({ ...mixedBase(), prompt: 'coords', out: fresh });
    const done = await extract({ ...mixedBase(), prompt: 'coords', out: fresh, resume: true });
    assert.equal(done.alreadyDone, true);
    await assert.rejects(
      extract({ ...mixedBase(), limit: 30, prompt: 'coords', out: fresh, resume: true }),
      /rows first 60 rows there, first 30 rows now \(--limit/,
    );
  });

  test('a static word-vector store keys its rows too', async () => {
    const out = join(tmp, 'static');
    const r = await runPipeline({ model: 'static:glove-100d', dataset: mixed, limit: 30, out });
    assert.equal((await manifestOf(r.store)).n, 30);
    await assert.rejects(
      runPipeline({ model: 'static:glove-100d', dataset: mixed, limit: 20, out }),
      /rows first 30 rows there, first 20 rows now/,
    );
  });

  test('--limit that keeps one entity type warns and suggests --sample', async () => {
    const logs: string[] = [];
    await runPipeline({ ...mixedBase(), limit: 20, runsRoot: join(tmp, 'runs'), log: (l) => logs.push(l) });
    assert.ok(
      logs.some((l) => /^warning: --limit 20 keeps .* 'structure' .*use --sample 20/.test(l)),
      logs.join('\n'),
    );
    logs.length = 0;
    await runPipeline({ ...base(), limit: 20, runsRoot: join(tmp, 'runs'), log: (l) => logs.push(l) });
    assert.deepEqual(
      logs.filter((l) => l.startsWith('warning: --limit')),
      [],
      'no warning when the dataset itself has one type: --limit is not the cause',
    );
  });
});

test('CLI: extract --sample and run --sample; --limit with --sample is a one-line error', {
  skip,
}, async () => {
  const path = mixed.source.path;
  const store = join(tmp, 'cli-sample');
  const ex = await runCliCaptured([
    'extract',
    '--model',
    modelDir,
    '--dataset',
    path,
    '--prompt',
    'coords',
    '--sample',
    '12',
    '--seed',
    '3',
    '--quiet',
    '--out',
    store,
  ]);
  assert.equal(ex.code, 0, ex.err);
  const m = await manifestOf(store);
  assert.equal(m.n, 12);
  const rows = (m.extra!['cacheKey'] as { rows: { sha256: string } }).rows;
  assert.deepEqual(rows, { mode: 'sample', size: 12, seed: 3, n: 12, sha256: rows.sha256 });
  const both = await runCliCaptured([
    'run',
    '--model',
    modelDir,
    '--dataset',
    path,
    '--limit',
    '5',
    '--sample',
    '5',
  ]);
  assert.equal(both.code, 1);
  assert.match(both.err, /--limit and --sample both choose rows; give one of them/);
});
