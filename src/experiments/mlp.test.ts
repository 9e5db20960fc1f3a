import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatherRows } from '../probe/index.js';
import { Rng } from '../util/rng.js';
import { loadGolden } from './fixtures.js';
import { fitMlpProbe, initMlp, type MlpParams, MlpTrainer, predictMlpProbe } from './mlp.js';

interface MlpGoldenMeta {
  n: number;
  d: number;
  h: number;
  t: number;
  cases: { lr: number; weightDecay: number; batches: number[][]; losses: number[] }[];
}

test('MlpTrainer matches PyTorch AdamW training step by step (golden)', async () => {
  const g = loadGolden<MlpGoldenMeta>('mlp_golden');
  const { d, h, t } = g.meta;
  const x = Float32Array.from(g.get('x'));
  const y = Float32Array.from(g.get('y'));
  for (const [c, spec] of g.meta.cases.entries()) {
    const init: MlpParams = {
      d,
      h,
      t,
      w1: Float32Array.from(g.get(`case${c}.init.w1`)),
      b1: Float32Array.from(g.get(`case${c}.init.b1`)),
      w2: Float32Array.from(g.get(`case${c}.init.w2`)),
      b2: Float32Array.from(g.get(`case${c}.init.b2`)),
    };
    const trainer = new MlpTrainer(init, { lr: spec.lr, weightDecay: spec.weightDecay });
    for (const [s, rows] of spec.batches.entries()) {
      const b = rows.length;
      const loss = await trainer.step(
        gatherRows(x, d, rows, { into: new Float32Array(b * d) }),
        gatherRows(y, t, rows, { into: new Float32Array(b * t) }),
        b,
      );
      assert.ok(
        Math.abs(loss - spec.losses[s]!) < 1e-5 * Math.max(1, spec.losses[s]!),
        `case ${c} step ${s} loss`,
      );
    }
    for (const name of ['w1', 'b1', 'w2', 'b2'] as const) {
      const want = g.get(`case${c}.final.${name}`);
      const got = trainer.params[name];
      let maxDiff = 0;
      let moved = 0;
      const start = g.get(`case${c}.init.${name}`);
      for (let i = 0; i < want.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
        moved = Math.max(moved, Math.abs(want[i]! - start[i]!));
      }
      assert.ok(maxDiff < 1e-5, `case ${c} ${name}: max |diff| ${maxDiff}`);
      assert.ok(moved > 1e-3, `case ${c} ${name} should have moved (${moved})`);
    }
  }
});

test('initMlp draws U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like nn.Linear and is seeded', () => {
  const a = initMlp(400, 256, 2, new Rng(7, 'init'));
  const b = initMlp(400, 256, 2, new Rng(7, 'init'));
  const c = initMlp(400, 256, 2, new Rng(8, 'init'));
  assert.deepEqual(a.w1, b.w1);
  assert.notDeepEqual(a.w1, c.w1);
  const bound1 = 1 / Math.sqrt(400);
  let max = 0;
  let sumSq = 0;
  for (const v of a.w1) {
    max = Math.max(max, Math.abs(v));
    sumSq += v * v;
  }
  assert.ok(max <= bound1 && max > 0.99 * bound1);
  // variance of U(-b, b) is b²/3
  const variance = sumSq / a.w1.length;
  assert.ok(
    Math.abs(variance / (bound1 ** 2 / 3) - 1) < 0.02,
    `variance ratio ${variance / (bound1 ** 2 / 3)}`,
  );
  for (const v of a.w2) assert.ok(Math.abs(v) <= 1 / 16);
});

test('fitMlpProbe: validation split, weight-decay choice, early-stopping bookkeeping, determinism under a seed', async () => {
  const n = 600;
  const d = 8;
  const rng = new Rng(3, 'data');
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = Math.abs(x[i * d]! - x[i * d + 1]!) * 100 + 1900; // a "year"-like scale
  const train = Int32Array.from({ length: 500 }, (_, i) => i);
  const options = { seed: 5, weightDecays: [0.01, 0.3], batchSize: 100, maxEpochs: 6 };
  const fit = await fitMlpProbe(x, y, n, d, 1, train, options);
  assert.equal(fit.nValidation, 50);
  assert.equal(fit.nTrain, 450);
  assert.ok(Math.abs(fit.yMean[0]! - mean(y.subarray(0, 500))) < 1e-9);
  assert.equal(fit.runs.length, 2);
  for (const r of fit.runs) {
    assert.ok(r.valMse.length === r.epochs && r.epochs >= 1 && r.epochs <= 6);
    assert.equal(r.minValMse, Math.min(...r.valMse));
  }
  const chosen = fit.runs.find((r) => r.weightDecay === fit.weightDecay)!;
  assert.ok(fit.runs.every((r) => chosen.minValMse <= r.minValMse));
  for (const r of fit.runs) assert.ok(r.trainLoss.at(-1)! < r.trainLoss[0]!, 'training loss goes down');
  const pred = await predictMlpProbe(fit, x, n);
  assert.equal(pred.length, n);
  assert.ok(Math.abs(mean(pred) - fit.yMean[0]!) < 5 * fit.yStd[0]!, 'de-standardised to target units');
  const twice = await fitMlpProbe(x, y, n, d, 1, train, options);
  const other = await fitMlpProbe(x, y, n, d, 1, train, { ...options, seed: 6 });
  assert.deepEqual(twice.params.w1, fit.params.w1);
  assert.notDeepEqual(other.params.w1, fit.params.w1);
});

test('fitMlpProbe stops after `patience` epochs without improvement', async () => {
  // pure noise targets: validation loss stops improving quickly
  const n = 300;
  const d = 4;
  const rng = new Rng(9, 'noise');
  const x = Float32Array.from({ length: n * d }, () => rng.normal());
  const y = Float64Array.from({ length: n }, () => rng.normal());
  const fit = await fitMlpProbe(
    x,
    y,
    n,
    d,
    1,
    Int32Array.from({ length: n }, (_, i) => i),
    {
      weightDecays: [0.01],
      batchSize: 10,
      maxEpochs: 40,
      patience: 3,
      lr: 1e-2,
    },
  );
  const run = fit.runs[0]!;
  assert.ok(run.epochs < 40, `stopped early after ${run.epochs} epochs`);
  const best = run.valMse.indexOf(run.minValMse);
  assert.equal(run.epochs, best + 1 + 3, 'exactly 3 epochs after the best one');
});

function mean(a: Float64Array): number {
  return a.reduce((s, v) => s + v, 0) / a.length;
}
