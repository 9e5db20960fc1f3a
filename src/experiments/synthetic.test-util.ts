/**
 * Synthetic layers and stores with planted answers, for the experiments' tests and benchmarks.
 * Everything is drawn from the seeded Rng, so a test's data never changes between runs.
 */
import { createStore, entitiesFromDataset, hookName } from '../store/index.js';
import { Rng } from '../util/rng.js';
import type { LayerData } from './layer-data.js';

export interface SyntheticPlacesOptions {
  blocks?: number;
  perBlock?: number;
  d?: number;
  /** Noise added to every activation. */
  noise?: number;
  /** Strength of a per-block random offset in activation space (memorised block identity, not geometry). */
  blockOffset?: number;
  /** Strength of the linear code of (lon, lat). */
  signal?: number;
  testFraction?: number;
  seed?: number;
  /** Extra group column: each row gets one of these types at random (for entity hold-outs). */
  types?: string[];
}

/**
 * Places in `blocks` clusters ("countries") spread over the globe; activations = a linear code of (lon, lat)
 * + optional per-block offsets + noise. With blockOffset 0 the representation is purely geometric, so a probe
 * fitted without a block still places it correctly; with a large offset and tiny signal it cannot.
 */
export function syntheticPlaces(options: SyntheticPlacesOptions = {}): LayerData {
  const blocks = options.blocks ?? 6;
  const perBlock = options.perBlock ?? 60;
  const d = options.d ?? 24;
  const rng = new Rng(options.seed ?? 0, 'synthetic-places');
  const n = blocks * perBlock;
  const code = Array.from({ length: 2 * d }, () => rng.normal());
  const offsets = Array.from({ length: blocks * d }, () => rng.normal() * (options.blockOffset ?? 0));
  const centres = Array.from({ length: blocks }, (_, b) => [
    -150 + (300 * (b + 0.5)) / blocks + rng.normal() * 5,
    -50 + rng.uniform() * 100,
  ]);
  const x = new Float32Array(n * d);
  const targets = new Float64Array(n * 2);
  const isTest = new Uint8Array(n);
  const block: string[] = [];
  const type: string[] = [];
  const names: string[] = [];
  const signal = options.signal ?? 1;
  for (let i = 0; i < n; i++) {
    const b = Math.floor(i / perBlock);
    const lon = centres[b]![0]! + rng.normal() * 4;
    const lat = Math.max(-85, Math.min(85, centres[b]![1]! + rng.normal() * 4));
    targets[i * 2] = lon;
    targets[i * 2 + 1] = lat;
    for (let j = 0; j < d; j++) {
      x[i * d + j] =
        signal * ((lon / 90) * code[j]! + (lat / 45) * code[d + j]!) +
        offsets[b * d + j]! +
        rng.normal() * (options.noise ?? 0.05);
    }
    isTest[i] = rng.uniform() < (options.testFraction ?? 0.2) ? 1 : 0;
    block.push(`B${b}`);
    type.push(options.types ? options.types[rng.int(options.types.length)]! : 'place');
    names.push(`place ${i}`);
  }
  return {
    model: 'synthetic',
    dataset: 'synthetic_places',
    prompt: 'empty',
    hook: 'hook_resid_post',
    layer: 0,
    kind: 'space',
    targetNames: ['longitude', 'latitude'],
    n,
    d,
    t: 2,
    x,
    targets,
    isTest,
    names,
    columns: { block, entity_type: type, name: names },
  };
}

/** A time dataset: year in [1000, 2000), activations = linear code of the year (+ a planted transform). */
export function syntheticYears(
  options: {
    n?: number;
    d?: number;
    noise?: number;
    seed?: number;
    transform?: (year: number) => number;
  } = {},
): LayerData {
  const n = options.n ?? 400;
  const d = options.d ?? 16;
  const rng = new Rng(options.seed ?? 0, 'synthetic-years');
  const code = Array.from({ length: d }, () => rng.normal());
  const x = new Float32Array(n * d);
  const targets = new Float64Array(n);
  const isTest = new Uint8Array(n);
  const century: string[] = [];
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const year = 1000 + rng.uniform() * 1000;
    targets[i] = year;
    const feature = options.transform ? options.transform(year) : (year - 1500) / 300;
    for (let j = 0; j < d; j++) x[i * d + j] = feature * code[j]! + rng.normal() * (options.noise ?? 0.05);
    isTest[i] = rng.uniform() < 0.2 ? 1 : 0;
    century.push(String(Math.floor(year / 100) * 100));
    names.push(`event ${i}`);
  }
  return {
    model: 'synthetic',
    dataset: 'synthetic_years',
    prompt: 'empty',
    hook: 'hook_resid_post',
    layer: 0,
    kind: 'time',
    targetNames: ['year'],
    n,
    d,
    t: 1,
    x,
    targets,
    isTest,
    names,
    columns: { century, name: names },
  };
}

/** Writes layers (each an n×d array) of one LayerData-shaped dataset as a store; returns its directory. */
export async function writeSyntheticStore(
  dir: string,
  base: LayerData,
  layers: Float32Array[],
  options: {
    model?: string;
    prompt?: string;
    datasetSha?: string;
    hook?: string;
    extra?: Record<string, unknown>;
  } = {},
): Promise<string> {
  const hook = options.hook ?? 'hook_resid_post';
  const w = createStore(
    dir,
    {
      formatVersion: 1,
      model: { id: options.model ?? base.model },
      dataset: {
        name: base.dataset,
        sha256: options.datasetSha ?? '0'.repeat(64),
        kind: base.kind,
        targetNames: base.targetNames,
      },
      prompt: { name: options.prompt ?? base.prompt },
      hooks: [hook],
      layers: layers.map((_, l) => l),
      dtype: 'f32',
      n: base.n,
      d: base.d,
      aggregation: 'last',
      toolVersion: 'test',
      createdAt: '2026-01-01T00:00:00.000Z',
      ...(options.extra && { extra: options.extra }),
    },
    entitiesFromDataset(base),
  );
  for (const [l, x] of layers.entries()) await w.write(hookName(l, hook), x, base.n, base.d);
  return w.finish();
}
