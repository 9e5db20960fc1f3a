/**
 * NumPy .npy files (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html): magic `\x93NUMPY`,
 * version, a little-endian header length (u16 in v1, u32 in v2/v3), a Python dict literal header
 * `{'descr': '<f4', 'fortran_order': False, 'shape': (5, 3), }`, then the raw data.
 *
 * The reader takes little-endian f2/f4/f8 arrays in C or Fortran order (Fortran is transposed into C order) and
 * checks every size against the real file before allocating.
 */
import { open } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { f16ToF32 } from './float16.js';

export type NpyDtype = '<f2' | '<f4' | '<f8';

const ITEM_SIZE: Record<NpyDtype, number> = { '<f2': 2, '<f4': 4, '<f8': 8 };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** Headers longer than this are refused (NumPy itself refuses > 10,000 bytes by default). */
const MAX_HEADER = 1 << 20;

export interface NpyHeader {
  version: 1 | 2 | 3;
  dtype: NpyDtype;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the data in the file. */
  dataOffset: number;
}

export interface NpyArray {
  shape: number[];
  dtype: NpyDtype;
  /** Values in C (row-major) order, whatever the file's order; f2 widened to f32. */
  data: Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>;
}

/** Reads and validates the header of a .npy file. */
export async function readNpyHeader(path: string): Promise<NpyHeader> {
  const handle = await openOrFail(path);
  try {
    return await parseHeader(path, handle, await regularFileSize(path, handle));
  } finally {
    await handle.close();
  }
}

/** Reads a whole .npy array (f2 widened to f32), in C order. */
export async function readNpy(path: string): Promise<NpyArray> {
  const handle = await openOrFail(path);
  try {
    const size = await regularFileSize(path, handle);
    const header = await parseHeader(path, handle, size);
    const count = header.shape.reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(count * ITEM_SIZE[header.dtype]);
    for (let done = 0; done < bytes.length; ) {
      const length = Math.min(bytes.length - done, 1 << 28); // one read() returns at most ~2 GiB on Linux
      const { bytesRead } = await handle.read(bytes, done, length, header.dataOffset + done);
      if (bytesRead === 0) throw new UserError(`${path}: file ended while reading the array data`);
      done += bytesRead;
    }
    let data: Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>;
    if (header.dtype === '<f8') data = new Float64Array(bytes.buffer);
    else if (header.dtype === '<f4') data = new Float32Array(bytes.buffer);
    else data = f16ToF32(new Uint16Array(bytes.buffer));
    if (header.fortranOrder && header.shape.length > 1) data = fortranToC(data, header.shape);
    return { shape: header.shape, dtype: header.dtype, data };
  } finally {
    await handle.close();
  }
}

/** Writes a little-endian f4 or f8 array in C order as a version 1.0 .npy file, atomically. */
export async function writeNpy(
  path: string,
  shape: number[],
  data: Float32Array | Float64Array,
): Promise<void> {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length)
    throw new TypeError(`writeNpy: shape ${shape} needs ${count} values, got ${data.length}`);
  const descr = data instanceof Float64Array ? '<f8' : '<f4';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let text = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  text += ' '.repeat((64 - ((10 + text.length + 1) % 64)) % 64) + '\n';
  const head = new Uint8Array(10 + text.length);
  head.set(MAGIC);
  head[6] = 1;
  head[7] = 0;
  new DataView(head.buffer).setUint16(8, text.length, true);
  head.set(new TextEncoder().encode(text), 10);
  // writeFileAtomic issues one write() per chunk, and Linux moves at most ~2 GiB per call: keep chunks small.
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const chunks: Uint8Array[] = [head];
  for (let at = 0; at < body.length; at += 1 << 28) chunks.push(body.subarray(at, at + (1 << 28)));
  await writeFileAtomic(path, chunks);
}

async function openOrFail(path: string) {
  try {
    return await open(path, 'r');
  } catch (err) {
    throw new UserError(`cannot open .npy file ${path}: ${(err as Error).message}`);
  }
}

async function regularFileSize(path: string, handle: Awaited<ReturnType<typeof open>>): Promise<number> {
  const st = await handle.stat();
  if (!st.isFile()) throw new UserError(`${path} is not a regular file`);
  return st.size;
}

async function parseHeader(
  path: string,
  handle: Awaited<ReturnType<typeof open>>,
  fileSize: number,
): Promise<NpyHeader> {
  const bad = (why: string) => new UserError(`${path} is not a readable .npy file: ${why}`);
  const pre = new Uint8Array(12);
  const { bytesRead } = await handle.read(pre, 0, 12, 0);
  if (bytesRead < 10 || !MAGIC.every((b, i) => pre[i] === b)) throw bad('missing the \\x93NUMPY magic');
  const major = pre[6];
  if (major !== 1 && major !== 2 && major !== 3) throw bad(`unsupported format version ${major}.${pre[7]}`);
  const view = new DataView(pre.buffer);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytesRead < 8 + lengthBytes) throw bad('file ends inside the header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lengthBytes + headerLength;
  if (headerLength > MAX_HEADER) throw bad(`header length ${headerLength} is absurd`);
  if (dataOffset > fileSize) throw bad(`header length ${headerLength} runs past the end of the file`);
  const raw = new Uint8Array(headerLength);
  await handle.read(raw, 0, headerLength, 8 + lengthBytes);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(raw);

  let dict: unknown;
  try {
    dict = parsePythonLiteral(text);
  } catch (err) {
    throw bad(
      `header is not a Python dict literal (${(err as Error).message}): ${text.trim().slice(0, 200)}`,
    );
  }
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict)) throw bad('header is not a dict');
  const { descr, fortran_order: fortran, shape } = dict as Record<string, unknown>;
  if (typeof descr !== 'string') throw bad(`header has no 'descr' string`);
  const dtype = normaliseDescr(descr);
  if (!dtype) {
    throw bad(
      `unsupported dtype ${JSON.stringify(descr)} (supported: little-endian float16/float32/float64: <f2, <f4, <f8)`,
    );
  }
  if (typeof fortran !== 'boolean') throw bad(`header has no boolean 'fortran_order'`);
  if (!Array.isArray(shape) || !shape.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw bad(`header 'shape' ${JSON.stringify(shape)} is not a tuple of non-negative integers`);
  }
  const dataBytes = fileSize - dataOffset;
  let need = shape.includes(0) ? 0 : ITEM_SIZE[dtype];
  let capped = false;
  for (const s of shape as number[]) {
    if (need > dataBytes) capped = true;
    else need *= s;
  }
  if (need !== dataBytes) {
    const needText = capped || !Number.isSafeInteger(need) ? `more than ${dataBytes}` : String(need);
    const what = need > dataBytes ? 'truncated' : 'has trailing bytes';
    throw bad(
      `${descr} ${JSON.stringify(shape)} needs ${needText} data bytes, the file has ${dataBytes} (${what})`,
    );
  }
  return { version: major, dtype, fortranOrder: fortran, shape: shape as number[], dataOffset };
}

function normaliseDescr(descr: string): NpyDtype | undefined {
  const m = /^([<|=]?)(f2|f4|f8|e|f|d)$/.exec(descr);
  if (!m) return undefined;
  const name = { e: 'f2', f: 'f4', d: 'f8' }[m[2]] ?? m[2];
  return `<${name}` as NpyDtype;
}

/** Converts a Fortran-order buffer of `shape` into C order (a blocked transpose for 2-D). */
function fortranToC<T extends Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>>(
  src: T,
  shape: number[],
): T {
  const out = new (src.constructor as { new (n: number): T })(src.length);
  if (shape.length === 2) {
    const [rows, cols] = shape;
    const B = 64;
    for (let r0 = 0; r0 < rows; r0 += B) {
      for (let c0 = 0; c0 < cols; c0 += B) {
        const r1 = Math.min(rows, r0 + B);
        const c1 = Math.min(cols, c0 + B);
        for (let c = c0; c < c1; c++) for (let r = r0; r < r1; r++) out[r * cols + c] = src[c * rows + r];
      }
    }
    return out;
  }
  // General N-D: walk C order, tracking the Fortran index.
  const n = shape.length;
  const fStride = new Array<number>(n);
  let s = 1;
  for (let i = 0; i < n; i++) {
    fStride[i] = s;
    s *= shape[i];
  }
  const idx = new Array<number>(n).fill(0);
  for (let k = 0; k < src.length; k++) {
    let f = 0;
    for (let i = 0; i < n; i++) f += idx[i] * fStride[i];
    out[k] = src[f];
    for (let i = n - 1; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Parses the subset of Python literals that .npy headers use: dicts, tuples, lists, strings, ints, booleans. */
function parsePythonLiteral(text: string): unknown {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const expect = (c: string) => {
    ws();
    if (text[i] !== c) throw new Error(`expected '${c}' at ${i}`);
    i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      for (;;) {
        ws();
        if (text[i] === '}') break;
        const key = value();
        if (typeof key !== 'string') throw new Error(`dict key at ${i} is not a string`);
        expect(':');
        Object.defineProperty(obj, key, {
          value: value(),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') throw new Error(`expected ',' or '}' at ${i}`);
      }
      i++;
      return obj;
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const items: unknown[] = [];
      for (;;) {
        ws();
        if (text[i] === close) break;
        items.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) throw new Error(`expected ',' or '${close}' at ${i}`);
      }
      i++;
      return items;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw new Error('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const word = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 40));
    if (!word) throw new Error(`unexpected ${JSON.stringify(text.slice(i, i + 10))} at ${i}`);
    i += word[0].length;
    if (word[0] === 'True') return true;
    if (word[0] === 'False') return false;
    if (word[0] === 'None') return null;
    return Number(word[0].replace('L', ''));
  };
  const result = value();
  ws();
  if (i !== text.length) throw new Error(`trailing text at ${i}`);
  return result;
}
