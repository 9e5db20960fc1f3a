import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../util/paths.js';
import { bf16ToF32, bf16ToF32Into, f16ToF32, f16ToF32Into, f32ToBf16, f32ToF16 } from './float16.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'formats');

function load<T>(name: string, View: { new (b: ArrayBuffer): T }): T {
  const buf = readFileSync(join(fixtures, name));
  return new View(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** The value of a half from its fields, by the IEEE 754 formula (independent of the table in float16.ts). */
function halfByFormula(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

test('f16ToF32 matches the IEEE formula for all 65,536 halves, signed zeros included', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const out = f16ToF32(all);
  for (let h = 0; h < 65536; h++) {
    const want = halfByFormula(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(out[h]), `half 0x${h.toString(16)}`);
    else assert.ok(Object.is(out[h], want), `half 0x${h.toString(16)}: ${out[h]} != ${want}`);
  }
});

test('f32ToF16 matches NumPy bit for bit on 48k hard cases (ties, subnormals, overflow, random)', () => {
  const cases = load('halfcases_f32.bin', Float32Array);
  const want = load('halfcases_f16_numpy.bin', Uint16Array);
  const got = f32ToF16(cases);
  assert.equal(got.length, want.length);
  let nans = 0;
  for (let i = 0; i < cases.length; i++) {
    if (Number.isNaN(cases[i])) {
      nans++;
      // NumPy keeps the raw payload, hardware and PyTorch quieten it; both are NaN with the input's sign.
      assert.ok(Number.isNaN(halfByFormula(got[i])), `case ${i} must stay NaN`);
      assert.equal(got[i] & 0x8000, want[i] & 0x8000, `case ${i} NaN sign`);
    } else {
      assert.equal(
        got[i],
        want[i],
        `case ${i}: f32 ${cases[i]} -> 0x${got[i].toString(16)}, NumPy 0x${want[i].toString(16)}`,
      );
    }
  }
  assert.ok(nans >= 10);
});

test('f32ToF16 hand cases: ties to even, overflow, smallest subnormal', () => {
  const input = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 2 ** -25, 2 ** -24, -0]);
  assert.deepEqual([...f32ToF16(input)], [0x3c00, 0x3c02, 0x7bff, 0x7c00, 0x0000, 0x0001, 0x8000]);
});

test('f32ToBf16 matches PyTorch bit for bit; bf16ToF32 is exact', () => {
  const cases = load('halfcases_f32.bin', Float32Array);
  const want = load('halfcases_bf16_torch.bin', Uint16Array);
  const got = f32ToBf16(cases);
  for (let i = 0; i < cases.length; i++) {
    if (Number.isNaN(cases[i])) assert.ok(Number.isNaN(bf16ToF32(got.subarray(i, i + 1))[0]));
    else assert.equal(got[i], want[i], `case ${i}: ${cases[i]}`);
  }
  const widened = bf16ToF32(new Uint16Array([0x3f80, 0xc049, 0x0001, 0x7f80, 0x8000]));
  assert.deepEqual([...widened], [1, -3.140625, 2 ** -133, Number.POSITIVE_INFINITY, -0]);
});

test('conversions accept subarray views at odd offsets', () => {
  const base = new Float32Array([9, 1.5, -2, 9]);
  const half = f32ToF16(base.subarray(1, 3));
  assert.deepEqual([...f16ToF32(half)], [1.5, -2]);
  assert.deepEqual([...bf16ToF32(f32ToBf16(base.subarray(1, 3)))], [1.5, -2]);
});

test('widening in place: halves in the upper half of the output buffer', () => {
  const values = [1.5, -2, 65504, 2 ** -24, -0, 3.140625];
  for (const [narrow, widenInto] of [
    [f32ToF16, f16ToF32Into],
    [f32ToBf16, bf16ToF32Into],
  ] as const) {
    const n = values.length;
    const out = new Float32Array(n);
    const halves = new Uint16Array(out.buffer, 2 * n, n);
    halves.set(narrow(new Float32Array(values)));
    const want = [...(narrow === f32ToF16 ? f16ToF32 : bf16ToF32)(halves.slice())];
    widenInto(halves, out);
    assert.deepEqual([...out], want);
  }
});
