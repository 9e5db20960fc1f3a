import { createHash } from 'node:crypto';
import { UserError } from '../util/errors.js';
import type { TargetSource } from './registry.js';
import type { RawTable } from './table.js';
import type { DatasetKind, EntityDataset } from './types.js';
import { parseDateToYears, parseFlag, parseNumber } from './values.js';

/** Everything needed to turn a raw table into an EntityDataset (resolved from the registry or a mapping). */
export interface DatasetSchema {
  name: string;
  kind: DatasetKind;
  targetNames: string[];
  target: TargetSource;
  nameColumn: string;
  /** Columns whose joined values identify an entity, for the duplicate check. */
  keyColumns: string[];
  /** Split column; undefined = seeded name-hash split. */
  testColumn?: string;
  testFraction: number;
  seed: number;
  blockColumn?: string;
  entityTypeColumn?: string;
  /** Columns the file must have (the target's, the name's and the split's are added automatically). */
  requiredColumns: string[];
  promptFamily: string;
  /** 'error' for user files; 'warn' for the paper's own files, which contain repeated names. */
  duplicates: 'error' | 'warn';
  /** Adds derived columns (e.g. historical death_century) after rows are final. */
  derive?: (columns: Record<string, string[]>, targets: Float64Array) => void;
}

/** One invalid row (or cell): its 1-based line, a reason category and a readable message. */
export interface ValidationIssue {
  line: number;
  row: number;
  reason: string;
  message: string;
}

/** Thrown when a file has invalid rows; `issues` lists them all, the message shows the first ones. */
export class DatasetValidationError extends UserError {
  override name = 'DatasetValidationError';
  constructor(
    readonly path: string,
    readonly issues: ValidationIssue[],
    readonly rows: number,
  ) {
    super(formatIssues(path, issues, rows));
  }
}

const SHOWN_ISSUES = 10;

function formatIssues(path: string, issues: ValidationIssue[], rows: number): string {
  const bad = new Set(issues.map((i) => i.row)).size;
  const shown = issues.slice(0, SHOWN_ISSUES).map((i) => `  ${path}:${i.line}: ${i.message}`);
  const more = issues.length > SHOWN_ISSUES ? [`  ... and ${issues.length - SHOWN_ISSUES} more`] : [];
  return [
    `${path}: ${bad} invalid row${bad === 1 ? '' : 's'} of ${rows} (${issues.length} problem${issues.length === 1 ? '' : 's'}):`,
    ...shown,
    ...more,
    'Fix the file, or drop these rows with --drop-invalid (library: { dropInvalid: true }).',
  ].join('\n');
}

/** Columns the schema reads, in a stable order. */
export function schemaColumns(schema: DatasetSchema): string[] {
  const cols = [schema.nameColumn, ...schema.keyColumns, ...schema.requiredColumns];
  const t = schema.target;
  if (t.type === 'coords') cols.push(t.latColumn, t.lonColumn);
  else cols.push(t.column);
  if (schema.testColumn) cols.push(schema.testColumn);
  return [...new Set(cols)];
}

/** Validates `table` against `schema` and builds the dataset; throws DatasetValidationError unless dropInvalid. */
export function buildDataset(table: RawTable, schema: DatasetSchema, dropInvalid = false): EntityDataset {
  const missing = schemaColumns(schema).filter((c) => !Object.hasOwn(table.columns, c));
  if (missing.length) {
    throw new UserError(
      `${table.path}:1: missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} ` +
        `for ${schema.name} (found: ${table.header.join(', ')})`,
    );
  }
  const { n } = table;
  const width = schema.targetNames.length;
  const targets = new Float64Array(n * width);
  const isTest = new Uint8Array(n);
  const issues: ValidationIssue[] = [];
  const firstReason = new Array<string | undefined>(n);
  const flag = (row: number, reason: string, message: string) => {
    // A row with the wrong field count gets that one message, not a cascade about shifted cells.
    if (firstReason[row] === 'wrong field count') return;
    issues.push({ row, line: 0, reason, message });
    firstReason[row] ??= reason;
  };

  for (const g of table.ragged) {
    flag(g.row, 'wrong field count', `${g.count} fields, header has ${table.header.length}`);
  }
  const names = table.columns[schema.nameColumn];
  for (let r = 0; r < n; r++) {
    if (!names[r].trim()) flag(r, 'empty name', `empty ${schema.nameColumn}`);
  }
  readTargets(table, schema, targets, flag);
  readSplit(table, schema, names, isTest, flag);
  const warnings: string[] = [];
  checkDuplicates(table, schema, firstReason, flag, warnings);

  for (const issue of issues) issue.line = table.lineOf(issue.row);
  issues.sort((a, b) => a.row - b.row);
  if (issues.length && !dropInvalid) throw new DatasetValidationError(table.path, issues, n);

  const keep: number[] = [];
  const dropped: Record<string, number> = {};
  for (let r = 0; r < n; r++) {
    const reason = firstReason[r];
    if (reason === undefined) keep.push(r);
    else dropped[reason] = (dropped[reason] ?? 0) + 1;
  }
  if (keep.length === 0) throw new UserError(`${table.path}: no valid rows left after dropping invalid ones`);
  const all = keep.length === n;
  const columns: Record<string, string[]> = {};
  for (const h of table.header) columns[h] = all ? table.columns[h] : keep.map((r) => table.columns[h][r]);
  const outTargets = all ? targets : new Float64Array(keep.length * width);
  const outTest = all ? isTest : new Uint8Array(keep.length);
  if (!all) {
    keep.forEach((r, i) => {
      for (let k = 0; k < width; k++) outTargets[i * width + k] = targets[r * width + k];
      outTest[i] = isTest[r];
    });
  }
  schema.derive?.(columns, outTargets);
  return {
    name: schema.name,
    kind: schema.kind,
    targetNames: schema.targetNames,
    n: keep.length,
    names: columns[schema.nameColumn],
    targets: outTargets,
    isTest: outTest,
    columns,
    entityTypeColumn: schema.entityTypeColumn,
    blockColumn: schema.blockColumn,
    source: { path: table.path, sha256: table.sha256 },
    promptFamily: schema.promptFamily,
    nameColumn: schema.nameColumn,
    warnings,
    dropped,
  };
}

type Flag = (row: number, reason: string, message: string) => void;

function readTargets(table: RawTable, schema: DatasetSchema, targets: Float64Array, flag: Flag): void {
  const t = schema.target;
  if (t.type === 'coords') {
    const lat = table.columns[t.latColumn];
    const lon = table.columns[t.lonColumn];
    for (let r = 0; r < table.n; r++) {
      const y = parseNumber(lat[r]);
      const x = parseNumber(lon[r]);
      if (x === undefined)
        flag(r, 'non-numeric coordinate', `${t.lonColumn} is not a number: ${quote(lon[r])}`);
      else if (Math.abs(x) > 180)
        flag(r, 'longitude out of range', `${t.lonColumn} ${x} is outside [-180, 180]`);
      if (y === undefined)
        flag(r, 'non-numeric coordinate', `${t.latColumn} is not a number: ${quote(lat[r])}`);
      else if (Math.abs(y) > 90) flag(r, 'latitude out of range', `${t.latColumn} ${y} is outside [-90, 90]`);
      targets[2 * r] = x ?? Number.NaN; // column 0 = longitude (docs/method.md#datasets)
      targets[2 * r + 1] = y ?? Number.NaN;
    }
  } else if (t.type === 'date') {
    const col = table.columns[t.column];
    for (let r = 0; r < table.n; r++) {
      const v = parseDateToYears(col[r]);
      if (v === undefined) flag(r, 'unparseable date', `${t.column} is not an ISO date: ${quote(col[r])}`);
      targets[r] = v ?? Number.NaN;
    }
  } else {
    const col = table.columns[t.column];
    for (let r = 0; r < table.n; r++) {
      const v = parseNumber(col[r]);
      if (v === undefined) flag(r, 'non-numeric year', `${t.column} is not a number: ${quote(col[r])}`);
      targets[r] = v ?? Number.NaN;
    }
  }
}

function readSplit(
  table: RawTable,
  schema: DatasetSchema,
  names: string[],
  isTest: Uint8Array,
  flag: Flag,
): void {
  if (schema.testColumn) {
    const col = table.columns[schema.testColumn];
    for (let r = 0; r < table.n; r++) {
      const v = parseFlag(col[r]);
      if (v === undefined) {
        flag(
          r,
          'bad is_test value',
          `${schema.testColumn} must be True/False (or true/false, 1/0): ${quote(col[r])}`,
        );
      } else isTest[r] = v ? 1 : 0;
    }
  } else {
    for (let r = 0; r < table.n; r++)
      isTest[r] = hashSplitIsTest(names[r], schema.seed, schema.testFraction) ? 1 : 0;
  }
}

function checkDuplicates(
  table: RawTable,
  schema: DatasetSchema,
  firstReason: (string | undefined)[],
  flag: Flag,
  warnings: string[],
): void {
  const keyCols = schema.keyColumns.map((c) => table.columns[c]);
  const first = new Map<string, number>();
  const repeats: [number, number][] = [];
  for (let r = 0; r < table.n; r++) {
    if (firstReason[r] === 'empty name') continue;
    const key = keyCols.length === 1 ? keyCols[0][r] : keyCols.map((c) => c[r]).join('\u0000');
    const prev = first.get(key);
    if (prev === undefined) first.set(key, r);
    else repeats.push([prev, r]);
  }
  if (!repeats.length) return;
  const label = schema.keyColumns.join(' + ');
  if (schema.duplicates === 'warn') {
    const [a, b] = repeats[0];
    warnings.push(
      `${repeats.length} row${repeats.length > 1 ? 's repeat' : ' repeats'} an earlier ${label}, kept as published ` +
        `(e.g. ${quote(keyCols.map((c) => c[b]).join(' / '))} on lines ${table.lineOf(a)} and ${table.lineOf(b)})`,
    );
    return;
  }
  for (const [a, b] of repeats) {
    const shown = keyCols.map((c) => c[b]).join(' / ');
    flag(b, 'duplicate name', `duplicate ${label} ${quote(shown)} (first on line ${table.lineOf(a)})`);
  }
}

function quote(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);
}

/**
 * Deterministic split by a seeded hash of the name: SHA-256 of `${seed}:${name}` (UTF-8), first 6 bytes as a
 * big-endian integer u; test iff u / 2^48 < fraction. The same name always lands on the same side.
 */
export function hashSplitIsTest(name: string, seed: number, fraction: number): boolean {
  const h = createHash('sha256').update(`${seed}:${name}`).digest();
  return h.readUIntBE(0, 6) / 2 ** 48 < fraction;
}
