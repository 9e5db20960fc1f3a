/**
 * Engine behaviour beyond the plain forward: batching/padding invariance, kept positions, streaming weights in
 * chunks, causal edits and greedy generation (against PyTorch goldens), that the 1e-5 tolerance really catches
 * GELU and norm-epsilon mistakes, and clear errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../util/errors.js';
import { modelSpec } from './architectures/index.js';
import { openCheckpoint } from './checkpoint.js';
import { openGolden, relError } from './engine.test-util.js';
import { HookedModel } from './hooked-model.js';
import { hookNames } from './hooks.js';
import { loadModel } from './load.js';
import type { ModelSpec } from './spec.js';

const LLAMA = 'llama-gqa-tied-bf16-sharded';

test('padding and batch composition do not change any activation (1e-5 relative)', async () => {
  const golden = await openGolden(LLAMA);
  const model = await loadModel(golden.dir);
  try {
    const entity = [1, 9, 60, 2, 33];
    const others = [
      [1, 4],
      [1, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 5, 6],
      [1, 2, 3, 4, 5, 6, 7],
    ];
    const hooks = ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'blocks.1.mlp.hook_post'];
    const alone = await model.run([entity], { hooks, positions: [-1] });
    const batched = await model.run([...others, entity], { hooks, positions: [0, 5, 6, 4] });
    const tiny = await model.run([others[1]!, entity, others[0]!], {
      hooks,
      positions: [3, 4, 1],
      batchTokens: 8,
    });
    for (const hook of hooks) {
      const a = alone.get(hook)!;
      const w = a.length;
      assert.ok(relError(batched.get(hook)!.subarray(3 * w, 4 * w), a) <= 1e-5, hook);
      assert.ok(relError(tiny.get(hook)!.subarray(w, 2 * w), a) <= 1e-5, hook);
    }
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('kept positions, streamed weights and small chunks give the rows of the full run', async () => {
  const golden = await openGolden('pythia-parallel-f16');
  const full = await loadModel(golden.dir);
  const streamed = await loadModel(golden.dir, { weightCacheBytes: 0, chunkBytes: 1 });
  try {
    const seqs = golden.meta.sequences;
    const hooks = [
      'blocks.1.hook_resid_post',
      'blocks.0.mlp.hook_post',
      'logits',
      'ln_final.hook_normalized',
    ];
    const all = await full.run(seqs, { hooks });
    const positions = [0, 2, -3];
    const progress: number[] = [];
    const kept = await streamed.run(seqs, {
      hooks,
      positions,
      batchTokens: 4,
      onProgress: (done) => progress.push(done),
    });
    const maxLen = Math.max(...seqs.map((s) => s.length));
    for (const hook of hooks) {
      const w = kept.get(hook)!.length / seqs.length;
      seqs.forEach((s, i) => {
        const t = positions[i]! < 0 ? s.length + positions[i]! : positions[i]!;
        const row = all.get(hook)!.subarray((i * maxLen + t) * w, (i * maxLen + t + 1) * w);
        assert.ok(relError(kept.get(hook)!.subarray(i * w, (i + 1) * w), row) <= 1e-6, hook);
      });
    }
    assert.equal(progress.at(-1), seqs.length);
    assert.ok(progress.every((p, i) => i === 0 || p >= progress[i - 1]!));
  } finally {
    await full.dispose();
    await streamed.dispose();
    await golden.close();
  }
});

test('stops after the last needed block and returns only requested hooks', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir);
  try {
    const out = await model.run([[1, 2, 3]], { hooks: ['blocks.0.hook_resid_mid', 'hook_embed'] });
    assert.deepEqual([...out.keys()].sort(), ['blocks.0.hook_resid_mid', 'hook_embed']);
    const { data } = await golden.read('s1.blocks.0.hook_resid_mid');
    const mine = (await model.run([golden.meta.sequences[1]!], { hooks: ['blocks.0.hook_resid_mid'] })).get(
      'blocks.0.hook_resid_mid',
    )!;
    assert.ok(relError(mine, data) <= 1e-5);
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('edits: a vector added at one position and zeroed neurons match PyTorch interventions', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir);
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
        assert.ok(relError(mine, data) <= 1e-5, `${label} s${i}`);
      }
    }
    // The unedited logits differ, so the edits did something.
    const { data: plain } = await golden.read('s2.logits');
    const { data: edited } = await golden.read('e2.add_last.logits');
    assert.ok(relError(Float32Array.from(edited), plain) > 1e-3);
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('edits at hook_attn_out and hook_mlp_out change what joins the residual stream, as in PyTorch', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir);
  try {
    const { sequences } = golden.meta;
    const vec = Float32Array.from((await golden.read('vec')).data);
    const runs = {
      // reference/engine_make_goldens.py: vec added to blocks.0.hook_attn_out at the last position; layer 1's
      // hook_mlp_out halved everywhere.
      attn_out_add_last: await model.run(sequences, {
        hooks: ['logits'],
        edits: [{ hook: 'blocks.0.hook_attn_out', add: vec, positions: [-1] }],
      }),
      mlp_out_half: await model.run(sequences, {
        hooks: ['logits'],
        edits: [{ hook: 'blocks.1.hook_mlp_out', apply: (v) => v.map((x) => x * 0.5) }],
      }),
    };
    const maxLen = Math.max(...sequences.map((s) => s.length));
    for (const [label, out] of Object.entries(runs)) {
      for (let i = 0; i < sequences.length; i++) {
        const { data, width } = await golden.read(`e${i}.${label}.logits`);
        const mine = out
          .get('logits')!
          .subarray(i * maxLen * width, (i * maxLen + sequences[i]!.length) * width);
        assert.ok(relError(mine, data) <= 1e-5, `${label} s${i}`);
        const { data: plain } = await golden.read(`s${i}.logits`);
        assert.ok(relError(Float32Array.from(data), plain) > 1e-3, `${label} s${i} should change the logits`);
      }
    }
  } finally {
    await model.dispose();
    await golden.close();
  }
});

for (const [fixture, attnTarget] of [
  ['pythia-parallel-f16', 'blocks.0.hook_resid_post'], // parallel residual: attn_out joins at resid_post
  ['gemma2-f32', 'blocks.0.hook_resid_mid'], // post-attention norm: the edit lands after it, not normalised again
  ['olmo2-f32', 'blocks.0.hook_resid_mid'],
] as const) {
  test(`${fixture}: a vector added at hook_attn_out / hook_mlp_out reaches the residual stream unchanged`, async () => {
    const golden = await openGolden(fixture);
    const model = await loadModel(golden.dir);
    try {
      const seq = [golden.meta.sequences[2]!];
      const d = model.spec.dModel;
      const vec = Float32Array.from({ length: d }, (_, j) => Math.sin(j + 1));
      for (const [hook, target] of [
        ['blocks.0.hook_attn_out', attnTarget],
        ['blocks.0.hook_mlp_out', 'blocks.0.hook_resid_post'],
      ] as const) {
        const plain = (await model.run(seq, { hooks: [target] })).get(target)!;
        const edited = (await model.run(seq, { hooks: [target], edits: [{ hook, add: vec }] })).get(target)!;
        const expected = plain.map((x, i) => x + vec[i % d]!);
        assert.ok(relError(edited, expected) <= 1e-5, `${hook} -> ${target}`);
      }
    } finally {
      await model.dispose();
      await golden.close();
    }
  });
}

test('greedy generation matches PyTorch argmax decoding', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir);
  try {
    const { prompt, newTokens } = golden.meta.greedy!;
    assert.deepEqual(
      await model.generate(prompt, { maxNewTokens: newTokens.length, stopAtEos: false }),
      newTokens,
    );
  } finally {
    await model.dispose();
    await golden.close();
  }
});

async function logitsError(name: string, tweak: (s: ModelSpec) => ModelSpec): Promise<number> {
  const golden = await openGolden(name);
  const checkpoint = await openCheckpoint(golden.dir);
  const spec = tweak(modelSpec(checkpoint.config, (n) => checkpoint.has(n)));
  const model = new HookedModel(spec, checkpoint);
  try {
    const seq = golden.meta.sequences[2]!;
    const out = await model.run([seq], { hooks: ['logits'] });
    return relError(out.get('logits')!, (await golden.read('s2.logits')).data);
  } finally {
    await model.dispose();
    await golden.close();
  }
}

test('the 1e-5 tolerance catches GELU tanh-vs-exact and a wrong RMSNorm epsilon', async () => {
  assert.ok((await logitsError('gpt2-legacy-f32', (s) => s)) <= 1e-5);
  const gelu = await logitsError('gpt2-legacy-f32', (s) => ({ ...s, act: 'gelu' }));
  assert.ok(gelu > 1e-5, `exact GELU instead of tanh moved logits by only ${gelu}`);
  const eps = await logitsError('mistral-tiny-embeddings-f32', (s) => ({ ...s, normEps: 1e-5 }));
  assert.ok(eps > 1e-5, `eps 1e-5 instead of 1e-6 moved logits by only ${eps}`);
});

test('clear errors: unsupported model_type, unknown hooks, bad ids and positions', async () => {
  assert.throws(
    () => modelSpec({ model_type: 'bert' }, () => false),
    (e: Error) =>
      e instanceof UserError &&
      /bert.*llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3_text, gemma3, phi3, olmo, olmo2, olmo3, smollm3, granite, mixtral, qwen2_moe, qwen3_moe, olmoe, gpt_neox, gpt2/.test(
        e.message,
      ),
  );
  const base = {
    model_type: 'llama',
    hidden_size: 8,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    intermediate_size: 8,
    vocab_size: 8,
  };
  assert.throws(
    () => modelSpec({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } }, () => false),
    /rope_scaling type 'yarn' is not supported/,
  );
  assert.throws(() => modelSpec({ ...base, num_key_value_heads: 3 }, () => false), /not a multiple of 3/);
  assert.throws(
    () => modelSpec({ ...base, hidden_act: 'swiglu' }, () => false),
    /unsupported hidden_act "swiglu"/,
  );
  assert.throws(
    () => modelSpec({ ...base, hidden_size: 'big' }, () => false),
    /'hidden_size' should be a number/,
  );
  const golden = await openGolden('pythia-parallel-f16');
  const model = await loadModel(golden.dir);
  try {
    assert.deepEqual(hookNames(model.spec).slice(0, 6), [
      'hook_embed',
      'blocks.0.hook_resid_pre',
      'blocks.0.hook_attn_out',
      'blocks.0.mlp.hook_post',
      'blocks.0.hook_mlp_out',
      'blocks.0.hook_resid_post',
    ]);
    await assert.rejects(model.run([[1]], { hooks: ['blocks.9.hook_resid_post'] }), /2 layers/);
    await assert.rejects(model.run([[1]], { hooks: ['blocks.0.hook_resid_mid'] }), /parallel residual/);
    await assert.rejects(model.run([[1]], { hooks: ['blocks.0.attn'] }), /unknown hook/);
    await assert.rejects(model.run([[1, 80]], { hooks: ['logits'] }), /outside the vocabulary/);
    await assert.rejects(model.run([[1, 2]], { hooks: ['logits'], positions: [2] }), /outside sequence 0/);
    await assert.rejects(model.run([[]], { hooks: ['logits'] }), /empty/);
    await assert.rejects(
      model.run([[1]], { hooks: ['logits'], edits: [{ hook: 'hook_embed', add: new Float32Array(3) }] }),
      /3 values/,
    );
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('--device cuda without the CUDA provider is a clear user error', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir, { device: 'cuda' });
  try {
    await model.run([[1, 2]], { hooks: ['logits'] }).then(
      () => undefined, // a machine with onnxruntime's CUDA build runs it
      (err: Error) => {
        assert.ok(err instanceof UserError, String(err));
        assert.match(err.message, /^--device cuda: .*CUDA provider/);
      },
    );
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('memory does not grow across repeated runs (native tensors are released)', async () => {
  const golden = await openGolden('pythia-parallel-f16');
  const model = await loadModel(golden.dir);
  try {
    const seqs = Array.from({ length: 16 }, (_, i) =>
      Array.from({ length: 8 }, (_, t) => (i * 31 + t * 7) % 80),
    );
    const hooks = ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'logits'];
    for (let i = 0; i < 3; i++) await model.run(seqs, { hooks });
    const before = process.memoryUsage.rss();
    for (let i = 0; i < 30; i++) await model.run(seqs, { hooks });
    const grown = process.memoryUsage.rss() - before;
    assert.ok(grown < 40 * 2 ** 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB over 30 runs`);
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('phi3 longrope: a sequence beyond original_max_position_embeddings is a clear error', async () => {
  const golden = await openGolden('phi3-longrope-f32');
  const model = await loadModel(golden.dir);
  try {
    const tooLong = Array.from({ length: 65 }, (_, i) => (i % 70) + 1);
    await assert.rejects(
      model.run([tooLong], { hooks: ['logits'] }),
      (e: Error) =>
        e instanceof UserError &&
        /longrope is supported up to original_max_position_embeddings = 64/.test(e.message),
    );
    await model.run([tooLong.slice(0, 64)], { hooks: ['logits'], positions: [-1] });
  } finally {
    await model.dispose();
    await golden.close();
  }
});
