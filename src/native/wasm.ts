/**
 * The shared pieces of the two hand-emitted WebAssembly kernels (f16 widening, symmetric matrix-vector product):
 * a minimal binary encoder, Node's WebAssembly global typed minimally (the project's lib settings do not include
 * its declarations), and compilation in V8's optimising tier.
 */
import { setFlagsFromString } from 'node:v8';

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A length-prefixed UTF-8 name. */
export const wasmName = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];
/** A module section: id, byte length, body. */
export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
/** A length-prefixed vector of already-encoded items. */
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmApi {
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
/** Node's WebAssembly global, or undefined where the runtime has none. */
export const webAssembly: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi })
  .WebAssembly;

/**
 * Runs `fn` (compiling, instantiating, first calls) with V8's optimising tier only and eager compilation: a few long
 * calls never leave the baseline (Liftoff) code, which runs these loops 3-30x slower. Node's defaults are restored
 * right after.
 */
export function withOptimizingWasm<T>(fn: () => T): T {
  setFlagsFromString('--no-liftoff');
  setFlagsFromString('--no-wasm-lazy-compilation');
  try {
    return fn();
  } finally {
    setFlagsFromString('--wasm-lazy-compilation');
    setFlagsFromString('--liftoff');
  }
}
