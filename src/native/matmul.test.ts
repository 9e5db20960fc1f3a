import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matmul } from './matmul.js';

test('matmul multiplies row-major matrices (hand-computed)', async () => {
  // [1 2 3; 4 5 6] · [7 8; 9 10; 11 12] = [58 64; 139 154]
  const a = Float64Array.from([1, 2, 3, 4, 5, 6]);
  const b = Float64Array.from([7, 8, 9, 10, 11, 12]);
  assert.deepEqual(Array.from(await matmul(a, b, 2, 3, 2)), [58, 64, 139, 154]);
});

test('matmul with transA computes AᵀB in float32', async () => {
  // A stored as 3x2 = [1 4; 2 5; 3 6], so Aᵀ = [1 2 3; 4 5 6]
  const a = Float32Array.from([1, 4, 2, 5, 3, 6]);
  const b = Float32Array.from([7, 8, 9, 10, 11, 12]);
  const c = await matmul(a, b, 2, 3, 2, { transA: true });
  assert.ok(c instanceof Float32Array);
  assert.deepEqual(Array.from(c), [58, 64, 139, 154]);
});

test('matmul rejects mismatched sizes', async () => {
  await assert.rejects(matmul(new Float64Array(5), new Float64Array(6), 2, 3, 2), /sizes do not match/);
});
