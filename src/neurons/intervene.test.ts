import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeRandomLlama } from '../extract/testing.js';
import { type HookedModel, loadModel } from '../model/index.js';
import { packageRoot } from '../util/paths.js';
import { randomSubspaces } from './causal-edits.js';
import {
  interveneSweep,
  type ProbeDirection,
  scoreCandidates,
  steeringEdit,
  steeringVector,
} from './intervene.js';

const ENGINE = join(packageRoot(), 'test/fixtures/engine/llama2-f32');
const IDS = [1, 5, 9, 13, 7, 22];

/** Seeded uniform values in [-1, 1). */
function seeded(n: number, seed: number): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 2 - 1;
  });
}

function direction(d: number, seed: number, yScale = 3): ProbeDirection {
  const w = seeded(d, seed);
  return { layer: 0, target: 'longitude', w, wNorm: Math.hypot(...w), yScale };
}

describe('intervention mechanics (tiny Llama, 2 layers)', () => {
  let model: HookedModel;
  before(async () => {
    model = await loadModel(ENGINE);
  });
  after(() => model.dispose());

  test('alpha = 0 is a no-op: logits identical to the unedited run', async () => {
    const clean = (await model.run([IDS], { hooks: ['logits'] })).get('logits')!;
    for (const unit of ['rms', 'norm', 'target'] as const) {
      const { v } = steeringVector(direction(32, 3), 0, unit, 7.5);
      const edited = (
        await model.run([IDS], { hooks: ['logits'], edits: [steeringEdit(1, v, 'all', IDS.length - 1)] })
      ).get('logits')!;
      assert.deepEqual(edited, clean);
    }
  });

  test('adding v to the last resid_post moves the logits exactly as final-norm + unembed of the shifted stream', async () => {
    const spec = model.spec;
    const d = spec.dModel;
    const V = spec.vocabSize;
    const { v } = steeringVector(direction(d, 11), 4, 'rms', 6);
    const hook = 'blocks.1.hook_resid_post';
    const clean = (await model.run([IDS], { hooks: [hook] })).get(hook)!;
    const edited = (
      await model.run([IDS], { hooks: ['logits'], edits: [steeringEdit(1, v, 'all', IDS.length - 1)] })
    ).get('logits')!;
    // Independent float64 reference: RMSNorm (eps from config.json) with gain, then the unembedding.
    const g = await model.source.readFloat32(spec.names.finalNorm!);
    const wu = await model.source.readFloat32(spec.names.unembed);
    const eps = model.config['rms_norm_eps'] as number;
    let worst = 0;
    let scale = 0;
    let moved = 0;
    for (let t = 0; t < IDS.length; t++) {
      const x = Array.from({ length: d }, (_, j) => clean[t * d + j]! + v[j]!);
      const inv = 1 / Math.sqrt(x.reduce((s, a) => s + a * a, 0) / d + eps);
      for (let k = 0; k < V; k++) {
        let want = 0;
        for (let j = 0; j < d; j++) want += x[j]! * inv * g[j]! * wu[k * d + j]!;
        worst = Math.max(worst, Math.abs(edited[t * V + k]! - want));
        scale = Math.max(scale, Math.abs(want));
      }
    }
    assert.ok(worst <= 1e-5 * scale, `max |Δ| ${worst} vs scale ${scale}`);
    const plain = (await model.run([IDS], { hooks: ['logits'] })).get('logits')!;
    for (let i = 0; i < plain.length; i++) moved = Math.max(moved, Math.abs(plain[i]! - edited[i]!));
    assert.ok(moved > 1e-2, 'the edit changed the logits');
  });

  test("an edit at the last position only (layer 0) leaves earlier positions' logits untouched (causal mask)", async () => {
    const V = model.spec.vocabSize;
    const { v } = steeringVector(direction(32, 5), 8, 'rms', 6);
    const last = IDS.length - 1;
    const clean = (await model.run([IDS], { hooks: ['logits'] })).get('logits')!;
    const edited = (
      await model.run([IDS], { hooks: ['logits'], edits: [steeringEdit(0, v, 'last', last)] })
    ).get('logits')!;
    assert.deepEqual(edited.subarray(0, last * V), clean.subarray(0, last * V));
    let diff = 0;
    for (let k = 0; k < V; k++) diff = Math.max(diff, Math.abs(edited[last * V + k]! - clean[last * V + k]!));
    assert.ok(diff > 1e-3);
  });

  test("unit 'target' moves the probe's prediction by exactly alpha train std (alpha * y_scale in target units)", async () => {
    const dir = direction(32, 9, 2.5);
    const hook = 'blocks.0.hook_resid_post';
    const clean = (await model.run([IDS], { hooks: [hook] })).get(hook)!;
    for (const alpha of [-3, 2]) {
      const { v, probeShift, norm } = steeringVector(dir, alpha, 'target', 1);
      assert.ok(Math.abs(probeShift - alpha * 2.5) < 1e-12);
      assert.ok(Math.abs(norm - Math.abs(alpha) / dir.wNorm) < 1e-12);
      // The hook captures the edited value: the probe reads (x' − x)·w = alpha at every position.
      const edited = (await model.run([IDS], { hooks: [hook], edits: [steeringEdit(0, v, 'all', 0)] })).get(
        hook,
      )!;
      for (let t = 0; t < IDS.length; t++) {
        let dot = 0;
        for (let j = 0; j < 32; j++) dot += (edited[t * 32 + j]! - clean[t * 32 + j]!) * dir.w[j]!;
        assert.ok(Math.abs(dot - alpha) < 1e-4, `position ${t}: ${dot}`);
      }
    }
  });

  test('candidate scores are teacher-forced log-softmax sums of the full sequence logits', async () => {
    const V = model.spec.vocabSize;
    const prompt = IDS.slice(0, 4);
    const cands = [
      { text: 'a', ids: [30] },
      { text: 'bc', ids: [41, 42, 43] },
    ];
    const { scores, top } = await scoreCandidates(model, prompt, cands);
    for (const [i, c] of cands.entries()) {
      const seq = [...prompt, ...c.ids];
      const logits = (await model.run([seq], { hooks: ['logits'] })).get('logits')!;
      let want = 0;
      c.ids.forEach((id, k) => {
        const row = Array.from(logits.subarray((prompt.length - 1 + k) * V, (prompt.length + k) * V), Number);
        const max = Math.max(...row);
        want += row[id]! - max - Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      });
      assert.ok(
        Math.abs(scores[i]!.logProb - want) < 1e-5,
        `candidate ${i}: ${scores[i]!.logProb} vs ${want}`,
      );
    }
    const next = (await model.run([prompt], { hooks: ['logits'], positions: [-1] })).get('logits')!;
    const argmax = next.indexOf(Math.max(...next));
    assert.equal(top.id, argmax);
    // softmax at the argmax, written out: exp(max - max) / Σ exp(x - max)
    const want = 1 / Array.from(next, (x) => Math.exp(x - next[argmax]!)).reduce((s, e) => s + e, 0);
    assert.ok(Math.abs(top.prob - want) < 1e-6, `top prob ${top.prob} vs ${want}`);
  });
});

describe('the alpha sweep with a tokenizer', () => {
  let dir: string;
  let model: HookedModel;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'intervene-'));
    await writeRandomLlama(join(dir, 'm'), undefined, { seed: 4 });
    model = await loadModel(join(dir, 'm'));
  });
  after(async () => {
    await model.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('rows per (prompt, alpha); alpha 0 reproduces the unedited completion and scores', async () => {
    const dirn = direction(model.spec.dModel, 21);
    dirn.layer = 1;
    const prompts = ['Paris is in the country of', 'Berlin is in the country of'];
    const { rows, typicalNorms } = await interveneSweep(model, prompts, {
      layer: 1,
      direction: dirn,
      alphas: [-8, 0, 8],
      candidates: ['France', 'Germany'],
      maxNewTokens: 2,
    });
    assert.equal(rows.length, 6);
    assert.ok(typicalNorms.every((x) => x > 0));
    const tok = model.tokenizer!;
    for (const [p, prompt] of prompts.entries()) {
      const ids = [tok.bosId!, ...tok.encode(prompt).ids];
      const zero = rows[p * 3 + 1]!;
      assert.equal(zero.alpha, 0);
      assert.deepEqual(zero.completionIds, await model.generate(ids, { maxNewTokens: 2 }));
      const plain = await scoreCandidates(
        model,
        ids,
        zero.candidates.map((c) => ({ text: c.candidate, ids: c.ids })),
      );
      // The sweep scores every alpha in one batched run (other sequence lengths in the batch): float32 rounding only.
      zero.candidates.forEach((c, k) => {
        const want = plain.scores[k]!.logProb;
        assert.ok(Math.abs(c.logProb - want) < 1e-5 * (1 + Math.abs(want)), `${c.logProb} vs ${want}`);
      });
      const far = rows[p * 3 + 2]!;
      assert.ok(Math.abs(far.relativeShift - 8 / Math.sqrt(model.spec.dModel)) < 1e-6);
      assert.notDeepEqual(
        far.candidates.map((c) => c.logProb),
        zero.candidates.map((c) => c.logProb),
      );
    }
  });

  test('random directions: a band of equal-norm twins; the probe shift is re-read from the edited stream', async () => {
    const dirn = direction(model.spec.dModel, 33, 2.5);
    const { rows } = await interveneSweep(model, ['Paris is in the country of'], {
      layer: 1,
      direction: dirn,
      alphas: [-3, 0, 3],
      unit: 'target',
      candidates: ['France', 'Germany'],
      maxNewTokens: 1,
      randomDirections: 4,
      seed: 5,
    });
    for (const r of rows) {
      // unit target: the probe re-reads alpha train std (alpha * y_scale target units), float32 stream
      assert.ok(Math.abs(r.probeShift - r.alpha * 2.5) < 1e-3 * (1 + Math.abs(r.alpha)), `${r.probeShift}`);
      const band = r.random!;
      assert.equal(band.directions.length, 4);
      // orthogonal to w: the probe does not see the twins
      assert.ok(Math.max(Math.abs(band.probeShift.min), Math.abs(band.probeShift.max)) < 1e-3);
      band.logProb.forEach((b, c) => {
        assert.ok(b.min <= b.mean + 1e-9 && b.mean <= b.max + 1e-9);
        if (r.alpha === 0)
          assert.ok(Math.abs(b.max - r.candidates[c]!.logProb) < 1e-6 && b.max - b.min < 1e-6);
      });
      if (r.alpha !== 0) assert.ok(band.logProb[0]!.max - band.logProb[0]!.min > 1e-6, 'the twins differ');
    }
  });

  test('each random twin scores as its own unbatched run: v_i = (v·ŵ) r_i, r_i ⟂ w, ‖v_i‖ = ‖v‖', async () => {
    const d = model.spec.dModel;
    const dirn = direction(d, 47, 1.5);
    const prompt = 'Tokyo is in the country of';
    const tok = model.tokenizer!;
    const ids = [tok.bosId!, ...tok.encode(prompt).ids];
    const N = 3;
    const rs = (await randomSubspaces(d, 1, N, [dirn.w], 9)).map((b) => b[0]!);
    for (const positions of ['all', 'last'] as const) {
      const { rows, typicalNorms } = await interveneSweep(model, [prompt], {
        layer: 0,
        direction: dirn,
        alphas: [-6, 5],
        unit: 'rms',
        positions,
        candidates: ['Japan', 'China', 'France'],
        maxNewTokens: 1,
        randomDirections: N,
        seed: 9,
      });
      for (const r of rows) {
        // the probe edit as the engine's own add-edit (not the per-sequence batched path)
        const { v } = steeringVector(dirn, r.alpha, 'rms', typicalNorms[0]!);
        let c = 0;
        for (let j = 0; j < d; j++) c += (v[j]! * dirn.w[j]!) / dirn.wNorm;
        const cands = r.candidates.map((x) => ({ text: x.candidate, ids: x.ids }));
        for (const [i, rv] of rs.entries()) {
          const twin = Float32Array.from(rv, (x) => c * x);
          let dotW = 0;
          let ss = 0;
          for (let j = 0; j < d; j++) {
            dotW += rv[j]! * dirn.w[j]!;
            ss += twin[j]! * twin[j]!;
          }
          assert.ok(Math.abs(dotW) < 1e-9 * dirn.wNorm, `r_${i}·w = ${dotW}`);
          assert.ok(Math.abs(Math.sqrt(ss) - r.shiftNorm) < 1e-5 * r.shiftNorm, 'equal norm');
          const alone = await scoreCandidates(model, ids, cands, [
            steeringEdit(0, twin, positions, ids.length - 1),
          ]);
          const got = r.random!.directions[i]!;
          alone.scores.forEach((sc, k) => {
            assert.ok(
              Math.abs(got.logProbs[k]! - sc.logProb) < 1e-4 * (1 + Math.abs(sc.logProb)),
              `${positions} α ${r.alpha} twin ${i} ${sc.candidate}: ${got.logProbs[k]} vs ${sc.logProb}`,
            );
          });
          assert.equal(got.topToken, tok.decode([alone.top.id]));
        }
        const alone = await scoreCandidates(model, ids, cands, [
          steeringEdit(0, v, positions, ids.length - 1),
        ]);
        alone.scores.forEach((sc, k) => {
          assert.ok(Math.abs(r.candidates[k]!.logProb - sc.logProb) < 1e-4 * (1 + Math.abs(sc.logProb)));
        });
      }
    }
  });
});
