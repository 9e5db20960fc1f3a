import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSaeGolden } from './fixtures.js';
import type { SaeParams } from './model.js';
import { SaeTrainer, type TrainArchitecture } from './train.js';

interface TrainGolden {
  d: number;
  m: number;
  k: number;
  lr: number;
  cases: {
    architecture: TrainArchitecture;
    tie: number;
    l1Coefficient: number;
    auxCoefficient: number;
    batches: number[][];
    mse: number[];
    losses: number[];
  }[];
}

const FIELDS = { W_enc: 'wEnc', b_enc: 'bEnc', W_dec: 'wDec', b_dec: 'bDec' } as const;

// chunkRows 5: the sparse TopK step runs each batch of 16 rows as chunks of 5, 5, 6 rows (gradients summed over them).
for (const chunkRows of [undefined, 5])
  test(`SaeTrainer steps match PyTorch autograd + Adam (TopK tied with AuxK, TopK untied, ReLU+L1) to 1e-5${chunkRows ? `, TopK in chunks of ${chunkRows} rows` : ''}`, async () => {
    const g = loadSaeGolden<TrainGolden>('train_golden');
    const { d, m, k, lr } = g.meta;
    const x = Float32Array.from(g.get('x'));
    for (const [c, spec] of g.meta.cases.entries()) {
      const init: SaeParams = {
        architecture: spec.architecture,
        dIn: d,
        dSae: m,
        ...(spec.architecture === 'topk' ? { k } : {}),
        applyBDecToInput: spec.tie === 1,
        wEnc: Float32Array.from(g.get(`case${c}.init.W_enc`)),
        bEnc: Float32Array.from(g.get(`case${c}.init.b_enc`)),
        wDec: Float32Array.from(g.get(`case${c}.init.W_dec`)),
        bDec: Float32Array.from(g.get(`case${c}.init.b_dec`)),
      };
      const trainer = new SaeTrainer(
        init,
        { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
        { l1Coefficient: spec.l1Coefficient, auxCoefficient: spec.auxCoefficient, deadAfterRows: Infinity },
        chunkRows,
      );
      const dead = Float32Array.from(g.get(`case${c}.dead`));
      for (const [s, rows] of spec.batches.entries()) {
        const batch = new Float32Array(rows.length * d);
        for (const [i, r] of rows.entries()) batch.set(x.subarray(r * d, (r + 1) * d), i * d);
        const stats = await trainer.step(batch, rows.length, dead);
        assert.ok(
          Math.abs(stats.mse - spec.mse[s]!) < 1e-5 * Math.max(1, spec.mse[s]!),
          `case ${c} step ${s} mse`,
        );
      }
      for (const [name, field] of Object.entries(FIELDS)) {
        const want = g.get(`case${c}.final.${name}`);
        const start = g.get(`case${c}.init.${name}`);
        const got = trainer.params[field];
        let maxDiff = 0;
        let moved = 0;
        for (let i = 0; i < want.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
          moved = Math.max(moved, Math.abs(want[i]! - start[i]!));
        }
        assert.ok(maxDiff < 1e-5, `case ${c} ${name}: max |diff| ${maxDiff}`);
        assert.ok(moved > 1e-3, `case ${c} ${name} should have moved (${moved})`);
      }
    }
  });
