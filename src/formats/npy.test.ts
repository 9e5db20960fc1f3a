import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { readNpy, readNpyHeader, writeNpy } from './npy.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'formats');
const dir = mkdtempSync(join(tmpdir(), 'stl-npy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('reads NumPy goldens: v1/v2/v3 headers, f2/f4/f8, C and Fortran order, 1-D, np.save', async () => {
  const golden: Record<string, { shape: number[]; values: number[] }> = JSON.parse(
    readFileSync(join(fixtures, 'golden_npy.json'), 'utf8'),
  );
  assert.equal(Object.keys(golden).length, 6);
  for (const [name, want] of Object.entries(golden)) {
    const arr = await readNpy(join(fixtures, name));
    assert.deepEqual(arr.shape, want.shape, name);
    assert.equal(arr.data.length, want.values.length, name);
    // f2 and f4 values were widened to f64 by NumPy, so they are exactly representable in our f32.
    for (const [i, v] of want.values.entries()) assert.equal(arr.data[i], v, `${name}[${i}]`);
  }
  assert.equal((await readNpyHeader(join(fixtures, 'golden_v2_f8.npy'))).version, 2);
  assert.equal((await readNpyHeader(join(fixtures, 'golden_v3_f2.npy'))).dtype, '<f2');
  assert.equal((await readNpyHeader(join(fixtures, 'golden_v1_f4_fortran.npy'))).fortranOrder, true);
});

test('writeNpy round trip, with a header padded to 64 bytes like NumPy', async () => {
  const path = join(dir, 'w.npy');
  const data = new Float32Array([1, 2, 3, 4, 5, 6]);
  await writeNpy(path, [2, 3], data);
  const bytes = readFileSync(path);
  const headerLength = bytes.readUInt16LE(8);
  assert.equal((10 + headerLength) % 64, 0);
  assert.equal(bytes[10 + headerLength - 1], 0x0a);
  const back = await readNpy(path);
  assert.deepEqual(back.shape, [2, 3]);
  assert.deepEqual([...back.data], [...data]);
  await writeNpy(path, [3], new Float64Array([0.1, 0.2, 0.3]));
  assert.deepEqual([...(await readNpy(path)).data], [0.1, 0.2, 0.3]);
});

function npy(header: string, dataBytes: number, version = 1): string {
  const text = Buffer.from(header, 'latin1');
  const len = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) len.writeUInt16LE(text.length);
  else len.writeUInt32LE(text.length);
  const path = join(dir, `h${Math.random().toString(36).slice(2)}.npy`);
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]),
      len,
      text,
      Buffer.alloc(dataBytes),
    ]),
  );
  return path;
}

async function rejects(path: string, pattern: RegExp): Promise<void> {
  await assert.rejects(readNpy(path), (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, pattern);
    assert.ok(e.message.includes(path));
    return true;
  });
}

test('hostile .npy files give clear errors naming the file', async () => {
  const plain = join(dir, 'plain.npy');
  writeFileSync(plain, 'hello, world, not numpy');
  await rejects(plain, /missing the \\x93NUMPY magic/);
  await rejects(
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, 4),
    /unsupported format version 4/,
  );
  const cut = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 0);
  writeFileSync(cut, readFileSync(cut).subarray(0, 20));
  await rejects(cut, /runs past the end of the file/);
  await rejects(
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8),
    /not a Python dict literal/,
  );
  await rejects(npy("['<f4']", 8), /not a dict/);
  await rejects(
    npy("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", 16),
    /unsupported dtype "<i8"/,
  );
  await rejects(
    npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8),
    /unsupported dtype ">f4"/,
  );
  await rejects(npy("{'descr': '<f4', 'shape': (2,), }", 8), /fortran_order/);
  await rejects(
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8),
    /not a tuple of non-negative/,
  );
  await rejects(
    npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 20),
    /needs 24 data bytes, the file has 20 \(truncated\)/,
  );
  await rejects(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12), /trailing bytes/);
  await rejects(
    npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }", 8, 2),
    /needs more than 8 data bytes/,
  );
  await assert.rejects(readNpy(join(dir, 'absent.npy')), UserError);
  await assert.rejects(readNpy(dir), /is not a regular file/);
});
