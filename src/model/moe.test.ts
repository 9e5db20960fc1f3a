/**
 * Mixture-of-experts engine behaviour beyond the goldens: only the routed experts run (an expert with NaN weights
 * that no token routes to leaves every output finite), streaming a layer equals caching it, routing edits, hook
 * errors; and the Gemma 3 multimodal checkpoint's vision tower is never read (model info: published-shapes.test.ts).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SafetensorsFile, writeSafetensors } from '../formats/index.js';
import { UserError } from '../util/errors.js';
import { modelSpec } from './architectures/index.js';
import { openCheckpoint } from './checkpoint.js';
import { FIXTURES, openGolden, relError } from './engine.test-util.js';
import { HookedModel } from './hooked-model.js';
import { loadModel } from './load.js';
import { routeTopK } from './moe-path.js';

const scratch = mkdtempSync(join(tmpdir(), 'stl-moe-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const SEQ = [1, 9, 60, 2, 33, 71, 4, 12, 50, 8, 27];

/** mixtral-f32 with expert 3 of every layer given `fill` weights. */
async function withUnusedExpert(fill: number): Promise<string> {
  const dir = join(scratch, `unused-${fill}`);
  cpSync(join(FIXTURES, 'mixtral-f32'), dir, { recursive: true });
  const file = await SafetensorsFile.open(join(dir, 'model.safetensors'));
  const tensors = [];
  for (const name of file.tensors.keys()) {
    const info = file.info(name);
    let data = await file.readFloat32(name);
    if (/experts\.3\./.test(name)) data = data.fill(fill);
    tensors.push({ name, dtype: 'F32' as const, shape: [...info.shape], data });
  }
  await file.close();
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}

test('only routed experts are computed: an unrouted expert full of NaN changes nothing', async () => {
  const hooks = ['logits', 'blocks.2.hook_mlp_out', 'blocks.0.mlp.hook_expert_indices'];
  // Every layer's router gives expert 3 probability -1, so no token routes to it (the others are > 0).
  const edits = [0, 1, 2].map((l) => ({
    hook: `blocks.${l}.mlp.hook_expert_weights`,
    apply(v: Float32Array) {
      for (let r = 0; r < v.length / 4; r++) v[r * 4 + 3] = -1;
    },
  }));
  const nan = await loadModel(await withUnusedExpert(Number.NaN));
  const zero = await loadModel(await withUnusedExpert(0));
  try {
    const a = await nan.run([SEQ], { hooks, edits });
    const b = await zero.run([SEQ], { hooks, edits });
    assert.ok(
      !Array.from(a.get('blocks.0.mlp.hook_expert_indices')!).includes(3),
      'expert 3 is never chosen',
    );
    for (const h of hooks) {
      assert.ok(a.get(h)!.every(Number.isFinite), `${h} finite`);
      assert.deepEqual(a.get(h), b.get(h), h);
    }
  } finally {
    await nan.dispose();
    await zero.dispose();
  }
});

test('a streamed MoE layer (weights dropped after each layer, tiny chunks) equals the cached run', async () => {
  const golden = await openGolden('qwen2-moe-bf16-sharded');
  const cached = await loadModel(golden.dir);
  const streamed = await loadModel(golden.dir, { weightCacheBytes: 0, chunkBytes: 1 });
  try {
    assert.equal(streamed.streamsWeights, true);
    const hooks = ['blocks.1.mlp.hook_expert_weights', 'blocks.2.mlp.hook_post', 'logits'];
    const seqs = golden.meta.sequences;
    const a = await cached.run(seqs, { hooks, positions: seqs.map(() => -1) });
    const b = await streamed.run(seqs, { hooks, positions: seqs.map(() => -1), batchTokens: 4 });
    for (const h of hooks) assert.ok(relError(b.get(h)!, a.get(h)!) <= 1e-6, h);
  } finally {
    await cached.dispose();
    await streamed.dispose();
    await golden.close();
  }
});

test('routing edits: forcing experts through hook_expert_weights or _indices, and bad indices', async () => {
  const golden = await openGolden('olmoe-f32');
  const model = await loadModel(golden.dir);
  try {
    const E = model.spec.moe!.nExperts;
    const k = model.spec.moe!.topK;
    const idx = 'blocks.1.mlp.hook_expert_indices';
    // Probabilities favouring experts 5, 4, 3 in that order: those are chosen, in that order.
    const favour = {
      hook: 'blocks.1.mlp.hook_expert_weights',
      apply(v: Float32Array) {
        for (let r = 0; r < v.length / E; r++) for (let e = 0; e < E; e++) v[r * E + e] = e / 100;
      },
    };
    const forced = (await model.run([SEQ], { hooks: [idx], edits: [favour] })).get(idx)!;
    for (let r = 0; r < SEQ.length; r++)
      assert.deepEqual(Array.from(forced.subarray(r * k, r * k + k)), [5, 4, 3]);
    // An identity rewrite of the indices changes nothing; routing every token to experts 0, 1, 2 (each slot
    // keeping its weight) changes the logits.
    const same = {
      hook: idx,
      apply(v: Float32Array) {
        return Float32Array.from(v);
      },
    };
    const base = (await model.run([SEQ], { hooks: ['logits'] })).get('logits')!;
    const ident = (await model.run([SEQ], { hooks: ['logits'], edits: [same] })).get('logits')!;
    assert.deepEqual(ident, base);
    const rerouted = {
      hook: idx,
      apply(v: Float32Array) {
        for (let i = 0; i < v.length; i += k) v.set([0, 1, 2], i);
      },
    };
    const moved = (await model.run([SEQ], { hooks: ['logits'], edits: [rerouted] })).get('logits')!;
    assert.ok(relError(moved, base) > 1e-3, 'routing to other experts changes the logits');
    const bad = { hook: idx, apply: (v: Float32Array) => void v.fill(E) };
    await assert.rejects(
      model.run([SEQ], { hooks: ['logits'], edits: [bad] }),
      (e: Error) => e instanceof UserError && /experts are whole numbers 0\.\.5/.test(e.message),
    );
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('hooks: mlp.hook_post of a sparse layer and expert hooks of a dense layer are refused', async () => {
  const golden = await openGolden('qwen3-moe-f32'); // mlp_only_layers [2]
  const model = await loadModel(golden.dir);
  try {
    await assert.rejects(model.run([SEQ], { hooks: ['blocks.0.mlp.hook_post'] }), /is a mixture of experts/);
    await assert.rejects(
      model.run([SEQ], { hooks: ['blocks.2.mlp.hook_expert_weights'] }),
      /has a dense MLP/,
    );
    const out = await model.run([SEQ], {
      hooks: ['blocks.2.mlp.hook_post', 'blocks.0.mlp.hook_expert_weights'],
    });
    assert.equal(out.get('blocks.2.mlp.hook_post')!.length, SEQ.length * 40);
    const p = out.get('blocks.0.mlp.hook_expert_weights')!;
    for (let r = 0; r < SEQ.length; r++) {
      const sum = p.subarray(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-6, 'a softmax over all experts');
    }
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('routeTopK: descending probability, exact ties to the lower expert, float32 renormalisation', () => {
  const probs = Float32Array.from([0.1, 0.3, 0.3, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25, 0]);
  const { indices, weights } = routeTopK(probs, 2, 5, 2, true);
  assert.deepEqual(Array.from(indices), [1, 2, 0, 1]);
  assert.deepEqual(Array.from(weights), [0.5, 0.5, 0.5, 0.5]);
  const raw = routeTopK(probs, 2, 5, 3, false);
  assert.deepEqual(Array.from(raw.indices), [1, 2, 3, 0, 1, 2]);
  assert.deepEqual(Array.from(raw.weights), Array.from(Float32Array.from([0.3, 0.3, 0.2, 0.25, 0.25, 0.25])));
});

test('gemma3 multimodal: the vision tower and projector are never read', async () => {
  for (const name of ['gemma3-mm-4x-f32', 'gemma3-mm-5x-bf16-sharded']) {
    const checkpoint = await openCheckpoint(join(FIXTURES, name));
    const read: string[] = [];
    const source = {
      ...checkpoint,
      readFloat32: (n: string) => {
        read.push(n);
        return checkpoint.readFloat32(n);
      },
    };
    const spec = modelSpec(checkpoint.config, (n) => checkpoint.has(n));
    const model = new HookedModel(spec, source);
    try {
      const logits = (await model.run([SEQ], { hooks: ['logits'] })).get('logits')!;
      const golden = await openGolden(name);
      assert.ok(relError(logits, (await golden.read('s2.logits')).data) <= 1e-5);
      await golden.close();
      assert.ok(read.length > 10);
      assert.deepEqual(
        read.filter((n) => /vision_tower|multi_modal_projector/.test(n)),
        [],
        `${name}: vision tensors read`,
      );
      assert.ok(
        checkpoint.tensorNames.some((n) => /vision_tower/.test(n)),
        'the fixture has a vision tower',
      );
    } finally {
      await model.dispose();
    }
  }
});
