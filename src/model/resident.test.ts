/**
 * The device-resident engine (the WebGPU code path: weights uploaded once, the residual stream chained between
 * sessions as tensors, only kept rows gathered back, edits round-tripped) run on the CPU provider, against the
 * PyTorch float64 goldens (reference/engine_make_goldens.py). The same code runs on webgpu with 'gpu-buffer'
 * tensors; only that memory location cannot be exercised without a GPU (bench/gpu/ does it on one).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { UserError } from '../util/errors.js';
import { FIXTURES, openGolden, relError } from './engine.test-util.js';
import { loadModel } from './load.js';
import { expectFinite, expectOnDevice, keptRows } from './resident.js';

const TOL = 1e-5;

for (const name of readdirSync(FIXTURES).sort()) {
  test(`resident ${name}: every hook at every position within ${TOL} of PyTorch float64`, async () => {
    const golden = await openGolden(name);
    // weightCacheBytes 0: every layer is uploaded per run and its device tensors disposed after use.
    const model = await loadModel(golden.dir, { resident: true, weightCacheBytes: 0 });
    try {
      const { sequences, hooks } = golden.meta;
      const out = await model.run(sequences, { hooks });
      const maxLen = Math.max(...sequences.map((s) => s.length));
      for (const hook of hooks) {
        for (let i = 0; i < sequences.length; i++) {
          const { data, width } = await golden.read(`s${i}.${hook}`);
          const mine = out
            .get(hook)!
            .subarray(i * maxLen * width, (i * maxLen + sequences[i]!.length) * width);
          const err = relError(mine, data);
          assert.ok(err <= TOL, `${name} s${i}.${hook}: ${err.toExponential(2)} > ${TOL}`);
        }
      }
    } finally {
      await model.dispose();
      await golden.close();
    }
  });
}

test('resident: kept positions gather exactly the golden rows (last token and a middle one)', async () => {
  const golden = await openGolden('llama-gqa-tied-bf16-sharded');
  const model = await loadModel(golden.dir, { resident: true });
  try {
    const { sequences } = golden.meta;
    const hooks = ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_mid', 'blocks.1.mlp.hook_post', 'logits'];
    const positions = sequences.map((s, i) => (i % 2 ? -1 : Math.floor(s.length / 2)));
    const out = await model.run(sequences, { hooks, positions, batchTokens: 8 });
    for (const hook of hooks) {
      for (let i = 0; i < sequences.length; i++) {
        const { data, width } = await golden.read(`s${i}.${hook}`);
        const p = positions[i]! < 0 ? sequences[i]!.length - 1 : positions[i]!;
        const mine = out.get(hook)!.subarray(i * width, (i + 1) * width);
        assert.ok(relError(mine, data.subarray(p * width, (p + 1) * width)) <= TOL, `${hook} s${i}`);
      }
    }
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('resident: edits (added vector, zeroed neurons) match PyTorch interventions', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir, { resident: true });
  try {
    const { edits, sequences } = golden.meta;
    const vec = Float32Array.from((await golden.read(edits!.add_last.vector)).data);
    const add = await model.run(sequences, {
      hooks: ['logits'],
      edits: [{ hook: edits!.add_last.hook, add: vec, positions: [edits!.add_last.position] }],
    });
    const zero = await model.run(sequences, {
      hooks: ['logits'],
      edits: [
        {
          hook: edits!.zero_neurons.hook,
          apply(value, info) {
            for (let r = 0; r < value.length / info.width; r++)
              for (const n of edits!.zero_neurons.neurons) value[r * info.width + n] = 0;
          },
        },
      ],
    });
    const maxLen = Math.max(...sequences.map((s) => s.length));
    for (const [label, out] of [
      ['add_last', add],
      ['zero_neurons', zero],
    ] as const) {
      for (let i = 0; i < sequences.length; i++) {
        const { data, width } = await golden.read(`e${i}.${label}.logits`);
        const mine = out
          .get('logits')!
          .subarray(i * maxLen * width, (i * maxLen + sequences[i]!.length) * width);
        assert.ok(relError(mine, data) <= TOL, `${label} s${i}`);
      }
    }
  } finally {
    await model.dispose();
    await golden.close();
  }
});

// f16 weights (widened to f32 in the graph): the deviation from PyTorch float64 on the f32-stored checkpoints.
// Bound: weight rounding is 2^-11 relative; through a few layers the activations move by about 1e-3 of their range.
// The mixture of experts (3 layers, router and shared-expert gate in f16 too; 1.4e-3 on this seed) gets 1e-2: its
// gate probabilities multiply the expert outputs, so both roundings add; its routing must not change at all.
const F16_BOUNDS: Record<string, number> = {
  'llama2-f32': 5e-3,
  'qwen2-bias-tied-f32': 5e-3,
  'neox-sequential-f32': 5e-3,
  'qwen2-moe-f32': 1e-2,
};
for (const [name, bound] of Object.entries(F16_BOUNDS)) {
  test(`f16 weights ${name}: within ${bound} of PyTorch float64, and measurably not f32`, async () => {
    const golden = await openGolden(name);
    const model = await loadModel(golden.dir, { resident: true, weightDtype: 'f16' });
    try {
      const { sequences } = golden.meta;
      const hooks = golden.meta.hooks.filter(
        (h) => h.endsWith('hook_resid_post') || h.endsWith('hook_expert_indices') || h === 'logits',
      );
      const out = await model.run(sequences, { hooks });
      const maxLen = Math.max(...sequences.map((s) => s.length));
      let worst = 0;
      for (const hook of hooks) {
        for (let i = 0; i < sequences.length; i++) {
          const { data, width } = await golden.read(`s${i}.${hook}`);
          const mine = out
            .get(hook)!
            .subarray(i * maxLen * width, (i * maxLen + sequences[i]!.length) * width);
          if (hook.endsWith('hook_expert_indices'))
            assert.deepEqual(Array.from(mine), Array.from(data), hook);
          else worst = Math.max(worst, relError(mine, data));
        }
      }
      assert.ok(worst <= bound, `${name}: ${worst.toExponential(2)} > ${bound}`);
      assert.ok(worst > 1e-5, `${name}: ${worst.toExponential(2)}: the f16 weights were not used`);
    } finally {
      await model.dispose();
      await golden.close();
    }
  });
}

test('f16 weights without the resident engine are refused', async () => {
  const golden = await openGolden('llama2-f32');
  await assert.rejects(loadModel(golden.dir, { weightDtype: 'f16' }), (e) => e instanceof UserError);
  await golden.close();
});

test('resident helpers: kept rows, host-memory and non-finite guards', async () => {
  assert.deepEqual(keptRows([2, 0], 5, [1, 9, 4]), [4, 5 + 1]);
  const { ort } = await import('../native/index.js');
  const host = new ort.Tensor('float32', new Float32Array(2), [2]);
  assert.throws(() => expectOnDevice(host, 'resid_post'), /'resid_post' in cpu memory/);
  assert.throws(
    () => expectFinite(Float32Array.of(1, Number.NaN), 'blocks.3.hook_resid_post'),
    /non-finite.*blocks\.3/,
  );
  expectFinite(Float32Array.of(1, -2), 'ok');
});

test('library use of device webgpu without an adapter fails with the probe reason, before any graph is built', async () => {
  const { probeWebGpu } = await import('../native/index.js');
  const probe = await probeWebGpu();
  if (probe.ok) return; // a GPU machine: nothing to refuse
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir, { device: 'webgpu' });
  try {
    await assert.rejects(
      model.run([[1, 2, 3]], { hooks: ['blocks.0.hook_resid_post'] }),
      (e) => e instanceof UserError && e.message === `--device webgpu: ${probe.reason}`,
    );
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('webgpu micro-batches: the widest activation of one call stays under 1 GiB, at most 32768 tokens', async () => {
  const { modelSpec } = await import('./architectures/index.js');
  const { HookedModel } = await import('./hooked-model.js');
  const llama7b = modelSpec(
    {
      model_type: 'llama',
      hidden_size: 4096,
      num_attention_heads: 32,
      num_hidden_layers: 32,
      intermediate_size: 11008,
      vocab_size: 32000,
      rms_norm_eps: 1e-5,
    },
    () => true,
  );
  const source = { config: {}, dir: 'x', has: () => true } as unknown as ConstructorParameters<
    typeof HookedModel
  >[1];
  const gpu = new HookedModel(llama7b, source, undefined, { device: 'webgpu' });
  // gate+up: 2 · 11008 f32 per token -> 2^30 / (4 · 22016) = 12192 tokens.
  assert.equal(gpu.defaultBatchTokens, Math.floor(2 ** 30 / (4 * 2 * 11008)));
  assert.equal(gpu.defaultBatchTokens, 12192);
  assert.equal(new HookedModel(llama7b, source, undefined, {}).defaultBatchTokens, 4096);
  // 32 layers of f32 weights (25.9 GB) exceed the 8 GiB GPU cache: weights stream once per chunk.
  assert.equal(gpu.streamsWeights, true);
  const small = modelSpec(
    {
      model_type: 'llama',
      hidden_size: 64,
      num_attention_heads: 4,
      num_hidden_layers: 2,
      intermediate_size: 128,
      vocab_size: 100,
      rms_norm_eps: 1e-5,
    },
    () => true,
  );
  assert.equal(new HookedModel(small, source, undefined, { device: 'webgpu' }).defaultBatchTokens, 32768);
});
