/**
 * safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { string: string } }`, then the data
 * section; offsets are relative to the start of the data section.
 *
 * The reader is lazy (header at open, tensors on demand through a file handle) and treats every file as hostile:
 * all sizes are checked against the real file size before anything is allocated or read.
 */
import type { FileHandle } from 'node:fs/promises';
import { open, rename, rm } from 'node:fs/promises';
import { endianness } from 'node:os';
import { UserError } from '../util/errors.js';
import { tempSibling } from '../util/fsx.js';
import { bf16ToF32Into, f16ToF32Into } from './float16.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset of the first byte in the file. */
  begin: number;
  /** Absolute byte offset one past the last byte in the file. */
  end: number;
}

/** A tensor to write: `data` holds exactly product(shape) elements of `dtype`, little-endian. */
export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: ArrayBufferView;
}

/** The largest JSON header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

if (endianness() !== 'LE') throw new Error('spacetime-lens needs a little-endian host');

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_SIZE, value);
}

/** A safetensors file opened for lazy reading. Close it when done. */
export class SafetensorsFile {
  private handle: FileHandle | undefined;

  private constructor(
    readonly path: string,
    handle: FileHandle,
    readonly tensors: ReadonlyMap<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {
    this.handle = handle;
  }

  /** Opens `path` and validates its header; throws a UserError naming the file on anything malformed. */
  static async open(path: string): Promise<SafetensorsFile> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      throw new UserError(`cannot open safetensors file ${path}: ${(err as Error).message}`);
    }
    try {
      const { tensors, metadata } = await readHeader(path, handle);
      return new SafetensorsFile(path, handle, tensors, metadata);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** The tensor's description, or a UserError listing what the file has. */
  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) {
      const names = [...this.tensors.keys()];
      const shown =
        names.slice(0, 10).join(', ') + (names.length > 10 ? `, ... (${names.length} in all)` : '');
      throw new UserError(`${this.path}: no tensor named '${name}' (it has: ${shown || 'none'})`);
    }
    return info;
  }

  /** The tensor's bytes, in a fresh (hence aligned) buffer. */
  async readRaw(name: string): Promise<Uint8Array<ArrayBuffer>> {
    const info = this.info(name);
    const bytes = new Uint8Array(info.end - info.begin);
    await this.readInto(info, bytes);
    return bytes;
  }

  /** The tensor as f32: F32 as is, F16/BF16 widened (exact) in place, F64 and integers converted. */
  /**
   * One tensor as f32. With `into` (a buffer of exactly the tensor's element count, e.g. one reused across layers),
   * F32/F16/BF16 are read and widened in it and it is returned: no fresh memory, which is slow to fault in on VMs.
   */
  async readFloat32(name: string, into?: Float32Array<ArrayBuffer>): Promise<Float32Array<ArrayBuffer>> {
    const info = this.info(name);
    return this.readFloat32Span(info, 0, (info.end - info.begin) / DTYPE_SIZE[info.dtype], into);
  }

  /**
   * Rows [start, end) along the first axis, as f32 (row-major): one read of just those bytes, so a large
   * `[n, d]` tensor can be streamed in bounded memory.
   */
  async readFloat32Rows(name: string, start: number, end: number): Promise<Float32Array<ArrayBuffer>> {
    const info = this.info(name);
    const rows = info.shape[0];
    if (info.shape.length === 0 || !Number.isSafeInteger(start) || !Number.isSafeInteger(end)) {
      throw new RangeError(
        `${this.path}: readFloat32Rows needs integer rows of a tensor with at least one axis`,
      );
    }
    if (start < 0 || end < start || end > rows) {
      throw new RangeError(`${this.path}: rows [${start}, ${end}) outside '${name}' with ${rows} rows`);
    }
    const rowLength = info.shape.slice(1).reduce((a, b) => a * b, 1);
    return this.readFloat32Span(info, start * rowLength, (end - start) * rowLength);
  }

  /** `count` elements from element `first` of a tensor, widened to f32. */
  private async readFloat32Span(
    info: TensorInfo,
    first: number,
    count: number,
    into?: Float32Array<ArrayBuffer>,
  ): Promise<Float32Array<ArrayBuffer>> {
    const target = into?.length === count ? into : undefined;
    const size = DTYPE_SIZE[info.dtype];
    const span: TensorInfo = {
      ...info,
      begin: info.begin + first * size,
      end: info.begin + (first + count) * size,
    };
    if (info.dtype === 'F16' || info.dtype === 'BF16') {
      // Read the halves into the upper half of the result and widen forward: one buffer, 4 bytes per value.
      const out = target ?? new Float32Array(count);
      const halves = new Uint16Array(out.buffer, out.byteOffset + 2 * count, count);
      await this.readInto(span, new Uint8Array(out.buffer, out.byteOffset + 2 * count, 2 * count));
      if (info.dtype === 'F16') f16ToF32Into(halves, out);
      else bf16ToF32Into(halves, out);
      return out;
    }
    if (info.dtype === 'F32' && target) {
      await this.readInto(span, new Uint8Array(target.buffer, target.byteOffset, 4 * count));
      return target;
    }
    const raw = new Uint8Array(count * size);
    await this.readInto(span, raw);
    if (info.dtype === 'F32') return new Float32Array(raw.buffer);
    return Float32Array.from(numbers(info.dtype, raw));
  }

  private async readInto(info: TensorInfo, bytes: Uint8Array): Promise<void> {
    const handle = this.handle;
    if (!handle) throw new Error(`${this.path} is closed`);
    let done = 0;
    while (done < bytes.length) {
      const length = Math.min(bytes.length - done, 1 << 28); // one read() returns at most ~2 GiB on Linux
      const { bytesRead } = await handle.read(bytes, done, length, info.begin + done);
      if (bytesRead === 0)
        throw new UserError(`${this.path}: file ended while reading tensor '${info.name}'`);
      done += bytesRead;
    }
  }

  /** The tensor as f64 (exact for every float dtype; I64 beyond 2^53 rounds). */
  async readFloat64(name: string): Promise<Float64Array<ArrayBuffer>> {
    const dtype = this.info(name).dtype;
    if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16') {
      return Float64Array.from(await this.readFloat32(name));
    }
    const raw = await this.readRaw(name);
    if (dtype === 'F64') return new Float64Array(raw.buffer, 0, raw.length / 8);
    return Float64Array.from(numbers(dtype, raw));
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

/** Integer and f64 tensors as an array-like of JS numbers. */
function numbers(dtype: SafetensorsDtype, raw: Uint8Array): ArrayLike<number> {
  const b = raw.buffer;
  switch (dtype) {
    case 'F64':
      return new Float64Array(b, 0, raw.length / 8);
    case 'I64':
      return Array.from(new BigInt64Array(b, 0, raw.length / 8), Number);
    case 'I32':
      return new Int32Array(b, 0, raw.length / 4);
    case 'I16':
      return new Int16Array(b, 0, raw.length / 2);
    case 'I8':
      return new Int8Array(b, 0, raw.length);
    default:
      return raw; // U8, BOOL
  }
}

async function readExactly(handle: FileHandle, length: number, position: number): Promise<Uint8Array | null> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, length - done, position + done);
    if (bytesRead === 0) return null;
    done += bytesRead;
  }
  return bytes;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readHeader(
  path: string,
  handle: FileHandle,
): Promise<{ tensors: Map<string, TensorInfo>; metadata: Record<string, string> }> {
  const bad = (why: string) => new UserError(`${path} is not a valid safetensors file: ${why}`);
  const st = await handle.stat();
  if (!st.isFile()) throw bad('not a regular file');
  const fileSize = st.size;
  if (fileSize < 8) throw bad(`it is ${fileSize} bytes long, shorter than the 8-byte header length`);
  const lengthBytes = (await readExactly(handle, 8, 0))!;
  const headerLength = new DataView(lengthBytes.buffer).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw bad(`header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (headerLength < 2n) throw bad(`header length ${headerLength} is too small for a JSON object`);
  if (headerLength > BigInt(fileSize - 8)) {
    throw bad(`header length ${headerLength} runs past the end of the ${fileSize}-byte file (truncated?)`);
  }
  const dataStart = 8 + Number(headerLength);
  const dataSize = fileSize - dataStart;
  const headerBytes = await readExactly(handle, Number(headerLength), 8);
  if (!headerBytes) throw bad('file ended inside the header (truncated?)');

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw bad(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) throw bad('header is not a JSON object');

  const metadata = parseMetadata(header['__metadata__'], bad);
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors.set(name, parseEntry(name, entry, dataStart, dataSize, bad));
  }
  checkNoOverlap([...tensors.values()], bad);
  return { tensors, metadata };
}

function parseMetadata(value: unknown, bad: (why: string) => UserError): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === undefined) return metadata;
  if (!isPlainObject(value)) throw bad('__metadata__ is not a JSON object');
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw bad(`__metadata__ value for '${key}' is not a string`);
    Object.defineProperty(metadata, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return metadata;
}

function parseEntry(
  name: string,
  entry: unknown,
  dataStart: number,
  dataSize: number,
  bad: (why: string) => UserError,
): TensorInfo {
  const where = `tensor '${name}'`;
  if (!isPlainObject(entry)) throw bad(`${where} is not a JSON object`);
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isSafetensorsDtype(dtype)) {
    throw bad(
      `${where} has unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw bad(`${where} has shape ${JSON.stringify(shape)}, not a list of non-negative integers`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)
  ) {
    throw bad(`${where} has data_offsets ${JSON.stringify(offsets)}, not two non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw bad(`${where} has reversed data_offsets [${begin}, ${end}]`);
  if (end > dataSize) {
    throw bad(`${where} ends at data offset ${end}, past the ${dataSize}-byte data section (truncated?)`);
  }
  // product(shape) * size, stopping early once it exceeds what the file can hold (no overflow, no allocation).
  let bytes = shape.includes(0) ? 0 : DTYPE_SIZE[dtype];
  let capped = false;
  for (const s of shape) {
    if (bytes > dataSize) {
      capped = true;
      break;
    }
    bytes *= s;
  }
  if (bytes !== end - begin) {
    const need = capped || !Number.isSafeInteger(bytes) ? `more than ${dataSize}` : String(bytes);
    throw bad(
      `${where} (${dtype} ${JSON.stringify(shape)}) needs ${need} bytes but its data_offsets span ${end - begin}`,
    );
  }
  return { name, dtype, shape: [...shape], begin: dataStart + begin, end: dataStart + end };
}

function checkNoOverlap(infos: TensorInfo[], bad: (why: string) => UserError): void {
  const sorted = infos.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw bad(`tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap`);
    }
  }
}

/** Checks tensors to write and lays out their header; returns the header bytes (length prefix included). */
function layoutHeader(
  path: string,
  specs: { name: string; dtype: SafetensorsDtype; shape: number[] }[],
  metadata: Record<string, string> | undefined,
): { header: Uint8Array; offsets: Map<string, [number, number]> } {
  const json: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`${path}: metadata value for '${k}' is not a string`);
    }
    json['__metadata__'] = metadata;
  }
  const offsets = new Map<string, [number, number]>();
  let offset = 0;
  for (const { name, dtype, shape } of specs) {
    if (!name || name === '__metadata__') throw new TypeError(`${path}: invalid tensor name '${name}'`);
    if (offsets.has(name)) throw new TypeError(`${path}: duplicate tensor name '${name}'`);
    if (!isSafetensorsDtype(dtype)) throw new TypeError(`${path}: unsupported dtype ${dtype} for '${name}'`);
    if (!shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
      throw new TypeError(`${path}: bad shape ${JSON.stringify(shape)} for '${name}'`);
    }
    const bytes = shape.reduce((a, s) => a * s, DTYPE_SIZE[dtype]);
    offsets.set(name, [offset, offset + bytes]);
    json[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const text = JSON.stringify(json);
  // Pad with spaces so that the data section starts 8-byte aligned, as the reference implementation does.
  const encoded = new TextEncoder().encode(text);
  const padded = Math.ceil(encoded.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20, 8 + encoded.length);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(encoded, 8);
  return { header, offsets };
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function checkData(path: string, name: string, expected: [number, number], data: ArrayBufferView): void {
  if (data.byteLength !== expected[1] - expected[0]) {
    throw new TypeError(
      `${path}: tensor '${name}' has ${data.byteLength} bytes of data but its dtype and shape need ${expected[1] - expected[0]}`,
    );
  }
}

/** Writes a safetensors file atomically (temp file + rename). Tensors are stored in the order given. */
export async function writeSafetensors(
  path: string,
  tensors: TensorToWrite[],
  metadata?: Record<string, string>,
): Promise<void> {
  const { offsets } = layoutHeader(path, tensors, metadata);
  for (const t of tensors) checkData(path, t.name, offsets.get(t.name)!, t.data);
  const writer = await createSafetensorsWriter(path, tensors, metadata);
  try {
    for (const t of tensors) await writer.write(t.name, t.data);
  } catch (err) {
    await writer.abort();
    throw err;
  }
  await writer.finish();
}

/**
 * Streams a safetensors file too large to hold in memory: declare every tensor up front, then `write` each one's
 * data, in any order, with as many calls as you like per tensor (`byteOffset` within it); `finish()` checks that
 * each tensor got as many bytes as it holds, syncs and renames the temp file into place; `abort()` removes it.
 */
export interface SafetensorsStreamWriter {
  write(name: string, data: ArrayBufferView, byteOffset?: number): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
}

export async function createSafetensorsWriter(
  path: string,
  specs: { name: string; dtype: SafetensorsDtype; shape: number[] }[],
  metadata?: Record<string, string>,
): Promise<SafetensorsStreamWriter> {
  const { header, offsets } = layoutHeader(path, specs, metadata);
  const tmp = tempSibling(path);
  const handle = await open(tmp, 'w');
  let closed = false;
  const written = new Map<string, number>();
  try {
    await handle.write(header, 0, header.length, 0);
    const total = [...offsets.values()].reduce((a, [b, e]) => a + e - b, 0);
    await handle.truncate(header.length + total);
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  const close = async () => {
    if (!closed) {
      closed = true;
      await handle.close();
    }
  };
  const abort = async () => {
    await close();
    await rm(tmp, { force: true });
  };
  return {
    async write(name, data, byteOffset = 0) {
      if (closed) throw new Error(`${path}: writer already finished`);
      const range = offsets.get(name);
      if (!range) throw new TypeError(`${path}: tensor '${name}' was not declared`);
      const bytes = bytesOf(data);
      if (byteOffset < 0 || byteOffset + bytes.length > range[1] - range[0]) {
        throw new RangeError(
          `${path}: write of ${bytes.length} bytes at ${byteOffset} overruns tensor '${name}'`,
        );
      }
      let done = 0;
      while (done < bytes.length) {
        const position = header.length + range[0] + byteOffset + done;
        // At most 256 MiB per call: one write() moves at most ~2 GiB on Linux, and partial writes are retried.
        const length = Math.min(bytes.length - done, 1 << 28);
        const { bytesWritten } = await handle.write(bytes, done, length, position);
        done += bytesWritten;
      }
      written.set(name, (written.get(name) ?? 0) + bytes.length);
    },
    async finish() {
      for (const [name, [b, e]] of offsets) {
        if ((written.get(name) ?? 0) < e - b) {
          await abort();
          throw new Error(`${path}: tensor '${name}' was not fully written`);
        }
      }
      await handle.sync();
      await close();
      await rename(tmp, path);
    },
    abort,
  };
}
