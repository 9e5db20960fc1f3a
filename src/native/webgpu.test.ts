/**
 * Device choice: the no-adapter explanations (every branch, from gathered facts), the Vulkan driver search, the
 * resolver's rules for cpu/cuda/webgpu/auto, the self-test graph, and the real probe on this machine.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../util/errors.js';
import {
  type AdapterFacts,
  explainNoAdapter,
  findVulkanDrivers,
  probeWebGpu,
  relativeError,
  resolveDevice,
  runSelfTest,
  vulkanLoaderPresent,
  type WebGpuProbe,
} from './webgpu.js';

const base: AdapterFacts = {
  platform: 'linux',
  providerBundled: true,
  vulkanLoader: true,
  drivers: [],
  driverDirs: ['/usr/share/vulkan/icd.d'],
  ortMessage: 'Failed to get a WebGPU adapter: No supported adapters',
};

test('no-adapter explanations name what is missing', () => {
  assert.match(
    explainNoAdapter({ ...base, vulkanLoader: false }),
    /no Vulkan loader \(libvulkan\.so\.1\) found; install libvulkan1/,
  );
  const noIcd = explainNoAdapter(base);
  assert.match(noIcd, /Vulkan loader is installed but no GPU driver \(ICD\)/);
  assert.match(noIcd, /looked in \/usr\/share\/vulkan\/icd\.d/);
  const lvp = {
    manifest: '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json',
    library: '/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so',
  };
  const software = explainNoAdapter({ ...base, drivers: [lvp] });
  assert.match(
    software,
    /only Vulkan driver is Mesa's software rasterizer lavapipe .*lvp_icd\.x86_64\.json.*Dawn refuses/,
  );
  assert.match(software, /shaderUniform\*ArrayDynamicIndexing/);
  const nvidia = { manifest: '/etc/vulkan/icd.d/nvidia_icd.json', library: 'libGLX_nvidia.so.0' };
  const gpu = explainNoAdapter({ ...base, drivers: [lvp, nvidia] });
  assert.match(gpu, /Vulkan drivers are registered \(.*nvidia_icd\.json\) but Dawn accepted no device/);
  assert.match(gpu, /No supported adapters/);
  assert.match(explainNoAdapter({ ...base, platform: 'darwin' }), /Dawn found no Metal GPU/);
  assert.match(explainNoAdapter({ ...base, platform: 'win32' }), /Direct3D 12/);
  assert.match(
    explainNoAdapter({ ...base, providerBundled: false }),
    /build has no WebGPU execution provider/,
  );
  for (const line of [noIcd, software, gpu]) assert.ok(!line.includes('\n'), 'one line');
});

test('Vulkan driver search: VK_DRIVER_FILES, else the XDG icd.d folders; unreadable manifests skipped', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'stl-vk-'));
  try {
    const icd = join(dir, 'share', 'vulkan', 'icd.d');
    await mkdir(icd, { recursive: true });
    await writeFile(
      join(icd, 'nvidia_icd.json'),
      JSON.stringify({ ICD: { library_path: 'libGLX_nvidia.so.0' } }),
    );
    await writeFile(join(icd, 'broken.json'), '{ not json');
    await writeFile(join(icd, 'notes.txt'), 'ignored');
    const env = {
      XDG_DATA_DIRS: join(dir, 'share'),
      XDG_DATA_HOME: join(dir, 'none'),
      XDG_CONFIG_HOME: join(dir, 'none'),
      XDG_CONFIG_DIRS: join(dir, 'none'),
    };
    const found = findVulkanDrivers(env);
    assert.deepEqual(found.drivers, [
      { manifest: join(icd, 'nvidia_icd.json'), library: 'libGLX_nvidia.so.0' },
    ]);
    assert.ok(found.dirs.includes(icd));
    const explicit = findVulkanDrivers({
      ...env,
      VK_DRIVER_FILES: `${join(dir, 'missing.json')}:${join(icd, 'nvidia_icd.json')}`,
    });
    assert.equal(explicit.drivers.length, 1);
    assert.deepEqual(explicit.dirs, [join(dir, 'missing.json'), join(icd, 'nvidia_icd.json')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('resolveDevice: cpu passes through, cuda needs its provider, webgpu an adapter, auto falls back to the cpu and says so', async () => {
  let probes = 0;
  const none = async (): Promise<WebGpuProbe> => {
    probes++;
    return { ok: false, reason: 'no WebGPU adapter: no Vulkan loader (libvulkan.so.1) found' };
  };
  const found = async (): Promise<WebGpuProbe> => ({ ok: true, maxRelError: 3e-7 });
  assert.equal(await resolveDevice('cpu', { probe: none }), 'cpu');
  const cudaOk = async () => ({ ok: true }) as const;
  assert.equal(await resolveDevice('cuda', { probe: none, cudaProbe: cudaOk }), 'cuda');
  assert.equal(probes, 0, 'cpu and cuda do not look for a WebGPU adapter');
  await assert.rejects(
    resolveDevice('cuda', {
      probe: none,
      cudaProbe: async () => ({ ok: false, reason: 'libcudnn.so.9 is missing' }),
    }),
    (e) => e instanceof UserError && e.message === '--device cuda: libcudnn.so.9 is missing',
  );
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  assert.equal(await resolveDevice('auto', { probe: none, log }), 'cpu');
  assert.deepEqual(lines, [
    'device: cpu (--device auto: no WebGPU adapter: no Vulkan loader (libvulkan.so.1) found)',
  ]);
  await assert.rejects(
    resolveDevice('webgpu', { probe: none }),
    (e) =>
      e instanceof UserError &&
      e.message === '--device webgpu: no WebGPU adapter: no Vulkan loader (libvulkan.so.1) found',
  );
  assert.equal(await resolveDevice('auto', { probe: found, log }), 'webgpu');
  assert.equal(await resolveDevice('webgpu', { probe: found, log }), 'webgpu');
  assert.match(lines[1]!, /^device: webgpu \(--device auto found a WebGPU adapter\)$/);
  await assert.rejects(
    resolveDevice('tpu' as 'cpu'),
    /--device: 'tpu' is not one of cpu, cuda, webgpu, auto/,
  );
});

test('the self-test graph runs on the CPU provider and relativeError measures max-abs over max-abs', async () => {
  const a = await runSelfTest(['cpu']);
  assert.equal(a.length, 3 * 32);
  assert.ok(a.every(Number.isFinite) && a.some((v) => Math.abs(v) > 0.1));
  assert.equal(relativeError(Float32Array.of(1, 2.5), Float32Array.of(1, 2)), 0.25);
  assert.equal(relativeError(new Float32Array(2), new Float32Array(2)), 0);
});

test('the real probe on this machine: an adapter, or a reason that names what is missing', async () => {
  const result = await probeWebGpu();
  if (result.ok) {
    assert.ok(result.maxRelError <= 1e-4);
    return;
  }
  assert.match(result.reason, /^no WebGPU adapter: /);
  if (process.platform === 'linux' && !vulkanLoaderPresent()) assert.match(result.reason, /no Vulkan loader/);
  assert.equal(await probeWebGpu(), result, 'probed once per process');
});
