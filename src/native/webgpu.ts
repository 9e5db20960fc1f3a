/**
 * Choosing where the model runs: `cpu`, `cuda`, `webgpu` or `auto` (WebGPU when an adapter is found, else CPU).
 *
 * WebGPU is onnxruntime-node's bundled WebGPU execution provider (Dawn inside libonnxruntime): Vulkan on Linux,
 * Metal on macOS, D3D12 on Windows. When Dawn finds no adapter, onnxruntime only says "No supported adapters"
 * (Dawn's reasons go to stderr), so on Linux the cause is worked out here: is the Vulkan loader there
 * (libvulkan.so.1, found the way Dawn's dlopen finds it), which drivers (ICD manifests) does it see, and are they
 * only Mesa's software lavapipe, which Dawn refuses. The probe also runs a small graph with every op kind the
 * engine uses on both providers and compares them, so a broken driver fails loudly instead of giving wrong numbers.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { type Device, GraphBuilder, ort } from './onnx.js';

/** What a user may ask for; `auto` resolves to `webgpu` or `cpu`. */
export type DeviceRequest = Device | 'auto';
export const DEVICE_CHOICES: readonly DeviceRequest[] = ['cpu', 'cuda', 'webgpu', 'auto'];

/** A Vulkan driver manifest (ICD json) the loader would read. */
export interface VulkanDriver {
  manifest: string;
  library: string;
}

/** What is known about the machine when WebGPU found no adapter. */
export interface AdapterFacts {
  platform: NodeJS.Platform;
  /** onnxruntime-node lists a bundled 'webgpu' backend. */
  providerBundled: boolean;
  /** libvulkan.so.1 can be dlopen'ed (Linux only). */
  vulkanLoader: boolean;
  drivers: VulkanDriver[];
  /** Where the drivers were looked for (named in the message when none is found). */
  driverDirs: string[];
  /** onnxruntime's own error, first line. */
  ortMessage: string;
}

export type WebGpuProbe =
  | { ok: true; maxRelError: number }
  | { ok: false; reason: string; facts?: AdapterFacts };

/** Max |a - b| / max |b| over two arrays (0 when both are all zeros). */
export function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return den === 0 ? num : num / den;
}

/** Agreement the self-test demands between WebGPU and the CPU provider (f32 on both). */
export const SELF_TEST_TOLERANCE = 1e-4;

/** One line naming what is missing, from the facts gathered after a failed adapter request. */
export function explainNoAdapter(f: AdapterFacts): string {
  const head = 'no WebGPU adapter';
  if (!f.providerBundled) return `${head}: this onnxruntime-node build has no WebGPU execution provider`;
  if (f.platform !== 'linux') {
    const api = f.platform === 'darwin' ? 'Metal' : f.platform === 'win32' ? 'Direct3D 12' : 'a GPU API';
    return `${head}: Dawn found no ${api} GPU (${f.ortMessage})`;
  }
  if (!f.vulkanLoader) {
    return (
      `${head}: no Vulkan loader (libvulkan.so.1) found; install libvulkan1 (Debian/Ubuntu; vulkan-loader ` +
      "elsewhere) and your GPU's Vulkan driver"
    );
  }
  if (f.drivers.length === 0) {
    return (
      `${head}: the Vulkan loader is installed but no GPU driver (ICD) is registered (looked in ` +
      `${f.driverDirs.join(', ')}); install your GPU's Vulkan driver (NVIDIA: the driver's nvidia_icd.json; ` +
      'AMD/Intel: mesa-vulkan-drivers) or point VK_DRIVER_FILES at its ICD json'
    );
  }
  const software = f.drivers.filter((d) => isSoftwareDriver(d.library));
  if (software.length === f.drivers.length) {
    return (
      `${head}: the only Vulkan driver is Mesa's software rasterizer lavapipe (${software[0]!.manifest}), which ` +
      'Dawn refuses (it lacks shaderUniform*ArrayDynamicIndexing); a GPU and its Vulkan driver are needed'
    );
  }
  const names = f.drivers.map((d) => d.manifest).join(', ');
  return (
    `${head}: Vulkan drivers are registered (${names}) but Dawn accepted no device from them; check that the ` +
    `driver matches the GPU (vulkaninfo --summary) (${f.ortMessage})`
  );
}

function isSoftwareDriver(library: string): boolean {
  return /lvp|lavapipe|swiftshader/i.test(library);
}

/** True when libvulkan.so.1 loads, searched exactly as Dawn's dlopen searches (LD_LIBRARY_PATH, ld.so cache). */
export function vulkanLoaderPresent(): boolean {
  try {
    process.dlopen({ exports: {} }, 'libvulkan.so.1');
    return true;
  } catch (err) {
    // The library loaded but is no Node addon: that is the "present" answer.
    return !/cannot open shared object file|No such file/i.test((err as Error).message);
  }
}

/** The loader's driver search: VK_DRIVER_FILES / VK_ICD_FILENAMES if set, else the XDG icd.d folders. */
export function vulkanDriverDirs(env: NodeJS.ProcessEnv = process.env): { files: string[]; dirs: string[] } {
  const explicit = env['VK_DRIVER_FILES'] ?? env['VK_ICD_FILENAMES'];
  if (explicit) return { files: explicit.split(':').filter(Boolean), dirs: [] };
  const config = [
    env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'),
    ...(env['XDG_CONFIG_DIRS'] ?? '/etc/xdg').split(':'),
  ];
  const data = [
    env['XDG_DATA_HOME'] ?? join(homedir(), '.local/share'),
    ...(env['XDG_DATA_DIRS'] ?? '/usr/local/share:/usr/share').split(':'),
  ];
  const dirs = [
    ...config.map((d) => join(d, 'vulkan/icd.d')),
    '/etc/vulkan/icd.d',
    ...data.map((d) => join(d, 'vulkan/icd.d')),
  ];
  return { files: [], dirs: [...new Set(dirs.filter(Boolean))] };
}

/** The ICD manifests the loader would read, with the driver library each names. */
export function findVulkanDrivers(env: NodeJS.ProcessEnv = process.env): {
  drivers: VulkanDriver[];
  dirs: string[];
} {
  const { files, dirs } = vulkanDriverDirs(env);
  const manifests = [...files];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) if (name.endsWith('.json')) manifests.push(join(dir, name));
  }
  const drivers: VulkanDriver[] = [];
  for (const manifest of manifests) {
    try {
      const json = JSON.parse(readFileSync(manifest, 'utf8')) as { ICD?: { library_path?: string } };
      if (json.ICD?.library_path) drivers.push({ manifest, library: json.ICD.library_path });
    } catch {
      // An unreadable manifest is skipped, as the loader skips it.
    }
  }
  return { drivers, dirs: files.length ? files : dirs };
}

function gatherFacts(ortMessage: string): AdapterFacts {
  const providerBundled = ort.listSupportedBackends().some((b) => b.name === 'webgpu' && b.bundled);
  const linux = process.platform === 'linux';
  const found = linux ? findVulkanDrivers() : { drivers: [], dirs: [] };
  return {
    platform: process.platform,
    providerBundled,
    vulkanLoader: linux ? vulkanLoaderPresent() : false,
    drivers: found.drivers,
    driverDirs: found.dirs,
    ortMessage,
  };
}

/**
 * The self-test graph: GEMM (transB), batched MatMul, Softmax, an RMS norm, Erf and Sigmoid activations,
 * Transpose/Reshape with a runtime shape, Slice and Concat, Gather on rows: every kind of op the engine's graphs use.
 */
function selfTestGraph(): GraphBuilder {
  const g = new GraphBuilder('webgpu_self_test');
  const x = g.input('x', 'float32', [8, 16]);
  const w = g.input('w', 'float32', [32, 16]);
  const shape = g.input('shape', 'int64', [3]);
  const rows = g.input('rows', 'int64', [3]);
  const h = g.op('Gemm', [x, w], { transB: 1 });
  const ms = g.op('ReduceMean', [g.op('Mul', [h, h])], { axes: [-1], keepdims: 1 });
  const eps = g.constant({ type: 'float32', dims: [], values: [1e-5] });
  const normed = g.op('Mul', [h, g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [ms, eps])])])]);
  const heads = g.op('Transpose', [g.op('Reshape', [normed, shape])], { perm: [1, 0, 2] });
  const scores = g.op('MatMul', [heads, g.op('Transpose', [heads], { perm: [0, 2, 1] })]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const ctx = g.op('MatMul', [probs, heads]);
  const act = g.op('Add', [g.op('Erf', [ctx]), g.op('Mul', [ctx, g.op('Sigmoid', [ctx])])]);
  const flat = g.op('Reshape', [
    g.op('Transpose', [act], { perm: [1, 0, 2] }),
    g.constant({ type: 'int64', dims: [2], values: [8, 32] }),
  ]);
  const cut = (a: number, b: number) =>
    g.op('Slice', [
      flat,
      g.constant({ type: 'int64', dims: [1], values: [a] }),
      g.constant({ type: 'int64', dims: [1], values: [b] }),
      g.constant({ type: 'int64', dims: [1], values: [1] }),
    ]);
  const joined = g.op('Concat', [cut(16, 32), cut(0, 16)], { axis: 1 });
  g.op('Gather', [joined, rows], { axis: 0 }, 'y');
  g.output('y', 'float32', [3, 32]);
  return g;
}

function selfTestFeeds(): Record<string, ort.Tensor> {
  // A fixed, irregular input (no RNG needed): sines of distinct frequencies.
  const x = Float32Array.from({ length: 8 * 16 }, (_, i) => Math.sin(0.37 * i + 0.1));
  const w = Float32Array.from({ length: 32 * 16 }, (_, i) => 0.3 * Math.cos(0.11 * i * i + 0.5));
  return {
    x: new ort.Tensor('float32', x, [8, 16]),
    w: new ort.Tensor('float32', w, [32, 16]),
    shape: new ort.Tensor('int64', BigInt64Array.from([8n, 4n, 8n]), [3]),
    rows: new ort.Tensor('int64', BigInt64Array.from([7n, 0n, 3n]), [3]),
  };
}

/** The self-test graph's output on the given providers (exported for tests). */
export async function runSelfTest(executionProviders: string[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(selfTestGraph().toBytes(), {
    executionProviders,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  try {
    return (await session.run(selfTestFeeds()))['y']!.data as Float32Array;
  } finally {
    await session.release();
  }
}

let probe: Promise<WebGpuProbe> | undefined;

/** Looks for a WebGPU adapter once per process: a tiny session on the WebGPU provider, checked against the CPU. */
export function probeWebGpu(): Promise<WebGpuProbe> {
  probe ??= (async (): Promise<WebGpuProbe> => {
    // Without the loader Dawn cannot succeed; skip it (and its stderr warnings) on Linux.
    if (process.platform === 'linux' && !vulkanLoaderPresent()) {
      const facts = gatherFacts('libvulkan.so.1 not found');
      return { ok: false, reason: explainNoAdapter(facts), facts };
    }
    let gpu: Float32Array;
    try {
      gpu = await runSelfTest(['webgpu']);
    } catch (err) {
      const facts = gatherFacts(firstLine(err));
      return { ok: false, reason: explainNoAdapter(facts), facts };
    }
    const cpu = await runSelfTest(['cpu']);
    const maxRelError = relativeError(gpu, cpu);
    if (!(maxRelError <= SELF_TEST_TOLERANCE)) {
      return {
        ok: false,
        reason:
          `the WebGPU adapter computes wrong numbers: its self-test differs from the CPU by ${maxRelError.toExponential(2)} ` +
          `relative (tolerance ${SELF_TEST_TOLERANCE}); update the GPU driver or use --device cpu`,
      };
    }
    return { ok: true, maxRelError };
  })();
  return probe;
}

/** Throws the one-line reason when there is no usable WebGPU adapter (for library callers that skip resolveDevice). */
export async function requireWebGpu(): Promise<void> {
  const result = await probeWebGpu();
  if (!result.ok) throw new UserError(`--device webgpu: ${result.reason}`);
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n').find((l) => l.trim()) ?? text;
  // onnxruntime prefixes its source location; the sentence after the last '. ' or 'false. ' is the message.
  const m = /was false\.\s*(.*)$/.exec(line);
  return (m ? m[1]! : line).trim();
}

/**
 * Turns `--device` into the provider to use. `webgpu` without an adapter, or `cuda` whose provider does not run, is
 * a UserError naming what is missing; `auto` falls back to the CPU and says why through `log`.
 */
export async function resolveDevice(
  requested: DeviceRequest,
  options: {
    log?: (line: string) => void;
    probe?: () => Promise<WebGpuProbe>;
    cudaProbe?: () => Promise<{ ok: true } | { ok: false; reason: string }>;
  } = {},
): Promise<Device> {
  if (!DEVICE_CHOICES.includes(requested)) {
    throw new UserError(`--device: '${requested}' is not one of ${DEVICE_CHOICES.join(', ')}`);
  }
  if (requested === 'cuda') {
    // cuda.ts imports this file's self-test; loaded here on demand to keep the import graph acyclic
    const result = await (options.cudaProbe ?? (await import('./cuda.js')).probeCuda)();
    if (!result.ok) throw new UserError(`--device cuda: ${result.reason}`);
    options.log?.('device: cuda');
    return 'cuda';
  }
  if (requested !== 'webgpu' && requested !== 'auto') return requested;
  const result = await (options.probe ?? probeWebGpu)();
  if (requested === 'webgpu') {
    if (!result.ok) throw new UserError(`--device webgpu: ${result.reason}`);
    options.log?.('device: webgpu');
    return 'webgpu';
  }
  if (result.ok) {
    options.log?.('device: webgpu (--device auto found a WebGPU adapter)');
    return 'webgpu';
  }
  options.log?.(`device: cpu (--device auto: ${result.reason})`);
  return 'cpu';
}
