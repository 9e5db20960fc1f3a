import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SafetensorsFile, writeSafetensors } from '../formats/safetensors.js';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import {
  createStore,
  entitiesFromDataset,
  hookName,
  openStore,
  readLayerFile,
  type StoreManifestInput,
  writeLayerFile,
} from './index.js';

const root = mkdtempSync(join(tmpdir(), 'stl-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

const dataset = {
  name: 'tiny_places',
  n: 4,
  names: ['Paris', 'Lima', 'Oslo', 'Quito'],
  targetNames: ['longitude', 'latitude'],
  targets: new Float64Array([2.35, 48.86, -77.04, -12.05, 10.75, 59.91, -78.47, -0.18]),
  isTest: new Uint8Array([0, 1, 0, 1]),
  columns: { name: ['Paris', 'Lima', 'Oslo', 'Quito'], country: ['FR', 'PE', 'NO', 'EC'] },
};

function manifest(n = 4, d = 3, dtype: 'f32' | 'f16' = 'f32'): StoreManifestInput {
  return {
    formatVersion: 1,
    model: { id: 'test/model', configHash: 'abc' },
    dataset: {
      name: 'tiny_places',
      sha256: 'f'.repeat(64),
      kind: 'space',
      targetNames: ['longitude', 'latitude'],
    },
    prompt: { name: 'empty', text: '' },
    hooks: ['hook_resid_post'],
    layers: [0, 1],
    dtype,
    n,
    d,
    aggregation: 'last',
    toolVersion: '0.1.0',
    createdAt: '2026-11-29T06:00:00.000Z',
  };
}

const layer = (seed: number, n = 4, d = 3) =>
  Float32Array.from({ length: n * d }, (_, i) => seed + i * 0.125 - 1);
let counter = 0;
const fresh = () => join(root, `store-${counter++}`);
const leftovers = () => readdirSync(root).filter((f) => f.startsWith('.'));

async function makeStore(dir: string, dtype: 'f32' | 'f16' = 'f32'): Promise<void> {
  const w = createStore(dir, manifest(4, 3, dtype), entitiesFromDataset(dataset));
  await w.write(hookName(0), layer(0), 4, 3);
  await w.write(hookName(1), layer(10), 4, 3);
  await w.finish();
}

test('f32 round trip: manifest, entities, targets, split, every layer exact', async () => {
  const dir = fresh();
  await makeStore(dir);
  assert.deepEqual(readdirSync(dir).sort(), [
    'blocks.0.hook_resid_post.safetensors',
    'blocks.1.hook_resid_post.safetensors',
    'entities.jsonl',
    'manifest.json',
  ]);
  const store = await openStore(dir);
  assert.deepEqual(store.manifest.files, {
    'blocks.0.hook_resid_post': 'blocks.0.hook_resid_post.safetensors',
    'blocks.1.hook_resid_post': 'blocks.1.hook_resid_post.safetensors',
  });
  assert.equal(store.manifest.dataset.sha256, 'f'.repeat(64));
  assert.deepEqual(store.hookNames, ['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post']);
  assert.deepEqual([...(await store.read('blocks.1.hook_resid_post'))], [...layer(10)]);
  assert.deepEqual([...(await store.readLayer(0))], [...layer(0)]);
  assert.deepEqual(
    [...(await store.readRows('blocks.1.hook_resid_post', 1, 3))],
    [...layer(10).subarray(3, 9)],
  );
  assert.deepEqual([...store.targets()], [...dataset.targets]);
  assert.deepEqual([...store.isTest()], [0, 1, 0, 1]);
  const entities = await store.entities();
  assert.deepEqual(entities[2], { name: 'Oslo', country: 'NO', is_test: false, target: [10.75, 59.91] });
  // Each line of entities.jsonl is one JSON object, in dataset order.
  const lines = readFileSync(join(dir, 'entities.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(
    lines.map((l) => JSON.parse(l).name),
    dataset.names,
  );
  // The layer file holds one [n, d] F32 tensor named by the hook.
  const file = await SafetensorsFile.open(store.filePath('blocks.0.hook_resid_post'));
  assert.deepEqual(
    [...file.tensors.values()].map((t) => [t.name, t.dtype, t.shape]),
    [['blocks.0.hook_resid_post', 'F32', [4, 3]]],
  );
  await file.close();
  await assert.rejects(store.read('blocks.7.hook_resid_post'), /has no hook 'blocks.7.hook_resid_post'/);
  assert.deepEqual(leftovers(), []);
});

test('f16 store: values rounded as NumPy rounds them, widened to f32 on read', async () => {
  const fixtures = join(packageRoot(), 'test', 'fixtures', 'formats');
  const cases = new Float32Array(readFileSync(join(fixtures, 'halfcases_f32.bin')).buffer.slice(0));
  const numpy = new Uint16Array(readFileSync(join(fixtures, 'halfcases_f16_numpy.bin')).buffer.slice(0));
  const finite: number[] = [];
  for (let i = 0; i < cases.length && finite.length < 4 * 1000; i++) {
    if (Number.isFinite(cases[i]) && Math.abs(cases[i]) < 65504) finite.push(i);
  }
  const n = 4;
  const d = finite.length / n;
  const data = Float32Array.from(finite, (i) => cases[i]);
  const dir = fresh();
  const w = createStore(dir, manifest(n, d, 'f16'), entitiesFromDataset(dataset));
  await w.write('hook_embed', data, n, d);
  await w.finish();
  const store = await openStore(dir);
  const back = await store.read('hook_embed');
  finite.forEach((src, j) => {
    const h = numpy[src];
    // The value of NumPy's half, by the IEEE formula.
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    const v = (h & 0x8000 ? -1 : 1) * (e === 0 ? m * 2 ** -24 : (1 + m / 1024) * 2 ** (e - 15));
    assert.ok(Object.is(back[j], v), `value ${cases[src]}: got ${back[j]}, NumPy's half is ${v}`);
  });
  const file = await SafetensorsFile.open(store.filePath('hook_embed'));
  assert.equal(file.info('hook_embed').dtype, 'F16');
  await file.close();
});

test('a store appears only on finish; abort leaves nothing', async () => {
  const dir = fresh();
  const w = createStore(dir, manifest(), entitiesFromDataset(dataset));
  await w.write(hookName(0), layer(0), 4, 3);
  assert.equal(existsSync(dir), false);
  assert.ok(existsSync(w.tempDir));
  await w.abort();
  assert.equal(existsSync(dir), false);
  assert.deepEqual(leftovers(), []);
  await assert.rejects(w.write(hookName(1), layer(1), 4, 3), /write after aborted/);
});

test('writer rejects wrong shapes, duplicates, bad entities, and an empty store', async () => {
  const w = createStore(fresh(), manifest(), entitiesFromDataset(dataset));
  await assert.rejects(
    w.write(hookName(0), layer(0, 4, 2), 4, 2),
    /is \[4, 2\] but the manifest says \[4, 3\]/,
  );
  await assert.rejects(w.write(hookName(0), new Float32Array(5), 4, 3), /5 values is not n \* d/);
  await assert.rejects(w.write('../evil', layer(0), 4, 3), UserError);
  await assert.rejects(w.finish(), /no layer was written/);
  await w.abort();
  const w2 = createStore(fresh(), manifest(), entitiesFromDataset(dataset));
  await w2.write(hookName(0), layer(0), 4, 3);
  await assert.rejects(w2.write(hookName(0), layer(0), 4, 3), /written twice/);
  await w2.abort();
  assert.throws(
    () => createStore(fresh(), manifest(5), entitiesFromDataset(dataset)),
    /4 entities for a manifest with n = 5/,
  );
  const bad = entitiesFromDataset(dataset);
  bad[1]!.target = [1, Number.NaN];
  assert.throws(() => createStore(fresh(), manifest(), bad), /entity 1 needs/);
  assert.throws(
    () => createStore(fresh(), { ...manifest(), dtype: 'f8' as 'f32' }, entitiesFromDataset(dataset)),
    /'dtype'/,
  );
  assert.deepEqual(leftovers(), []);
});

test('refuses to overwrite unless asked; never replaces a directory that is not a store', async () => {
  const dir = fresh();
  await makeStore(dir);
  assert.throws(
    () => createStore(dir, manifest(), entitiesFromDataset(dataset)),
    /already exists.*--overwrite/,
  );
  const w = createStore(dir, manifest(), entitiesFromDataset(dataset), { overwrite: true });
  await w.write(hookName(0), layer(99), 4, 3);
  await w.finish();
  const store = await openStore(dir);
  assert.deepEqual(store.hookNames, ['blocks.0.hook_resid_post']);
  assert.deepEqual([...(await store.readLayer(0))], [...layer(99)]);

  const notAStore = fresh();
  mkdirSync(notAStore);
  writeFileSync(join(notAStore, 'thesis.tex'), 'precious');
  assert.throws(
    () => createStore(notAStore, manifest(), entitiesFromDataset(dataset), { overwrite: true }),
    /not an activation store.*refusing/,
  );
  assert.equal(readFileSync(join(notAStore, 'thesis.tex'), 'utf8'), 'precious');
  const empty = fresh();
  mkdirSync(empty);
  await makeStore(empty); // an empty directory is fine
  // A parent that is a file: a clear error, not a crash.
  writeFileSync(join(root, 'a-file'), '');
  assert.throws(
    () => createStore(join(root, 'a-file', 'store'), manifest(), entitiesFromDataset(dataset)),
    (e: unknown) => e instanceof UserError && /cannot create store/.test(e.message),
  );
  assert.deepEqual(leftovers(), []);
});

/** Copies a good store and lets `mutate` damage it; returns the copy's path. */
async function damaged(mutate: (dir: string) => unknown): Promise<string> {
  const dir = fresh();
  await makeStore(dir);
  await mutate(dir);
  return dir;
}

async function rejectsOpen(dir: string, pattern: RegExp): Promise<void> {
  await assert.rejects(openStore(dir), (e: unknown) => {
    assert.ok(e instanceof UserError, String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

function editManifest(dir: string, edit: (m: Record<string, unknown>) => void): void {
  const path = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8'));
  edit(m);
  writeFileSync(path, JSON.stringify(m));
}

test('corrupted manifests are clear errors', async () => {
  await rejectsOpen(fresh(), /does not exist/);
  const plain = fresh();
  mkdirSync(plain);
  await rejectsOpen(plain, /is not an activation store \(no manifest.json\)/);
  await rejectsOpen(
    await damaged((d) => writeFileSync(join(d, 'manifest.json'), '{"formatVersion": 1,')),
    /manifest.json is not valid JSON/,
  );
  await rejectsOpen(
    await damaged((d) => editManifest(d, (m) => (m['formatVersion'] = 2))),
    /store format version 2; this spacetime-lens reads version 1/,
  );
  await rejectsOpen(
    await damaged((d) => editManifest(d, (m) => delete m['d'])),
    /field 'd' is missing or invalid/,
  );
  await rejectsOpen(
    await damaged((d) => editManifest(d, (m) => (m['dataset'] = { name: 'x' }))),
    /field 'dataset.sha256'/,
  );
  await rejectsOpen(
    await damaged((d) =>
      editManifest(d, (m) => (m['files'] = { 'blocks.0.hook_resid_post': '../../etc/passwd' })),
    ),
    /must be 'blocks.0.hook_resid_post.safetensors'/,
  );
});

test('missing, truncated or misshapen layer files and bad entity rows are clear errors', async () => {
  await rejectsOpen(
    await damaged((d) => rmSync(join(d, 'blocks.1.hook_resid_post.safetensors'))),
    /missing layer file blocks.1.hook_resid_post.safetensors/,
  );
  await rejectsOpen(
    await damaged((d) =>
      truncateSync(
        join(d, 'blocks.0.hook_resid_post.safetensors'),
        statSync(join(d, 'blocks.0.hook_resid_post.safetensors')).size - 8,
      ),
    ),
    /blocks.0.hook_resid_post.safetensors is not a valid safetensors file: .*past the .*data section \(truncated\?\)/,
  );
  await rejectsOpen(await damaged((d) => rmSync(join(d, 'entities.jsonl'))), /missing entities.jsonl/);
  await rejectsOpen(
    await damaged((d) =>
      writeFileSync(join(d, 'entities.jsonl'), '{"name":"a","is_test":false,"target":[1,2]}\n'),
    ),
    /has 1 entities but the manifest says n = 4/,
  );
  await rejectsOpen(
    await damaged((d) => {
      const path = join(d, 'entities.jsonl');
      const lines = readFileSync(path, 'utf8').split('\n');
      lines[2] = '{"name":"Oslo","is_test":false,"target":[10.75]}';
      writeFileSync(path, lines.join('\n'));
    }),
    /entities.jsonl:3: 'target' must be 2 number\(s\) \(longitude, latitude\)/,
  );
  // A layer file of the right size but the wrong shape, or in another dtype.
  await rejectsOpen(
    await damaged((d) =>
      writeSafetensors(join(d, 'blocks.0.hook_resid_post.safetensors'), [
        { name: 'blocks.0.hook_resid_post', dtype: 'F32', shape: [3, 4], data: new Float32Array(12) },
      ]),
    ),
    /blocks.0.hook_resid_post.safetensors: expected tensor 'blocks.0.hook_resid_post' F32 \[4, 3\], found F32 \[3,4\]/,
  );
  await rejectsOpen(
    await damaged((d) =>
      writeSafetensors(join(d, 'blocks.1.hook_resid_post.safetensors'), [
        { name: 'blocks.1.hook_resid_post', dtype: 'F64', shape: [4, 3], data: new Float64Array(12) },
      ]),
    ),
    /found F64 \[4,3\]/,
  );
});

test('writeLayerFile / readLayerFile: one atomic layer file in an in-progress directory', async () => {
  const dir = fresh();
  mkdirSync(dir);
  const file = await writeLayerFile(dir, 'blocks.3.mlp.hook_post', layer(5, 2, 6), 2, 6, 'f16');
  assert.equal(file, 'blocks.3.mlp.hook_post.safetensors');
  assert.deepEqual(readdirSync(dir), [file]);
  const back = await readLayerFile(join(dir, file), 'blocks.3.mlp.hook_post', 2, 6);
  assert.deepEqual([...back], [...layer(5, 2, 6)]); // multiples of 1/8 below 2048 are exact in f16
  await assert.rejects(readLayerFile(join(dir, file), 'blocks.3.mlp.hook_post', 3, 6), /expected \[3, 6\]/);
  await assert.rejects(readLayerFile(join(dir, file), 'other'), /holds no tensor named 'other'/);
  // 65520 rounds to inf in f16 (65519.99 still rounds down to 65504).
  await assert.rejects(
    writeLayerFile(dir, 'big', new Float32Array([1, 65519.99, 2, -65520]), 2, 2, 'f16'),
    /big: value -65520 at row 1, column 1 is beyond the f16 range/,
  );
  assert.deepEqual(readdirSync(dir), [file]);
});

test('reads a store written by NumPy alone (independent writer, f16 layers)', async () => {
  const base = join(packageRoot(), 'test', 'fixtures', 'store');
  const expected: Record<string, number[]> = JSON.parse(
    readFileSync(join(base, 'numpy_f16_expected.json'), 'utf8'),
  );
  const store = await openStore(join(base, 'numpy_f16'));
  assert.deepEqual(store.hookNames, Object.keys(expected));
  for (const [hook, values] of Object.entries(expected))
    assert.deepEqual([...(await store.read(hook))], values);
  assert.deepEqual([...store.isTest()], [0, 1, 0, 1]);
  assert.deepEqual([...store.targets()], [2.35, 48.86, -77.04, -12.05, 10.75, 59.91, -78.47, -0.18]);
  assert.equal((await store.entities())[3].country, 'XX');
});
