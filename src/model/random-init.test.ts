import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadDataset } from '../data/index.js';
import { extract } from '../extract/extract.js';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { probeStore } from '../probe/index.js';
import { openStore } from '../store/index.js';
import { packageRoot } from '../util/paths.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { openCheckpoint } from './checkpoint.js';
import { HookedModel } from './hooked-model.js';
import { loadRandomInitModel, randomInitSource } from './random-init.js';

const scratch = mkdtempSync(join(tmpdir(), 'stl-random-init-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const engineFixtures = join(packageRoot(), 'test/fixtures/engine');

/** Sample mean, standard deviation and kurtosis (E[(x-μ)^4]/σ^4; 3 for a normal). */
function moments(x: Float32Array) {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let m2 = 0;
  let m4 = 0;
  for (const v of x) {
    const d = (v - mean) ** 2;
    m2 += d;
    m4 += d * d;
  }
  m2 /= x.length;
  m4 /= x.length;
  return { mean, std: Math.sqrt(m2), kurtosis: m4 / (m2 * m2) };
}

/** normal(0, std) checked at ~5 standard errors (mean, std) and kurtosis within 0.15 of 3. */
function assertNormal(x: Float32Array, std: number, what: string) {
  const m = moments(x);
  const n = x.length;
  assert.ok(Math.abs(m.mean) < (5 * std) / Math.sqrt(n), `${what}: mean ${m.mean}`);
  assert.ok(Math.abs(m.std / std - 1) < 5 / Math.sqrt(2 * n), `${what}: std ${m.std} vs ${std}`);
  assert.ok(Math.abs(m.kurtosis - 3) < 0.15, `${what}: kurtosis ${m.kurtosis}`);
}

describe('random-init twin: Hugging Face init distributions from config.json alone', () => {
  test('the tensors and shapes are those of real checkpoints of every supported family', async () => {
    for (const name of readdirSync(engineFixtures)) {
      const ckpt = await openCheckpoint(join(engineFixtures, name));
      try {
        const prefixless = !ckpt.has('transformer.wte.weight') && ckpt.config['model_type'] === 'gpt2';
        // The twin writes Gemma 3's text tower in transformers 5's layout and MoE experts one by one; the
        // fixtures in the other layouts are compared after renaming (fused experts: by parameter count).
        const gemma3Old = ckpt.has('language_model.model.embed_tokens.weight');
        const rename = (k: string) =>
          prefixless
            ? k.replace(/^transformer\./, '')
            : gemma3Old
              ? k
                  .replace(/^model\.language_model\./, 'language_model.model.')
                  .replace(/^lm_head/, 'language_model.lm_head')
              : k;
        const { plan } = randomInitSource('x', ckpt.config, 0);
        if (ckpt.tensorNames.some((t) => t.endsWith('mlp.experts.gate_up_proj'))) {
          const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
          const planned = [...plan.values()].reduce((sum, t) => sum + size(t.shape), 0);
          assert.equal(planned, ckpt.parameterCount, `${name}: parameters`);
          continue;
        }
        const ours = new Map([...plan].map(([k, v]) => [rename(k), v]));
        for (const [tensor, t] of ours) {
          assert.ok(ckpt.has(tensor), `${name}: the checkpoint has no ${tensor}`);
          assert.deepEqual(t.shape, ckpt.info(tensor).shape, `${name}: ${tensor}`);
        }
        const extra = ckpt.tensorNames.filter(
          (t) =>
            !ours.has(t) &&
            !/attn\.(masked_)?bias$|inv_freq$|^(model\.)?(vision_tower|multi_modal_projector)\./.test(t),
        );
        assert.deepEqual(extra, [], `${name}: tensors the twin lacks`);
      } finally {
        await ckpt.close();
      }
    }
  });

  test('Llama: Linear and Embedding normal(0, initializer_range), RMSNorm 1, padding row 0, seeded', async () => {
    const config = {
      model_type: 'llama',
      hidden_size: 64,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      num_hidden_layers: 2,
      intermediate_size: 160,
      vocab_size: 3000,
      initializer_range: 0.05,
      pad_token_id: 7,
      attention_bias: true,
    };
    const { source, plan } = randomInitSource('x', config, 1);
    const embed = await source.readFloat32('model.embed_tokens.weight');
    assert.ok(
      embed.subarray(7 * 64, 8 * 64).every((v) => v === 0),
      'padding_idx row',
    );
    assertNormal(embed.subarray(8 * 64), 0.05, 'embed');
    for (const w of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
      assertNormal(await source.readFloat32(`model.layers.1.self_attn.${w}.weight`), 0.05, w);
      assert.ok(
        (await source.readFloat32(`model.layers.1.self_attn.${w}.bias`)).every((v) => v === 0),
        `${w} bias`,
      );
    }
    const mlp = await Promise.all(
      ['gate_proj', 'up_proj', 'down_proj'].map((w) => source.readFloat32(`model.layers.0.mlp.${w}.weight`)),
    );
    assertNormal(Float32Array.from(mlp.flatMap((a) => [...a])), 0.05, 'mlp');
    assert.equal(source.has('model.layers.0.mlp.up_proj.bias'), false, 'mlp_bias defaults to false');
    assertNormal(await source.readFloat32('lm_head.weight'), 0.05, 'lm_head (untied by default)');
    assert.ok((await source.readFloat32('model.norm.weight')).every((v) => v === 1));
    assert.ok((await source.readFloat32('model.layers.0.input_layernorm.weight')).every((v) => v === 1));
    assert.equal(plan.get('model.layers.0.self_attn.k_proj.weight')!.shape.join('x'), '32x64');
    const again = randomInitSource('x', config, 1).source;
    const other = randomInitSource('x', config, 2).source;
    const q = await source.readFloat32('model.layers.0.self_attn.q_proj.weight');
    assert.deepEqual(
      await again.readFloat32('model.layers.0.self_attn.q_proj.weight'),
      q,
      'same seed, same weights',
    );
    assert.notDeepEqual(await other.readFloat32('model.layers.0.self_attn.q_proj.weight'), q);
    const k = await source.readFloat32('model.layers.0.self_attn.k_proj.weight');
    assert.notDeepEqual(k.subarray(0, 16), q.subarray(0, 16), 'each tensor has its own stream');
  });

  test('Qwen2-MoE: router, experts and shared expert normal(0, initializer_range), q/k/v biases 0; the twin runs', async () => {
    const config = {
      model_type: 'qwen2_moe',
      hidden_size: 64,
      num_attention_heads: 4,
      num_hidden_layers: 2,
      intermediate_size: 96,
      vocab_size: 300,
      num_experts: 6,
      num_experts_per_tok: 2,
      moe_intermediate_size: 48,
      shared_expert_intermediate_size: 80,
      mlp_only_layers: [1],
      initializer_range: 0.04,
      pad_token_id: 5,
    };
    const { source, plan, spec } = randomInitSource('x', config, 0);
    const p = 'model.layers.0.mlp.';
    assert.equal(plan.get(`${p}gate.weight`)!.shape.join('x'), '6x64');
    const experts = await Promise.all(
      [0, 1, 2, 3, 4, 5].map((e) => source.readFloat32(`${p}experts.${e}.down_proj.weight`)),
    );
    assertNormal(Float32Array.from(experts.flatMap((a) => [...a])), 0.04, 'expert down_proj');
    assertNormal(await source.readFloat32(`${p}shared_expert.up_proj.weight`), 0.04, 'shared expert');
    assert.equal(plan.get(`${p}shared_expert_gate.weight`)!.shape.join('x'), '1x64');
    assert.ok((await source.readFloat32('model.layers.0.self_attn.q_proj.bias')).every((v) => v === 0));
    assert.equal(plan.has('model.layers.1.mlp.gate_proj.weight'), true, 'mlp_only_layers: a dense MLP');
    assert.equal(plan.has('model.layers.1.mlp.experts.0.up_proj.weight'), false);
    const embed = await source.readFloat32('model.embed_tokens.weight');
    assert.ok(
      embed.subarray(5 * 64, 6 * 64).every((v) => v === 0),
      'padding row',
    );
    const model = new HookedModel(spec, source);
    try {
      const out = await model.run([[1, 2, 3, 4]], { hooks: ['logits', 'blocks.0.mlp.hook_expert_weights'] });
      assert.ok(out.get('logits')!.every(Number.isFinite));
      assert.equal(out.get('blocks.0.mlp.hook_expert_weights')!.length, 4 * 6);
    } finally {
      await model.dispose();
    }
  });

  test('GPT-2: Conv1D normal(0, 0.02), c_proj normal(0, 0.02/√(2·n_layer)), LayerNorm 1/0, tied head', async () => {
    const config = {
      model_type: 'gpt2',
      n_embd: 96,
      n_head: 4,
      n_layer: 8,
      n_positions: 128,
      vocab_size: 500,
    };
    const { source } = randomInitSource('x', config, 0);
    assert.equal(source.has('lm_head.weight'), false);
    assertNormal(await source.readFloat32('transformer.wte.weight'), 0.02, 'wte');
    assertNormal(await source.readFloat32('transformer.wpe.weight'), 0.02, 'wpe');
    const fc = await Promise.all(
      [0, 1, 2, 3].map((l) => source.readFloat32(`transformer.h.${l}.mlp.c_fc.weight`)),
    );
    assertNormal(Float32Array.from(fc.flatMap((a) => [...a])), 0.02, 'c_fc');
    assertNormal(await source.readFloat32('transformer.h.0.attn.c_attn.weight'), 0.02, 'c_attn');
    const proj = await Promise.all(
      [0, 1, 2, 3, 4, 5, 6, 7].flatMap((l) => [
        source.readFloat32(`transformer.h.${l}.mlp.c_proj.weight`),
        source.readFloat32(`transformer.h.${l}.attn.c_proj.weight`),
      ]),
    );
    assertNormal(Float32Array.from(proj.flatMap((a) => [...a])), 0.02 / Math.sqrt(16), 'c_proj');
    assert.ok((await source.readFloat32('transformer.h.3.ln_2.weight')).every((v) => v === 1));
    assert.ok((await source.readFloat32('transformer.h.3.ln_2.bias')).every((v) => v === 0));
    assert.ok((await source.readFloat32('transformer.h.3.attn.c_attn.bias')).every((v) => v === 0));
  });

  test('GPT-NeoX: Linear and Embedding normal(0, initializer_range), biases 0, untied embed_out', async () => {
    const config = {
      model_type: 'gpt_neox',
      hidden_size: 64,
      num_attention_heads: 4,
      num_hidden_layers: 2,
      intermediate_size: 256,
      vocab_size: 2000,
      rotary_pct: 0.25,
    };
    const { source } = randomInitSource('x', config, 3);
    assertNormal(await source.readFloat32('gpt_neox.embed_in.weight'), 0.02, 'embed_in');
    assertNormal(await source.readFloat32('embed_out.weight'), 0.02, 'embed_out');
    assertNormal(
      await source.readFloat32('gpt_neox.layers.1.mlp.dense_4h_to_h.weight'),
      0.02,
      'dense_4h_to_h',
    );
    assert.ok(
      (await source.readFloat32('gpt_neox.layers.1.attention.query_key_value.bias')).every((v) => v === 0),
    );
    assert.ok((await source.readFloat32('gpt_neox.final_layer_norm.weight')).every((v) => v === 1));
  });

  test('no config.json: a clear error', async () => {
    await assert.rejects(loadRandomInitModel(join(scratch, 'nothing')), /needs the model's config.json/);
  });

  test('extract --control random-init from config.json + tokenizer only: a store like any extraction', {
    skip: skipWithoutShared(),
  }, async () => {
    const dir = await writeRandomLlama(join(scratch, 'model'));
    unlinkSync(join(dir, 'model.safetensors')); // config.json + tokenizer files only
    const csv = await writePaperSlice(join(scratch, 'data'), 'world_place', 60);
    const dataset = await loadDataset(csv);
    const out = join(scratch, 'twin');
    const common = { model: dir, dataset, prompt: 'coords', control: 'random-init' as const, batchSize: 7 };
    await extract({ ...common, out, seed: 5 });
    const store = await openStore(out);
    const m = store.manifest;
    assert.equal(m.model.id, `random-init:${dir}`);
    assert.deepEqual(m.layers, [0, 1, 2]);
    assert.equal(m.n, 60);
    assert.equal(m.d, 16);
    // The activations are the twin engine's at the kept position (as extract.test.ts checks for real models).
    const twin = await loadRandomInitModel(dir, { seed: 5 });
    try {
      const entities = await store.entities();
      const seqs = entities.map((e) => e.input_ids!);
      const full = await twin.run(seqs, { hooks: ['blocks.2.hook_resid_post'] });
      const all = full.get('blocks.2.hook_resid_post')!;
      const T = Math.max(...seqs.map((s) => s.length));
      const got = await store.read('blocks.2.hook_resid_post');
      let err = 0;
      entities.forEach((e, r) => {
        for (let c = 0; c < 16; c++)
          err = Math.max(err, Math.abs(got[r * 16 + c]! - all[(r * T + e.position!) * 16 + c]!));
      });
      assert.ok(err < 1e-4, `max abs difference ${err}`);
      assert.ok(got.every(Number.isFinite));
    } finally {
      await twin.dispose();
    }
    const again = join(scratch, 'twin-again');
    await extract({ ...common, out: again, seed: 5, batchSize: 13 });
    const other = join(scratch, 'twin-seed6');
    await extract({ ...common, out: other, seed: 6 });
    const l1 = await store.read('blocks.1.hook_resid_post');
    const a1 = await (await openStore(again)).read('blocks.1.hook_resid_post');
    assert.ok(
      l1.every((v, i) => Math.abs(v - a1[i]!) < 1e-5),
      'seeded: same seed, same store',
    );
    assert.notDeepEqual(await (await openStore(other)).read('blocks.1.hook_resid_post'), l1);
    const probe = await probeStore(out);
    assert.equal(probe.results.layers.length, 3);
    assert.equal(probe.results.model, `random-init:${dir}`);
  });
});
