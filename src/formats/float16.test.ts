import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../util/paths.js';
import {
  bf16ToF32,
  bf16ToF32Into,
  bf16ToF32Js,
  f16ToF32,
  f16ToF32Into,
  f16ToF32Js,
  f32ToBf16,
  f32ToF16,
} from './float16.js';
import { widenHalvesWasm } from './half-wasm.js';

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

test('f16ToF32 (wasm SIMD and table paths) matches the IEEE formula for all 65,536 halves', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  assert.ok(
    widenHalvesWasm(all.subarray(0, 8), new Float32Array(8)),
    'the wasm SIMD kernel loads on Node 20',
  );
  const simd = f16ToF32(all); // large: the wasm kernel
  const table = new Float32Array(65536);
  f16ToF32Js(all, table);
  const simdBits = new Uint32Array(simd.buffer);
  const tableBits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const want = halfByFormula(h);
    if (Number.isNaN(want)) assert.ok(Number.isNaN(table[h]), `half 0x${h.toString(16)}`);
    else assert.ok(Object.is(table[h], want), `half 0x${h.toString(16)}: ${table[h]} != ${want}`);
    // Same bits both ways, NaN payloads included: sign | 0x7f800000 | mantissa << 13.
    assert.equal(simdBits[h], tableBits[h], `half 0x${h.toString(16)}`);
  }
  assert.equal(tableBits[0x7e01], 0x7fc02000);
  // Lengths that are not multiples of the 8-lane step, and more than one wasm chunk.
  const long = new Uint16Array((1 << 20) + 77).map((_, i) => (i * 40503) & 0xffff);
  const viaWasm = f16ToF32(long);
  const viaTable = new Float32Array(long.length);
  f16ToF32Js(long, viaTable);
  assert.deepEqual(new Uint32Array(viaWasm.buffer), new Uint32Array(viaTable.buffer));
  // bf16: every pattern, through both paths.
  const bfWasm = bf16ToF32(long);
  const bfJs = new Float32Array(long.length);
  bf16ToF32Js(long, bfJs);
  assert.deepEqual(new Uint32Array(bfWasm.buffer), new Uint32Array(bfJs.buffer));
  const bfAll = new Uint32Array(bf16ToF32(all).buffer);
  for (let h = 0; h < 65536; h++) assert.equal(bfAll[h], (h << 16) >>> 0);
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
  // Long enough for the wasm path and two of its chunks; the reference is widened out of place, value by value.
  const n = (1 << 20) + 3;
  const values = Float32Array.from(
    { length: n },
    (_, i) => [1.5, -2, 65504, 2 ** -24, -0, 3.140625, i][i % 7],
  );
  for (const [narrow, widenInto, widen] of [
    [f32ToF16, f16ToF32Into, f16ToF32],
    [f32ToBf16, bf16ToF32Into, bf16ToF32],
  ] as const) {
    const out = new Float32Array(n);
    const halves = new Uint16Array(out.buffer, 2 * n, n);
    halves.set(narrow(values));
    const want = new Uint32Array(widen(halves.slice()).buffer);
    widenInto(halves, out);
    assert.deepEqual(new Uint32Array(out.buffer), want);
  }
});
