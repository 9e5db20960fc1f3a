/**
 * Cache keys: everything that decides a cached artefact's content, in one place. `extract` writes the store key
 * into the manifest (extra.cacheKey) and builds its resume job key from it; the pipeline (`run`, `paper`) computes
 * the key a command would produce and reuses a store, probe or experiment result only when the whole key matches.
 * Bump a *_MATHS version when a change to the maths changes what is computed from the same settings.
 */
import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  describeSelection,
  type EntityDataset,
  getPrompt,
  type RowSelection,
  rowSelection,
  type SelectedRows,
  selectRows,
} from '../data/index.js';
import {
  type CheckpointIdentity,
  checkpointIdentity,
  inspectCheckpoint,
  sourceOptions,
} from '../model/index.js';
import { hookName, parseHooks, parseLayers } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { hashJson, sha256Hex } from '../util/hash.js';
import type { ExtractionModel } from './batch.js';
import type { Aggregation, ExtractDtype } from './spec.js';
import { isStaticModel } from './static-route.js';

/** Version of the extraction maths (token choice, hooks, quantisation): part of every store key. */
export const EXTRACT_MATHS = 1;
/** Version of the probe maths (ridge, LOO, metrics): part of every probe key. */
export const PROBE_MATHS = 1;
/** Version of the experiment maths: part of every experiment key. */
export const EXPERIMENT_MATHS = 1;

export type StaticIdentity = { static: string; size?: number; edgesSha256?: string };

export interface StoreKey {
  keyFormat: 'spacetime-lens/store-key@1';
  extractMaths: number;
  checkpoint: CheckpointIdentity | StaticIdentity | { configSha256: string } | RandomInitIdentity;
  dataset: string;
  datasetSha256: string;
  prompt: string;
  promptText: string;
  rows: RowSelection & { n: number; sha256: string };
  layers: number[];
  hooks: string[];
  dtype: ExtractDtype;
  aggregate: Aggregation;
  paperCompat: boolean;
  /** Seed of the random-token prompt (null for prompts without random tokens: it changes nothing there). */
  randomTokenSeed: number | null;
}

/** The random-init twin: named by the config it was built from and its seed, never by the weights beside it. */
export interface RandomInitIdentity {
  control: 'random-init';
  configSha256: string;
  seed: number;
}

export function randomInitIdentity(config: Record<string, unknown>, seed: number): RandomInitIdentity {
  return { control: 'random-init', configSha256: hashJson(config), seed };
}

/** The settings that go into a store key, as ExtractOptions names them. */
export interface KeySettings {
  model: string;
  prompt: string;
  layers?: string | number[];
  hooks?: string | string[];
  aggregate?: Aggregation;
  dtype?: ExtractDtype;
  limit?: number;
  sample?: number;
  seed?: number;
  paperCompat?: boolean;
  revision?: string;
  offline?: boolean;
  cacheDir?: string;
  loadedModel?: ExtractionModel;
}

/** Validated extraction settings (layers resolved against the model's depth). */
export interface ResolvedSettings {
  layers: number[];
  hookSuffixes: string[];
  dtype: ExtractDtype;
  aggregate: Aggregation;
  paperCompat: boolean;
  seed: number;
}

/** Checks and resolves layers, hooks, dtype and aggregation (the errors name the flag). */
export function resolveSettings(o: KeySettings, nLayers: number): ResolvedSettings {
  const layers = parseLayers(Array.isArray(o.layers) ? o.layers.join(',') : (o.layers ?? 'all'), nLayers);
  const hookSuffixes = parseHooks(Array.isArray(o.hooks) ? o.hooks.join(',') : (o.hooks ?? 'resid_post'));
  const paperCompat = o.paperCompat ?? false;
  if (paperCompat && o.dtype && o.dtype !== 'int8') {
    throw new UserError(
      `--paper-compat stores 8-bit activations; it cannot be combined with --dtype ${o.dtype}`,
    );
  }
  const aggregate = o.aggregate ?? 'last';
  if (paperCompat && aggregate !== 'last') {
    throw new UserError(
      "--paper-compat reproduces the authors' HF path, which only keeps the last token; drop --aggregate mean",
    );
  }
  const dtype: ExtractDtype = paperCompat ? 'int8' : (o.dtype ?? 'f32');
  return { layers, hookSuffixes, dtype, aggregate, paperCompat, seed: o.seed ?? 0 };
}

/** The rows --limit / --sample / --seed select. */
export function selectFor(
  dataset: EntityDataset,
  o: { limit?: number; sample?: number; seed?: number },
): SelectedRows {
  return selectRows(dataset, rowSelection(o));
}

/** The store key from its parts (shared by extract and the pipeline, so both always agree). */
export function storeKeyOf(
  checkpoint: StoreKey['checkpoint'],
  dataset: EntityDataset,
  prompt: string,
  selected: SelectedRows,
  s: ResolvedSettings,
): StoreKey {
  const variant = getPrompt(dataset, prompt);
  const usesSeed = variant.randomTokens > 0;
  return {
    keyFormat: 'spacetime-lens/store-key@1',
    extractMaths: EXTRACT_MATHS,
    checkpoint,
    dataset: dataset.name,
    datasetSha256: dataset.source.sha256,
    prompt,
    promptText: variant.prefix,
    rows: { ...selected.selection, n: selected.rows.length, sha256: selected.rowsSha256 },
    layers: s.layers,
    hooks: s.hookSuffixes,
    dtype: s.dtype,
    aggregate: s.aggregate,
    paperCompat: s.paperCompat,
    randomTokenSeed: usesSeed ? s.seed : null,
  };
}

/** The key of a static word-vector store: the vectors and the rows only (no layers, hooks or dtype to choose). */
export async function staticStoreKey(
  model: string,
  dataset: EntityDataset,
  prompt: string,
  selected: SelectedRows,
): Promise<StoreKey> {
  return storeKeyOf(await staticIdentity(model), dataset, prompt, selected, {
    layers: [0],
    hookSuffixes: ['hook_resid_post'],
    dtype: 'f32',
    aggregate: 'mean',
    paperCompat: false,
    seed: 0,
  });
}

/** A static vector file: its name, size and first/last 64 KiB (the built-in name is a fixed published file). */
async function staticIdentity(model: string): Promise<StaticIdentity> {
  // surface:KIND[:RANK][@TOKENIZER] is named by its spec (the kind, rank and tokenizer decide the features).
  const file = model.startsWith('static:') ? model.slice('static:'.length) : '';
  if (!file || !existsSync(file)) return { static: model };
  const { size } = await stat(file);
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(65536, size));
    await handle.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(65536, size));
    await handle.read(tail, 0, tail.length, size - tail.length);
    return { static: basename(file), size, edgesSha256: sha256Hex(Buffer.concat([head, tail])) };
  } finally {
    await handle.close();
  }
}

/** The identity of a loaded model (its checkpoint directory when it has one, else its config alone). */
export async function loadedModelIdentity(
  model: ExtractionModel,
  source: string,
  revision?: string,
): Promise<StoreKey['checkpoint']> {
  const dir = model.source?.dir;
  return dir ? checkpointIdentity(dir, source, revision) : { configSha256: hashJson(model.config) };
}

/**
 * The key the store of these settings has, computed without running the model: static vectors, a loaded model,
 * or a checkpoint opened for its headers only.
 */
export async function expectedStoreKey(
  o: KeySettings,
  dataset: EntityDataset,
): Promise<{ key: StoreKey; selected: SelectedRows }> {
  const selected = selectFor(dataset, o);
  if (isStaticModel(o.model))
    return { key: await staticStoreKey(o.model, dataset, o.prompt, selected), selected };
  if (o.loadedModel) {
    const settings = resolveSettings(o, o.loadedModel.spec.nLayers);
    const id = await loadedModelIdentity(o.loadedModel, o.model, o.revision);
    return { key: storeKeyOf(id, dataset, o.prompt, selected, settings), selected };
  }
  const { dir, checkpoint, spec } = await inspectCheckpoint(o.model, sourceOptions(o));
  try {
    const settings = resolveSettings(o, spec.nLayers);
    return {
      key: storeKeyOf(
        await checkpointIdentity(dir, o.model, o.revision),
        dataset,
        o.prompt,
        selected,
        settings,
      ),
      selected,
    };
  } finally {
    await checkpoint.close();
  }
}

/** Store hook names for layers x hook suffixes, layer-major. */
export function storeHookNames(layers: number[], suffixes: string[]): string[] {
  return layers.flatMap((l) => suffixes.map((s) => hookName(l, s)));
}

/** Which flag changes each key field (for error messages). */
const FLAG_OF: Record<string, string> = {
  keyFormat: 'the spacetime-lens version',
  extractMaths: 'the spacetime-lens version',
  probeMaths: 'the spacetime-lens version',
  experimentMaths: 'the spacetime-lens version',
  checkpoint: '--model / --revision',
  dataset: '--dataset',
  datasetSha256: '--dataset',
  prompt: '--prompt',
  promptText: '--prompt',
  rows: '--limit / --sample / --seed',
  layers: '--layers',
  hooks: '--hooks',
  dtype: '--dtype',
  aggregate: '--aggregate',
  paperCompat: '--paper-compat',
  randomTokenSeed: '--seed',
  store: 'the store settings',
  stores: 'the store settings',
  // resume job keys (src/extract/work.ts) add these
  model: '--model',
  configHash: '--model',
  bos: '--model',
  seed: '--seed',
  toolVersion: 'the spacetime-lens version',
};

export interface KeyDifference {
  field: string;
  flag: string;
  stored: string;
  wanted: string;
}

function show(field: string, v: unknown): string {
  if (v === undefined) return '(none)';
  if (field === 'rows' && v && typeof v === 'object') return describeSelection(v as RowSelection);
  if (field === 'checkpoint') return `checkpoint ${hashJson(v).slice(0, 8)}`;
  if (field === 'datasetSha256' && typeof v === 'string') return `sha256 ${v.slice(0, 12)}`;
  const text = JSON.stringify(v) ?? 'undefined';
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Top-level fields where two keys differ (empty = same key); nested settings compare as whole values. */
export function keyDifferences(
  stored: Record<string, unknown>,
  wanted: Record<string, unknown>,
  flags: Record<string, string> = {},
): KeyDifference[] {
  const names = [...new Set([...Object.keys(stored), ...Object.keys(wanted)])].sort();
  return names
    .filter((f) => hashJson(stored[f] ?? null) !== hashJson(wanted[f] ?? null))
    .map((field) => ({
      field,
      flag: flags[field] ?? FLAG_OF[field] ?? `--${field}`,
      stored: show(field, stored[field]),
      wanted: show(field, wanted[field]),
    }));
}

/** One line naming what differs and the flag that changes it. */
export function mismatchMessage(what: string, diffs: KeyDifference[], remedy: string): string {
  const parts = diffs.map((d) => `${d.field} ${d.stored} there, ${d.wanted} now (${d.flag})`);
  return `${what} was made with other settings: ${parts.join('; ')}; ${remedy}`;
}

/** The cache key recorded in a store manifest, or undefined for a store written before keys were recorded. */
export function manifestKey(extra: Record<string, unknown> | undefined): StoreKey | undefined {
  const key = extra?.['cacheKey'];
  return key && typeof key === 'object' ? (key as StoreKey) : undefined;
}

/** A short hash of a key, for folder names (`coords-1a2b3c4d`). */
export function shortKeyHash(key: unknown): string {
  return hashJson(key).slice(0, 8);
}
