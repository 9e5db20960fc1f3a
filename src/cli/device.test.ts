/**
 * `--device` / `--gpu-dtype` on the commands that run a model: parsing, the refusals, and `auto` in a real process
 * with no usable GPU (no Vulkan loader, or a loader pointed at no driver): it says it falls back, and its results
 * are the CPU's, byte for byte.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeRandomLlama } from '../extract/testing.js';
import { vulkanLoaderPresent } from '../native/index.js';
import { packageRoot } from '../util/paths.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { engineDevice } from './device.js';
import { runCliCaptured } from './testing.js';

const skip = skipWithoutShared();

let tmp: string;
let modelDir: string;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-device-'));
  modelDir = await writeRandomLlama(join(tmp, 'llama'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const launcher = `
const { main } = await import(${JSON.stringify(join(packageRoot(), 'src/cli/main.ts'))});
process.exitCode = await main(process.argv.slice(1));
`;

/** The CLI in a child process whose Vulkan loader, if any, finds no driver. */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', launcher, ...args], {
    cwd: packageRoot(),
    env: { ...process.env, VK_DRIVER_FILES: join(tmpdir(), 'no-such-icd.json'), VK_ICD_FILENAMES: '' },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const generate = (device: string) => [
  'model',
  'generate',
  modelDir,
  '--prompt',
  'Paris is in',
  '--max-new-tokens',
  '4',
  '--device',
  device,
];

test('--device auto without a usable GPU says why, falls back to the cpu, and prints what the cpu prints', () => {
  const auto = cli(generate('auto'));
  const cpu = cli(generate('cpu'));
  assert.equal(auto.code, 0, auto.err);
  assert.equal(cpu.code, 0, cpu.err);
  const expected = vulkanLoaderPresent()
    ? /device: cpu \(--device auto: no WebGPU adapter: the Vulkan loader is installed but no GPU driver \(ICD\) is registered \(looked in .*no-such-icd\.json\)/
    : /device: cpu \(--device auto: no WebGPU adapter: no Vulkan loader \(libvulkan\.so\.1\) found; install libvulkan1/;
  assert.match(auto.err, expected);
  assert.ok(auto.out.startsWith('Paris is in') && auto.out.length > 'Paris is in'.length + 1, auto.out);
  assert.equal(auto.out, cpu.out);
  assert.doesNotMatch(cpu.err, /device:/, 'an explicit cpu looks for no GPU');
});

test('--device webgpu without a usable GPU is a one-line user error (exit 1)', () => {
  const r = cli(generate('webgpu'));
  assert.equal(r.code, 1);
  assert.match(r.err, /--device webgpu: no WebGPU adapter: /);
  assert.ok(!/at .*\.ts:\d+/.test(r.err), 'no stack trace');
});

test('extract --device auto writes the same store as --device cpu', { skip }, async () => {
  const { writePaperSlice } = await import('../extract/testing.js');
  const csv = await writePaperSlice(tmp, 'world_place', 6);
  const run = (device: string, out: string) =>
    runCliCaptured([
      'extract',
      '--model',
      modelDir,
      '--dataset',
      csv,
      '--prompt',
      'coords',
      '--out',
      join(tmp, out),
      '--layers',
      'all',
      '--device',
      device,
      '--quiet',
    ]);
  const auto = await run('auto', 'auto');
  const cpu = await run('cpu', 'cpu');
  assert.equal(auto.code, 0, auto.err);
  assert.equal(cpu.code, 0, cpu.err);
  assert.match(auto.err, /device: (cpu \(--device auto: no WebGPU adapter: |webgpu)/);
  if (auto.err.includes('device: cpu')) {
    const { readFile, readdir } = await import('node:fs/promises');
    const files = (await readdir(join(tmp, 'cpu'))).filter((f) => f.endsWith('.safetensors')).sort();
    assert.ok(files.length >= 3);
    for (const f of files)
      assert.deepEqual(await readFile(join(tmp, 'auto', f)), await readFile(join(tmp, 'cpu', f)), f);
  }
});

test('device flags: choices on every model command, and f16 only for a GPU', async () => {
  for (const argv of [
    ['extract', '--model', 'm', '--dataset', 'd', '--out', 'o', '--device', 'tpu'],
    ['model', 'generate', 'm', '--prompt', 'x', '--device', 'tpu'],
    ['paper', '--model', 'm', '--device', 'tpu'],
    ['neurons', '--model', 'm', '--store', 's', '--device', 'tpu'],
    ['intervene', '--model', 'm', '--probe', 'p', '--layer', '1', '--prompt', 'x', '--device', 'tpu'],
    ['familiarity', '--model', 'm', '--store', 's', '--device', 'tpu'],
  ]) {
    const r = await runCliCaptured(argv);
    assert.notEqual(r.code, 0, argv.join(' '));
    assert.match(r.err, /'tpu' is invalid. Allowed choices are cpu, cuda, webgpu, auto/, argv[0]);
  }
  await assert.rejects(
    engineDevice({ device: 'cpu', gpuDtype: 'f16' }),
    /--gpu-dtype f16 applies to --device webgpu or auto/,
  );
  await assert.rejects(
    engineDevice({ device: 'cpu', gpuDtype: 'f8' }),
    /--gpu-dtype: 'f8' is not one of f32, f16/,
  );
  assert.deepEqual(await engineDevice({ device: 'cpu' }), { device: 'cpu' });
  const lines: string[] = [];
  const auto = await engineDevice({ device: 'auto', gpuDtype: 'f16' }, (l) => lines.push(l));
  if (auto.device === 'cpu') {
    assert.deepEqual(auto, { device: 'cpu' });
    assert.match(lines.join('\n'), /--gpu-dtype f16 ignored: the model runs on the cpu in f32/);
  } else {
    assert.deepEqual(auto, { device: 'webgpu', weightDtype: 'f16' });
  }
});

test('paper config files take device auto|webgpu|cpu|cuda and weightDtype; anything else is refused', async () => {
  const { writeFile } = await import('node:fs/promises');
  const { readPaperConfig } = await import('../pipeline/index.js');
  const file = join(tmp, 'paper.yml');
  await writeFile(file, 'model: m\ndevice: auto\nweightDtype: f16\n');
  const ok = await readPaperConfig(file);
  assert.equal(ok.device, 'auto');
  assert.equal(ok.weightDtype, 'f16');
  await writeFile(file, 'model: m\ndevice: tpu\n');
  await assert.rejects(readPaperConfig(file), /device must be one of cpu, cuda, webgpu, auto, got "tpu"/);
});
