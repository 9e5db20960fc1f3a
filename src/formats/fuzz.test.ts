// Mutation fuzzing of the three readers: whatever the bytes, a reader either returns data or throws a UserError;
// never a RangeError, TypeError, out-of-range read or hang. Seeded, so failures reproduce.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { readNpy } from './npy.js';
import { SafetensorsFile } from './safetensors.js';
import { readTorchFile } from './torch.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'formats');
const dir = mkdtempSync(join(tmpdir(), 'stl-fuzz-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

/** Flips, overwrites, truncates or splices a few bytes, mostly in the first 300 (headers live there). */
function mutate(original: Buffer, random: () => number): Buffer {
  let bytes = Buffer.from(original);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits; e++) {
    const span = random() < 0.7 ? Math.min(300, bytes.length) : bytes.length;
    const at = Math.floor(random() * span);
    const kind = random();
    if (kind < 0.5) bytes[at] = Math.floor(random() * 256);
    else if (kind < 0.7) bytes[at] ^= 1 << Math.floor(random() * 8);
    else if (kind < 0.85) bytes = bytes.subarray(0, at);
    else
      bytes = Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from('{}[]0"9\xff:,'.slice(0, 1 + (at % 10))),
        bytes.subarray(at),
      ]);
  }
  return bytes;
}

async function fuzz(file: string, seed: number, runs: number, read: (path: string) => Promise<unknown>) {
  const original = readFileSync(join(fixtures, file));
  const random = rng(seed);
  let accepted = 0;
  for (let i = 0; i < runs; i++) {
    const path = join(dir, `${file}.${i}`);
    writeFileSync(path, mutate(original, random));
    try {
      await read(path);
      accepted++;
    } catch (err) {
      assert.ok(
        err instanceof UserError,
        `${file} mutation ${i} (seed ${seed}) threw ${(err as Error)?.stack ?? err}`,
      );
    } finally {
      rmSync(path, { force: true });
    }
  }
  return accepted;
}

test('fuzz: mutated safetensors files are read or rejected with a UserError', async () => {
  await fuzz('golden.safetensors', 1, 400, async (path) => {
    const f = await SafetensorsFile.open(path);
    try {
      for (const name of f.tensors.keys()) await f.readFloat32(name);
    } finally {
      await f.close();
    }
  });
});

test('fuzz: mutated .npy files are read or rejected with a UserError', async () => {
  await fuzz('golden_v2_f8.npy', 2, 300, readNpy);
  await fuzz('golden_v1_f4_fortran.npy', 3, 200, readNpy);
});

test('fuzz: mutated .pt files are read or rejected with a UserError', async () => {
  await fuzz('torch_q8_channel.pt', 4, 300, readTorchFile);
  await fuzz('torch_dict.pt', 5, 200, readTorchFile);
});
