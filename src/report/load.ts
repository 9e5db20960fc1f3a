/**
 * Reads report inputs from disk: probe output directories (results.json + predictions.csv), bare results JSON
 * files, and any other result JSON (experiments, neurons...), which the report shows through its generic view.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { cachedNycOutlinesPath } from '../data/fetch.js';
import { NYC_BOROUGH_OUTLINES } from '../data/registry.js';
import { COMPACT_PREDICTION_ROWS } from '../probe/probe-store.js';
import { UserError } from '../util/errors.js';
import { sha256File } from '../util/fsx.js';
import type {
  ExtraResult,
  GeoJsonCollection,
  PredictionTable,
  ProbeResults,
  ReportInputs,
  ReportRun,
} from './types.js';

export const PROBE_SCHEMA_PREFIX = 'spacetime-lens/probe-results@';

export interface LoadOptions {
  /** Activation stores whose entities.jsonl give extra columns (continent, state, entity type...) for colouring. */
  stores?: string[];
  /** Keep predictions of at most this many layers per run (evenly spaced, always with the best layer). Default: all. */
  maxLayers?: number;
  /** Always keep this layer's predictions. */
  layer?: number;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

function isProbeResults(value: unknown): value is ProbeResults {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { schema?: unknown }).schema === 'string' &&
    (value as { schema: string }).schema.startsWith(PROBE_SCHEMA_PREFIX)
  );
}

/** Which prediction layers to keep: all when few, else the best / requested ones plus evenly spaced others. */
export function chooseLayers(
  available: number[],
  maxLayers: number,
  keep: (number | undefined)[],
): Set<number> {
  const sorted = [...new Set(available)].sort((a, b) => a - b);
  if (sorted.length <= maxLayers) return new Set(sorted);
  const chosen = new Set(keep.filter((l): l is number => l !== undefined && sorted.includes(l)));
  const slots = Math.max(0, maxLayers - chosen.size);
  for (let i = 0; i < slots; i++)
    chosen.add(sorted[Math.round((i * (sorted.length - 1)) / Math.max(1, slots - 1))]);
  return chosen;
}

/** Parses a long-format predictions.csv (row,name,is_test,layer,true_*,pred_*,prox_error[, extra columns]). */
export async function readPredictions(
  path: string,
  targetNames: string[],
  keepLayer: (layer: number) => boolean = () => true,
): Promise<{ table: PredictionTable; extraColumns: Record<string, string[]> }> {
  const parser = createReadStream(path).pipe(parse({ columns: true, skip_empty_lines: true, bom: true }));
  const index = new Map<number, number>(); // dataset row -> entity index
  const rows: number[] = [];
  const names: string[] = [];
  const isTest: number[] = [];
  const truth: number[][] = targetNames.map(() => []);
  const pred = new Map<number, number[][]>();
  const prox = new Map<number, number[]>();
  const extra: Record<string, string[]> = {};
  const known = new Set([
    'row',
    'name',
    'is_test',
    'layer',
    'prox_error',
    ...targetNames.flatMap((t) => [`true_${t}`, `pred_${t}`]),
  ]);
  let line = 1;
  const fail = (msg: string): never => {
    throw new UserError(`${path} line ${line}: ${msg}`);
  };
  try {
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      line++;
      if (line === 2) {
        for (const col of [
          'row',
          'name',
          'is_test',
          'layer',
          ...targetNames.flatMap((t) => [`true_${t}`, `pred_${t}`]),
        ]) {
          if (!(col in record))
            fail(`missing column "${col}" (expected row,name,is_test,layer,true_*,pred_*,prox_error)`);
        }
      }
      const row = Number(record['row']);
      const layer = Number(record['layer']);
      if (!Number.isInteger(row) || row < 0)
        fail(`field "row" is not a row index: ${JSON.stringify(record['row'])}`);
      if (!Number.isInteger(layer))
        fail(`field "layer" is not an integer: ${JSON.stringify(record['layer'])}`);
      let i = index.get(row);
      if (i === undefined) {
        i = rows.length;
        index.set(row, i);
        rows.push(row);
        names.push(record['name']);
        const flag = record['is_test'].toLowerCase();
        isTest.push(flag === 'true' || flag === '1' ? 1 : 0);
        targetNames.forEach((t, k) => {
          truth[k][i!] = Number.parseFloat(record[`true_${t}`]);
        });
        for (const [key, value] of Object.entries(record)) {
          if (known.has(key)) continue;
          extra[key] ??= [];
          extra[key][row] = value;
        }
      }
      if (!keepLayer(layer)) continue;
      let p = pred.get(layer);
      if (!p) {
        p = targetNames.map(() => []);
        pred.set(layer, p);
        prox.set(layer, []);
      }
      targetNames.forEach((t, k) => {
        const v = record[`pred_${t}`];
        p![k][i!] = v === '' ? Number.NaN : Number.parseFloat(v);
      });
      const pe = record['prox_error'];
      prox.get(layer)![i] = pe === undefined || pe === '' ? Number.NaN : Number.parseFloat(pe);
    }
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${path} line ${line}: ${(err as Error).message}`);
  }
  if (!rows.length) throw new UserError(`${path} holds no prediction rows`);
  const n = rows.length;
  const dense = (values: number[]) => Float64Array.from({ length: n }, (_, i) => values[i] ?? Number.NaN);
  return {
    table: {
      rows,
      names,
      isTest: Uint8Array.from(isTest),
      truth: truth.map(dense),
      pred: new Map([...pred].map(([l, cols]) => [l, cols.map(dense)])),
      proxError: new Map([...prox].map(([l, v]) => [l, dense(v)])),
    },
    extraColumns: extra,
  };
}

/** Raw dataset columns from an activation store's entities.jsonl (one JSON object per dataset row). */
export async function readStoreColumns(
  storeDir: string,
): Promise<{ dataset?: string; columns: Record<string, string[]> }> {
  const file = join(storeDir, 'entities.jsonl');
  if (!existsSync(file)) throw new UserError(`${storeDir} is not an activation store (no entities.jsonl)`);
  let dataset: string | undefined;
  const manifest = join(storeDir, 'manifest.json');
  if (existsSync(manifest))
    dataset = ((await readJson(manifest)) as { dataset?: { name?: string } }).dataset?.name;
  const columns: Record<string, string[]> = {};
  let row = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    let entity: Record<string, unknown>;
    try {
      entity = JSON.parse(line);
    } catch {
      throw new UserError(`${file} line ${row + 1}: not valid JSON`);
    }
    for (const [key, value] of Object.entries(entity)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        columns[key] ??= [];
        columns[key][row] = String(value);
      }
    }
    row++;
  }
  return { dataset, columns };
}

/**
 * Full predictions of many layers (e.g. `probe --predictions all` on a large dataset) are thinned as `probe` does by
 * default: above COMPACT_PREDICTION_ROWS entity-layer rows, layers other than the best keep their test rows only.
 */
export function compactLarge(table: PredictionTable, bestLayer: number | undefined): PredictionTable {
  const n = table.rows.length;
  if (n * table.pred.size <= COMPACT_PREDICTION_ROWS || !table.isTest.some((t) => t === 1)) return table;
  for (const [layer, cols] of table.pred) {
    if (layer === bestLayer) continue;
    for (const col of cols) for (let i = 0; i < n; i++) if (!table.isTest[i]) col[i] = Number.NaN;
  }
  return table;
}

async function loadRun(resultsPath: string, results: ProbeResults, options: LoadOptions): Promise<ReportRun> {
  const run: ReportRun = { results, source: resultsPath };
  const file = results.predictions?.file;
  const predPath = file ? resolve(dirname(resultsPath), file) : join(dirname(resultsPath), 'predictions.csv');
  if (existsSync(predPath)) {
    const available = results.predictions?.layers ?? results.layers.map((l) => l.layer);
    const keep = chooseLayers(available, options.maxLayers ?? Number.POSITIVE_INFINITY, [
      results.bestLayer ?? undefined,
      options.layer,
    ]);
    const { table, extraColumns } = await readPredictions(predPath, results.targetNames, (l) => keep.has(l));
    run.predictions = compactLarge(table, results.bestLayer ?? undefined);
    if (Object.keys(extraColumns).length) run.columns = extraColumns;
  } else if (file) {
    throw new UserError(`${resultsPath} names predictions file ${file}, but ${predPath} does not exist`);
  }
  const storeRef = [results['store'], results['storeDir']].find((v) => typeof v === 'string') as
    | string
    | undefined;
  if (storeRef) {
    const dir = resolve(dirname(resultsPath), storeRef);
    if (existsSync(join(dir, 'entities.jsonl')))
      run.columns = { ...(await readStoreColumns(dir)).columns, ...run.columns };
  }
  return run;
}

async function expand(path: string): Promise<string[]> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    throw new UserError(`${path} does not exist`);
  }
  if (!info.isDirectory()) return [path];
  if (existsSync(join(path, 'results.json'))) return [join(path, 'results.json')];
  // A folder of result folders / JSON files (one level deep).
  const found: string[] = [];
  for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const full = join(path, entry.name);
    if (entry.isDirectory() && existsSync(join(full, 'results.json'))) found.push(join(full, 'results.json'));
    else if (entry.isFile() && entry.name.endsWith('.json') && entry.name !== 'manifest.json')
      found.push(full);
  }
  if (!found.length) throw new UserError(`${path} holds no results.json and no result JSON files`);
  return found;
}

function extraTitle(path: string, data: unknown): string {
  const d = data as Record<string, unknown> | null;
  for (const key of ['title', 'experiment', 'schema'])
    if (d && typeof d[key] === 'string') return d[key] as string;
  return basename(path, '.json');
}

/** Loads every probe run and other result JSON under the given files / directories. */
export async function loadReportInputs(
  paths: string[],
  options: LoadOptions = {},
): Promise<ReportInputs & { extras: ExtraResult[] }> {
  if (!paths.length) throw new UserError('no results given (pass probe output folders or result JSON files)');
  const runs: ReportRun[] = [];
  const extras: ExtraResult[] = [];
  for (const path of paths) {
    for (const file of await expand(path)) {
      const data = await readJson(file);
      if (isProbeResults(data)) runs.push(await loadRun(file, data, options));
      else extras.push({ title: extraTitle(file, data), data, source: file });
    }
  }
  const nyc = [
    ...runs.map((r) => r.results.dataset),
    ...extras.map((e) => (e.data as { dataset?: unknown })?.dataset),
  ].some((d) => typeof d === 'string' && d.startsWith('nyc'));
  const nycOutlines = nyc ? await cachedNycOutlines() : undefined;
  for (const storeDir of options.stores ?? []) {
    const { dataset, columns } = await readStoreColumns(storeDir);
    for (const run of runs) {
      if (!dataset || run.results.dataset === dataset) run.columns = { ...columns, ...run.columns };
    }
  }
  return { runs, extras, ...(nycOutlines && { nycOutlines }) };
}

/** The borough outlines fetched with nyc_place (`datasets fetch nyc_place`), if present and verified. */
export async function cachedNycOutlines(): Promise<GeoJsonCollection | undefined> {
  const path = cachedNycOutlinesPath();
  if (!existsSync(path) || (await sha256File(path)) !== NYC_BOROUGH_OUTLINES.sha256) return undefined;
  return readGeoJson(path);
}

/** Reads NYC borough outlines (GeoJSON FeatureCollection), simplified for the page (see simplifyOutlines). */
export async function readGeoJson(path: string): Promise<GeoJsonCollection> {
  const data = (await readJson(path)) as GeoJsonCollection;
  if (data?.type !== 'FeatureCollection' || !Array.isArray(data.features)) {
    throw new UserError(`${path} is not a GeoJSON FeatureCollection`);
  }
  return simplifyOutlines(data);
}

type Position = [number, number];

/**
 * Polygon coordinates rounded to 3 decimals (~100 m, a pixel or less on a city map) with repeated points dropped:
 * the boroughs file shrinks from 3.2 MB to 0.15 MB. Rings left with fewer than 4 points are dropped.
 */
export function simplifyOutlines(geo: GeoJsonCollection, digits = 3): GeoJsonCollection {
  const f = 10 ** digits;
  const ring = (points: Position[]): Position[] => {
    const out: Position[] = [];
    for (const [x, y] of points) {
      const p: Position = [Math.round(x * f) / f, Math.round(y * f) / f];
      const last = out[out.length - 1];
      if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
    }
    return out;
  };
  const polygon = (rings: Position[][]) => rings.map(ring).filter((r) => r.length >= 4);
  return {
    ...geo,
    features: geo.features.map((feature) => {
      const g = feature.geometry;
      if (!g || (g.type !== 'Polygon' && g.type !== 'MultiPolygon')) return feature;
      const coordinates =
        g.type === 'Polygon'
          ? polygon(g.coordinates as Position[][])
          : (g.coordinates as Position[][][]).map(polygon).filter((p) => p.length);
      return { ...feature, geometry: { type: g.type, coordinates } };
    }),
  };
}
