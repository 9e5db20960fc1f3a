/**
 * Import: activations computed elsewhere (NumPy .npy or safetensors, one `[n, d]` array per layer, rows in dataset
 * order) become an activation store, so every later stage (probes, experiments, report) can use them.
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { canonicalPrompt, getPrompt, loadDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { readNpy } from '../formats/npy.js';
import { SafetensorsFile } from '../formats/safetensors.js';
import { readTorchFile } from '../formats/torch.js';
import { UserError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { hookName } from './hooks.js';
import { createStore, entitiesFromDataset } from './store.js';

/** Short hook names, as `extract --hooks` takes them, -> TransformerLens per-layer hook suffixes. */
const HOOK_SUFFIXES: Readonly<Record<string, string>> = {
  resid_post: 'hook_resid_post',
  resid_pre: 'hook_resid_pre',
  resid_mid: 'hook_resid_mid',
  mlp_post: 'mlp.hook_post',
};

/** `resid_post` or `hook_resid_post` -> `hook_resid_post` (a UserError lists the choices otherwise). */
export function hookSuffix(name: string): string {
  const suffix = HOOK_SUFFIXES[name] ?? (Object.values(HOOK_SUFFIXES).includes(name) ? name : undefined);
  if (!suffix)
    throw new UserError(`unknown hook '${name}' (choose from ${Object.keys(HOOK_SUFFIXES).join(', ')})`);
  return suffix;
}

export interface ImportArray {
  layer: number;
  /** A .npy file or a .safetensors file. */
  path: string;
  /** The tensor to take from a safetensors file (default: its only tensor, or the one named by the hook). */
  tensor?: string;
}

export interface ImportOptions {
  /** A dataset name or file (as `loadDataset` takes it), or a loaded dataset. */
  dataset: string | EntityDataset;
  arrays: ImportArray[];
  /** Per-layer hook (`resid_post`, `hook_resid_post`, `mlp_post`, ...); default resid_post. */
  hook?: string;
  /** Prompt variant the activations were computed with (default: the dataset's canonical prompt). */
  prompt?: string;
  /** The prompt's text, when it is not one of the dataset's variants. */
  promptText?: string;
  /** The model the activations came from (default 'unknown'). */
  model?: string;
  aggregation?: 'last' | 'mean';
  dtype?: 'f32' | 'f16';
  out: string;
  overwrite?: boolean;
}

export interface ImportResult {
  store: string;
  n: number;
  d: number;
  hooks: string[];
}

export interface ActivationArray {
  rows: number;
  cols: number;
  data: Float32Array;
  /** Set when the file held quantised values (PyTorch quint8), which were dequantised. */
  dequantised?: string;
}

/** A 2-D tensor from a torch.save file (the authors' per-layer activation files are per-channel quint8). */
async function readTorchArray(path: string, tensor?: string): Promise<ActivationArray> {
  const tensors = await readTorchFile(path);
  const names = [...tensors.keys()];
  const name = tensor ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined) {
    throw new UserError(
      `${path} holds ${names.length} tensors (${names.join(', ')}); pick one with --tensor NAME`,
    );
  }
  const t = tensors.get(name);
  if (!t)
    throw new UserError(
      `${path} has no tensor '${name}' (it has: ${names.join(', ') || 'one unnamed tensor'})`,
    );
  if (t.shape.length !== 2) {
    throw new UserError(
      `${path}: tensor has shape ${JSON.stringify(t.shape)}; import needs a 2-D [entities, width] array`,
    );
  }
  return {
    rows: t.shape[0],
    cols: t.shape[1],
    data: t.data,
    ...(t.quantization ? { dequantised: `${t.quantization} ${t.dtype}` } : {}),
  };
}

/** Reads one 2-D array as f32, with clear errors for anything else. */
export async function readActivationArray(
  path: string,
  tensor?: string,
  preferredName?: string,
): Promise<ActivationArray> {
  const ext = extname(path).toLowerCase();
  if (ext === '.npy') {
    if (tensor) throw new UserError(`--tensor applies to safetensors files, not ${path}`);
    const arr = await readNpy(path);
    if (arr.shape.length !== 2) {
      throw new UserError(
        `${path} has shape ${JSON.stringify(arr.shape)}; import needs a 2-D [entities, width] array`,
      );
    }
    const data = arr.data instanceof Float32Array ? arr.data : Float32Array.from(arr.data);
    return { rows: arr.shape[0], cols: arr.shape[1], data };
  }
  if (ext === '.pt' || ext === '.pth') return readTorchArray(path, tensor);
  if (ext !== '.safetensors') throw new UserError(`${path}: import reads .npy, .safetensors or .pt files`);
  const file = await SafetensorsFile.open(path);
  try {
    const names = [...file.tensors.keys()];
    const name =
      tensor ??
      (names.length === 1
        ? names[0]
        : preferredName && file.tensors.has(preferredName)
          ? preferredName
          : undefined);
    if (name === undefined) {
      throw new UserError(
        `${path} holds ${names.length} tensors (${names.join(', ') || 'none'}); pick one with --tensor NAME`,
      );
    }
    const info = file.info(name);
    if (info.shape.length !== 2) {
      throw new UserError(
        `${path}: tensor '${name}' has shape ${JSON.stringify(info.shape)}; import needs a 2-D [entities, width] array`,
      );
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
      throw new UserError(
        `${path}: tensor '${name}' is ${info.dtype}; import needs floating-point activations`,
      );
    }
    return { rows: info.shape[0], cols: info.shape[1], data: await file.readFloat32(name) };
  } finally {
    await file.close();
  }
}

function checkFinite(path: string, data: Float32Array, cols: number): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new UserError(
        `${path}: non-finite value ${data[i]} at row ${Math.floor(i / cols)}, column ${i % cols}`,
      );
    }
  }
}

/** Builds a store from externally computed activations; rows must be in the dataset's order. */
export async function importActivations(options: ImportOptions): Promise<ImportResult> {
  if (options.arrays.length === 0)
    throw new UserError('import: give at least one --layer L --array FILE pair');
  const dataset = typeof options.dataset === 'string' ? await loadDataset(options.dataset) : options.dataset;
  const suffix = hookSuffix(options.hook ?? 'resid_post');
  const hooks = options.arrays.map((a) => {
    if (!Number.isSafeInteger(a.layer) || a.layer < 0)
      throw new UserError(`import: layer ${a.layer} is not a layer index`);
    return hookName(a.layer, suffix);
  });
  const seen = new Set<number>();
  for (const a of options.arrays) {
    if (seen.has(a.layer)) throw new UserError(`import: layer ${a.layer} is given twice`);
    seen.add(a.layer);
  }

  const promptName = options.prompt ?? canonicalPrompt(dataset);
  let promptText = options.promptText;
  if (promptText === undefined) {
    try {
      promptText = getPrompt(dataset, promptName).prefix;
    } catch {
      throw new UserError(
        `import: prompt '${promptName}' is not a variant of ${dataset.name}; give its text with --prompt-text`,
      );
    }
  }

  // The first array fixes d; each is checked against the dataset before anything is written.
  const first = await readActivationArray(options.arrays[0].path, options.arrays[0].tensor, hooks[0]);
  const d = first.cols;
  const check = (path: string, rows: number, cols: number) => {
    if (rows !== dataset.n) {
      throw new UserError(
        `${path} has ${rows} rows but dataset ${dataset.name} has ${dataset.n} entities (rows must be the dataset's rows, in order)`,
      );
    }
    if (cols !== d) throw new UserError(`${path} has width ${cols} but ${options.arrays[0].path} has ${d}`);
  };
  check(options.arrays[0].path, first.rows, first.cols);
  checkFinite(options.arrays[0].path, first.data, d);

  // Where each layer came from; filled in as arrays are read (the manifest is serialised by finish()).
  const importedFrom: Record<string, unknown>[] = options.arrays.map((a) => ({
    layer: a.layer,
    path: resolve(a.path),
    ...(a.tensor ? { tensor: a.tensor } : {}),
  }));
  if (first.dequantised) importedFrom[0]['dequantised'] = first.dequantised;

  const out = resolve(options.out);
  const writer = createStore(
    out,
    {
      formatVersion: 1,
      model: { id: options.model ?? 'unknown' },
      dataset: {
        name: dataset.name,
        sha256: dataset.source.sha256,
        kind: dataset.kind,
        targetNames: dataset.targetNames,
      },
      prompt: { name: promptName, text: promptText },
      hooks: [suffix],
      layers: options.arrays.map((a) => a.layer),
      dtype: options.dtype ?? 'f32',
      n: dataset.n,
      d,
      aggregation: options.aggregation ?? 'last',
      toolVersion: VERSION,
      createdAt: new Date().toISOString(),
      extra: {
        importedFrom,
        datasetSource: existsSync(dataset.source.path) ? resolve(dataset.source.path) : dataset.source.path,
      },
    },
    entitiesFromDataset(dataset),
    { overwrite: options.overwrite ?? false },
  );
  try {
    await writer.write(hooks[0], first.data, dataset.n, d);
    for (let i = 1; i < options.arrays.length; i++) {
      const a = options.arrays[i];
      const arr = await readActivationArray(a.path, a.tensor, hooks[i]);
      check(a.path, arr.rows, arr.cols);
      checkFinite(a.path, arr.data, d);
      if (arr.dequantised) importedFrom[i]['dequantised'] = arr.dequantised;
      await writer.write(hooks[i], arr.data, dataset.n, d);
    }
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return { store: out, n: dataset.n, d, hooks };
}
