/**
 * RunOptions.sharedPrefix against the PyTorch float64 goldens: the prefix is computed once and the rows attend to
 * its keys and values. Truncations s[:k] of a golden sequence s share s[:P]; with causal attention the value at
 * the last token of s[:k] is the golden's row k-1 of s, for every hook, every family (sliding windows, learned
 * positions, partial and scaled rotary, soft-capping), on the host engine and the device-resident one.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import { UserError } from '../util/errors.js';
import { FIXTURES, openGolden, relError } from './engine.test-util.js';
import { loadModel } from './load.js';

const TOL = 1e-5;
const P = 5;

for (const resident of [false, true]) {
  for (const name of readdirSync(FIXTURES).sort()) {
    const engine = resident ? 'resident' : 'host';
    test(`shared prefix (${engine}) ${name}: each truncation's last token within ${TOL} of PyTorch`, async () => {
      const golden = await openGolden(name);
      const model = await loadModel(golden.dir, resident ? { resident: true } : {});
      try {
        const s = golden.meta.sequences[2]!;
        const lengths = Array.from({ length: s.length - P }, (_, i) => P + 1 + i);
        const sequences = lengths.map((k) => s.slice(0, k));
        const { hooks } = golden.meta;
        const out = await model.run(sequences, {
          hooks,
          positions: sequences.map(() => -1),
          sharedPrefix: P,
        });
        for (const hook of hooks) {
          const { data, width } = await golden.read(`s2.${hook}`);
          lengths.forEach((k, i) => {
            const mine = out.get(hook)!.subarray(i * width, (i + 1) * width);
            const err = relError(mine, data.subarray((k - 1) * width, k * width));
            assert.ok(err <= TOL, `${name} ${hook} at position ${k - 1}: ${err.toExponential(2)} > ${TOL}`);
          });
        }
      } finally {
        await model.dispose();
        await golden.close();
      }
    });
  }
}

test('shared prefix: an added vector at a position after the prefix lands on the right row', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir);
  try {
    const s = golden.meta.sequences[2]!;
    const sequences = [s.slice(0, 9), s.slice(0, 11)];
    const hook = 'blocks.0.hook_resid_post';
    const add = new Float32Array(model.spec.dModel).fill(0.5);
    const run = (sharedPrefix?: number) =>
      model.run(sequences, {
        hooks: ['blocks.1.hook_resid_post'],
        positions: [-1, -1],
        edits: [{ hook, add, positions: [7] }],
        ...(sharedPrefix ? { sharedPrefix } : {}),
      });
    const whole = (await run()).get('blocks.1.hook_resid_post')!;
    const shared = (await run(P)).get('blocks.1.hook_resid_post')!;
    assert.ok(relError(shared, whole) <= TOL, `${relError(shared, whole)}`);
    const plain = (
      await model.run(sequences, { hooks: ['blocks.1.hook_resid_post'], positions: [-1, -1] })
    ).get('blocks.1.hook_resid_post')!;
    assert.ok(relError(plain, whole) > 1e-3, 'the edit at position 7 must change the last token');
  } finally {
    await model.dispose();
    await golden.close();
  }
});

test('shared prefix: clear errors for rows that do not share it or keep a position inside it', async () => {
  const golden = await openGolden('llama2-f32');
  const model = await loadModel(golden.dir);
  try {
    const s = golden.meta.sequences[2]!;
    const hooks = ['blocks.0.hook_resid_post'];
    const other = [...s];
    other[2] = (other[2]! + 1) % model.spec.vocabSize;
    await assert.rejects(
      model.run([s, other], { hooks, positions: [-1, -1], sharedPrefix: P }),
      (e: Error) => e instanceof UserError && /sequence 1 differs from sequence 0 at token 2/.test(e.message),
    );
    await assert.rejects(
      model.run([s], { hooks, positions: [3], sharedPrefix: P }),
      (e: Error) => e instanceof UserError && /keeps position 3, inside sharedPrefix 5/.test(e.message),
    );
    await assert.rejects(
      model.run([s.slice(0, P)], { hooks, positions: [-1], sharedPrefix: P }),
      (e: Error) => e instanceof UserError && /not more than sharedPrefix/.test(e.message),
    );
    await assert.rejects(
      model.run([s], { hooks, sharedPrefix: P }),
      (e: Error) => e instanceof UserError && /needs kept positions/.test(e.message),
    );
  } finally {
    await model.dispose();
    await golden.close();
  }
});
