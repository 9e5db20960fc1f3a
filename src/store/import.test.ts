import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { writeNpy } from '../formats/npy.js';
import { writeSafetensors } from '../formats/safetensors.js';
import { packageRoot } from '../util/paths.js';
import { openStore } from './index.js';

const fixtures = join(packageRoot(), 'test', 'fixtures', 'formats');
const golden: Record<string, { shape: number[]; values: number[] }> = JSON.parse(
  readFileSync(join(fixtures, 'golden_npy.json'), 'utf8'),
);
const dir = mkdtempSync(join(tmpdir(), 'stl-import-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A 5-row custom dataset: the NumPy goldens are [5, 3] arrays, one row per place.
const csv = join(dir, 'five_places.csv');
writeFileSync(
  csv,
  'name,latitude,longitude,is_test\n' +
    'Paris,48.86,2.35,False\nLima,-12.05,-77.04,True\nOslo,59.91,10.75,False\nQuito,-0.18,-78.47,False\nPerth,-31.95,115.86,True\n',
);

/** Runs the CLI, returning its exit code and what it printed to stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const { code, err } = await runCliCaptured(args);
  return { code, stderr: err };
}

test('import .npy (f4, f8, Fortran) and .safetensors layers end to end through the CLI', async () => {
  const st = join(dir, 'acts.safetensors');
  const values = Float32Array.from({ length: 15 }, (_, i) => i / 4 - 2);
  await writeSafetensors(st, [
    { name: 'other', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    { name: 'blocks.9.hook_resid_post', dtype: 'F32', shape: [5, 3], data: values },
  ]);
  const out = join(dir, 'store');
  const args = ['import', '--dataset', csv, '--model', 'org/model', '--prompt', 'empty'];
  args.push('--layer', '0', '--array', join(fixtures, 'golden_v1_f4.npy'));
  args.push('--layer', '4', '--array', join(fixtures, 'golden_v2_f8.npy'));
  args.push('--layer', '7', '--array', join(fixtures, 'golden_v1_f4_fortran.npy'));
  args.push('--layer', '9', '--array', st);
  args.push('--layer', '11', '--array', join(fixtures, 'torch_q8_channel.pt'), '--out', out);
  const { code, stderr } = await cli(args);
  assert.equal(code, 0, stderr);

  const store = await openStore(out);
  const m = store.manifest;
  assert.equal(m.model.id, 'org/model');
  assert.deepEqual(m.dataset.targetNames, ['longitude', 'latitude']);
  assert.equal(m.dataset.kind, 'space');
  assert.match(m.dataset.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(m.prompt, { name: 'empty', text: '' });
  assert.deepEqual([m.n, m.d, m.dtype, m.aggregation], [5, 3, 'f32', 'last']);
  assert.deepEqual(m.layers, [0, 4, 7, 9, 11]);
  assert.deepEqual(m.hooks, ['hook_resid_post']);
  const expect = (name: string) => golden[name].values.map((v) => Math.fround(v));
  assert.deepEqual([...(await store.readLayer(0))], expect('golden_v1_f4.npy'));
  assert.deepEqual([...(await store.readLayer(4))], expect('golden_v2_f8.npy'));
  assert.deepEqual([...(await store.readLayer(7))], expect('golden_v1_f4_fortran.npy'));
  assert.deepEqual([...(await store.readLayer(9))], [...values]);
  // The authors' per-channel quint8 .pt file, dequantised exactly as PyTorch does.
  const torchGolden = JSON.parse(readFileSync(join(fixtures, 'golden_torch.json'), 'utf8'));
  assert.deepEqual([...(await store.readLayer(11))], torchGolden['torch_q8_channel.pt'][''].values);
  const from = (m.extra!['importedFrom'] as Record<string, unknown>[])[4];
  assert.equal(from['dequantised'], 'per_channel_affine quint8');
  // Targets are (longitude, latitude), split from the file.
  assert.deepEqual([...store.targets()].slice(0, 4), [2.35, 48.86, -77.04, -12.05]);
  assert.deepEqual([...store.isTest()], [0, 1, 0, 0, 1]);
  assert.equal((await store.entities())[4].name, 'Perth');
});

test('import errors: wrong rows, non-2-D, unpaired flags, existing output; nothing is written', async () => {
  const out = join(dir, 'bad');
  const nanFile = join(dir, 'nan.npy');
  const withNan = new Float32Array(15).fill(0.5);
  withNan[3 * 3 + 1] = Number.NaN;
  await writeNpy(nanFile, [5, 3], withNan);
  const base = ['import', '--dataset', csv, '--out', out];
  const cases: [string[], RegExp][] = [
    [
      ['--layer', '0', '--array', join(fixtures, 'golden_v1_f8_1d.npy')],
      /has shape \[5\]; import needs a 2-D/,
    ],
    [
      ['--layer', '0', '--array', join(fixtures, 'golden.safetensors')],
      /holds 12 tensors .* pick one with --tensor/,
    ],
    [
      ['--layer', '0', '--array', join(fixtures, 'golden.safetensors'), '--tensor', 'weights.f32'],
      /has 3 rows but dataset five_places has 5 entities/,
    ],
    [
      ['--layer', '0', '--layer', '1', '--array', join(fixtures, 'golden_v1_f4.npy')],
      /2 --layer but 1 --array/,
    ],
    [
      ['--layer', '0', '--array', join(fixtures, 'golden_v1_f4.npy'), '--hook', 'attn'],
      /unknown hook 'attn'/,
    ],
    [['--layer', '0', '--array', join(fixtures, 'golden_v1_f4.npy'), '--prompt', 'nope'], /not a variant/],
    [['--layer', '0', '--array', join(dir, 'absent.npy')], /cannot open .npy file/],
    [['--layer', '0', '--array', nanFile], /nan.npy: non-finite value NaN at row 3, column 1/],
  ];
  for (const [extra, pattern] of cases) {
    const { code, stderr } = await cli([...base, ...extra]);
    assert.equal(code, 1, `${extra.join(' ')}: ${stderr}`);
    assert.match(stderr, pattern);
    assert.equal(existsSync(out), false);
  }
  const ok = [...base, '--layer', '0', '--array', join(fixtures, 'golden_v1_f4.npy')];
  assert.equal((await cli(ok)).code, 0);
  const again = await cli(ok);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists; choose another output or pass --overwrite/);
  assert.equal((await cli([...ok, '--overwrite', '--dtype', 'f16'])).code, 0);
  assert.equal((await openStore(out)).manifest.dtype, 'f16');
});
