/**
 * Tolerant view of any result JSON for the report's raw-results appendix: scalars become a key/value table and every
 * array of records (or object of records) becomes a table. The figures come from experiment-figures.ts.
 */
import type { ExtraResult } from './types.js';

export type Cell = string | number | boolean | null;

export interface ExtraTable {
  path: string;
  columns: string[];
  rows: Cell[][];
  total: number;
}

export interface ExtraSection {
  title: string;
  source?: string;
  scalars: [string, Cell][];
  tables: ExtraTable[];
}

const MAX_ROWS = 500;
const MAX_DEPTH = 5;
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isRecord = (v: unknown): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Cell => v === null || ['string', 'number', 'boolean'].includes(typeof v);

function scalarText(v: Json): Cell {
  if (isScalar(v)) return v;
  if (Array.isArray(v) && v.every(isScalar) && v.length <= 16) return v.map((x) => String(x)).join(', ');
  return null;
}

/** Flattens nested objects into dotted keys, short scalar arrays into text. */
function flatten(
  record: Record<string, Json>,
  arrayKeys: Set<string>,
  prefix = '',
  out: Record<string, Cell> = {},
  depth = 0,
): Record<string, Cell> {
  for (const [k, v] of Object.entries(record)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (isRecord(v) && depth < 2) flatten(v, arrayKeys, key, out, depth + 1);
    else {
      if (Array.isArray(v)) arrayKeys.add(key);
      const text = scalarText(v);
      if (text !== null || v === null) out[key] = text;
    }
  }
  return out;
}

function asRecords(value: Json): Record<string, Json>[] | undefined {
  if (Array.isArray(value) && value.length > 0 && value.every(isRecord))
    return value as Record<string, Json>[];
  if (isRecord(value)) {
    const entries = Object.entries(value);
    if (entries.length >= 2 && entries.every(([, v]) => isRecord(v) && Object.values(v).some(isScalar))) {
      return entries.map(([key, v]) => ({ key, ...(v as Record<string, Json>) }));
    }
  }
  return undefined;
}

function tableOf(path: string, records: Record<string, Json>[]): ExtraTable {
  const arrayKeys = new Set<string>();
  const flat = records.map((r) => flatten(r, arrayKeys));
  const columns: string[] = [];
  for (const row of flat) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
  const rows = flat.slice(0, MAX_ROWS).map((row) => columns.map((c) => row[c] ?? null));
  return { path, columns, rows, total: flat.length };
}

function walk(value: Json, path: string, depth: number, section: ExtraSection): void {
  const records = asRecords(value);
  if (records) {
    section.tables.push(tableOf(path, records));
    return;
  }
  if (!isRecord(value) || depth > MAX_DEPTH) return;
  const scalars: [string, Cell][] = [];
  for (const [k, v] of Object.entries(value)) {
    const key = path ? `${path}.${k}` : k;
    const text = scalarText(v);
    if (text !== null || v === null) scalars.push([key, text]);
    else walk(v, key, depth + 1, section);
  }
  section.scalars.push(...scalars);
}

/** Tables and charts for any result JSON. */
export function describeExtra(extra: ExtraResult): ExtraSection {
  const section: ExtraSection = { title: extra.title, source: extra.source, scalars: [], tables: [] };
  walk(extra.data as Json, '', 0, section);
  return section;
}
