import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { main } from '../cli/main.js';
import { loadDataset } from '../data/index.js';
import { getPrompt, listPrompts, renderPrompt } from '../data/prompts.js';
import type { EntityDataset } from '../data/types.js';
import { encodeForProbe, loadModel, type ModelTokenizer } from '../model/index.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import type { ExtractionModel } from './batch.js';
import { defaultBatchSize, extract } from './extract.js';
import { paperQuantize } from './quantize.js';
import { writePaperSlice, writeRandomLlama } from './testing.js';

const skip = skipWithoutShared();

// End to end on a slice of the paper's world_place CSV with a tiny random Llama that uses Llama-2-7b-hf's tokenizer
// (rebuilt from llama-tokenizer-js: src/model/testing-tokenizers.ts). The engine's numbers are checked against
// PyTorch elsewhere (batch.test.ts, src/model); here the extractor's bookkeeping is checked: the kept token and
// its Llama-2 ids, the store layout, batch-size independence, random prompts, int8, and the errors.
let tmp: string;
let modelDir: string;
let dataset: EntityDataset;
let csvPath: string;
let model: ExtractionModel;
const N = 24;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-extract-'));
  modelDir = await writeRandomLlama(join(tmp, 'model'));
  if (skip) return; // the rest needs the paper CSVs
  csvPath = await writePaperSlice(join(tmp, 'data'), 'world_place', 200);
  dataset = await loadDataset(csvPath);
  model = (await loadModel(modelDir)) as unknown as ExtractionModel;
});

after(async () => {
  await model?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

const base = () => ({ model: modelDir, dataset, limit: N, loadedModel: model, batchSize: 5 });

test('the store holds the last entity token of every layer, with its input ids and position', {
  skip,
}, async () => {
  const out = join(tmp, 'coords');
  const res = await extract({ ...base(), prompt: 'coords', out });
  assert.equal(res.n, N);
  const store = await openStore(out);
  const m = store.manifest;
  assert.deepEqual(m.layers, [0, 1, 2]);
  assert.deepEqual(m.hooks, ['hook_resid_post']);
  assert.equal(m.n, N);
  assert.equal(m.d, 16);
  assert.equal(m.dataset.name, 'world_place');
  assert.equal(m.model.id, modelDir);
  assert.match(m.model.configHash ?? '', /^[0-9a-f]{64}$/);
  // The shape fields that say which model it is (src/model/paper-models.ts), copied from config.json.
  const config = JSON.parse(await readFile(join(modelDir, 'config.json'), 'utf8'));
  assert.equal(m.model.config?.['model_type'], 'llama');
  assert.equal(m.model.config?.['hidden_size'], config.hidden_size);
  assert.equal(m.model.config?.['num_hidden_layers'], 3);
  assert.equal(m.model.config?.['rms_norm_eps'], undefined, 'only the shape fields');
  const entities = await store.entities();
  const tok = model.tokenizer as ModelTokenizer;
  const seqs: number[][] = [];
  entities.forEach((e, r) => {
    assert.equal(e.name, dataset.names[r]);
    const p = renderPrompt(dataset, r, 'coords');
    assert.ok(p.text.startsWith('What are the lat/lon coordinates of '));
    const enc = encodeForProbe(tok, p.text, p.entityStart, p.entityEnd);
    assert.deepEqual(e.input_ids, enc.ids);
    assert.equal(e.input_ids![0], 1, 'BOS first');
    assert.equal(e.input_ids![1], 1724, 'Llama-2 "▁What" (Mistral-7B\'s is 1824)');
    // No suffix after the entity: the paper's last entity token is the last token of the row.
    assert.equal(e.position, e.input_ids!.length - 1);
    seqs.push(e.input_ids!);
  });
  // Every layer equals the engine's full-sequence output at the kept position.
  const full = await model.run(seqs, { hooks: m.layers.map((l) => `blocks.${l}.hook_resid_post`) });
  const T = Math.max(...seqs.map((s) => s.length));
  for (const l of m.layers) {
    const got = await store.read(`blocks.${l}.hook_resid_post`);
    const all = full.get(`blocks.${l}.hook_resid_post`)!;
    let err = 0;
    let scale = 0;
    entities.forEach((e, r) => {
      for (let c = 0; c < 16; c++) {
        const want = all[(r * T + e.position!) * 16 + c]!;
        err = Math.max(err, Math.abs(got[r * 16 + c]! - want));
        scale = Math.max(scale, Math.abs(want));
      }
    });
    assert.ok(err / scale < 1e-5, `layer ${l}: ${err / scale}`);
  }
  assert.deepEqual(Array.from(store.targets().subarray(0, 2)), Array.from(dataset.targets.subarray(0, 2)));
});

test('attn_out, resid_mid and mlp_out hooks extract the engine values at the kept position', {
  skip,
}, async () => {
  const res = await extract({
    ...base(),
    prompt: 'coords',
    out: join(tmp, 'sub'),
    hooks: 'attn_out,resid_mid,mlp_out',
    layers: '1',
  });
  const store = await openStore(res.store);
  assert.deepEqual(store.manifest.hooks, ['hook_attn_out', 'hook_resid_mid', 'hook_mlp_out']);
  const entities = await store.entities();
  const hooks = ['blocks.1.hook_attn_out', 'blocks.1.hook_resid_mid', 'blocks.1.hook_mlp_out'];
  const want = await model.run(
    entities.map((e) => e.input_ids!),
    { hooks, positions: entities.map((e) => e.position!) },
  );
  for (const hook of hooks) {
    const got = await store.read(hook);
    const ref = want.get(hook)!;
    let err = 0;
    let scale = 0;
    for (let i = 0; i < ref.length; i++) {
      err = Math.max(err, Math.abs(got[i]! - ref[i]!));
      scale = Math.max(scale, Math.abs(ref[i]!));
    }
    assert.ok(scale > 0 && err / scale < 1e-5, `${hook}: ${err / scale}`);
  }
});

test('batch size does not change the activations (within 1e-5) and the random prompt is seeded per row', {
  skip,
}, async () => {
  const a = await extract({ ...base(), prompt: 'random', out: join(tmp, 'rand-a'), batchSize: 3 });
  const b = await extract({ ...base(), prompt: 'random', out: join(tmp, 'rand-b'), batchSize: 24 });
  const c = await extract({ ...base(), prompt: 'random', out: join(tmp, 'rand-c'), seed: 7, layers: '0' });
  const [sa, sb, sc] = await Promise.all([openStore(a.store), openStore(b.store), openStore(c.store)]);
  const [ea, eb, ec] = await Promise.all([sa.entities(), sb.entities(), sc.entities()]);
  const extra = sa.manifest.extra!['extractor'] as { randomTokens: { low: number; maxIdExclusive: number } };
  const maxId = extra.randomTokens.maxIdExclusive;
  assert.equal(extra.randomTokens.low, 100);
  ea.forEach((e, r) => {
    assert.deepEqual(e.input_ids, eb[r]!.input_ids, 'random ids do not depend on the batch size');
    const random = e.input_ids!.slice(1, 11);
    assert.ok(random.every((id) => id >= 100 && id < maxId));
    assert.notDeepEqual(random, ec[r]!.input_ids!.slice(1, 11), 'another seed draws other ids');
    assert.equal(e.entity_tokens && (e.entity_tokens as number[])[0], 11, 'entity after BOS + 10 random ids');
  });
  const va = await sa.read('blocks.2.hook_resid_post');
  const vb = await sb.read('blocks.2.hook_resid_post');
  let err = 0;
  let scale = 0;
  va.forEach((v, i) => {
    err = Math.max(err, Math.abs(v - vb[i]!));
    scale = Math.max(scale, Math.abs(vb[i]!));
  });
  assert.ok(err / scale < 1e-5, `batch-size dependence ${err / scale}`);
});

test('int8 stores the dequantised per-channel 8-bit values of the f32 activations', { skip }, async () => {
  const f32 = await extract({ ...base(), prompt: 'empty', out: join(tmp, 'e32'), layers: '1' });
  const q8 = await extract({ ...base(), prompt: 'empty', out: join(tmp, 'e8'), layers: '1', dtype: 'int8' });
  const s32 = await openStore(f32.store);
  const s8 = await openStore(q8.store);
  const x = await s32.read('blocks.1.hook_resid_post');
  const got = await s8.read('blocks.1.hook_resid_post');
  assert.deepEqual(Array.from(got), Array.from(paperQuantize(x, N, 16).values));
  const quant = s8.manifest.extra!['quantization'] as { params: Record<string, { scale: string }> };
  const bytes = Uint8Array.from(Buffer.from(quant.params['blocks.1.hook_resid_post']!.scale, 'base64'));
  const scale = new Float32Array(bytes.buffer);
  assert.equal(scale.length, 16);
  assert.equal(s8.manifest.dtype, 'f32');
});

test('paper-compat takes the last layer after the final norm and quantises', { skip }, async () => {
  const r = await extract({
    ...base(),
    prompt: 'coords',
    out: join(tmp, 'compat'),
    layers: '1,2',
    paperCompat: true,
  });
  const s = await openStore(r.store);
  const ex = s.manifest.extra!['extractor'] as Record<string, unknown>;
  assert.equal(ex['lastLayerAfterFinalNorm'], true);
  assert.equal(ex['paperCompat'], true);
  const entities = await s.entities();
  const normed = await model.run(
    entities.map((e) => e.input_ids!),
    { hooks: ['ln_final.hook_normalized'], positions: entities.map((e) => e.position!) },
  );
  const want = paperQuantize(normed.get('ln_final.hook_normalized')!, N, 16).values;
  assert.deepEqual(Array.from(await s.read('blocks.2.hook_resid_post')), Array.from(want));
});

test('bad requests fail with a clear UserError and leave nothing behind', { skip }, async () => {
  await assert.rejects(
    extract({ ...base(), prompt: 'coords', out: join(tmp, 'x1'), layers: '3' }),
    /layer 3 does not exist/,
  );
  await assert.rejects(
    extract({ ...base(), prompt: 'coords', out: join(tmp, 'x2'), hooks: 'resid_post,mlp_post' }),
    /one width/,
  );
  await assert.rejects(extract({ ...base(), prompt: 'nope', out: join(tmp, 'x3') }), UserError);
  await assert.rejects(extract({ ...base(), prompt: 'coords', out: join(tmp, 'coords') }), /already exists/);
  const replaced = await extract({
    ...base(),
    prompt: 'empty',
    out: join(tmp, 'coords'),
    layers: '0',
    overwrite: true,
  });
  assert.deepEqual((await openStore(replaced.store)).manifest.layers, [0]);
  await assert.rejects(
    extract({ ...base(), prompt: 'coords', out: join(tmp, 'x4'), paperCompat: true, aggregate: 'mean' }),
    /last token/,
  );
  for (const name of ['x1', 'x2', 'x3', 'x4']) {
    await assert.rejects(readFile(join(tmp, name, 'manifest.json')));
  }
});

test('CLI: --prompt all writes one store per variant; --model static:... routes to the word-vector baseline', {
  skip,
}, async () => {
  const all = join(tmp, 'all');
  const args = ['extract', '--model', modelDir, '--dataset', csvPath, '--limit', '6', '--quiet'];
  assert.equal(await main([...args, '--prompt', 'all', '--out', all]), 0);
  const names = listPrompts(dataset).map((p) => p.name);
  assert.deepEqual((await readdir(all)).sort(), [...names].sort());
  for (const name of names) {
    const m = (await openStore(join(all, name))).manifest;
    assert.equal(m.prompt.name, name);
    assert.equal(m.prompt.text, getPrompt(dataset, name).prefix);
  }
  assert.equal(
    await main([...args, '--prompt', 'coords', '--out', join(all, 'coords')]),
    1,
    'exists: exit 1',
  );
  const glove = join(tmp, 'glove');
  assert.equal(
    await main([
      'extract',
      '--model',
      'static:glove-100d',
      '--dataset',
      csvPath,
      '--limit',
      '6',
      '--out',
      glove,
    ]),
    0,
  );
  const s = await openStore(glove);
  assert.equal(s.manifest.n, 6);
  assert.equal(s.manifest.d, 100);
  assert.equal(s.manifest.model.id, 'static:glove-100d');
});

test("Llama-2 ids: us_place row 0 with the empty prompt is [1, 1570, 3088], as in the paper's arrays", {
  skip,
}, async () => {
  const us = await loadDataset(await writePaperSlice(join(tmp, 'us'), 'us_place', 3));
  const out = join(tmp, 'us-empty');
  await extract({ ...base(), dataset: us, limit: 3, prompt: 'empty', out });
  const [first] = await (await openStore(out)).entities();
  assert.equal(first!.name, 'New York');
  assert.deepEqual(first!.input_ids, [1, 1570, 3088]);
  assert.equal(first!.position, 2);
});

test('default batch size: 1024, or once the f32 weights stream, 512 MiB of activations (256 to 2,048 rows)', () => {
  assert.equal(defaultBatchSize({ nLayers: 30, dModel: 576, dMlp: 1536 }), 1024);
  assert.equal(defaultBatchSize({ nLayers: 32, dModel: 4096, dMlp: 11008 }), 1024); // Llama-2-7B: 512 MiB
  assert.equal(defaultBatchSize({ nLayers: 4, dModel: 4096, dMlp: 11008 }), 2048); // a 4-layer slice: the cap
  assert.equal(defaultBatchSize({ nLayers: 40, dModel: 5120, dMlp: 13824 }), 512); // Llama-2-13B
  assert.equal(defaultBatchSize({ nLayers: 80, dModel: 8192, dMlp: 28672 }), 256); // Llama-2-70B: the floor
});

test('library extract() with a static:... model builds the word-vector baseline store', {
  skip,
}, async () => {
  const r = await extract({
    model: 'static:glove-100d',
    dataset,
    prompt: 'coords',
    out: join(tmp, 'glove-lib'),
    limit: 5,
  });
  assert.equal(r.d, 100);
  assert.equal((await openStore(r.store)).manifest.prompt.name, 'coords');
});
