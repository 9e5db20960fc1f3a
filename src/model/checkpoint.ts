// Hugging Face checkpoint directories: config.json + model.safetensors, or shards + model.safetensors.index.json.
// Opening reads only config.json, the index and each shard's header; tensors are read one at a time on request,
// so memory never holds more than the tensor asked for. No network, ever: this is the local half of loading.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { type FileHandle, open, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { bf16ToF32Into, f16ToF32Into } from '../formats/float16.js';
import type { SafetensorsDtype } from '../formats/safetensors.js';
import { DTYPE_SIZE, SafetensorsFile } from '../formats/safetensors.js';
import { UserError } from '../util/errors.js';
import type { WeightSource } from './spec.js';

export type WeightDtype = 'F32' | 'F16' | 'BF16';

/**
 * A checkpoint on disk: the engine's WeightSource (tensor names in file/index order; readFloat32 widens F16/BF16
 * exactly, narrows F64, reads nothing else, and may fill `into` instead of a fresh buffer) plus raw and row reads
 * and what the directory holds.
 */
export interface Checkpoint extends WeightSource {
  /** The tensor's bytes as stored. */
  readRaw(name: string): Promise<Uint8Array>;
  /**
   * Rows of a tensor along its first axis, in the order asked (repeats allowed), as f32: reads only those rows'
   * bytes (e.g. the embeddings of a batch's token ids instead of the whole vocabulary table).
   */
  readRows(name: string, rows: ArrayLike<number>): Promise<Float32Array>;
  /** The floating dtype holding most of the parameters. */
  weightDtype: WeightDtype;
  /** Elements per stored dtype, over all tensors. */
  dtypeElements: Partial<Record<SafetensorsDtype, number>>;
  /** Elements in floating-point tensors (the parameter count). */
  parameterCount: number;
  /** Bytes of tensor data over all files. */
  weightBytes: number;
  /** The safetensors files, relative to dir. */
  files: string[];
  close(): Promise<void>;
}

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
const FLOAT_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F64', 'F32', 'F16', 'BF16']);

async function readJsonObject(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${what} ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError(`${what} ${path} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Shard names from an index must be plain file names inside the checkpoint directory. */
function checkShardName(name: unknown, tensor: string, indexPath: string): string {
  if (typeof name !== 'string' || !name || name !== basename(name) || name === '.' || name === '..') {
    throw new UserError(
      `${indexPath}: tensor '${tensor}' maps to ${JSON.stringify(name)}, not a file name in the same directory`,
    );
  }
  return name;
}

function describeDir(dir: string): string {
  try {
    const names = readdirSync(dir).sort();
    return names.length ? names.slice(0, 20).join(', ') + (names.length > 20 ? ', ...' : '') : 'nothing';
  } catch {
    return 'unreadable';
  }
}

/** Opens a local checkpoint directory lazily (headers only). Close it when done. */
export async function openCheckpoint(dir: string): Promise<Checkpoint> {
  const root = resolve(dir);
  if (!existsSync(root) || !statSync(root).isDirectory())
    throw new UserError(`model directory ${dir} does not exist`);
  const configPath = join(root, 'config.json');
  if (!existsSync(configPath)) {
    throw new UserError(
      `${dir} has no config.json, so it is not a Hugging Face model directory (it has: ${describeDir(root)})`,
    );
  }
  const config = await readJsonObject(configPath, 'model config');

  // Same preference as transformers: the single file first, then the sharded index.
  let layout: Map<string, string>; // tensor -> file
  let order: string[] | undefined;
  if (existsSync(join(root, SINGLE_FILE))) {
    layout = new Map();
  } else if (existsSync(join(root, INDEX_FILE))) {
    const indexPath = join(root, INDEX_FILE);
    const index = await readJsonObject(indexPath, 'shard index');
    const weightMap = index['weight_map'];
    if (!weightMap || typeof weightMap !== 'object' || Array.isArray(weightMap)) {
      throw new UserError(`${indexPath} has no "weight_map" object`);
    }
    layout = new Map(
      Object.entries(weightMap as Record<string, unknown>).map(([t, f]) => [
        t,
        checkShardName(f, t, indexPath),
      ]),
    );
    if (!layout.size) throw new UserError(`${indexPath}: "weight_map" is empty`);
    order = [...layout.keys()];
  } else {
    const others = readdirSync(root).filter((f) =>
      /\.(bin|pt|pth|gguf|ckpt|h5|msgpack)$|consolidated/.test(f),
    );
    throw new UserError(
      `${dir} has neither ${SINGLE_FILE} nor ${INDEX_FILE}` +
        (others.length
          ? ` (found ${others.slice(0, 5).join(', ')}: only safetensors checkpoints load; convert with ` +
            'transformers: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True))'
          : ''),
    );
  }

  const fileNames = layout.size ? [...new Set(layout.values())] : [SINGLE_FILE];
  const missing = fileNames.filter((f) => !existsSync(join(root, f)));
  if (missing.length) {
    throw new UserError(
      `${join(root, INDEX_FILE)} lists shard(s) that are not in ${dir}: ${missing.join(', ')} (incomplete download?)`,
    );
  }

  const files = new Map<string, SafetensorsFile>();
  try {
    for (const f of fileNames) files.set(f, await SafetensorsFile.open(join(root, f)));
  } catch (err) {
    await Promise.all([...files.values()].map((s) => s.close()));
    throw err;
  }

  const where = new Map<string, SafetensorsFile>();
  try {
    if (!layout.size) {
      const single = files.get(SINGLE_FILE) as SafetensorsFile;
      for (const name of single.tensors.keys()) where.set(name, single);
    } else {
      for (const [tensor, f] of layout) {
        const shard = files.get(f) as SafetensorsFile;
        if (!shard.tensors.has(tensor)) {
          throw new UserError(
            `${INDEX_FILE} in ${dir} puts tensor '${tensor}' in ${f}, but ${f} does not contain it`,
          );
        }
        where.set(tensor, shard);
      }
    }
  } catch (err) {
    await Promise.all([...files.values()].map((s) => s.close()));
    throw err;
  }

  const dtypeElements: Partial<Record<SafetensorsDtype, number>> = {};
  let parameterCount = 0;
  let weightBytes = 0;
  for (const [name, file] of where) {
    const t = file.info(name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    dtypeElements[t.dtype] = (dtypeElements[t.dtype] ?? 0) + n;
    if (FLOAT_DTYPES.has(t.dtype)) parameterCount += n;
    weightBytes += n * DTYPE_SIZE[t.dtype];
  }
  if (!parameterCount) throw new UserError(`${dir}: the checkpoint holds no floating-point tensors`);
  const weightDtype = (['F32', 'F16', 'BF16'] as const).reduce<WeightDtype>(
    (best, d) => ((dtypeElements[d] ?? 0) > (dtypeElements[best] ?? 0) ? d : best),
    'F32',
  );

  const tensorNames = order ?? [...where.keys()];
  const handles = new Map<string, FileHandle>(); // for row reads, opened on first use
  const fileOf = (name: string): SafetensorsFile => {
    const f = where.get(name);
    if (!f) {
      const shown = tensorNames.slice(0, 8).join(', ') + (tensorNames.length > 8 ? ', ...' : '');
      throw new UserError(`${dir}: no tensor named '${name}' (it has ${tensorNames.length}: ${shown})`);
    }
    return f;
  };

  return {
    dir: root,
    config,
    tensorNames,
    has: (name) => where.has(name),
    info(name) {
      const t = fileOf(name).info(name);
      return { dtype: t.dtype, shape: [...t.shape] };
    },
    readFloat32: async (name, into) => fileOf(name).readFloat32(name, into),
    readRaw: async (name) => fileOf(name).readRaw(name),
    readRows: async (name, rows) => {
      const file = fileOf(name);
      let handle = handles.get(file.path);
      if (!handle) {
        handle = await open(file.path, 'r');
        handles.set(file.path, handle);
      }
      return readRows(file, name, rows, handle);
    },
    weightDtype,
    dtypeElements,
    parameterCount,
    weightBytes,
    files: fileNames,
    async close() {
      await Promise.all([...files.values()].map((s) => s.close()));
      await Promise.all([...handles.values()].map((h) => h.close()));
      handles.clear();
    },
  };
}

const ROW_DTYPES: ReadonlySet<SafetensorsDtype> = new Set(['F32', 'F16', 'BF16']);

/** Gathers rows (first axis) of an F32/F16/BF16 tensor, reading each run of consecutive rows once. */
async function readRows(
  file: SafetensorsFile,
  name: string,
  rows: ArrayLike<number>,
  handle: FileHandle,
): Promise<Float32Array> {
  const t = file.info(name);
  if (!ROW_DTYPES.has(t.dtype))
    throw new UserError(`${file.path}: readRows needs a float tensor, '${name}' is ${t.dtype}`);
  if (t.shape.length < 1) throw new UserError(`${file.path}: '${name}' is a scalar; it has no rows`);
  const nRows = t.shape[0];
  const rowElems = t.shape.slice(1).reduce((a, b) => a * b, 1);
  const size = DTYPE_SIZE[t.dtype];
  const out = new Float32Array(rows.length * rowElems);
  const order = Array.from({ length: rows.length }, (_, i) => i);
  for (const i of order) {
    const r = rows[i];
    if (!Number.isInteger(r) || r < 0 || r >= nRows) {
      throw new UserError(`row ${r} of '${name}' is out of range (it has ${nRows} rows)`);
    }
  }
  order.sort((a, b) => rows[a] - rows[b]);
  for (let k = 0; k < order.length; ) {
    // a run of consecutive (or repeated) rows
    let end = k + 1;
    while (end < order.length && rows[order[end]] - rows[order[end - 1]] <= 1) end++;
    const first = rows[order[k]];
    const count = rows[order[end - 1]] - first + 1;
    const bytes = new Uint8Array(count * rowElems * size);
    let done = 0;
    const at = t.begin + first * rowElems * size;
    while (done < bytes.length) {
      const { bytesRead } = await handle.read(bytes, done, bytes.length - done, at + done);
      if (bytesRead === 0) throw new UserError(`${file.path}: file ended while reading rows of '${name}'`);
      done += bytesRead;
    }
    const block = new Float32Array(count * rowElems);
    if (t.dtype === 'F32') block.set(new Float32Array(bytes.buffer, 0, block.length));
    else if (t.dtype === 'F16') f16ToF32Into(new Uint16Array(bytes.buffer, 0, block.length), block);
    else bf16ToF32Into(new Uint16Array(bytes.buffer, 0, block.length), block);
    for (let j = k; j < end; j++) {
      const r = rows[order[j]] - first;
      out.set(block.subarray(r * rowElems, (r + 1) * rowElems), order[j] * rowElems);
    }
    k = end;
  }
  return out;
}
