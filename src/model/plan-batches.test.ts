import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planBatches } from './hooked-model.js';

const seqs = (plan: ReturnType<typeof planBatches>) => plan.map((b) => b.seqs);

// Hand-worked: lengths 5, 3, 5, 2, 3, 3 sorted longest first are rows 0, 2 (5), 1, 4, 5 (3), 3 (2).
const lengths = [5, 3, 5, 2, 3, 3];

test('planBatches: one bucket per length when no minimum applies, so nothing is padded', () => {
  const plan = planBatches(lengths, 100, 1, 0);
  assert.deepEqual(seqs(plan), [[0, 2], [1, 4, 5], [3]]);
  assert.deepEqual(
    plan.map((b) => [b.T, b.tokens]),
    [
      [5, 10],
      [3, 9],
      [2, 2],
    ],
  );
});

test('planBatches: a bucket under minTokens takes shorter rows, padded to its length', () => {
  // [0, 2] reach 10 tokens, so row 1 (length 3) opens a bucket; that one has 9 < 10 and takes row 3 (2 -> 3).
  const plan = planBatches(lengths, 100, 1, 10);
  assert.deepEqual(seqs(plan), [
    [0, 2],
    [1, 4, 5, 3],
  ]);
  assert.equal(
    plan.reduce((t, b) => t + b.tokens, 0),
    22,
  );
});

test('planBatches: the token budget and the attention-score cap split buckets', () => {
  assert.deepEqual(seqs(planBatches(lengths, 8, 1, 0)), [[0], [2], [1, 4], [5], [3]]);
  // 2^27 scores: rows of 2048 tokens with 32 heads hold 2^27 scores each, so one row per batch.
  assert.deepEqual(seqs(planBatches([2048, 2048], 1 << 20, 32, 0)), [[0], [1]]);
});
