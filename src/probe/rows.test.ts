import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gatherRows } from './rows.js';

// A 4 × 2 matrix whose row r holds [10r, 10r + 1].
const m = Float64Array.from([0, 1, 10, 11, 20, 21, 30, 31]);

test('gatherRows: consecutive rows are a view, others a copy of the same type, `into` always a copy', () => {
  const view = gatherRows(m, 2, [1, 2, 3], { from: 1, to: 3 });
  assert.deepEqual(Array.from(view), [20, 21, 30, 31]);
  assert.equal(view.buffer, m.buffer, 'no copy for consecutive rows');
  const copy = gatherRows(m, 2, [3, 0, 2]);
  assert.deepEqual(Array.from(copy), [30, 31, 0, 1, 20, 21]);
  assert.ok(copy instanceof Float64Array && copy.buffer !== m.buffer);
  const f32 = gatherRows(Float32Array.from(m), 2, [2, 1]);
  assert.ok(f32 instanceof Float32Array);
  assert.deepEqual(Array.from(f32), [20, 21, 10, 11]);
  const into = new Float64Array(4);
  assert.equal(gatherRows(m, 2, [0, 1], { into }), into);
  assert.deepEqual(Array.from(into), [0, 1, 10, 11]);
});
