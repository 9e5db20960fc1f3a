/**
 * onnxruntime's CUDA execution provider: is it installed, does it load, and if not, why. onnxruntime-node ships the
 * provider only through its installer (`--onnxruntime-node-install-cuda=v12`, see docs/models.md#devices), as
 * libonnxruntime_providers_{shared,cuda}.so beside libonnxruntime; when a session on 'cuda' fails, onnxruntime
 * throws only "Failed to load shared library" and prints the cause on stderr. The cause is found here the way the
 * dynamic loader finds it: dlopen the provider and read the loader's own message (which names the missing
 * dependency, e.g. libcudnn.so.9), and try each library the CUDA 12 build links against.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ort } from './onnx.js';
import { relativeError, runSelfTest, SELF_TEST_TOLERANCE } from './webgpu.js';

/** The libraries onnxruntime 1.2x's CUDA 12 provider links against (CUDA 12 toolkit + cuDNN 9). */
export const CUDA_LIBRARIES = [
  'libcudart.so.12',
  'libcublas.so.12',
  'libcublasLt.so.12',
  'libcufft.so.11',
  'libcurand.so.10',
  'libcudnn.so.9',
];
export const PROVIDER_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];
export const CUDA_INSTALL = 'npm rebuild onnxruntime-node --onnxruntime-node-install-cuda=v12';

/** The dynamic loader's error for `name` (a path or a soname searched as dlopen does), or undefined if it loads. */
export function libraryLoadError(name: string): string | undefined {
  try {
    process.dlopen({ exports: {} }, name);
    return undefined;
  } catch (err) {
    const message = (err as Error).message;
    // It loaded but is no Node addon: that is the "present" answer.
    return /did not self-register|not a valid Win32|Module not self-register/i.test(message)
      ? undefined
      : message;
  }
}

/** Where onnxruntime-node keeps its native libraries for this platform. */
export function ortBinDir(): string {
  const main = createRequire(import.meta.url).resolve('onnxruntime-node');
  return join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

export interface CudaFacts {
  platform: NodeJS.Platform;
  /** onnxruntime-node's native folder. */
  binDir: string;
  /** Provider files not in binDir. */
  missingProviderFiles: string[];
  /** The loader's message for libonnxruntime_providers_cuda.so when it is there but does not load. */
  providerLoadError?: string;
  /** CUDA_LIBRARIES that do not load. */
  missingLibraries: string[];
  /** onnxruntime's own error, first line. */
  ortMessage: string;
}

export function gatherCudaFacts(ortMessage: string): CudaFacts {
  const binDir = ortBinDir();
  const missingProviderFiles = PROVIDER_FILES.filter((f) => !existsSync(join(binDir, f)));
  const linux = process.platform === 'linux';
  const providerLoadError =
    linux && !missingProviderFiles.length
      ? libraryLoadError(join(binDir, 'libonnxruntime_providers_cuda.so'))
      : undefined;
  return {
    platform: process.platform,
    binDir,
    missingProviderFiles,
    ...(providerLoadError ? { providerLoadError } : {}),
    missingLibraries: linux ? CUDA_LIBRARIES.filter((l) => libraryLoadError(l) !== undefined) : [],
    ortMessage,
  };
}

/** One line saying why the CUDA provider cannot run, from the facts; the real errors are quoted. */
export function explainCuda(f: CudaFacts): string {
  if (f.platform !== 'linux' && f.platform !== 'win32')
    return `onnxruntime has no CUDA provider for ${f.platform}; use --device webgpu or cpu`;
  if (f.missingProviderFiles.length) {
    return (
      `onnxruntime-node's CUDA provider is not installed (no ${f.missingProviderFiles.join(', ')} in ${f.binDir}); ` +
      `install it with \`${CUDA_INSTALL}\` (needs CUDA 12 and cuDNN 9)`
    );
  }
  if (f.providerLoadError || f.missingLibraries.length) {
    const libs = f.missingLibraries.length ? ` (${f.missingLibraries.join(', ')} do not load)` : '';
    const loader = f.providerLoadError ? `: ${f.providerLoadError.split('\n')[0]}` : '';
    return (
      `the CUDA provider does not load${loader}${libs}; install CUDA 12 and cuDNN 9 and put their lib ` +
      'folders on LD_LIBRARY_PATH (docs/models.md#cuda)'
    );
  }
  return `the CUDA session failed: ${f.ortMessage}`;
}

export type CudaProbe = { ok: true; maxRelError: number } | { ok: false; reason: string; facts?: CudaFacts };

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n').find((l) => l.trim()) ?? text).trim();
}

let probe: Promise<CudaProbe> | undefined;

/** A tiny session on the CUDA provider, once per process, checked against the CPU like the WebGPU probe. */
export function probeCuda(): Promise<CudaProbe> {
  probe ??= (async (): Promise<CudaProbe> => {
    if (!ort.listSupportedBackends().some((b) => b.name === 'cuda')) {
      return { ok: false, reason: `this onnxruntime-node build (${process.platform}) has no CUDA provider` };
    }
    let gpu: Float32Array;
    try {
      gpu = await runSelfTest(['cuda']); // onnxruntime also logs the loader's error on stderr
    } catch (err) {
      const facts = gatherCudaFacts(firstLine(err));
      return { ok: false, reason: explainCuda(facts), facts };
    }
    const maxRelError = relativeError(gpu, await runSelfTest(['cpu']));
    if (!(maxRelError <= SELF_TEST_TOLERANCE)) {
      return {
        ok: false,
        reason:
          `the CUDA provider computes wrong numbers: its self-test differs from the CPU by ` +
          `${maxRelError.toExponential(2)} relative (tolerance ${SELF_TEST_TOLERANCE}); check the driver and CUDA versions`,
      };
    }
    return { ok: true, maxRelError };
  })();
  return probe;
}

/**
 * The one-line reason for a failed CUDA session (for the engine): onnxruntime's message with what the loader says
 * is missing. An error that is not about loading the provider (out of memory, a kernel error) is passed on as is.
 */
export function cudaSessionError(err: unknown): string {
  const message = firstLine(err);
  if (
    !/load(ing)? (the )?shared library|providers_(cuda|shared)|Failed to load|CUDA_PATH|cudnn|cublas/i.test(
      message,
    )
  )
    return `the CUDA session failed: ${message}`;
  return explainCuda(gatherCudaFacts(message));
}
