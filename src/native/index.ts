export type { CudaFacts, CudaProbe } from './cuda.js';
export {
  CUDA_INSTALL,
  CUDA_LIBRARIES,
  cudaSessionError,
  explainCuda,
  gatherCudaFacts,
  libraryLoadError,
  ortBinDir,
  PROVIDER_FILES,
  probeCuda,
} from './cuda.js';
export { matmul } from './matmul.js';
export type { Device, Dim, ElementType, SessionOptions, TensorLiteral } from './onnx.js';
export { cachedSession, createSession, GraphBuilder, ort } from './onnx.js';
export type { AdapterFacts, DeviceRequest, VulkanDriver, WebGpuProbe } from './webgpu.js';
export {
  DEVICE_CHOICES,
  explainNoAdapter,
  findVulkanDrivers,
  probeWebGpu,
  relativeError,
  requireWebGpu,
  resolveDevice,
  vulkanLoaderPresent,
} from './webgpu.js';
