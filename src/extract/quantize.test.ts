import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../util/paths.js';
import { dequantize, paperQuantize, quantizePerChannel, roundHalfEven, roundThroughF16 } from './quantize.js';

interface Golden {
  n: number;
  d: number;
  input: number[];
  fp16_rounded: number[];
  codes: number[];
  scales: number[];
  zero_points: number[];
  dequantized: number[];
}

// Written by reference/extract_quantize_golden.py with torch.quantize_per_channel (the authors' own call).
const golden = JSON.parse(
  readFileSync(join(packageRoot(), 'test/fixtures/extract/quantize.json'), 'utf8'),
) as Golden;

test('fp16 round trip matches torch .to(float16).to(float32)', () => {
  const got = roundThroughF16(Float32Array.from(golden.input));
  assert.deepEqual(Array.from(got), golden.fp16_rounded);
});

test('per-channel quint8 codes, scales and zero points equal torch bit for bit', () => {
  const { n, d } = golden;
  const q = quantizePerChannel(Float32Array.from(golden.fp16_rounded), n, d);
  assert.deepEqual(Array.from(q.scales), golden.scales);
  assert.deepEqual(Array.from(q.zeroPoints), golden.zero_points);
  assert.deepEqual(Array.from(q.codes), golden.codes);
  assert.deepEqual(Array.from(dequantize(q)), golden.dequantized);
});

test('paperQuantize = fp16 cast, quantise, dequantise', () => {
  const { values } = paperQuantize(Float32Array.from(golden.input), golden.n, golden.d);
  assert.deepEqual(Array.from(values), golden.dequantized);
});

test('roundHalfEven ties to even like torch.round', () => {
  assert.deepEqual(
    [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven),
    [0, 2, 2, -0, -2, -2, 2, -3],
  );
});

test('a constant column does not divide by zero', () => {
  const x = Float32Array.from([3, 1, 3, 2, 3, 5]);
  const q = quantizePerChannel(x, 3, 2);
  assert.equal(q.scales[0], 1);
  assert.deepEqual(
    Array.from(dequantize(q)).filter((_, i) => i % 2 === 0),
    [3, 3, 3],
  );
});
