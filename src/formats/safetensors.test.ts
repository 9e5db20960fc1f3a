import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { f32ToBf16, f32ToF16 } from './float16.js';
import { createSafetensorsWriter, SafetensorsFile, writeSafetensors } from './safetensors.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'formats');
const dir = mkdtempSync(join(tmpdir(), 'stl-safetensors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function jsonValue(v: number | string): number {
  if (v === 'nan') return Number.NaN;
  if (v === 'inf') return Number.POSITIVE_INFINITY;
  if (v === '-inf') return Number.NEGATIVE_INFINITY;
  return v as number;
}

test('reads a golden file written by Python in every dtype', async () => {
  const golden = JSON.parse(readFileSync(join(fixtures, 'golden.json'), 'utf8'));
  const file = await SafetensorsFile.open(join(fixtures, 'golden.safetensors'));
  try {
    assert.deepEqual(file.metadata, golden.metadata);
    assert.equal(file.tensors.size, Object.keys(golden.tensors).length);
    for (const [name, want] of Object.entries<{
      dtype: string;
      shape: number[];
      values: (number | string)[];
    }>(golden.tensors)) {
      const info = file.info(name);
      assert.equal(info.dtype, want.dtype, name);
      assert.deepEqual(info.shape, want.shape, name);
      const f64 = await file.readFloat64(name);
      const f32 = await file.readFloat32(name);
      assert.equal(f64.length, want.values.length, name);
      want.values.forEach((raw, i) => {
        const v = jsonValue(raw);
        if (Number.isNaN(v)) {
          assert.ok(Number.isNaN(f64[i]) && Number.isNaN(f32[i]), `${name}[${i}]`);
        } else {
          assert.equal(f64[i], v, `${name}[${i}] f64`);
          assert.equal(f32[i], Math.fround(v), `${name}[${i}] f32`);
        }
      });
    }
  } finally {
    await file.close();
  }
});

test('readFloat32 into a given buffer: the Python golden values, in that buffer (F32, F16, BF16)', async () => {
  const golden = JSON.parse(readFileSync(join(fixtures, 'golden.json'), 'utf8'));
  const file = await SafetensorsFile.open(join(fixtures, 'golden.safetensors'));
  try {
    const dtypes = new Set<string>();
    for (const [name, want] of Object.entries<{ dtype: string; values: (number | string)[] }>(
      golden.tensors,
    )) {
      if (!['F32', 'F16', 'BF16'].includes(want.dtype)) continue;
      // A view at an offset inside a larger buffer, pre-filled with junk: every element must be overwritten.
      const backing = new Float32Array(want.values.length + 3).fill(12345);
      const into = backing.subarray(2, 2 + want.values.length);
      const got = await file.readFloat32(name, into);
      assert.equal(got, into, `${name}: the given buffer comes back`);
      want.values.forEach((raw, i) => {
        const v = jsonValue(raw);
        if (Number.isNaN(v)) assert.ok(Number.isNaN(got[i]!), `${name}[${i}]`);
        else assert.equal(got[i], Math.fround(v), `${name}[${i}]`);
      });
      assert.equal(backing[1], 12345, `${name}: nothing written before the view`);
      assert.equal(backing.at(-1), 12345, `${name}: nothing written after the view`);
      dtypes.add(want.dtype);
    }
    assert.deepEqual([...dtypes].sort(), ['BF16', 'F16', 'F32']);
    // A buffer of the wrong size is not used.
    const [name] = [...file.tensors.keys()];
    const wrong = new Float32Array(1);
    assert.notEqual(await file.readFloat32(name!, wrong), wrong);
  } finally {
    await file.close();
  }
});

test('round trip in every dtype, with metadata, 8-byte aligned data section', async () => {
  const f32 = new Float32Array([1.5, -2.25, 3e-5, 65504, -0, 7]);
  const tensors = [
    { name: 'a.f64', dtype: 'F64' as const, shape: [2, 2], data: new Float64Array([1e300, -1e-300, 0.1, 4]) },
    { name: 'a.f32', dtype: 'F32' as const, shape: [2, 3], data: f32 },
    { name: 'a.f16', dtype: 'F16' as const, shape: [6], data: f32ToF16(f32) },
    { name: 'a.bf16', dtype: 'BF16' as const, shape: [3, 2], data: f32ToBf16(f32) },
    { name: 'i64', dtype: 'I64' as const, shape: [2], data: new BigInt64Array([-5n, 1n << 40n]) },
    { name: 'i32', dtype: 'I32' as const, shape: [1, 3], data: new Int32Array([-1, 0, 2147483647]) },
    { name: 'i16', dtype: 'I16' as const, shape: [2], data: new Int16Array([-32768, 9]) },
    { name: 'i8', dtype: 'I8' as const, shape: [3], data: new Int8Array([-128, 1, 127]) },
    { name: 'u8', dtype: 'U8' as const, shape: [1], data: new Uint8Array([200]) },
    { name: 'mask', dtype: 'BOOL' as const, shape: [2], data: new Uint8Array([1, 0]) },
    { name: 'scalar', dtype: 'F32' as const, shape: [], data: new Float32Array([42]) },
    { name: 'empty', dtype: 'F32' as const, shape: [0, 4], data: new Float32Array(0) },
    // A view into a larger buffer at an offset must write only its own bytes.
    { name: 'view', dtype: 'F32' as const, shape: [2], data: new Float32Array([9, 8, 7, 6]).subarray(1, 3) },
  ];
  const path = join(dir, 'round.safetensors');
  await writeSafetensors(path, tensors, { note: 'hello', ünïcode: '✓' });
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + headerLength) % 8, 0);
  assert.equal(
    bytes
      .subarray(8, 8 + headerLength)
      .toString()
      .trimEnd()
      .endsWith('}'),
    true,
  );

  const file = await SafetensorsFile.open(path);
  assert.deepEqual(file.metadata, { note: 'hello', ünïcode: '✓' });
  assert.deepEqual(
    [...file.tensors.keys()],
    tensors.map((t) => t.name),
  );
  for (const t of tensors) {
    const raw = await file.readRaw(t.name);
    assert.deepEqual(raw, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), t.name);
    assert.deepEqual(file.info(t.name).shape, t.shape);
  }
  assert.deepEqual(
    [...(await file.readFloat32('a.f16'))],
    [1.5, -2.25, Math.fround(f16Nearest(3e-5)), 65504, -0, 7],
  );
  assert.deepEqual([...(await file.readFloat32('a.bf16'))], [1.5, -2.25, bf16Expected(3e-5), 65536, -0, 7]);
  assert.deepEqual([...(await file.readFloat64('i64'))], [-5, 2 ** 40]);
  assert.deepEqual([...(await file.readFloat32('i8'))], [-128, 1, 127]);
  assert.deepEqual([...(await file.readFloat32('view'))], [8, 7]);
  assert.deepEqual([...(await file.readFloat32('empty'))], []);
  // Row slices read just their bytes, widened like whole tensors.
  assert.deepEqual([...(await file.readFloat32Rows('a.f32', 1, 2))], [65504, -0, 7]);
  assert.deepEqual([...(await file.readFloat32Rows('a.bf16', 1, 3))], [bf16Expected(3e-5), 65536, -0, 7]);
  assert.deepEqual([...(await file.readFloat32Rows('a.f64', 0, 1))], [Math.fround(1e300), -0]);
  assert.deepEqual([...(await file.readFloat32Rows('a.f32', 2, 2))], []);
  await assert.rejects(file.readFloat32Rows('a.f32', 1, 3), /rows \[1, 3\) outside 'a.f32' with 2 rows/);
  await assert.rejects(file.readFloat32Rows('scalar', 0, 1), RangeError);
  await assert.rejects(
    file.readRaw('nope'),
    (e: unknown) => e instanceof UserError && /no tensor named 'nope'/.test(e.message),
  );
  await file.close();
  await assert.rejects(file.readRaw('a.f32'), /closed/);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

/** 3e-5 is below 2^-14, a subnormal half: halves there are spaced 2^-24 (hand computation). */
function f16Nearest(x: number): number {
  const step = 2 ** -24;
  return Math.round(x / step) * step;
}

/** bf16 keeps 8 significant bits: 3e-5 in [2^-16, 2^-15) is spaced 2^(-16-7). */
function bf16Expected(x: number): number {
  const step = 2 ** (-16 - 7);
  return Math.round(x / step) * step;
}

test('streaming writer: declared tensors written in pieces, in any order', async () => {
  const path = join(dir, 'stream.safetensors');
  const writer = await createSafetensorsWriter(path, [
    { name: 'x', dtype: 'F32', shape: [2, 3] },
    { name: 'y', dtype: 'F16', shape: [2] },
  ]);
  await writer.write('y', f32ToF16(new Float32Array([0.5, -1])));
  await writer.write('x', new Float32Array([4, 5, 6]), 12);
  await writer.write('x', new Float32Array([1, 2, 3]), 0);
  await assert.rejects(writer.write('x', new Float32Array(7)), RangeError);
  await writer.finish();
  const file = await SafetensorsFile.open(path);
  assert.deepEqual([...(await file.readFloat32('x'))], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...(await file.readFloat32('y'))], [0.5, -1]);
  await file.close();

  const partial = join(dir, 'partial.safetensors');
  const w2 = await createSafetensorsWriter(partial, [{ name: 'x', dtype: 'F32', shape: [4] }]);
  await w2.write('x', new Float32Array(2));
  await assert.rejects(w2.finish(), /not fully written/);
  assert.throws(() => statSync(partial));
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.tmp')),
    [],
  );
});

test('writer rejects data whose size does not match dtype and shape, and writes nothing', async () => {
  const path = join(dir, 'bad.safetensors');
  await assert.rejects(
    writeSafetensors(path, [{ name: 'x', dtype: 'F32', shape: [3], data: new Float32Array(2) }]),
    /8 bytes of data but its dtype and shape need 12/,
  );
  await assert.rejects(
    writeSafetensors(path, [
      { name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) },
      { name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    ]),
    /duplicate/,
  );
  assert.throws(() => statSync(path));
});

// ---- hostile files -------------------------------------------------------------------------------------------

let counter = 0;
/** A file with an explicit header length (defaults to the header's), header text and data bytes. */
function hostile(header: string | object, dataBytes = 0, lengthOverride?: bigint): string {
  const text = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(text.length));
  const path = join(dir, `hostile-${counter++}.safetensors`);
  writeFileSync(path, Buffer.concat([len, text, Buffer.alloc(dataBytes)]));
  return path;
}

async function rejects(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(SafetensorsFile.open(path), (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    assert.match(e.message, pattern);
    assert.ok(e.message.includes(path), 'the message names the file');
    return true;
  });
}

const t = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

test('hostile: file shorter than 8 bytes, or missing', async () => {
  const path = join(dir, 'short.safetensors');
  writeFileSync(path, Buffer.from([1, 2, 3]));
  await rejects(path, /shorter than the 8-byte header length/);
  await assert.rejects(SafetensorsFile.open(join(dir, 'absent.safetensors')), UserError);
  await rejects(dir, /not a regular file/);
});

test('hostile: absurd header length, beyond the limit or the file', async () => {
  await rejects(hostile('{}', 0, 2n ** 63n), /exceeds the 100000000-byte limit/);
  await rejects(hostile('{}', 0, 200_000_000n), /exceeds/);
  await rejects(hostile('{}', 0, 5000n), /runs past the end/);
  await rejects(hostile('{}', 0, 0n), /too small/);
});

test('hostile: header not JSON, not UTF-8, not an object', async () => {
  await rejects(hostile('{"a": '), /not valid UTF-8 JSON/);
  await rejects(hostile(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1')), /not valid UTF-8 JSON/);
  await rejects(hostile('[1, 2]'), /not a JSON object/);
  await rejects(hostile('null '), /not a JSON object/);
  await rejects(hostile({ x: 5 }), /tensor 'x' is not a JSON object/);
});

test('hostile: __metadata__ must map strings to strings', async () => {
  await rejects(hostile({ __metadata__: { a: 1 } }), /__metadata__ value for 'a' is not a string/);
  await rejects(hostile({ __metadata__: ['a'] }), /__metadata__ is not a JSON object/);
});

test('hostile: unknown dtype', async () => {
  await rejects(hostile({ x: t('F8_E4M3', [1], [0, 1]) }, 1), /unsupported dtype "F8_E4M3"/);
  await rejects(hostile({ x: t(undefined as unknown as string, [1], [0, 4]) }, 4), /unsupported dtype/);
});

test('hostile: shape not a list of non-negative safe integers', async () => {
  for (const shape of [[-1], [1.5], ['2'], 3, null, [2 ** 53]]) {
    await rejects(hostile({ x: t('F32', shape, [0, 4]) }, 4), /not a list of non-negative integers/);
  }
});

test('hostile: data_offsets missing, non-integer, reversed, out of the data section', async () => {
  await rejects(hostile({ x: { dtype: 'F32', shape: [1] } }, 4), /data_offsets undefined/);
  await rejects(hostile({ x: t('F32', [1], [0]) }, 4), /not two non-negative integers/);
  await rejects(hostile({ x: t('F32', [1], [0, 4.5]) }, 8), /not two non-negative integers/);
  await rejects(hostile({ x: t('F32', [1], [-4, 0]) }, 8), /not two non-negative integers/);
  await rejects(hostile({ x: t('F32', [0], [4, 0]) }, 8), /reversed/);
  await rejects(hostile({ x: t('F32', [1], [0, 4]) }, 3), /past the 3-byte data section \(truncated\?\)/);
  await rejects(hostile({ x: t('F32', [2], [2 ** 52, 2 ** 52 + 8]) }, 8), /past the 8-byte data section/);
});

test('hostile: byte size disagrees with dtype and shape (including huge shapes)', async () => {
  await rejects(hostile({ x: t('F32', [3], [0, 8]) }, 8), /needs 12 bytes but its data_offsets span 8/);
  await rejects(hostile({ x: t('F16', [1, 2], [0, 8]) }, 8), /needs 4 bytes/);
  // A shape whose product would overflow must not allocate or wrap around.
  await rejects(
    hostile({ x: t('F64', [2 ** 40, 2 ** 40, 2 ** 40], [0, 8]) }, 8),
    /needs more than 8 bytes but its data_offsets span 8/,
  );
});

test('hostile: overlapping tensors', async () => {
  await rejects(
    hostile({ a: t('F32', [2], [0, 8]), b: t('F32', [2], [4, 12]) }, 12),
    /tensors 'a' and 'b' overlap/,
  );
  // Zero-sized tensors may share an offset; disjoint tensors with a gap are fine.
  const ok = await SafetensorsFile.open(
    hostile({ a: t('F32', [1], [0, 4]), e: t('F32', [0], [4, 4]), b: t('F32', [1], [8, 12]) }, 12),
  );
  assert.equal(ok.tensors.size, 3);
  await ok.close();
});

test('hostile: truncated copy of a valid file', async () => {
  const path = join(dir, 'full.safetensors');
  await writeSafetensors(path, [{ name: 'w', dtype: 'F32', shape: [64], data: new Float32Array(64) }]);
  const bytes = readFileSync(path);
  const cut = join(dir, 'cut.safetensors');
  writeFileSync(cut, bytes.subarray(0, bytes.length - 1));
  await rejects(cut, /past the 255-byte data section/);
  writeFileSync(cut, bytes.subarray(0, 20));
  await rejects(cut, /runs past the end/);
});
