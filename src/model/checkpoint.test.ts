// Checkpoints written by reference/loading_make_fixtures.py (an independent safetensors writer), with the values
// PyTorch reads back from each dtype.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { openCheckpoint } from './checkpoint.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'loading', 'checkpoints');
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as Record<
  string,
  Record<string, number[]>
>;
const shapes = expected['shapes'] as unknown as Record<string, number[]>;
const names = Object.keys(shapes);
const total = names.reduce((a, n) => a + shapes[n].reduce((x, y) => x * y, 1), 0);

const scratch = mkdtempSync(join(tmpdir(), 'stl-ckpt-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let copies = 0;
function copyOf(name: string): string {
  const dir = join(scratch, `${name}-${copies++}`);
  cpSync(join(fixtures, name), dir, { recursive: true });
  return dir;
}

describe('openCheckpoint on PyTorch-written files', () => {
  for (const [dir, dtype] of [
    ['f32', 'F32'],
    ['f16', 'F16'],
    ['bf16', 'BF16'],
    ['sharded', 'BF16'],
  ] as const) {
    test(`${dir}: every tensor equals torch's f32 view of the ${dtype} weights`, async () => {
      const ck = await openCheckpoint(join(fixtures, dir));
      try {
        assert.equal(ck.weightDtype, dtype);
        assert.equal(ck.config['model_type'], 'gpt2');
        assert.equal(ck.parameterCount, total);
        for (const name of names) {
          assert.ok(ck.has(name), name);
          assert.deepEqual(ck.info(name), { dtype, shape: shapes[name] });
          const values = await ck.readFloat32(name);
          assert.deepEqual(Array.from(values), expected[dtype][name], name);
        }
        assert.equal(ck.has('nope'), false);
        await assert.rejects(ck.readFloat32('nope'), UserError);
      } finally {
        await ck.close();
      }
    });
  }

  test('non-float tensors are listed but do not count as parameters', async () => {
    const ck = await openCheckpoint(join(fixtures, 'f32'));
    try {
      assert.deepEqual(ck.info('h.0.attn.bias_mask'), { dtype: 'I64', shape: [2, 2] });
      assert.deepEqual(Array.from(await ck.readFloat32('h.0.attn.bias_mask')), [1, 0, 1, 1]);
      assert.equal(ck.dtypeElements.I64, 4);
      assert.equal(ck.weightBytes, total * 4 + 4 * 8);
      assert.deepEqual(ck.files, ['model.safetensors']);
    } finally {
      await ck.close();
    }
  });

  test('sharded: names follow the index; both shards are used', async () => {
    const ck = await openCheckpoint(join(fixtures, 'sharded'));
    try {
      assert.deepEqual(ck.tensorNames, names);
      assert.deepEqual(ck.files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    } finally {
      await ck.close();
    }
  });
});

describe('readRows', () => {
  for (const dir of ['f32', 'f16', 'bf16', 'sharded'] as const) {
    test(`${dir}: gathered rows equal torch's values, in the order asked, repeats allowed`, async () => {
      const ck = await openCheckpoint(join(fixtures, dir));
      const dtype = dir === 'sharded' ? 'BF16' : dir.toUpperCase();
      try {
        for (const name of ['wte.weight', 'h.0.attn.c_attn.weight', 'ln_f.weight']) {
          const shape = shapes[name];
          const rowElems = shape.slice(1).reduce((a, b) => a * b, 1);
          const all = expected[dtype][name];
          const rows = shape[0] > 3 ? [shape[0] - 1, 0, 1, 2, 1, shape[0] - 2] : [shape[0] - 1, 0, 0];
          const want = rows.flatMap((r) => all.slice(r * rowElems, (r + 1) * rowElems));
          assert.deepEqual(Array.from(await ck.readRows(name, rows)), want, name);
        }
        assert.equal((await ck.readRows('wte.weight', [])).length, 0);
        await assert.rejects(ck.readRows('wte.weight', [262]), /out of range/);
        await assert.rejects(ck.readRows('wte.weight', [1.5]), /out of range/);
      } finally {
        await ck.close();
      }
    });
  }

  test('integer tensors are refused', async () => {
    const ck = await openCheckpoint(join(fixtures, 'f32'));
    try {
      await assert.rejects(ck.readRows('h.0.attn.bias_mask', [0]), /float tensor/);
    } finally {
      await ck.close();
    }
  });
});

describe('laziness', () => {
  test('a 2 GB tensor elsewhere in the file is never read when a small one is asked for', async () => {
    // A sparse file: the header declares a 512M-element F32 tensor; its bytes are holes on disk.
    const dir = join(scratch, 'huge');
    cpSync(join(fixtures, 'f32'), dir, { recursive: true });
    const big = 512 * 1024 * 1024;
    const header = JSON.stringify({
      small: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
      huge: { dtype: 'F32', shape: [big], data_offsets: [16, 16 + big * 4] },
    });
    const h = Buffer.from(header + ' '.repeat(-header.length & 7));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    const path = join(dir, 'model.safetensors');
    writeFileSync(path, Buffer.concat([len, h, Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)]));
    truncateSync(path, 8 + h.length + 16 + big * 4);
    const before = process.memoryUsage().rss;
    const ck = await openCheckpoint(dir);
    try {
      assert.equal(ck.parameterCount, big + 4);
      assert.deepEqual(Array.from(await ck.readFloat32('small')), [1, 2, 3, 4]);
      assert.deepEqual(Array.from(await ck.readRows('huge', [big - 1, 7])), [0, 0]); // rows of it: just those bytes
      assert.ok(
        process.memoryUsage().rss - before < 200 * 1024 * 1024,
        'opened without reading the big tensor',
      );
    } finally {
      await ck.close();
    }
  });
});

describe('clear errors', () => {
  const rejects = async (dir: string, pattern: RegExp) => {
    await assert.rejects(openCheckpoint(dir), (e: Error) => {
      assert.ok(e instanceof UserError, `${e}`);
      assert.match(e.message, pattern);
      return true;
    });
  };

  test('not a model directory', async () => {
    await rejects(join(scratch, 'does-not-exist'), /does not exist/);
    const dir = copyOf('f32');
    rmSync(join(dir, 'config.json'));
    await rejects(dir, /no config\.json/);
  });

  test('no safetensors weights (pytorch_model.bin only)', async () => {
    const dir = copyOf('f32');
    rmSync(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
    await rejects(dir, /neither model\.safetensors.*pytorch_model\.bin.*safe_serialization/);
  });

  test('index: missing shard, tensor not in its shard, bad file name, bad JSON', async () => {
    let dir = copyOf('sharded');
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    await rejects(dir, /model-00002-of-00002\.safetensors.*incomplete download/);

    dir = copyOf('sharded');
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    index.weight_map['wte.weight'] = 'model-00002-of-00002.safetensors';
    writeFileSync(indexPath, JSON.stringify(index));
    await rejects(dir, /'wte\.weight' in model-00002-of-00002\.safetensors.*does not contain it/);

    index.weight_map['wte.weight'] = '../model-00001-of-00002.safetensors';
    writeFileSync(indexPath, JSON.stringify(index));
    await rejects(dir, /not a file name in the same directory/);

    writeFileSync(indexPath, '{"weight_map": ');
    await rejects(dir, /not valid JSON/);
    writeFileSync(indexPath, '{"metadata": {}}');
    await rejects(dir, /no "weight_map"/);
  });

  test('a truncated shard is reported, not read out of range', async () => {
    const dir = copyOf('bf16');
    const path = join(dir, 'model.safetensors');
    truncateSync(path, readFileSync(path).length - 10);
    await rejects(dir, /model\.safetensors/);
  });
});
