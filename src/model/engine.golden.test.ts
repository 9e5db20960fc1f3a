/**
 * The engine against PyTorch float64 goldens (reference/engine_make_goldens.py): every hook — including every
 * layer's hook_resid_post and mlp.hook_post — at every position, the final norm and the logits, for tiny random
 * checkpoints of each family and dtype (one sharded, tied, GQA, Llama-3 rope-scaled, tiny embeddings).
 * Error = max|ours − golden| / max|golden| over each tensor; f32 compute must be within 1e-5.
 *
 * The Gemma 1/2/3, Qwen3, Phi-3 and OLMo-2 fixtures (reference/engine_arch_goldens.py) and the mixture-of-experts
 * and 2025 ones (reference/engine_family_goldens.py: Mixtral, Qwen2/3-MoE, OLMoE, OLMo, OLMo 3, Gemma 3 multimodal,
 * SmolLM3, Granite) also hold the logits of the reference with one distinctive feature switched off; ours must be
 * far from each, so no feature can go missing. Routed experts (hook_expert_indices) must match exactly.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FIXTURES, type GoldenMeta, openGolden, relError } from './engine.test-util.js';
import { loadModel } from './load.js';

const TOL = 1e-5;

for (const name of readdirSync(FIXTURES).sort()) {
  test(`golden ${name}: every hook at every position within ${TOL} of PyTorch float64`, async () => {
    const golden = await openGolden(name);
    const model = await loadModel(golden.dir);
    try {
      const { sequences, hooks } = golden.meta;
      // All sequences in one right-padded batch.
      const out = await model.run(sequences, { hooks });
      const maxLen = Math.max(...sequences.map((s) => s.length));
      let worst = 0;
      for (const hook of hooks) {
        for (let i = 0; i < sequences.length; i++) {
          const { data, width } = await golden.read(`s${i}.${hook}`);
          const mine = out
            .get(hook)!
            .subarray(i * maxLen * width, (i * maxLen + sequences[i]!.length) * width);
          if (hook.endsWith('hook_expert_indices')) {
            // The chosen experts, in top-k order: exactly the reference's.
            assert.deepEqual(Array.from(mine), Array.from(data), `${name} s${i}.${hook}`);
            continue;
          }
          const err = relError(mine, data);
          worst = Math.max(worst, err);
          assert.ok(
            err <= TOL,
            `${name} s${i}.${hook}: relative max-abs error ${err.toExponential(2)} > ${TOL}`,
          );
        }
      }
      assert.ok(worst > 0, 'f32 compute should not match float64 bit for bit');
    } finally {
      await model.dispose();
      await golden.close();
    }
  });
}

for (const name of readdirSync(FIXTURES).sort()) {
  const meta = JSON.parse(readFileSync(join(FIXTURES, name, 'golden.json'), 'utf8')) as GoldenMeta;
  if (!meta.ablations) continue;
  test(`golden ${name}: each distinctive feature matters (${meta.ablations.join(', ')})`, async () => {
    const golden = await openGolden(name);
    const model = await loadModel(golden.dir);
    try {
      const seq = golden.meta.sequences[2]!;
      const logits = (await model.run([seq], { hooks: ['logits'] })).get('logits')!;
      assert.ok(relError(logits, (await golden.read('s2.logits')).data) <= TOL);
      for (const feature of meta.ablations!) {
        const { data } = await golden.read(`a.${feature}.logits`);
        // tanh-GELU vs exact GELU moves tiny-model logits by ~2e-4: far above 1e-5, below 1e-3.
        const gap = feature === 'gelu_tanh' ? 1e-4 : 1e-3;
        const err = relError(logits, data);
        assert.ok(
          err > gap,
          `${name}: without '${feature}' the reference is only ${err.toExponential(2)} away`,
        );
      }
    } finally {
      await model.dispose();
      await golden.close();
    }
  });
}
