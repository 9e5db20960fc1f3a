import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, GraphBuilder, ort } from './onnx.js';

// y = x·wᵀ + b with w and b fed, and the same graph with them baked in as initializers.
function gemm(): GraphBuilder {
  const g = new GraphBuilder('bake');
  const x = g.input('x', 'float32', ['N', 3]);
  const w = g.input('w', 'float32', [2, 3]);
  const b = g.input('b', 'float32', [2]);
  g.op('Gemm', [x, w, b], { transB: 1 }, 'y');
  g.output('y', 'float32', ['N', 2]);
  return g;
}

test('bakeInputs: the named inputs become initializers with the same bytes; results are unchanged', async () => {
  const w = Float32Array.from([1, -2, 0.5, 3, 0.25, -1]);
  const b = Float32Array.from([0.1, -0.2]);
  const x = Float32Array.from([1, 2, 3, -1, 0.5, 4]);
  const fed = await createSession(gemm());
  const baked = await createSession(
    gemm().bakeInputs({ w: { data: w, dims: [2, 3] }, b: { data: b, dims: [2] } }),
  );
  try {
    assert.deepEqual(fed.inputNames, ['x', 'w', 'b']);
    assert.deepEqual(baked.inputNames, ['x']);
    const xs = new ort.Tensor('float32', x, [2, 3]);
    const a = (
      await fed.run({ x: xs, w: new ort.Tensor('float32', w, [2, 3]), b: new ort.Tensor('float32', b, [2]) })
    )['y']!.data as Float32Array;
    const c = (await baked.run({ x: xs }))['y']!.data as Float32Array;
    // by hand: row 0 = [1 - 4 + 1.5 + 0.1, 3 + 0.5 - 3 - 0.2], row 1 = [-1 - 1 + 2 + 0.1, -3 + 0.125 - 4 - 0.2]
    assert.deepEqual(
      Array.from(c, (v) => Math.round(v * 1e4) / 1e4),
      [-1.4, 0.3, 0.1, -7.075],
    );
    assert.deepEqual(c, a);
  } finally {
    await fed.release();
    await baked.release();
  }
  assert.throws(() => {
    const g = new GraphBuilder();
    g.input('ids', 'int64', [2]);
    g.bakeInputs({ ids: { data: new Float32Array(2), dims: [2] } });
  }, /not a float32 input/);
});
