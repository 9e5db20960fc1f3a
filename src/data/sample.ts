/**
 * Row selection for quick looks: `--limit N` (the first N rows, as in the file) or `--sample N [--seed S]` (N rows
 * stratified by entity type and train/test split). The paper's CSVs are sorted by entity type, so the first rows
 * are all one type; a sample keeps every type's share and the test fraction.
 *
 * Sampling algorithm (reproducible in any language): strata are (entity type, is_test) pairs, in order of first
 * appearance. Each stratum gets floor(N * size / total) rows, and the rows left over go one each to the strata with
 * the largest remainders (ties: the earlier stratum), i.e. Hamilton's largest-remainder allocation. Within a stratum
 * the rows with the smallest SHA-256("<seed>:<row index>") (first 8 bytes, big-endian) are kept. The selection is
 * returned in dataset order.
 */
import { createHash } from 'node:crypto';
import { UserError } from '../util/errors.js';
import type { EntityDataset } from './types.js';

/** What the user asked for; `all` when neither --limit nor --sample was given. */
export type RowSelection =
  | { mode: 'all' }
  | { mode: 'first'; limit: number }
  | { mode: 'sample'; size: number; seed: number };

export interface SelectedRows {
  selection: RowSelection;
  /** Dataset row indices kept, ascending. */
  rows: number[];
  /** SHA-256 of the kept indices (comma-separated decimal), so a store records exactly which rows it holds. */
  rowsSha256: string;
  /** One line each: e.g. the kept rows are a single entity type. */
  warnings: string[];
}

/** --limit / --sample / --seed as one selection (both at once is an error). */
export function rowSelection(o: { limit?: number; sample?: number; seed?: number }): RowSelection {
  if (o.limit !== undefined && o.sample !== undefined)
    throw new UserError('--limit and --sample both choose rows; give one of them');
  for (const [flag, v] of [
    ['--limit', o.limit],
    ['--sample', o.sample],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1))
      throw new UserError(`${flag} must be a positive integer`);
  }
  if (o.sample !== undefined) return { mode: 'sample', size: o.sample, seed: o.seed ?? 0 };
  if (o.limit !== undefined) return { mode: 'first', limit: o.limit };
  return { mode: 'all' };
}

/** A short description for logs and error messages: `all rows`, `first 200 rows`, `sample of 200 (seed 0)`. */
export function describeSelection(s: RowSelection): string {
  if (s.mode === 'first') return `first ${s.limit} rows`;
  if (s.mode === 'sample') return `sample of ${s.size} (seed ${s.seed})`;
  return 'all rows';
}

/** The dataset rows a selection keeps, with its hash and warnings. */
export function selectRows(dataset: EntityDataset, selection: RowSelection): SelectedRows {
  const rows = pickRows(dataset, selection);
  if (rows.length === 0) throw new UserError(`${dataset.name} has no rows to select`);
  const warnings: string[] = [];
  const types = entityTypes(dataset);
  if (selection.mode === 'first' && types) {
    const kept = new Set(rows.map((r) => types[r]));
    const all = new Set(types);
    if (kept.size === 1 && all.size > 1) {
      warnings.push(
        `--limit ${selection.limit} keeps only the first rows, which are all of entity type '${[...kept][0]}' ` +
          `(the dataset has ${all.size} types); use --sample ${selection.limit} for a stratified sample`,
      );
    }
  }
  const rowsSha256 = createHash('sha256').update(rows.join(',')).digest('hex');
  return { selection, rows, rowsSha256, warnings };
}

function pickRows(dataset: EntityDataset, s: RowSelection): number[] {
  if (s.mode === 'all') return range(dataset.n);
  if (s.mode === 'first') return range(Math.min(dataset.n, s.limit));
  return stratifiedSample(dataset, s.size, s.seed);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function entityTypes(dataset: EntityDataset): string[] | undefined {
  return dataset.entityTypeColumn ? dataset.columns[dataset.entityTypeColumn] : undefined;
}

/** N rows, stratified by (entity type, split); see the module comment. N >= the dataset keeps every row. */
export function stratifiedSample(dataset: EntityDataset, size: number, seed: number): number[] {
  if (size >= dataset.n) return range(dataset.n);
  const types = entityTypes(dataset);
  const strata = new Map<string, number[]>();
  for (let r = 0; r < dataset.n; r++) {
    const key = `${types?.[r] ?? ''}\u0000${dataset.isTest[r]}`;
    const rows = strata.get(key);
    if (rows) rows.push(r);
    else strata.set(key, [r]);
  }
  const groups = [...strata.values()];
  const quotas = groups.map((g) => Math.floor((size * g.length) / dataset.n));
  let left = size - quotas.reduce((a, b) => a + b, 0);
  const byRemainder = groups
    .map((g, i) => ({ i, rem: (size * g.length) % dataset.n }))
    .sort((a, b) => b.rem - a.rem || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left === 0) break;
    quotas[i]!++;
    left--;
  }
  const kept: number[] = [];
  groups.forEach((g, i) => {
    const ranked = g
      .map((r) => ({ r, h: rowHash(seed, r) }))
      .sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
    for (const { r } of ranked.slice(0, quotas[i])) kept.push(r);
  });
  return kept.sort((a, b) => a - b);
}

function rowHash(seed: number, row: number): bigint {
  return createHash('sha256').update(`${seed}:${row}`).digest().readBigUInt64BE(0);
}

/** The dataset restricted to `rows` (in that order): every column, name, target and split. */
export function subsetDataset(dataset: EntityDataset, rows: number[]): EntityDataset {
  if (rows.length === dataset.n && rows.every((r, i) => r === i)) return dataset;
  const k = dataset.targetNames.length;
  const columns: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(dataset.columns)) columns[name] = rows.map((r) => values[r]!);
  const targets = new Float64Array(rows.length * k);
  rows.forEach((r, i) => {
    targets.set(dataset.targets.subarray(r * k, r * k + k), i * k);
  });
  return {
    ...dataset,
    n: rows.length,
    names: rows.map((r) => dataset.names[r]!),
    targets,
    isTest: Uint8Array.from(rows, (r) => dataset.isTest[r]!),
    columns,
  };
}
