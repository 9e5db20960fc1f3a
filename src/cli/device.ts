/** `--device` and `--gpu-dtype`: one definition for every command that runs a model. */
import { Option } from 'commander';
import { DEVICE_CHOICES, type Device, type DeviceRequest, resolveDevice } from '../native/index.js';
import { UserError } from '../util/errors.js';

export interface DeviceFlags {
  device?: string;
  gpuDtype?: string;
}

/** The engine settings the device flags resolve to. */
export interface EngineDevice {
  device: Device;
  weightDtype?: 'f16';
}

/** `--device cpu|cuda|webgpu|auto`; `undefined` default leaves the choice to a config file (paper). */
export function deviceOption(defaultValue: DeviceRequest | undefined = 'cpu'): Option {
  const option = new Option(
    '--device <device>',
    "where the model runs: cpu, cuda (onnxruntime's CUDA build), webgpu (Vulkan/Metal/D3D12 GPU), or auto " +
      '(webgpu when a GPU adapter is found, else cpu; prints which)',
  ).choices([...DEVICE_CHOICES]);
  return defaultValue ? option.default(defaultValue) : option;
}

export function gpuDtypeOption(): Option {
  return new Option(
    '--gpu-dtype <type>',
    'precision of the weights held on the GPU (webgpu): f32, or f16 (half the memory; see docs/models.md#devices)',
  )
    .choices(['f32', 'f16'])
    .default('f32');
}

/** Validates the flags, finds the adapter for webgpu/auto (saying which device on stderr) and returns the engine's. */
export async function engineDevice(
  flags: DeviceFlags,
  log: (line: string) => void = (line) => console.error(line),
): Promise<EngineDevice> {
  const requested = (flags.device ?? 'cpu') as DeviceRequest;
  const gpuDtype = flags.gpuDtype ?? 'f32';
  if (gpuDtype !== 'f32' && gpuDtype !== 'f16')
    throw new UserError(`--gpu-dtype: '${gpuDtype}' is not one of f32, f16`);
  if (gpuDtype === 'f16' && requested !== 'webgpu' && requested !== 'auto')
    throw new UserError(`--gpu-dtype f16 applies to --device webgpu or auto, not --device ${requested}`);
  const device = await resolveDevice(requested, { log });
  if (gpuDtype === 'f16' && device !== 'webgpu') {
    log('--gpu-dtype f16 ignored: the model runs on the cpu in f32');
    return { device };
  }
  return gpuDtype === 'f16' ? { device, weightDtype: 'f16' } : { device };
}
