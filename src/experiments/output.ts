/**
 * The experiments' output files: one JSON document (schema `spacetime-lens/experiment@1`) plus one CSV per table,
 * written atomically. The shape is deliberately tolerant: `columns` + `table` always hold the main table, so a
 * renderer can show any experiment without knowing it; `tables` holds secondary tables the same way.
 */
import { join } from 'node:path';
import { alphaEdgeWarning } from '../probe/index.js';
import { writeFileAtomic } from '../util/fsx.js';
import { VERSION } from '../version.js';

export type Cell = number | string | boolean | null;
export type Row = Record<string, Cell>;

export interface Table {
  columns: string[];
  rows: Row[];
}

export type ExperimentName =
  | 'mlp'
  | 'pca'
  | 'block-holdout'
  | 'entity-holdout'
  | 'prompts'
  | 'pls'
  | 'spatial'
  | 'bias'
  | 'negative-controls';

export interface ExperimentResult {
  schema: 'spacetime-lens/experiment@1';
  experiment: ExperimentName;
  title: string;
  model: string;
  dataset: string;
  /** The prompt of the stores used; for `prompts`, the list joined with commas. */
  prompt: string;
  /** The layer the experiment ran at, or null when it ran over several (see the table). */
  layer: number | null;
  hook: string;
  kind: 'space' | 'time';
  targetNames: string[];
  settings: Record<string, unknown>;
  /** The main table, in display order. */
  columns: string[];
  table: Row[];
  /** Headline numbers (e.g. the unweighted means over groups). */
  summary: Record<string, Cell>;
  /** Secondary tables (name -> table), each also written as `<experiment>.<name>.csv`. */
  tables: Record<string, Table>;
  /** Figure data too large for a table (maps), free-form but documented in docs/experiments.md. */
  figures?: Record<string, unknown>;
  notes: string[];
  /** Why a number may mislead: LOO alphas at an edge of the grid (docs/method.md#probes); absent when none. */
  warnings?: string[];
  toolVersion: string;
  createdAt: string;
}

export function newResult(
  base: Omit<ExperimentResult, 'schema' | 'toolVersion' | 'createdAt' | 'tables' | 'summary' | 'notes'> &
    Partial<Pick<ExperimentResult, 'tables' | 'summary' | 'notes'>>,
): ExperimentResult {
  return {
    schema: 'spacetime-lens/experiment@1',
    ...base,
    summary: base.summary ?? {},
    tables: base.tables ?? {},
    notes: base.notes ?? [],
    ...withWarnings(base),
    toolVersion: VERSION,
    createdAt: new Date().toISOString(),
  };
}

/**
 * Alpha-edge warnings for the main table's LOO-selected alphas (`alpha`, or `regularization` of the linear probe)
 * taken from the grid in `settings.alphas`; fixed alphas (hold-outs) are not on the grid and get none.
 */
function withWarnings(base: Pick<ExperimentResult, 'settings' | 'table'>): { warnings?: string[] } {
  const grid = base.settings['alphas'];
  if (!Array.isArray(grid) || !grid.every((a) => typeof a === 'number')) return {};
  const warnings: string[] = [];
  for (const row of base.table) {
    const alpha = row['probe'] === 'mlp' ? undefined : (row['alpha'] ?? row['regularization']);
    if (typeof alpha !== 'number') continue;
    const index = grid.indexOf(alpha);
    const warning = alphaEdgeWarning(index < 0 ? null : index, grid);
    const label = ['prompt', 'layer', 'k']
      .filter((key) => row[key] !== undefined && row[key] !== null)
      .map((key) => `${key} ${row[key]}`)
      .join(', ');
    if (warning) warnings.push(label ? `${label}: ${warning}` : warning);
  }
  return warnings.length ? { warnings } : {};
}

/** Writes `<dir>/<experiment>.json`, `<dir>/<experiment>.csv` and one CSV per secondary table; returns the paths. */
export async function writeExperimentResult(dir: string, result: ExperimentResult): Promise<string[]> {
  const base = join(dir, result.experiment);
  const written: string[] = [];
  const csvPath = `${base}.csv`;
  await writeFileAtomic(csvPath, toCsv({ columns: result.columns, rows: result.table }));
  written.push(csvPath);
  for (const [name, table] of Object.entries(result.tables)) {
    const path = `${base}.${name}.csv`;
    await writeFileAtomic(path, toCsv(table));
    written.push(path);
  }
  const jsonPath = `${base}.json`;
  await writeFileAtomic(jsonPath, `${JSON.stringify(result, jsonNumbers, 1)}\n`);
  written.unshift(jsonPath);
  return written;
}

/** NaN and ±Infinity are not JSON: write them as null. */
function jsonNumbers(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return Array.from(value as unknown as ArrayLike<number>, (v) => (Number.isFinite(v) ? v : null));
  }
  return value;
}

export function toCsv(table: Table): string {
  const lines = [table.columns.map(csvCell).join(',')];
  for (const row of table.rows) lines.push(table.columns.map((c) => csvCell(row[c] ?? null)).join(','));
  return `${lines.join('\n')}\n`;
}

function csvCell(v: Cell | string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A table printed for the terminal: numbers to 4 significant digits, columns aligned. */
export function formatTable(table: Table, maxRows = 60): string {
  const fmt = (v: Cell | undefined): string => {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return String(v);
      if (Number.isInteger(v)) return String(v);
      return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toPrecision(4);
    }
    return String(v);
  };
  const rows = table.rows.slice(0, maxRows).map((r) => table.columns.map((c) => fmt(r[c])));
  const widths = table.columns.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((s, i) => s.padStart(widths[i]!)).join('  ');
  const out = [line(table.columns), ...rows.map(line)];
  if (table.rows.length > maxRows) out.push(`... ${table.rows.length - maxRows} more rows`);
  return out.join('\n');
}
