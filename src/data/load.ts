import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { cacheDir } from '../util/paths.js';
import { buildDataset, type DatasetSchema, DatasetValidationError, type ValidationIssue } from './build.js';
import { DATASETS, PAPER_DATASET_NAMES, type PaperDatasetSpec } from './registry.js';
import { type RawTable, readTable } from './table.js';
import type { ColumnMapping, EntityDataset, LoadOptions } from './types.js';
import { buildWorldCities, WORLD_CITIES } from './world-cities.js';

/** Where `datasets fetch` puts the paper's CSVs: cacheDir('datasets') ($SPACETIME_LENS_CACHE/datasets). */
export function datasetsDir(dir?: string): string {
  return dir ? resolve(dir) : cacheDir('datasets');
}

/** Path of a paper dataset's cached CSV. */
export function cachedDatasetPath(name: string, dir?: string): string {
  return resolve(datasetsDir(dir), `${name}.csv`);
}

/**
 * Loads a dataset by registry name ('world_place', ..., 'world_cities'), by path to a CSV / JSONL file (with an
 * optional column mapping), or by path to a JSON spec file ({ "file": "...", "nameCol": ..., ... }).
 * A file whose base name is a paper dataset's (e.g. shared/data/paper/art.csv) and that has its columns is read
 * with that dataset's schema.
 * Every row is validated; invalid rows fail the load (all problems listed, with lines) unless `dropInvalid`.
 */
export async function loadDataset(nameOrPath: string, options: LoadOptions = {}): Promise<EntityDataset> {
  if (nameOrPath === WORLD_CITIES) return buildWorldCities(options.worldCities);
  if (Object.hasOwn(DATASETS, nameOrPath)) {
    const path = cachedDatasetPath(nameOrPath, options.dir);
    if (!existsSync(path)) {
      throw new UserError(
        `dataset ${nameOrPath} is not cached (looked for ${path}); run \`spacetime-lens datasets fetch ${nameOrPath}\``,
      );
    }
    return loadPaperFile(path, DATASETS[nameOrPath], options.dropInvalid);
  }
  if (!existsSync(nameOrPath) || !statSync(nameOrPath).isFile()) {
    throw new UserError(
      `unknown dataset "${nameOrPath}": not a registry name (${[...PAPER_DATASET_NAMES, WORLD_CITIES].join(', ')}) ` +
        'and no such file',
    );
  }
  if (extname(nameOrPath).toLowerCase() === '.json') {
    const { file, mapping } = await readSpecFile(nameOrPath);
    const given = Object.entries(options.mapping ?? {}).filter(([, v]) => v !== undefined);
    return loadCustom(file, { ...mapping, ...Object.fromEntries(given) }, options);
  }
  return loadCustom(nameOrPath, options.mapping ?? {}, options);
}

async function loadCustom(
  path: string,
  mapping: ColumnMapping,
  options: LoadOptions,
): Promise<EntityDataset> {
  const table = await readTable(path);
  const stem = basename(path, extname(path));
  // A file named like a paper dataset (art.csv, a mirror or the shared copy) that has that dataset's columns is
  // read as that dataset; `as` forces it.
  const looksLikePaper =
    isEmptyMapping(mapping) &&
    Object.hasOwn(DATASETS, stem) &&
    DATASETS[stem].requiredColumns.every((c) => Object.hasOwn(table.columns, c));
  const asName = options.as ?? (looksLikePaper ? stem : undefined);
  if (asName !== undefined) {
    const spec = DATASETS[asName];
    if (!spec) throw new UserError(`--as ${asName}: not a paper dataset (${PAPER_DATASET_NAMES.join(', ')})`);
    return datasetFromPaper(table, spec, options.dropInvalid);
  }
  return buildDataset(table, customSchema(table, mapping, stem), options.dropInvalid);
}

async function loadPaperFile(
  path: string,
  spec: PaperDatasetSpec,
  dropInvalid?: boolean,
): Promise<EntityDataset> {
  return datasetFromPaper(await readTable(path), spec, dropInvalid);
}

/** Builds a paper dataset from its table, noting when the file is not the published one. */
export function datasetFromPaper(
  table: RawTable,
  spec: PaperDatasetSpec,
  dropInvalid?: boolean,
): EntityDataset {
  const ds = buildDataset(table, paperSchema(spec), dropInvalid);
  if (spec.sha256 && table.sha256 !== spec.sha256) {
    ds.warnings.push(
      `${table.path} differs from the published ${spec.name}.csv (sha256 ${table.sha256.slice(0, 12)}...)`,
    );
  }
  return ds;
}

/** The schema of a paper dataset (docs/method.md#datasets, #paper-compat). */
export function paperSchema(spec: PaperDatasetSpec): DatasetSchema {
  return {
    name: spec.name,
    kind: spec.kind,
    targetNames: spec.targetNames,
    target: spec.target,
    nameColumn: spec.nameColumn,
    keyColumns: spec.keyColumns,
    testColumn: 'is_test',
    testFraction: 0.2,
    seed: 0,
    blockColumn: spec.blockColumn,
    entityTypeColumn: spec.entityTypeColumn,
    requiredColumns: spec.requiredColumns,
    promptFamily: spec.name,
    duplicates: 'warn',
    derive: spec.name === 'historical_figure' ? deriveDeathCentury : undefined,
  };
}

/**
 * docs/method.md#paper-compat: death_century = floor(death_year / 100) * 100 (hold-out groups 0, 100, ..., 1900; BCE floors down).
 * The file's own value (the builder's year // 100), if any, is kept as `death_century_file`.
 */
function deriveDeathCentury(columns: Record<string, string[]>, targets: Float64Array): void {
  if (columns['death_century']) columns['death_century_file'] = columns['death_century'];
  columns['death_century'] = Array.from(targets, (y) => String(Math.floor(y / 100) * 100));
}

function isEmptyMapping(m: ColumnMapping): boolean {
  return Object.values(m).every((x) => x === undefined);
}

const NAME_CANDIDATES = ['name', 'entity', 'title'];
const LAT_CANDIDATES = ['latitude', 'lat'];
const LON_CANDIDATES = ['longitude', 'lon', 'lng', 'long'];
const DATE_CANDIDATES = ['date', 'release_date', 'pub_date'];
const YEAR_CANDIDATES = ['year'];
const TEST_CANDIDATES = ['is_test'];

function pick(header: string[], explicit: string | undefined, candidates: string[]): string | undefined {
  if (explicit !== undefined) return explicit;
  const lower = new Map(header.map((h) => [h.toLowerCase(), h]));
  for (const c of candidates) if (lower.has(c)) return lower.get(c);
  return undefined;
}

/** Resolves a custom file's schema from the mapping, falling back to conventional column names. */
export function customSchema(table: RawTable, mapping: ColumnMapping, defaultName: string): DatasetSchema {
  const h = table.header;
  const where = `${table.path}:1`;
  const nameColumn = pick(h, mapping.nameCol, NAME_CANDIDATES);
  if (!nameColumn) throw new UserError(`${where}: no name column (pass --name-col; found: ${h.join(', ')})`);
  const lat = pick(h, mapping.latCol, LAT_CANDIDATES);
  const lon = pick(h, mapping.lonCol, LON_CANDIDATES);
  const explicitTime = mapping.dateCol !== undefined || mapping.yearCol !== undefined;
  const explicitSpace = mapping.latCol !== undefined || mapping.lonCol !== undefined;
  if (explicitTime && explicitSpace) {
    throw new UserError('give either --lat-col/--lon-col (space) or --date-col/--year-col (time), not both');
  }
  if (mapping.dateCol !== undefined && mapping.yearCol !== undefined) {
    throw new UserError('give either --date-col or --year-col, not both');
  }
  let target: DatasetSchema['target'];
  if (!explicitTime && (lat || lon)) {
    if (!lat || !lon) {
      throw new UserError(
        `${where}: found ${lat ? 'a latitude' : 'a longitude'} column but not the other one`,
      );
    }
    target = { type: 'coords', latColumn: lat, lonColumn: lon };
  } else {
    const date = mapping.yearCol === undefined ? pick(h, mapping.dateCol, DATE_CANDIDATES) : undefined;
    const year = date === undefined ? pick(h, mapping.yearCol, YEAR_CANDIDATES) : undefined;
    if (date) target = { type: 'date', column: date };
    else if (year) target = { type: 'year', column: year };
    else {
      throw new UserError(
        `${where}: no target column: pass --lat-col and --lon-col, --date-col or --year-col (found: ${h.join(', ')})`,
      );
    }
  }
  const testFraction = mapping.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1))
    throw new UserError(`test fraction must be in (0, 1), got ${testFraction}`);
  const space = target.type === 'coords';
  const schema: DatasetSchema = {
    name: mapping.name ?? defaultName,
    kind: space ? 'space' : 'time',
    targetNames: space ? ['longitude', 'latitude'] : ['year'],
    target,
    nameColumn,
    keyColumns: [nameColumn],
    testColumn: pick(h, mapping.testCol, TEST_CANDIDATES),
    testFraction,
    seed: mapping.seed ?? 0,
    blockColumn: mapping.blockCol,
    entityTypeColumn: mapping.typeCol,
    requiredColumns: [mapping.blockCol, mapping.typeCol].filter((c): c is string => c !== undefined),
    promptFamily: space ? 'custom_space' : 'custom_time',
    duplicates: 'error',
  };
  return schema;
}

const SPEC_KEYS = new Set([
  'file',
  'name',
  'nameCol',
  'latCol',
  'lonCol',
  'dateCol',
  'yearCol',
  'testCol',
  'blockCol',
  'typeCol',
  'testFraction',
  'seed',
]);

/** Reads a JSON dataset spec: { "file": "places.csv", "nameCol": "...", ... }; `file` is relative to the spec. */
export async function readSpecFile(path: string): Promise<{ file: string; mapping: ColumnMapping }> {
  let spec: unknown;
  try {
    spec = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: invalid JSON spec: ${(err as Error).message}`);
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    throw new UserError(`${path}: a dataset spec must be a JSON object`);
  }
  const obj = spec as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!SPEC_KEYS.has(key))
      throw new UserError(`${path}: unknown key "${key}" (allowed: ${[...SPEC_KEYS].join(', ')})`);
  }
  for (const [key, value] of Object.entries(obj)) {
    const numeric = key === 'testFraction' || key === 'seed';
    if (numeric ? typeof value !== 'number' : typeof value !== 'string') {
      throw new UserError(`${path}: "${key}" must be a ${numeric ? 'number' : 'string'}`);
    }
  }
  if (typeof obj['file'] !== 'string')
    throw new UserError(`${path}: missing "file" (the CSV or JSONL to read)`);
  const { file, ...mapping } = obj as unknown as { file: string } & ColumnMapping;
  return { file: resolve(dirname(path), file), mapping };
}

export interface ValidationReport {
  ok: boolean;
  /** Rows in the file (valid or not); undefined when the file could not be read as a table at all. */
  rows?: number;
  issues: ValidationIssue[];
  /** Non-fatal notes (e.g. repeated names in the paper's files). */
  warnings: string[];
}

/**
 * Validates a dataset without throwing on invalid rows: every problem with its line. File-level problems
 * (unreadable file, missing columns, malformed CSV) still throw a UserError.
 */
export async function validateDataset(
  nameOrPath: string,
  options: LoadOptions = {},
): Promise<ValidationReport> {
  try {
    const ds = await loadDataset(nameOrPath, { ...options, dropInvalid: false });
    return { ok: true, rows: ds.n, issues: [], warnings: ds.warnings };
  } catch (err) {
    if (err instanceof DatasetValidationError)
      return { ok: false, rows: err.rows, issues: err.issues, warnings: [] };
    throw err;
  }
}
