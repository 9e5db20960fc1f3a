import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadDataset, subsetDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { assembleStore, type SegmentSource } from './assemble.js';
import type { ExtractDtype } from './spec.js';

/** The part of a shard store's manifest that `extract` writes under extra.extractor. */
interface ExtractorExtra {
  seed?: number;
  batchSize?: number;
  paperCompat?: boolean;
  requestedDtype?: ExtractDtype;
  pendingQuantization?: 'int8';
  rows?: { start: number; end: number; of: number; datasetRows: number };
  [k: string]: unknown;
}

export interface MergeOptions {
  /** Shard stores (any order). */
  inputs: string[];
  out: string;
  /** Where to find the dataset when its manifest name is a custom file path that moved (default: the manifest's). */
  dataset?: string | EntityDataset;
  overwrite?: boolean;
}

export interface MergeResult {
  store: string;
  n: number;
  shards: number;
}

/** Where the shards found their dataset: the recorded source if it still exists, else the registry name. */
function datasetSourceOf(ex: ExtractorExtra, name: string): string {
  const src = ex['datasetSource'];
  return typeof src === 'string' && (existsSync(src) || !src.includes('/')) ? src : name;
}

type OpenedStore = Awaited<ReturnType<typeof openStore>>;

function describe(v: unknown): string {
  return JSON.stringify(v) ?? 'undefined';
}

/**
 * Merges the shard stores of one extraction (written by `extract --shard i/N` or an array job) into one store.
 * Checks that they belong together (same model and config hash, dataset and its SHA-256, prompt, hooks, layers,
 * dtype, aggregation, seed, batch size) and cover the rows exactly once, then writes the store with the same code
 * as a single-process run, so its layer files are byte-identical to one.
 */
export async function mergeStores(options: MergeOptions): Promise<MergeResult> {
  if (options.inputs.length === 0) throw new UserError('merge: no input stores given');
  const stores: { path: string; store: OpenedStore; ex: ExtractorExtra }[] = [];
  for (const input of options.inputs) {
    const store = await openStore(resolve(input));
    const ex = ((store.manifest.extra ?? {}) as Record<string, unknown>)['extractor'] as
      | ExtractorExtra
      | undefined;
    if (!ex?.rows) {
      throw new UserError(
        `merge: ${input} was not written by 'spacetime-lens extract' (no row range in its manifest)`,
      );
    }
    stores.push({ path: input, store, ex });
  }
  const first = stores[0]!;
  const identity = (s: (typeof stores)[number]) => {
    const m = s.store.manifest;
    return {
      model: m.model.id,
      configHash: m.model.configHash,
      dataset: m.dataset.name,
      datasetSha256: m.dataset.sha256,
      prompt: m.prompt.name,
      hooks: m.hooks,
      layers: m.layers,
      dtype: m.dtype,
      d: m.d,
      aggregation: m.aggregation,
      seed: s.ex.seed,
      batchSize: s.ex.batchSize,
      paperCompat: s.ex.paperCompat,
      requestedDtype: s.ex.requestedDtype,
      rowsOf: s.ex.rows?.of,
      cacheKey: (m.extra as Record<string, unknown> | undefined)?.['cacheKey'],
    };
  };
  const ref = identity(first);
  for (const s of stores.slice(1)) {
    const id = identity(s);
    for (const k of Object.keys(ref) as (keyof typeof ref)[]) {
      if (describe(ref[k]) !== describe(id[k])) {
        throw new UserError(
          `merge: ${s.path} does not belong with ${first.path}: ${k} is ${describe(id[k])} there but ${describe(ref[k])} here`,
        );
      }
    }
  }

  // Coverage: sorted row ranges must tile [0, of) with no gap and no overlap.
  const total = first.ex.rows!.of;
  const sorted = [...stores].sort((a, b) => a.ex.rows!.start - b.ex.rows!.start);
  let at = 0;
  for (const s of sorted) {
    const { start, end } = s.ex.rows!;
    if (start < at)
      throw new UserError(
        `merge: ${s.path} (rows ${start}..${end - 1}) overlaps another shard (rows up to ${at - 1})`,
      );
    if (start > at) throw new UserError(`merge: rows ${at}..${start - 1} are missing (no shard covers them)`);
    if (s.store.manifest.n !== end - start) {
      throw new UserError(
        `merge: ${s.path} claims rows ${start}..${end - 1} but holds ${s.store.manifest.n}`,
      );
    }
    at = end;
  }
  if (at !== total) throw new UserError(`merge: rows ${at}..${total - 1} are missing (no shard covers them)`);

  const m = first.store.manifest;
  const fullDataset =
    typeof options.dataset === 'object'
      ? options.dataset
      : await loadDataset(options.dataset ?? datasetSourceOf(first.ex, m.dataset.name));
  if (fullDataset.source.sha256 !== m.dataset.sha256) {
    throw new UserError(
      `merge: dataset ${fullDataset.name} (${fullDataset.source.path}) has SHA-256 ${fullDataset.source.sha256}, but the shards ` +
        `were extracted from ${m.dataset.sha256}`,
    );
  }
  // A --sample extraction's shards tile the sampled rows (recorded in the manifest), not the file's first rows.
  const sampled = first.ex['sampledRows'];
  const dataset = Array.isArray(sampled) ? subsetDataset(fullDataset, sampled as number[]) : fullDataset;
  const d = m.d;
  const segments: SegmentSource[] = sorted.map((s) => ({
    start: s.ex.rows!.start,
    end: s.ex.rows!.end,
    values: (hook: string) => s.store.read(hook),
    tokens: async () => {
      const entities = (await s.store.entities()) as unknown as Record<string, unknown>[];
      return {
        inputIds: entities.map((e) => e['input_ids'] as number[]),
        positions: entities.map((e) => e['position'] as number),
        entitySpans: entities.map((e) => e['entity_tokens'] as [number, number]),
      };
    },
  }));
  const hooks = Object.keys(m.files);
  const ex = { ...first.ex };
  const dtype: ExtractDtype = ex.pendingQuantization === 'int8' ? 'int8' : m.dtype;
  delete ex.pendingQuantization;
  ex.rows = { start: 0, end: total, of: total, datasetRows: ex.rows!.datasetRows };
  const createdAt = stores.map((s) => s.store.manifest.createdAt).sort()[0]!;
  const extra = { ...(m.extra ?? {}), extractor: { ...ex, mergedFrom: stores.length } };
  delete (extra as Record<string, unknown>)['quantization'];
  await assembleStore({
    dir: resolve(options.out),
    dataset,
    segments,
    hooks,
    d,
    rowStart: 0,
    rowEnd: total,
    dtype,
    manifest: {
      model: m.model,
      prompt: m.prompt.name,
      ...(m.prompt.text !== undefined ? { promptText: m.prompt.text } : {}),
      layers: m.layers,
      hookSuffixes: m.hooks,
      aggregation: m.aggregation,
      createdAt,
      extra,
    },
    ...(options.overwrite ? { overwrite: true } : {}),
  });
  return { store: resolve(options.out), n: total, shards: stores.length };
}
