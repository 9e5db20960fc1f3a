// Public surface of the formats stage: safetensors, .npy and half-precision conversions.
export { bf16ToF32, bf16ToF32Into, f16ToF32, f16ToF32Into, f32ToBf16, f32ToF16 } from './float16.js';
export type { NpyArray, NpyDtype, NpyHeader } from './npy.js';
export { readNpy, readNpyHeader, writeNpy } from './npy.js';
export type { SafetensorsDtype, SafetensorsStreamWriter, TensorInfo, TensorToWrite } from './safetensors.js';
export {
  createSafetensorsWriter,
  DTYPE_SIZE,
  isSafetensorsDtype,
  MAX_HEADER_BYTES,
  SafetensorsFile,
  writeSafetensors,
} from './safetensors.js';
export type { TorchTensor } from './torch.js';
export { readTorchFile } from './torch.js';
