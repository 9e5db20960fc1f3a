/**
 * `spacetime-lens doctor`: what this machine offers for running models, checked the way a run would use it:
 * onnxruntime's providers, the CUDA provider (installed? does it load, which CUDA/cuDNN libraries are missing, its
 * self-test against the CPU), the WebGPU adapter and the Vulkan loader and drivers behind it, the Hugging Face cache
 * (where, how big), whether a token is found (never printed), and with --model the disk a download would need.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { scanCacheDir } from '@huggingface/hub';
import type { Command } from 'commander';
import {
  findHubToken,
  hubCacheDir,
  offlineFromEnv,
  parseHubId,
  planSnapshot,
  resolveModelSource,
} from '../../model/index.js';
import {
  CUDA_LIBRARIES,
  findVulkanDrivers,
  gatherCudaFacts,
  libraryLoadError,
  ort,
  probeCuda,
  probeWebGpu,
  vulkanLoaderPresent,
} from '../../native/index.js';
import { formatBytes, freeBytes } from '../../util/disk.js';
import { packageRoot, cacheDir as toolCacheDir } from '../../util/paths.js';
import { VERSION } from '../../version.js';
import { addSourceOptions, type SourceFlags, sourceFromFlags } from '../source.js';

export interface DoctorReport {
  system: { spacetimeLens: string; node: string; platform: string; cpus: number; memory: number };
  onnxruntime: { version: string; providers: { name: string; bundled: boolean }[] };
  cuda: {
    providerFiles: string;
    missingProviderFiles: string[];
    libraries: { name: string; loads: boolean }[];
    gpus?: string[];
    probe: string;
  };
  webgpu: { vulkanLoader?: boolean; drivers?: string[]; probe: string };
  huggingFace: {
    cache: string;
    cacheExists: boolean;
    repos?: number;
    bytes?: number;
    oldCache?: { path: string; bytes: number };
    endpoint: string;
    offline: boolean;
    token: string;
  };
  disk: { path: string; free?: number };
  model?: { source: string; status: string; download?: number; enough?: boolean };
}

function onnxruntimeVersion(): string {
  const pkg = join(packageRoot(), 'node_modules', 'onnxruntime-node', 'package.json');
  try {
    return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** GPUs as nvidia-smi lists them (name, memory, driver), when it is installed. */
function nvidiaGpus(): string[] | undefined {
  const r = spawnSync(
    'nvidia-smi',
    ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader'],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  if (r.error || r.status !== 0) return undefined;
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

async function cudaSection(): Promise<DoctorReport['cuda']> {
  const facts = gatherCudaFacts('');
  const probe = await probeCuda();
  const gpus = nvidiaGpus();
  return {
    providerFiles: facts.binDir,
    missingProviderFiles: facts.missingProviderFiles,
    libraries: CUDA_LIBRARIES.map((name) => ({ name, loads: libraryLoadError(name) === undefined })),
    ...(gpus ? { gpus } : {}),
    probe: probe.ok
      ? `works (self-test within ${probe.maxRelError.toExponential(1)} of the CPU)`
      : probe.reason,
  };
}

async function webgpuSection(): Promise<DoctorReport['webgpu']> {
  const probe = await probeWebGpu();
  const linux = process.platform === 'linux';
  return {
    ...(linux
      ? { vulkanLoader: vulkanLoaderPresent(), drivers: findVulkanDrivers().drivers.map((d) => d.manifest) }
      : {}),
    probe: probe.ok
      ? `adapter found (self-test within ${probe.maxRelError.toExponential(1)} of the CPU)`
      : probe.reason,
  };
}

/** Bytes under a directory (the old spacetime-lens model cache, which has no scan of its own). */
function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += folderBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

async function hubSection(cache: string): Promise<DoctorReport['huggingFace']> {
  const token = findHubToken();
  const exists = existsSync(cache);
  const scan = exists ? await scanCacheDir(cache).catch(() => undefined) : undefined;
  const old = toolCacheDir('models');
  return {
    cache,
    cacheExists: exists,
    ...(scan ? { repos: scan.repos.length, bytes: scan.size } : {}),
    ...(existsSync(old) && resolve(old) !== resolve(cache)
      ? { oldCache: { path: old, bytes: folderBytes(old) } }
      : {}),
    endpoint: process.env['HF_ENDPOINT'] ?? 'https://huggingface.co',
    offline: offlineFromEnv(),
    token: token
      ? `found (${token.source})`
      : 'none (public models only; `hf auth login` or HF_TOKEN for gated ones)',
  };
}

/** What loading `source` would need: nothing (local or cached), or this many bytes downloaded. */
async function modelSection(source: string, flags: SourceFlags, free: number | undefined) {
  const o = sourceFromFlags(flags);
  if (existsSync(source)) return { source, status: 'a local directory: nothing to download' };
  const ref = parseHubId(source);
  if (!ref) return { source, status: 'neither a directory nor a Hub id' };
  try {
    const dir = await resolveModelSource(source, { ...o, offline: true });
    return { source, status: `cached, complete: ${dir}`, download: 0 };
  } catch {
    if (o.offline || offlineFromEnv()) return { source, status: 'not in the cache, and offline' };
  }
  try {
    const plan = await planSnapshot(ref.repo, {
      ...o,
      revision: o.revision ?? ref.revision,
      onWarning: () => {},
    });
    const enough = free === undefined ? undefined : plan.missingBytes <= free;
    return {
      source,
      status: `commit ${plan.commit.slice(0, 12)}: ${plan.files.length} files, ${formatBytes(plan.missingBytes)} to download`,
      download: plan.missingBytes,
      ...(enough !== undefined ? { enough } : {}),
    };
  } catch (err) {
    return { source, status: (err as Error).message };
  }
}

export async function gatherDoctor(flags: SourceFlags & { model?: string }): Promise<DoctorReport> {
  const cache = resolve(flags.cacheDir ?? hubCacheDir());
  const free = await freeBytes(cache);
  const report: DoctorReport = {
    system: {
      spacetimeLens: VERSION,
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      cpus: cpus().length,
      memory: totalmem(),
    },
    onnxruntime: { version: onnxruntimeVersion(), providers: ort.listSupportedBackends() },
    cuda: await cudaSection(),
    webgpu: await webgpuSection(),
    huggingFace: await hubSection(cache),
    disk: { path: cache, ...(free !== undefined ? { free } : {}) },
  };
  if (flags.model) report.model = await modelSection(flags.model, flags, free);
  return report;
}

export function formatDoctor(r: DoctorReport): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [
    `spacetime-lens ${r.system.spacetimeLens}, Node ${r.system.node}, ${r.system.platform}, ${r.system.cpus} CPUs, ${formatBytes(r.system.memory)} memory`,
    `onnxruntime-node ${r.onnxruntime.version}: providers ${r.onnxruntime.providers.map((p) => `${p.name}${p.bundled ? '' : ' (separate install)'}`).join(', ')}`,
    'cuda:',
    `  provider files: ${r.cuda.missingProviderFiles.length ? `missing ${r.cuda.missingProviderFiles.join(', ')}` : 'installed'} (${r.cuda.providerFiles})`,
    `  CUDA 12 / cuDNN 9 libraries: ${r.cuda.libraries.map((l) => `${l.name} ${l.loads ? 'found' : 'missing'}`).join(', ')}`,
    `  GPUs (nvidia-smi): ${r.cuda.gpus ? r.cuda.gpus.join('; ') || 'none' : 'nvidia-smi not found'}`,
    `  --device cuda: ${r.cuda.probe}`,
    'webgpu:',
    ...(r.webgpu.vulkanLoader !== undefined
      ? [
          `  Vulkan loader (libvulkan.so.1): ${yes(r.webgpu.vulkanLoader)}`,
          `  Vulkan drivers (ICDs): ${r.webgpu.drivers?.length ? r.webgpu.drivers.join(', ') : 'none'}`,
        ]
      : []),
    `  --device webgpu: ${r.webgpu.probe}`,
    'hugging face:',
    `  cache: ${r.huggingFace.cache}${r.huggingFace.cacheExists ? (r.huggingFace.bytes !== undefined ? ` (${r.huggingFace.repos} repositories, ${formatBytes(r.huggingFace.bytes)})` : '') : ' (not created yet)'}`,
    ...(r.huggingFace.oldCache
      ? [
          `  older spacetime-lens downloads: ${r.huggingFace.oldCache.path} (${formatBytes(r.huggingFace.oldCache.bytes)}); same layout: ` +
            `move its models--* folders into the cache above, or pass --cache-dir`,
        ]
      : []),
    `  endpoint: ${r.huggingFace.endpoint}${r.huggingFace.offline ? ' (offline: HF_HUB_OFFLINE)' : ''}`,
    `  token: ${r.huggingFace.token}`,
    `disk: ${r.disk.free !== undefined ? `${formatBytes(r.disk.free)} free` : 'free space unknown'} at ${r.disk.path}`,
  ];
  if (r.model) {
    const verdict =
      r.model.enough === undefined ? '' : r.model.enough ? '; enough disk' : '; NOT ENOUGH free disk for it';
    lines.push(`model ${r.model.source}: ${r.model.status}${verdict}`);
  }
  return lines.join('\n');
}

/** Registers `doctor`. */
export function registerDoctor(program: Command): void {
  addSourceOptions(
    program
      .command('doctor')
      .summary('what this machine offers: providers, GPU adapters, CUDA/cuDNN, Vulkan, cache, token, disk')
      .description(
        "Checks onnxruntime's providers as a run would use them (the CUDA provider and the WebGPU adapter each run " +
          'a small self-test against the CPU), the libraries and drivers behind them, the Hugging Face cache and ' +
          'token (the token is never printed), and the free disk there; with --model, what loading that model ' +
          'would download.',
      )
      .option(
        '--model <model>',
        'a Hub id or checkpoint directory: is it cached, and how much would it download',
      )
      .option('--json', 'print JSON'),
  ).action(async (flags: SourceFlags & { model?: string; json?: boolean }) => {
    const report = await gatherDoctor(flags);
    console.log(flags.json ? JSON.stringify(report, null, 2) : formatDoctor(report));
  });
}
