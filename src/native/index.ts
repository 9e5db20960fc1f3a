export { matmul } from './matmul.js';
export type { Device, ElementType, SessionOptions, TensorLiteral } from './onnx.js';
export { cachedSession, createSession, GraphBuilder, ort } from './onnx.js';
