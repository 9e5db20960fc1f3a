import { existsSync } from 'node:fs';
import { cachedDatasetPath } from './load.js';
import { DATASETS, NOTEBOOK_ROW_COUNTS, PAPER_DATASET_NAMES } from './registry.js';
import type { EntityDataset } from './types.js';
import { WORLD_CITIES } from './world-cities.js';

export interface TargetSummary {
  name: string;
  min: number;
  max: number;
  mean: number;
  std: number;
}

export interface DatasetSummary {
  name: string;
  kind: 'space' | 'time';
  source: { path: string; sha256: string };
  columns: string[];
  n: number;
  nTrain: number;
  nTest: number;
  testFraction: number;
  targets: TargetSummary[];
  entityTypeColumn?: string;
  entityTypeCounts: [string, number][];
  blockColumn?: string;
  blockCounts: [string, number][];
  warnings: string[];
  dropped: Record<string, number>;
}

function counts(values: string[] | undefined): [string, number][] {
  if (!values) return [];
  const m = new Map<string, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

/** Schema, split sizes, target statistics (population std) and group counts of a loaded dataset. */
export function summarizeDataset(ds: EntityDataset): DatasetSummary {
  const width = ds.targetNames.length;
  const targets = ds.targetNames.map((name, k) => {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    let sum = 0;
    for (let r = 0; r < ds.n; r++) {
      const v = ds.targets[r * width + k];
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    const mean = sum / ds.n;
    let ss = 0;
    for (let r = 0; r < ds.n; r++) ss += (ds.targets[r * width + k] - mean) ** 2;
    return { name, min, max, mean, std: Math.sqrt(ss / ds.n) };
  });
  let nTest = 0;
  for (const t of ds.isTest) nTest += t;
  return {
    name: ds.name,
    kind: ds.kind,
    source: ds.source,
    columns: Object.keys(ds.columns),
    n: ds.n,
    nTrain: ds.n - nTest,
    nTest,
    testFraction: nTest / ds.n,
    targets,
    entityTypeColumn: ds.entityTypeColumn,
    entityTypeCounts: counts(ds.entityTypeColumn ? ds.columns[ds.entityTypeColumn] : undefined),
    blockColumn: ds.blockColumn,
    blockCounts: counts(ds.blockColumn ? ds.columns[ds.blockColumn] : undefined),
    warnings: ds.warnings,
    dropped: ds.dropped,
  };
}

export interface RegistryEntry {
  name: string;
  kind: 'space' | 'time';
  target: string;
  /** Published rows (docs/method.md#datasets). */
  rows?: number;
  entityTypes: string;
  cached: boolean;
  verified: 'sha256' | 'unverified' | 'built offline';
  path?: string;
}

/** One line per known dataset: the paper's six plus world_cities, with cache status. */
export function listDatasets(dir?: string): RegistryEntry[] {
  const entries: RegistryEntry[] = PAPER_DATASET_NAMES.map((name) => {
    const spec = DATASETS[name];
    const path = cachedDatasetPath(name, dir);
    const t = spec.target;
    return {
      name,
      kind: spec.kind,
      target:
        t.type === 'coords'
          ? 'longitude, latitude'
          : t.type === 'date'
            ? `${t.column} -> years since 1970`
            : t.column,
      rows: spec.rows ?? NOTEBOOK_ROW_COUNTS[name],
      entityTypes: spec.entityTypes ? spec.entityTypes.join(', ') : `${spec.entityTypeColumn} (many)`,
      cached: existsSync(path),
      verified: spec.sha256 ? 'sha256' : 'unverified',
      path,
    };
  });
  entries.push({
    name: WORLD_CITIES,
    kind: 'space',
    target: 'longitude, latitude',
    entityTypes: 'capital, admin_seat, populated_place',
    cached: true,
    verified: 'built offline',
  });
  return entries;
}
