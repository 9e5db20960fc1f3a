/**
 * The activation store: a directory with `manifest.json`, `entities.jsonl` (one JSON object per entity, in dataset
 * order) and one safetensors file per (hook, layer) holding a single `[n, d]` F32 or F16 tensor named by the full
 * hook name. See docs/store.md.
 */
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { f32ToF16 } from '../formats/float16.js';
import { SafetensorsFile, writeSafetensors } from '../formats/safetensors.js';
import { UserError } from '../util/errors.js';
import { tempSibling } from '../util/fsx.js';
import {
  checkHookName,
  checkManifestInput,
  ENTITIES_FILE,
  layerFileName,
  MANIFEST_FILE,
  parseManifest,
  type StoreEntity,
  type StoreManifest,
  type StoreManifestInput,
} from './manifest.js';

// ---- layer files ----------------------------------------------------------------------------------------------

/**
 * Writes one hook's `[n, d]` activations as a layer file in `dir`, atomically (temp name, then rename), and returns
 * the file name. `dtype` 'f16' rounds to nearest even. Building block for resumable extraction: a layer file either
 * exists complete or not at all.
 */
export async function writeLayerFile(
  dir: string,
  hook: string,
  data: Float32Array,
  n: number,
  d: number,
  dtype: 'f32' | 'f16',
): Promise<string> {
  if (data.length !== n * d) {
    throw new TypeError(`${hook}: ${data.length} values is not n * d = ${n} * ${d}`);
  }
  const file = layerFileName(hook);
  const halves = dtype === 'f16' ? f32ToF16(data) : undefined;
  if (halves) checkHalfRange(hook, data, halves, d);
  await writeSafetensors(
    join(dir, file),
    [
      {
        name: hook,
        dtype: halves ? 'F16' : 'F32',
        shape: [n, d],
        data: halves ?? data,
      },
    ],
    { format: 'pt' },
  );
  return file;
}

/** f16 tops out at 65504: a finite activation that became inf would corrupt every probe silently. */
function checkHalfRange(hook: string, data: Float32Array, halves: Uint16Array, d: number): void {
  for (let i = 0; i < halves.length; i++) {
    if ((halves[i] & 0x7fff) === 0x7c00 && Number.isFinite(data[i])) {
      throw new UserError(
        `${hook}: value ${data[i]} at row ${Math.floor(i / d)}, column ${i % d} is beyond the f16 range (±65504); store as f32`,
      );
    }
  }
}

/**
 * Reads a layer file's `[n, d]` tensor named `hook` as f32 (F16 widened), checking its shape (when `n` / `d` are
 * given) and dtype; a UserError names the file on any mismatch.
 */
export async function readLayerFile(
  path: string,
  hook: string,
  n?: number,
  d?: number,
): Promise<Float32Array<ArrayBuffer>> {
  const file = await SafetensorsFile.open(path);
  try {
    const info = file.tensors.get(hook);
    if (!info) throw new UserError(`${path} holds no tensor named '${hook}'`);
    if (info.dtype !== 'F32' && info.dtype !== 'F16') {
      throw new UserError(`${path}: '${hook}' is ${info.dtype}; layer files hold F32 or F16`);
    }
    const [rows, cols] = info.shape;
    if (info.shape.length !== 2 || (n !== undefined && rows !== n) || (d !== undefined && cols !== d)) {
      throw new UserError(
        `${path}: '${hook}' has shape ${JSON.stringify(info.shape)}, expected [${n ?? 'n'}, ${d ?? 'd'}]`,
      );
    }
    return await file.readFloat32(hook);
  } finally {
    await file.close();
  }
}

// ---- reader ---------------------------------------------------------------------------------------------------

export interface ActivationStore {
  /** Absolute path of the store directory. */
  readonly dir: string;
  readonly manifest: StoreManifest;
  /** Full hook names with a layer file, in the order they were written. */
  readonly hookNames: readonly string[];
  /** Every entity row, in dataset order (one shared array: do not modify it). */
  entities(): Promise<StoreEntity[]>;
  /** n * targetNames.length targets, row-major. */
  targets(): Float64Array<ArrayBuffer>;
  /** 1 = test row. */
  isTest(): Uint8Array<ArrayBuffer>;
  /** One hook's `[n, d]` activations as f32 (row-major, F16 widened); one file read. */
  read(hook: string): Promise<Float32Array<ArrayBuffer>>;
  /** Rows [start, end) of one hook (`(end - start) * d` values): stream a large layer in bounded memory. */
  readRows(hook: string, start: number, end: number): Promise<Float32Array<ArrayBuffer>>;
  /** `read(blocks.{layer}.{suffix})`. */
  readLayer(layer: number, suffix?: string): Promise<Float32Array<ArrayBuffer>>;
  /** Path of a hook's layer file. */
  filePath(hook: string): string;
}

/**
 * Opens a store: validates the manifest (format version, fields, file names), every layer file's header (it exists,
 * is complete, and holds one `[n, d]` tensor named by its hook in the manifest's dtype), and entities.jsonl (n rows,
 * each with name, is_test and a target per target name). Layer data is read only on `read`.
 */
export async function openStore(dir: string): Promise<ActivationStore> {
  const root = resolve(dir);
  const manifestPath = join(root, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    throw new UserError(
      existsSync(root)
        ? `${root} is not an activation store (no ${MANIFEST_FILE})`
        : `store ${root} does not exist`,
    );
  }
  const manifest = parseManifest(text, manifestPath);
  for (const [hook, file] of Object.entries(manifest.files)) await checkLayerFile(root, hook, file, manifest);
  const entities = await readEntities(join(root, ENTITIES_FILE), manifest);
  const k = manifest.dataset.targetNames.length;
  const targets = new Float64Array(manifest.n * k);
  const isTest = new Uint8Array(manifest.n);
  entities.forEach((e, i) => {
    targets.set(e.target, i * k);
    isTest[i] = e.is_test ? 1 : 0;
  });
  const filePath = (hook: string) => {
    const file = manifest.files[hook];
    if (!file || !Object.hasOwn(manifest.files, hook)) {
      throw new UserError(
        `store ${root} has no hook '${hook}' (it has: ${Object.keys(manifest.files).join(', ')})`,
      );
    }
    return join(root, file);
  };
  const read = async (hook: string) => readLayerFile(filePath(hook), hook, manifest.n, manifest.d);
  return {
    dir: root,
    manifest,
    hookNames: Object.keys(manifest.files),
    entities: async () => entities,
    targets: () => targets.slice(),
    isTest: () => isTest.slice(),
    read,
    readRows: async (hook, start, end) => {
      const file = await SafetensorsFile.open(filePath(hook));
      try {
        return await file.readFloat32Rows(hook, start, end);
      } finally {
        await file.close();
      }
    },
    readLayer: (layer, suffix = 'hook_resid_post') => read(`blocks.${layer}.${suffix}`),
    filePath,
  };
}

/** A layer file must exist and hold one valid `[n, d]` tensor named by its hook, in the manifest's dtype. */
async function checkLayerFile(
  root: string,
  hook: string,
  file: string,
  manifest: StoreManifest,
): Promise<void> {
  const path = join(root, file);
  if (!existsSync(path))
    throw new UserError(`store ${root} is missing layer file ${file} (listed in ${MANIFEST_FILE})`);
  const st = await SafetensorsFile.open(path); // validates the header against the real file size
  try {
    const info = st.tensors.get(hook);
    const dtype = manifest.dtype === 'f16' ? 'F16' : 'F32';
    if (
      !info ||
      info.dtype !== dtype ||
      info.shape.length !== 2 ||
      info.shape[0] !== manifest.n ||
      info.shape[1] !== manifest.d
    ) {
      const found = info ? `${info.dtype} ${JSON.stringify(info.shape)}` : 'no such tensor';
      throw new UserError(
        `${path}: expected tensor '${hook}' ${dtype} [${manifest.n}, ${manifest.d}], found ${found}`,
      );
    }
  } finally {
    await st.close();
  }
}

async function readEntities(path: string, manifest: StoreManifest): Promise<StoreEntity[]> {
  if (!existsSync(path)) throw new UserError(`store ${dirname(path)} is missing ${ENTITIES_FILE}`);
  const k = manifest.dataset.targetNames.length;
  const rows: StoreEntity[] = [];
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    const where = `${path}:${lineNo}`;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new UserError(`${where}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row))
      throw new UserError(`${where}: not a JSON object`);
    const e = row as StoreEntity;
    if (typeof e.name !== 'string') throw new UserError(`${where}: 'name' is missing or not a string`);
    if (typeof e.is_test !== 'boolean')
      throw new UserError(`${where}: 'is_test' is missing or not true/false`);
    if (!Array.isArray(e.target) || e.target.length !== k || !e.target.every((t) => typeof t === 'number')) {
      throw new UserError(
        `${where}: 'target' must be ${k} number(s) (${manifest.dataset.targetNames.join(', ')})`,
      );
    }
    rows.push(e);
  }
  if (rows.length !== manifest.n) {
    throw new UserError(`${path} has ${rows.length} entities but the manifest says n = ${manifest.n}`);
  }
  return rows;
}

// ---- writer ---------------------------------------------------------------------------------------------------

export interface StoreWriter {
  /** The temp directory the store is built in (renamed to the final name by `finish`). */
  readonly tempDir: string;
  /** Writes one hook's `[n, d]` activations (f32; narrowed to f16 when the manifest says so). */
  write(hook: string, data: Float32Array, n: number, d: number): Promise<void>;
  /** Writes entities.jsonl and manifest.json, then renames the store into place; returns its path. */
  finish(): Promise<string>;
  /** Removes the temp directory; nothing appears under the final name. */
  abort(): Promise<void>;
}

export interface CreateStoreOptions {
  /** Replace an existing store at `dir` (a directory that is not a store is never replaced). */
  overwrite?: boolean;
}

/** Refuses to clobber: `dir` must not exist, or (with overwrite) be a store or an empty directory. */
function checkTarget(dir: string, overwrite: boolean): void {
  if (!existsSync(dir)) return;
  const isStore = existsSync(join(dir, MANIFEST_FILE));
  const empty = statSync(dir).isDirectory() && readdirSync(dir).length === 0;
  if (!overwrite && !empty) {
    throw new UserError(`${dir} already exists; choose another output or pass --overwrite to replace it`);
  }
  if (overwrite && !isStore && !empty) {
    throw new UserError(
      `${dir} exists and is not an activation store (no ${MANIFEST_FILE}); refusing to replace it`,
    );
  }
}

/**
 * Starts a store at `dir`. Everything is written into a temp directory next to it and renamed into place by
 * `finish()`, so a half-written store never appears under the final name. `entities` are the n rows in dataset
 * order (see `entitiesFromDataset`). The manifest is serialised by `finish()`, so `extra` may still be filled in
 * while layers are written.
 */
export function createStore(
  dir: string,
  manifest: StoreManifestInput,
  entities: readonly Record<string, unknown>[],
  options: CreateStoreOptions = {},
): StoreWriter {
  const target = resolve(dir);
  checkManifestInput(manifest);
  checkEntities(entities, manifest);
  checkTarget(target, options.overwrite ?? false);
  const tempDir = tempSibling(target);
  try {
    mkdirSync(dirname(target), { recursive: true });
    mkdirSync(tempDir);
  } catch (err) {
    throw new UserError(`cannot create store ${target}: ${(err as Error).message}`);
  }
  const files: Record<string, string> = {};
  let state: 'open' | 'finished' | 'aborted' = 'open';
  const pending = new Set<string>();

  const abort = async () => {
    if (state === 'open') state = 'aborted';
    await rm(tempDir, { recursive: true, force: true });
  };

  return {
    tempDir,
    async write(hook, data, n, d) {
      if (state !== 'open') throw new Error(`store ${target}: write after ${state}`);
      checkHookName(hook);
      if (n !== manifest.n || d !== manifest.d) {
        throw new TypeError(
          `store ${target}: ${hook} is [${n}, ${d}] but the manifest says [${manifest.n}, ${manifest.d}]`,
        );
      }
      if (Object.hasOwn(files, hook) || pending.has(hook))
        throw new TypeError(`store ${target}: ${hook} written twice`);
      pending.add(hook);
      try {
        files[hook] = await writeLayerFile(tempDir, hook, data, n, d, manifest.dtype);
      } finally {
        pending.delete(hook);
      }
    },
    async finish() {
      if (state !== 'open') throw new Error(`store ${target}: finish after ${state}`);
      if (pending.size)
        throw new Error(`store ${target}: finish while ${[...pending].join(', ')} is being written`);
      if (Object.keys(files).length === 0) throw new TypeError(`store ${target}: no layer was written`);
      state = 'finished';
      try {
        await writeLines(join(tempDir, ENTITIES_FILE), entities);
        const full: StoreManifest = { ...manifest, files };
        await writeLines(join(tempDir, MANIFEST_FILE), [full], 2);
        await moveIntoPlace(tempDir, target, options.overwrite ?? false);
      } catch (err) {
        await rm(tempDir, { recursive: true, force: true });
        throw err;
      }
      return target;
    },
    abort,
  };
}

function checkEntities(entities: readonly Record<string, unknown>[], manifest: StoreManifestInput): void {
  if (entities.length !== manifest.n) {
    throw new TypeError(`createStore: ${entities.length} entities for a manifest with n = ${manifest.n}`);
  }
  const k = manifest.dataset.targetNames.length;
  entities.forEach((e, i) => {
    const target = e['target'];
    if (
      typeof e['name'] !== 'string' ||
      typeof e['is_test'] !== 'boolean' ||
      !Array.isArray(target) ||
      target.length !== k ||
      !target.every((t) => typeof t === 'number' && Number.isFinite(t))
    ) {
      throw new TypeError(
        `createStore: entity ${i} needs name (string), is_test (boolean) and ${k} finite target(s)`,
      );
    }
  });
}

/** Writes JSON values one per line (or one pretty-printed value), fsynced, in bounded memory. */
async function writeLines(path: string, values: readonly unknown[], indent?: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    let buffer = '';
    for (const v of values) {
      buffer += JSON.stringify(v, null, indent) + '\n';
      if (buffer.length > 1 << 20) {
        await handle.write(buffer);
        buffer = '';
      }
    }
    await handle.write(buffer);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Renames the finished temp dir onto `target`; an old store being replaced is moved aside first, then removed. */
async function moveIntoPlace(tempDir: string, target: string, overwrite: boolean): Promise<void> {
  checkTarget(target, overwrite); // again: something may have appeared meanwhile
  if (!existsSync(target)) {
    await rename(tempDir, target);
    return;
  }
  const aside = join(dirname(target), `.${basename(target)}.old-${process.pid}-${Date.now()}`);
  renameSync(target, aside);
  try {
    await rename(tempDir, target);
  } catch (err) {
    renameSync(aside, target);
    throw err;
  }
  await rm(aside, { recursive: true, force: true });
}

/** Entity rows for a dataset: every raw column, then `name`, `is_test` and `target` (targetNames order). */
export function entitiesFromDataset(dataset: {
  n: number;
  names: string[];
  targets: Float64Array;
  targetNames: string[];
  isTest: Uint8Array;
  columns: Record<string, string[]>;
}): StoreEntity[] {
  const k = dataset.targetNames.length;
  const rows: StoreEntity[] = [];
  for (let i = 0; i < dataset.n; i++) {
    const row: Record<string, unknown> = {};
    for (const [col, values] of Object.entries(dataset.columns)) {
      Object.defineProperty(row, col, {
        value: values[i],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    row['name'] = dataset.names[i];
    row['is_test'] = dataset.isTest[i] === 1;
    row['target'] = Array.from(dataset.targets.subarray(i * k, i * k + k));
    rows.push(row as StoreEntity);
  }
  return rows;
}
