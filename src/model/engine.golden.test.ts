/**
 * The engine against PyTorch float64 goldens (reference/engine_make_goldens.py): every hook — including every
 * layer's hook_resid_post and mlp.hook_post — at every position, the final norm and the logits, for tiny random
 * checkpoints of each family and dtype (one sharded, tied, GQA, Llama-3 rope-scaled, tiny embeddings).
 * Error = max|ours − golden| / max|golden| over each tensor; f32 compute must be within 1e-5.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { FIXTURES, openGolden, relError } from './engine.test-util.js';
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
