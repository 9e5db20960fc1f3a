import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../formats/safetensors.js';
import { loadModel } from '../model/index.js';
import { packageRoot } from '../util/paths.js';
import { type ExtractionModel, extractBatch, sharedPrefixLength } from './batch.js';
import type { PreparedRow } from './prepare.js';

// The compute engineer's tiny checkpoints with float64 PyTorch goldens of every hook at every position
// (reference/engine_make_goldens.py). Here they check the extractor's gather: the kept position, the mean over an
// entity span, several hooks at once, the paper-compat final-norm substitution, and batching.
const FIXTURES = join(packageRoot(), 'test/fixtures/engine');

async function goldenOf(name: string) {
  const dir = join(FIXTURES, name);
  const meta = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as { sequences: number[][] };
  const file = await SafetensorsFile.open(join(dir, 'golden.safetensors'));
  const read = async (s: number, hook: string) => {
    const info = file.info(`s${s}.${hook}`);
    return { data: await file.readFloat64(`s${s}.${hook}`), width: info.shape[1]! };
  };
  return { dir, sequences: meta.sequences, read, close: () => file.close() };
}

/** max |got - want| / max |want| over the kept rows. */
function relErr(got: Float32Array, want: number[]): number {
  let num = 0;
  let den = 0;
  want.forEach((w, i) => {
    num = Math.max(num, Math.abs(got[i]! - w));
    den = Math.max(den, Math.abs(w));
  });
  return num / den;
}

for (const name of ['llama2-f32', 'pythia-parallel-f16']) {
  test(`extractBatch keeps the right token and averages the right span (${name} vs PyTorch float64)`, async () => {
    const g = await goldenOf(name);
    const model = (await loadModel(g.dir)) as unknown as ExtractionModel;
    try {
      const L = model.spec.nLayers;
      // Rows: each golden sequence, with a kept position and an entity span inside it; sequence 2 appears twice with
      // different choices so one batch mixes lengths and repeats.
      const picks: { s: number; position: number; span: [number, number] }[] = [
        { s: 0, position: 0, span: [0, 1] },
        { s: 1, position: 2, span: [1, 4] },
        { s: 2, position: 10, span: [3, 9] },
        { s: 2, position: 5, span: [5, 6] },
      ];
      const rows: PreparedRow[] = picks.map((p) => ({
        ids: g.sequences[p.s]!,
        position: p.position,
        span: p.span,
      }));
      const hooks = ['blocks.0.hook_resid_post', `blocks.${L - 1}.hook_resid_post`];
      const hookMap = new Map(hooks.map((h) => [h, h]));
      // paper-compat: the last layer's resid_post is read from ln_final.hook_normalized.
      hookMap.set(`blocks.${L - 1}.hook_resid_post`, 'ln_final.hook_normalized');
      // mlp.hook_post has another width: its own call, as it would be its own store.
      const mlpHook = `blocks.${L - 1}.mlp.hook_post`;

      const last = await extractBatch(model, rows, hookMap, 'last');
      for (const [h, v] of await extractBatch(model, rows, new Map([[mlpHook, mlpHook]]), 'last'))
        last.set(h, v);
      hookMap.set(mlpHook, mlpHook);
      for (const [storeHook, engineHook] of hookMap) {
        const got = last.get(storeHook)!;
        const want: number[] = [];
        for (const p of picks) {
          const { data, width } = await g.read(p.s, engineHook);
          want.push(...data.subarray(p.position * width, (p.position + 1) * width));
        }
        assert.equal(got.length, want.length, storeHook);
        assert.ok(relErr(got, want) < 1e-5, `${name} ${storeHook} last: rel err ${relErr(got, want)}`);
      }

      const mean = await extractBatch(model, rows, new Map(hooks.map((h) => [h, h])), 'mean');
      for (const [h, v] of await extractBatch(model, rows, new Map([[mlpHook, mlpHook]]), 'mean'))
        mean.set(h, v);
      for (const hook of [...hooks, mlpHook]) {
        const got = mean.get(hook)!;
        const want: number[] = [];
        for (const p of picks) {
          const { data, width } = await g.read(p.s, hook);
          for (let c = 0; c < width; c++) {
            let sum = 0;
            for (let t = p.span[0]; t < p.span[1]; t++) sum += data[t * width + c]!;
            want.push(sum / (p.span[1] - p.span[0]));
          }
        }
        assert.ok(relErr(got, want) < 1e-5, `${name} ${hook} mean: rel err ${relErr(got, want)}`);
      }
    } finally {
      await model.dispose();
      await g.close();
    }
  });
}

test('rows sharing a prompt prefix: computed once, the kept token and the entity mean still match PyTorch', async () => {
  const g = await goldenOf('llama2-f32');
  const model = (await loadModel(g.dir)) as unknown as ExtractionModel;
  try {
    const s = g.sequences[2]!;
    // Truncations of one golden sequence share its first tokens; every entity span starts at token 4 or later.
    const rows: PreparedRow[] = [
      { ids: s.slice(0, 11), position: 10, span: [4, 9] },
      { ids: s.slice(0, 8), position: 7, span: [5, 8] },
      { ids: s.slice(0, 6), position: 5, span: [4, 6] },
    ];
    assert.equal(sharedPrefixLength(rows), 4);
    const hook = 'blocks.1.hook_resid_post';
    const { data, width } = await g.read(2, hook);
    const last = (await extractBatch(model, rows, new Map([[hook, hook]]), 'last')).get(hook)!;
    const mean = (await extractBatch(model, rows, new Map([[hook, hook]]), 'mean')).get(hook)!;
    const wantLast: number[] = [];
    const wantMean: number[] = [];
    for (const r of rows) {
      wantLast.push(...data.subarray(r.position * width, (r.position + 1) * width));
      for (let c = 0; c < width; c++) {
        let sum = 0;
        for (let t = r.span[0]; t < r.span[1]; t++) sum += data[t * width + c]!;
        wantMean.push(sum / (r.span[1] - r.span[0]));
      }
    }
    assert.ok(relErr(last, wantLast) < 1e-5, `last: ${relErr(last, wantLast)}`);
    assert.ok(relErr(mean, wantMean) < 1e-5, `mean: ${relErr(mean, wantMean)}`);
  } finally {
    await model.dispose();
    await g.close();
  }
});

test('sharedPrefixLength: the common token prefix, cut before the first entity token of any row', () => {
  const row = (ids: number[], first: number): PreparedRow => ({
    ids,
    position: ids.length - 1,
    span: [first, ids.length],
  });
  // BOS + a 3-token prompt, entities that happen to share their first token (7): the prefix stops at the prompt.
  assert.equal(sharedPrefixLength([row([1, 5, 6, 9, 7, 8], 4), row([1, 5, 6, 9, 7, 3, 2], 4)]), 4);
  // Random-prompt rows (different tokens after BOS): only BOS is shared.
  assert.equal(sharedPrefixLength([row([1, 40, 41, 7], 3), row([1, 42, 41, 7], 3)]), 1);
  // No common first token (one row without BOS): nothing is shared.
  assert.equal(sharedPrefixLength([row([1, 5, 7], 2), row([5, 7], 1)]), 0);
  assert.equal(sharedPrefixLength([]), 0);
});
