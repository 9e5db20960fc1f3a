/** One-line errors for device failures: a provider that is missing or cannot build a graph, a failed WebGPU run. */
import type { Device } from '../native/index.js';
import { UserError } from '../util/errors.js';

/** The error to throw when building session `kind` on `device` failed with `err`. */
export function sessionError(device: Device, kind: string, err: unknown): unknown {
  if (device === 'cuda') {
    return new UserError(
      `onnxruntime's CUDA execution provider is not available (${(err as Error).message.split('\n')[0]}). ` +
        'Install its CUDA build (CUDA 12 + cuDNN 9, then `npm install onnxruntime-node ' +
        '--onnxruntime-node-install-cuda=v12`) or use --device cpu',
    );
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
