/**
 * Reads tensors from PyTorch `.pt` files (the zip format `torch.save` writes since PyTorch 1.6), so that activations
 * saved by the authors' code (per-channel quint8 quantised, one file per layer) import directly.
 *
 * The pickle is run by a small interpreter that knows only the opcodes and globals tensor files use; it never
 * imports or calls anything else (an unknown global is an error, not code execution). Storage sizes and offsets are
 * checked against the archive before anything is read.
 */
import { open } from 'node:fs/promises';
import { UserError } from '../util/errors.js';
import { bf16ToF32, f16ToF32 } from './float16.js';
import { readZipEntries, type ZipEntry } from './zip.js';

/** A tensor read from a .pt file, as f32 in C order (quantised tensors dequantised). */
export interface TorchTensor {
  shape: number[];
  /** The stored dtype: float32, float64, float16, bfloat16, quint8 (dequantised), int64, ... */
  dtype: string;
  data: Float32Array<ArrayBuffer>;
  /** For quantised tensors: the scheme (per_tensor_affine, per_channel_affine). */
  quantization?: string;
}

const STORAGE_TYPES: Record<string, { dtype: string; size: number }> = {
  FloatStorage: { dtype: 'float32', size: 4 },
  DoubleStorage: { dtype: 'float64', size: 8 },
  HalfStorage: { dtype: 'float16', size: 2 },
  BFloat16Storage: { dtype: 'bfloat16', size: 2 },
  LongStorage: { dtype: 'int64', size: 8 },
  IntStorage: { dtype: 'int32', size: 4 },
  ShortStorage: { dtype: 'int16', size: 2 },
  CharStorage: { dtype: 'int8', size: 1 },
  ByteStorage: { dtype: 'uint8', size: 1 },
  BoolStorage: { dtype: 'bool', size: 1 },
  QUInt8Storage: { dtype: 'quint8', size: 1 },
  QInt8Storage: { dtype: 'qint8', size: 1 },
};

interface StorageRef {
  kind: 'storage';
  key: string;
  dtype: string;
  /** Bytes per element. */
  item: number;
}
interface Global {
  kind: 'global';
  name: string;
}
interface Lazy {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
  quant?: unknown[];
}
const MARK = Symbol('mark');

/**
 * Reads every tensor of a .pt file: a bare tensor (returned under the name ''), or a dict / list / tuple of tensors
 * (nested keys joined with '.').
 */
export async function readTorchFile(path: string): Promise<Map<string, TorchTensor>> {
  const bad = (why: string) => new UserError(`${path} is not a readable PyTorch tensor file: ${why}`);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw new UserError(`cannot open ${path}: ${(err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw bad('not a regular file');
    const head = new Uint8Array(4);
    await handle.read(head, 0, 4, 0);
    if (head[0] === 0x80) {
      throw bad(
        'legacy (pre-1.6) format; re-save it with torch.save(t, path) from a recent PyTorch, or as .npy',
      );
    }
    const entries = await readZipEntries(handle, st.size, bad);
    const pkl = [...entries.values()].find((e) => e.name.endsWith('/data.pkl') || e.name === 'data.pkl');
    if (!pkl) throw bad('no data.pkl in the archive');
    const prefix = pkl.name.slice(0, pkl.name.length - 'data.pkl'.length);
    const order = entries.get(`${prefix}byteorder`);
    if (order && Buffer.from(await readEntry(handle, order, bad)).toString() !== 'little') {
      throw bad('big-endian tensors');
    }
    if (pkl.size > 100_000_000) throw bad('data.pkl is absurdly large');
    const root = unpickle(Buffer.from((await readEntry(handle, pkl, bad)).buffer), bad);

    const tensors = new Map<string, Lazy>();
    collect(root, '', tensors, bad);
    if (tensors.size === 0) throw bad('it holds no tensor');
    const out = new Map<string, TorchTensor>();
    for (const [name, t] of tensors) out.set(name, await materialise(t, handle, entries, prefix, bad));
    return out;
  } finally {
    await handle.close();
  }
}

async function readEntry(
  handle: Awaited<ReturnType<typeof open>>,
  entry: ZipEntry,
  bad: (why: string) => UserError,
): Promise<Uint8Array<ArrayBuffer>> {
  if (entry.method !== 0) throw bad(`entry ${entry.name} is compressed (torch.save never compresses)`);
  const bytes = new Uint8Array(entry.size); // its own ArrayBuffer, offset 0: typed views need no copy
  let done = 0;
  while (done < entry.size) {
    const length = Math.min(entry.size - done, 1 << 28);
    const { bytesRead } = await handle.read(bytes, done, length, entry.dataStart + done);
    if (bytesRead === 0) throw bad(`entry ${entry.name} is truncated`);
    done += bytesRead;
  }
  return bytes;
}

function collect(
  value: unknown,
  name: string,
  out: Map<string, Lazy>,
  bad: (why: string) => UserError,
): void {
  const child = (key: unknown) => (name ? `${name}.${String(key)}` : String(key));
  if (isLazy(value)) out.set(name, value);
  else if (value instanceof Map) for (const [k, v] of value) collect(v, child(k), out, bad);
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) collect(v, child(i), out, bad);
}

function isLazy(v: unknown): v is Lazy {
  return typeof v === 'object' && v !== null && (v as Lazy).kind === 'tensor';
}

/** Reads a tensor's elements (any strides) as f64 numbers in C order. */
async function elements(
  t: Lazy,
  handle: Awaited<ReturnType<typeof open>>,
  entries: Map<string, ZipEntry>,
  prefix: string,
  bad: (why: string) => UserError,
): Promise<{ values: Float64Array<ArrayBuffer> | Float32Array<ArrayBuffer>; count: number }> {
  const entry = entries.get(`${prefix}data/${t.storage.key}`);
  if (!entry) throw bad(`storage ${t.storage.key} is missing from the archive`);
  const item = t.storage.item;
  const storageLength = Math.floor(entry.size / item);
  const count = t.shape.reduce((a, b) => a * b, 1);
  // Zero strides (expanded views) could claim any size over a tiny storage: cap what we allocate.
  if (!(count <= 2 ** 31)) throw bad(`tensor ${JSON.stringify(t.shape)} is too large to read`);
  // The largest element index reached must lie inside the storage.
  let last = t.offset;
  for (let i = 0; i < t.shape.length; i++) if (t.shape[i] > 0) last += (t.shape[i] - 1) * t.stride[i];
  if (count > 0 && (last >= storageLength || t.offset < 0 || t.stride.some((s) => s < 0))) {
    throw bad(`tensor ${JSON.stringify(t.shape)} reaches past its storage of ${storageLength} elements`);
  }
  const raw = await readEntry(handle, entry, bad);
  const buf = raw.length === storageLength * item ? raw.buffer : raw.buffer.slice(0, storageLength * item);
  const storage = typedStorage(t.storage.dtype, buf);
  const wide = t.storage.dtype === 'float64' || t.storage.dtype === 'int64';
  const values = wide ? new Float64Array(count) : new Float32Array(count);
  const idx = new Array<number>(t.shape.length).fill(0);
  let at = t.offset;
  for (let k = 0; k < count; k++) {
    values[k] = storage[at];
    for (let i = t.shape.length - 1; i >= 0; i--) {
      at += t.stride[i];
      if (++idx[i] < t.shape[i]) break;
      at -= t.stride[i] * t.shape[i];
      idx[i] = 0;
    }
  }
  return { values, count };
}

function typedStorage(dtype: string, buf: ArrayBuffer): ArrayLike<number> {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'float16':
      return f16ToF32(new Uint16Array(buf));
    case 'bfloat16':
      return bf16ToF32(new Uint16Array(buf));
    case 'int64':
      return Array.from(new BigInt64Array(buf), Number);
    case 'int32':
      return new Int32Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int8':
    case 'qint8':
      return new Int8Array(buf);
    default:
      return new Uint8Array(buf);
  }
}

async function materialise(
  t: Lazy,
  handle: Awaited<ReturnType<typeof open>>,
  entries: Map<string, ZipEntry>,
  prefix: string,
  bad: (why: string) => UserError,
): Promise<TorchTensor> {
  const { values, count } = await elements(t, handle, entries, prefix, bad);
  if (!t.quant) {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    return { shape: t.shape, dtype: t.storage.dtype, data };
  }
  const data = new Float32Array(count);
  // Dequantise as PyTorch does: (q - zero_point) * scale in f32 (q - zp is a small integer, so this is exact).
  const scheme = t.quant[0];
  const schemeName = typeof scheme === 'object' && scheme !== null ? (scheme as Global).name : String(scheme);
  if (schemeName === 'torch.per_tensor_affine') {
    const scale = Math.fround(Number(t.quant[1]));
    const zero = Number(t.quant[2]);
    for (let k = 0; k < count; k++) data[k] = (values[k] - zero) * scale;
    return { shape: t.shape, dtype: t.storage.dtype, data, quantization: 'per_tensor_affine' };
  }
  if (schemeName === 'torch.per_channel_affine' || schemeName === 'torch.per_channel_affine_float_qparams') {
    const [, scalesT, zerosT, axis] = t.quant as [unknown, Lazy, Lazy, number];
    if (
      !isLazy(scalesT) ||
      !isLazy(zerosT) ||
      !Number.isInteger(axis) ||
      axis < 0 ||
      axis >= t.shape.length
    ) {
      throw bad('malformed per-channel quantisation parameters');
    }
    const scales = (await elements(scalesT, handle, entries, prefix, bad)).values;
    const zeros = (await elements(zerosT, handle, entries, prefix, bad)).values;
    const channels = t.shape[axis];
    if (scales.length !== channels || zeros.length !== channels)
      throw bad('quantisation parameters do not match the axis');
    const inner = t.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const floatQparams = schemeName.endsWith('float_qparams');
    for (let k = 0; k < count; k++) {
      const c = Math.floor(k / inner) % channels;
      const scale = Math.fround(scales[c]);
      data[k] = floatQparams ? values[k] * scale + zeros[c] : (values[k] - zeros[c]) * scale;
    }
    return { shape: t.shape, dtype: t.storage.dtype, data, quantization: schemeName.slice('torch.'.length) };
  }
  throw bad(`unsupported quantisation scheme ${schemeName}`);
}

// ---- pickle ---------------------------------------------------------------------------------------------------

/** Runs the subset of pickle (protocols 2-5) that tensor files use. */
function unpickle(bytes: Buffer, bad: (why: string) => UserError): unknown {
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) throw bad('pickle ends early');
  };
  const popMark = (): unknown[] => {
    const items: unknown[] = [];
    for (;;) {
      if (stack.length === 0) throw bad('pickle MARK missing');
      const v = stack.pop();
      if (v === MARK) return items.reverse();
      items.push(v);
    }
  };
  const pop = () => {
    if (stack.length === 0) throw bad('pickle stack underflow');
    return stack.pop();
  };
  const str = (n: number) => {
    need(n);
    const s = bytes.toString('utf8', p, p + n);
    p += n;
    return s;
  };
  for (;;) {
    need(1);
    const op = bytes[p++];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        p++;
        break;
      case 0x95: // FRAME
        need(8);
        p += 8;
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x29: // EMPTY_TUPLE
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4b: // BININT1
        need(1);
        stack.push(bytes[p++]);
        break;
      case 0x4d: // BININT2
        need(2);
        stack.push(bytes.readUInt16LE(p));
        p += 2;
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(bytes.readInt32LE(p));
        p += 4;
        break;
      case 0x8a: {
        // LONG1
        need(1);
        const n = bytes[p++];
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[p + i]);
        if (n > 0 && bytes[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        p += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: // BINFLOAT (big-endian f64)
        need(8);
        stack.push(bytes.readDoubleBE(p));
        p += 8;
        break;
      case 0x58: // BINUNICODE
        need(4);
        p += 4;
        stack.push(str(bytes.readUInt32LE(p - 4)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        need(1);
        p++;
        stack.push(str(bytes[p - 1]));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const nl1 = bytes.indexOf(0x0a, p);
        const nl2 = nl1 < 0 ? -1 : bytes.indexOf(0x0a, nl1 + 1);
        if (nl2 < 0) throw bad('malformed GLOBAL');
        stack.push(global(`${bytes.toString('utf8', p, nl1)}.${bytes.toString('utf8', nl1 + 1, nl2)}`));
        p = nl2 + 1;
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        stack.push(global(`${module}.${name}`));
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        const list = stack[stack.length - 1];
        if (!Array.isArray(list)) throw bad('APPEND to a non-list');
        list.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = stack[stack.length - 1];
        if (!Array.isArray(list)) throw bad('APPENDS to a non-list');
        list.push(...items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        const dict = stack[stack.length - 1];
        if (!(dict instanceof Map)) throw bad('SETITEM on a non-dict');
        dict.set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const dict = stack[stack.length - 1];
        if (!(dict instanceof Map)) throw bad('SETITEMS on a non-dict');
        for (let i = 0; i + 1 < items.length; i += 2) dict.set(items[i], items[i + 1]);
        break;
      }
      case 0x71: // BINPUT
        need(1);
        memo.set(bytes[p++], stack[stack.length - 1]);
        break;
      case 0x72: // LONG_BINPUT
        need(4);
        memo.set(bytes.readUInt32LE(p), stack[stack.length - 1]);
        p += 4;
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, stack[stack.length - 1]);
        break;
      case 0x68: // BINGET
        need(1);
        stack.push(memoGet(memo, bytes[p++], bad));
        break;
      case 0x6a: // LONG_BINGET
        need(4);
        stack.push(memoGet(memo, bytes.readUInt32LE(p), bad));
        p += 4;
        break;
      case 0x51: // BINPERSID
        stack.push(persistent(pop(), bad));
        break;
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(reduce(fn, args, bad));
        break;
      }
      case 0x62: // BUILD (state of an OrderedDict or a Parameter: not needed)
        pop();
        break;
      default:
        throw bad(`unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}

function memoGet(memo: Map<number, unknown>, key: number, bad: (why: string) => UserError): unknown {
  if (!memo.has(key)) throw bad(`pickle memo ${key} is unset`);
  return memo.get(key);
}

function global(name: string): Global {
  return { kind: 'global', name };
}

function persistent(pid: unknown, bad: (why: string) => UserError): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) throw bad('unknown persistent id');
  const type = pid[1] as Global;
  const short = typeof type === 'object' && type?.kind === 'global' ? type.name.replace(/^torch\./, '') : '';
  const info = STORAGE_TYPES[short];
  if (!info) throw bad(`unsupported storage type ${short || JSON.stringify(type)}`);
  return { kind: 'storage', key: String(pid[2]), dtype: info.dtype, item: info.size };
}

function dims(v: unknown, what: string, bad: (why: string) => UserError): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isSafeInteger(x) && x >= 0))
    throw bad(`bad tensor ${what}`);
  return v as number[];
}

/** The callables tensor files use; anything else is refused. */
function reduce(fn: unknown, args: unknown, bad: (why: string) => UserError): unknown {
  const name =
    typeof fn === 'object' && fn !== null && (fn as Global).kind === 'global' ? (fn as Global).name : '?';
  if (!Array.isArray(args)) throw bad(`${name} called without an argument tuple`);
  switch (name) {
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_qtensor': {
      const storage = args[0] as StorageRef;
      if (storage?.kind !== 'storage') throw bad(`${name} without a storage`);
      const offset = Number(args[1]);
      if (!Number.isSafeInteger(offset) || offset < 0) throw bad('bad storage offset');
      const shape = dims(args[2], 'shape', bad);
      const stride = dims(args[3], 'stride', bad);
      if (stride.length !== shape.length) throw bad('stride and shape differ in length');
      const t: Lazy = { kind: 'tensor', storage, offset, shape, stride };
      if (name === 'torch._utils._rebuild_qtensor') {
        if (!Array.isArray(args[4])) throw bad('bad quantiser parameters');
        t.quant = args[4];
      }
      return t;
    }
    case 'torch._utils._rebuild_parameter':
      return args[0];
    case 'collections.OrderedDict':
      return new Map();
    default:
      throw bad(`refusing to call ${name} (only tensors, dicts and lists are read)`);
  }
}
