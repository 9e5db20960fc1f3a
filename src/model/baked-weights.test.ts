/**
 * The CUDA engine's logic, run where there is no GPU: weights baked into per-layer sessions (bakeWeights, the
 * default on cuda) on the CPU provider against the PyTorch float64 goldens, with edits, kept positions, a shared
 * prefix and streamed weights; the GPU batch sizing cuda shares with webgpu; and the one-line error of a CUDA
 * session on a machine whose onnxruntime-node has no CUDA provider. What only a GPU can show (the CUDA kernels'
 * numbers, transfer savings, memory) is not covered here.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ortBinDir, PROVIDER_FILES } from '../native/index.js';
import { UserError } from '../util/errors.js';
import { expectGoldenHooks, FIXTURES, openGolden, relError } from './engine.test-util.js';
import { loadModel } from './load.js';

const TOL = 1e-5;
/** The engine's count of sessions holding baked weights (private state, read for the tests). */
const bakedSessions = (model: object) =>
  (model as { engine?: { sessions: { bakedSessionCount: number } } }).engine!.sessions.bakedSessionCount;

for (const name of readdirSync(FIXTURES).sort()) {
  test(`baked weights ${name}: every hook within ${TOL} of PyTorch float64, weights streamed`, async () => {
    const golden = await openGolden(name);
    // weightCacheBytes 0: the layer sessions are built for each chunk and released with the layer
    const model = await loadModel(golden.dir, { bakeWeights: true, weightCacheBytes: 0 });
    try {
      const { sequences, hooks } = golden.meta;
      const out = await model.run(sequences, { hooks, batchTokens: 16 });
      assert.ok(
        (await expectGoldenHooks(golden, out, name, TOL)) > 0,
        'f32 compute is not float64 bit for bit',
      );
      assert.equal(bakedSessions(model), 0, 'streamed layers release their sessions');
    } finally {
      await model.dispose();
      await golden.close();
    }
  });
}

test('baked weights: cached layers keep one session per (kind, layer); edits and a shared prefix agree with PyTorch', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir, { bakeWeights: true });
  const sessions = () => bakedSessions(model);
  try {
    const { edits, sequences } = golden.meta;
    const vec = Float32Array.from((await golden.read(edits!.add_last.vector)).data);
    const add = await model.run(sequences, {
      hooks: ['logits'],
      edits: [{ hook: edits!.add_last.hook, add: vec, positions: [edits!.add_last.position] }],
    });
    const maxLen = Math.max(...sequences.map((s) => s.length));
    for (let i = 0; i < sequences.length; i++) {
      const { data, width } = await golden.read(`e${i}.add_last.logits`);
      const mine = add
        .get('logits')!
        .subarray(i * maxLen * width, (i * maxLen + sequences[i]!.length) * width);
      assert.ok(relError(mine, data) <= TOL, `add s${i}`);
    }
    const layers = model.spec.nLayers;
    assert.equal(sessions(), 2 * layers, 'attn + mlp_full per layer, kept while layers are cached');
    // shared prefix: the prefix's attn_kv and the rows' attn_past are baked too
    const s = sequences[2]!;
    const P = 3;
    const rows = [s.slice(0, P + 2), s.slice(0, s.length)];
    const out = await model.run(rows, { hooks: ['logits'], positions: [-1, -1], sharedPrefix: P });
    const { data, width } = await golden.read('s2.logits');
    for (const [i, k] of [P + 2, s.length].entries()) {
      const mine = out.get('logits')!.subarray(i * width, (i + 1) * width);
      assert.ok(relError(mine, data.subarray((k - 1) * width, k * width)) <= TOL, `prefix row ${i}`);
    }
    assert.equal(sessions(), 4 * layers);
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('baked weights, mixture of experts: the router and each routed expert get a session of their own per layer', async () => {
  const golden = await openGolden('mixtral-f32');
  const model = await loadModel(golden.dir, { bakeWeights: true });
  try {
    const { sequences, hooks } = golden.meta;
    const out = await model.run(sequences, { hooks });
    await expectGoldenHooks(golden, out, 'mixtral-f32 baked', TOL);
    // attn + moe_router per layer, plus one session per expert any token of that layer was routed to
    let expected = 0;
    for (let l = 0; l < model.spec.nLayers; l++) {
      const hit = new Set<number>();
      for (let i = 0; i < sequences.length; i++)
        for (const e of (await golden.read(`s${i}.blocks.${l}.mlp.hook_expert_indices`)).data) hit.add(e);
      expected += 2 + hit.size;
    }
    assert.equal(bakedSessions(model), expected);
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('cuda sizes batches, chunks and the weight cache like webgpu (the host engine keeps the CPU sizes)', async () => {
  const golden = await openGolden('llama-gqa-tied-bf16-sharded');
  const models = await Promise.all(
    (['cpu', 'webgpu', 'cuda'] as const).map((device) => loadModel(golden.dir, { device })),
  );
  try {
    const [cpu, webgpu, cuda] = models.map((m) => ({
      batch: m!.defaultBatchTokens,
      chunk: m!.chunkTokens,
      streams: m!.streamsWeights,
    }));
    assert.equal(cpu!.batch, 4096);
    const { dModel: d, nHeads: H, nKvHeads: KV, headDim: hd, dMlp: m } = models[0]!.spec;
    const widest = Math.max(d, (H + 2 * KV) * hd, 2 * m);
    assert.equal(cuda!.batch, Math.max(256, Math.min(32768, Math.floor(2 ** 30 / (4 * widest)))));
    assert.deepEqual(cuda, webgpu);
    assert.equal(cuda!.chunk, 4 * cpu!.chunk, '4 GiB chunks on a GPU, 1 GiB on the CPU');
  } finally {
    for (const m of models) await m.dispose();
    await golden.close();
  }
  await assert.rejects(
    loadModel(golden.dir, { device: 'cuda', resident: true, bakeWeights: true }),
    /two ways to hold weights/,
  );
});

test('a CUDA session on this machine fails with the real reason in one line', async (t) => {
  if (PROVIDER_FILES.every((f) => existsSync(join(ortBinDir(), f))))
    return t.skip('this onnxruntime-node has the CUDA provider installed');
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir, { device: 'cuda' });
  try {
    await assert.rejects(model.run([[1, 2]], { hooks: ['logits'] }), (err: Error) => {
      assert.ok(err instanceof UserError, String(err));
      assert.match(
        err.message,
        /^--device cuda: onnxruntime-node's CUDA provider is not installed \(no libonnxruntime_providers_shared\.so, libonnxruntime_providers_cuda\.so in .*\); install it with `npm rebuild onnxruntime-node --onnxruntime-node-install-cuda=v12` \(needs CUDA 12 and cuDNN 9\) \(building the attn graph\)$/,
      );
      return true;
    });
  } finally {
    await model.dispose();
    await golden.close();
  }
});
