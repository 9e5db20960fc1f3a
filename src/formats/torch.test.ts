import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { readTorchFile } from './torch.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'formats');
const dir = mkdtempSync(join(tmpdir(), 'stl-torch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('reads torch.save files as PyTorch does: f32, quint8 (per channel and per tensor), strided f16, dicts, bf16, int64', async () => {
  const golden: Record<string, Record<string, { shape: number[]; values: number[] }>> = JSON.parse(
    readFileSync(join(fixtures, 'golden_torch.json'), 'utf8'),
  );
  assert.equal(Object.keys(golden).length, 7); // torch_zip64.pt: sizes in ZIP64 extra fields
  for (const [file, tensors] of Object.entries(golden)) {
    const got = await readTorchFile(join(fixtures, file));
    assert.deepEqual([...got.keys()].sort(), Object.keys(tensors).sort(), file);
    for (const [name, want] of Object.entries(tensors)) {
      const t = got.get(name)!;
      assert.deepEqual(t.shape, want.shape, `${file}:${name}`);
      // Bit-exact: dequantisation, f16/bf16 widening and the strided gather all match PyTorch's f32 values.
      assert.deepEqual([...t.data], want.values, `${file}:${name}`);
    }
  }
  const q = (await readTorchFile(join(fixtures, 'torch_q8_channel.pt'))).get('')!;
  assert.equal(q.dtype, 'quint8');
  assert.equal(q.quantization, 'per_channel_affine');
});

test('refuses pickles that would run code, and other hostile files', async () => {
  await assert.rejects(readTorchFile(join(fixtures, 'torch_evil.pt')), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /refusing to call posix.system/);
    return true;
  });
  const good = readFileSync(join(fixtures, 'torch_f32.pt'));
  const cut = join(dir, 'cut.pt');
  writeFileSync(cut, good.subarray(0, good.length - 200));
  await assert.rejects(
    readTorchFile(cut),
    /not a readable PyTorch tensor file: not a ZIP archive|out of range|truncated/,
  );
  const text = join(dir, 'text.pt');
  writeFileSync(text, 'hello world, this is not a zip archive at all');
  await assert.rejects(readTorchFile(text), /not a ZIP archive/);
  const legacy = join(dir, 'legacy.pt');
  writeFileSync(legacy, Buffer.from([0x80, 0x02, 0x8a, 0x0a]));
  await assert.rejects(readTorchFile(legacy), /legacy \(pre-1.6\) format/);
  // Patch the stored (uncompressed) pickle in place: a shape larger than its storage, an unknown storage type.
  const patched = (from: string, to: string) => {
    const bytes = Buffer.from(good);
    const at = bytes.indexOf(Buffer.from(from, 'latin1'));
    assert.ok(at > 0, `pattern ${JSON.stringify(from)} not found`);
    Buffer.from(to, 'latin1').copy(bytes, at);
    const path = join(dir, `patched-${at}.pt`);
    writeFileSync(path, bytes);
    return path;
  };
  await assert.rejects(
    readTorchFile(patched('K\x05K\x03\x86', 'K\x09K\x03\x86')),
    /tensor \[9,3\] reaches past its storage of 15 elements/,
  );
  await assert.rejects(
    readTorchFile(patched('FloatStorage', 'FloatStorxge')),
    /unsupported storage type FloatStorxge/,
  );
  await assert.rejects(readTorchFile(join(dir, 'absent.pt')), /cannot open/);
});
