/** One-line errors for device failures: a provider that is missing or cannot build a graph, a failed GPU run. */
import { cudaSessionError, type Device } from '../native/index.js';
import { UserError } from '../util/errors.js';

/** The error to throw when building session `kind` on `device` failed with `err`. */
export function sessionError(device: Device, kind: string, err: unknown): unknown {
  if (device === 'cuda' && !(err instanceof UserError)) {
    // the real cause: onnxruntime's message plus what the dynamic loader says is missing (native/cuda.ts)
    return new UserError(`--device cuda: ${cudaSessionError(err)} (building the ${kind} graph)`);
  }
  if (device === 'webgpu' && !(err instanceof UserError)) {
    return new UserError(
      `onnxruntime's WebGPU provider could not build the ${kind} graph ` +
        `(${(err as Error).message.split('\n')[0]}); use --device cpu`,
    );
  }
  return err;
}

/** A WebGPU failure while running session `kind` (out of memory, a lost device), with what to try instead. */
export function webGpuRunError(kind: string, err: unknown): UserError {
  return new UserError(
    `WebGPU failed in the ${kind} graph (${(err as Error).message.split('\n')[0]}); try a smaller ` +
      '--batch-size, --gpu-dtype f16, or --device cpu',
  );
}

/** A CUDA failure while running session `kind` (out of memory, a kernel error), with onnxruntime's own words. */
export function cudaRunError(kind: string, err: unknown): UserError {
  return new UserError(
    `CUDA failed in the ${kind} graph (${(err as Error).message.split('\n')[0]}); try a smaller --batch-size ` +
      'or --device cpu',
  );
}
