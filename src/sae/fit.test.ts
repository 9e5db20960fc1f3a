import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trainSae } from './fit.js';
import { plantedData } from './fixtures.js';

/** For each planted direction, the best |cosine| with any decoder row. */
function bestCosines(
  dirs: Float64Array,
  wDec: Float32Array,
  planted: number,
  dSae: number,
  d: number,
): number[] {
  const out: number[] = [];
  for (let p = 0; p < planted; p++) {
    let best = 0;
    for (let f = 0; f < dSae; f++) {
      let dot = 0;
      let norm = 0;
      for (let j = 0; j < d; j++) {
        dot += dirs[p * d + j]! * wDec[f * d + j]!;
        norm += wDec[f * d + j]! ** 2;
      }
      best = Math.max(best, dot / Math.sqrt(norm));
    }
    out.push(best);
  }
  return out;
}

test('a TopK SAE recovers planted sparse directions (cosine >= 0.95 each)', async () => {
  // 4x over-complete: with 2x, some seeds settle with one feature straddling two planted directions.
  const [n, d, planted, dSae] = [4096, 32, 24, 96];
  const { x, dirs } = plantedData(n, d, planted, 3, 1);
  const { params, history } = await trainSae(x, n, d, {
    architecture: 'topk',
    dSae,
    k: 3,
    lr: 1e-2,
    batchSize: 256,
    epochs: 40,
    seed: 3,
  });
  const cos = bestCosines(dirs, params.wDec, planted, dSae, d);
  assert.ok(Math.min(...cos) >= 0.95, `cosines ${cos.map((c) => c.toFixed(3)).join(' ')}`);
  assert.ok(history.at(-1)!.mse < history[0]!.mse / 5, 'the reconstruction error falls');
});

test('a ReLU+L1 SAE recovers planted sparse directions (cosine >= 0.95 each)', async () => {
  const [n, d, planted, dSae] = [4096, 32, 24, 48];
  const { x, dirs } = plantedData(n, d, planted, 3, 2);
  const { params, history } = await trainSae(x, n, d, {
    architecture: 'standard',
    dSae,
    l1Coefficient: 0.1,
    lr: 1e-2,
    batchSize: 256,
    epochs: 40,
    seed: 3,
  });
  const cos = bestCosines(dirs, params.wDec, planted, dSae, d);
  assert.ok(
    Math.min(...cos) >= 0.95,
    `cosines ${cos.map((c) => c.toFixed(3)).join(' ')}; l0 ${history.at(-1)!.l0}`,
  );
});

test('training resumes from its checkpoint bit-identically, and refuses a checkpoint of other settings', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sae-ckpt-'));
  try {
    const { x } = plantedData(512, 16, 8, 2, 5);
    const base = {
      architecture: 'topk' as const,
      dSae: 24,
      k: 2,
      lr: 1e-2,
      batchSize: 64,
      seed: 9,
      deadAfterRows: 128,
    };
    const straight = await trainSae(x, 512, 16, { ...base, epochs: 4 });
    const checkpoint = join(dir, 'ckpt.safetensors');
    const first = await trainSae(x, 512, 16, { ...base, epochs: 2, checkpoint });
    assert.equal(first.resumedEpochs, 0);
    const resumed = await trainSae(x, 512, 16, { ...base, epochs: 4, checkpoint });
    assert.equal(resumed.resumedEpochs, 2);
    assert.deepEqual(resumed.params.wDec, straight.params.wDec);
    assert.deepEqual(resumed.params.bDec, straight.params.bDec);
    assert.deepEqual(resumed.history, straight.history);
    await assert.rejects(trainSae(x, 512, 16, { ...base, k: 3, epochs: 4, checkpoint }), /other settings/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
