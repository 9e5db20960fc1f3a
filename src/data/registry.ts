import type { DatasetKind } from './types.js';
import { civilYearFromDays, NS_PER_YEAR } from './values.js';

/** How a paper dataset's target is read from its columns (docs/method.md#datasets). */
export type TargetSource =
  | { type: 'coords'; latColumn: string; lonColumn: string }
  | { type: 'date'; column: string }
  | { type: 'year'; column: string };

/** A group hold-out of docs/method.md#block-holdout: the column and the values held out (undefined = every value). */
export interface HoldoutSpec {
  column: string;
  values?: string[];
}

export interface PaperDatasetSpec {
  name: string;
  kind: DatasetKind;
  description: string;
  nameColumn: string;
  target: TargetSource;
  targetNames: string[];
  /** Columns a file must have to be read as this dataset. */
  requiredColumns: string[];
  /** Columns that identify an entity, for the duplicate check (art: creator + title). */
  keyColumns: string[];
  blockColumn: string;
  entityTypeColumn: string;
  /** The entity-type values of the published file (docs/method.md#datasets), for listings; undefined = many. */
  entityTypes?: string[];
  /** Row and test-row counts of the published file (docs/method.md#datasets); undefined where it is not published. */
  rows?: number;
  testRows?: number;
  /** SHA-256 of the published CSV; undefined where none is known ("unverified" on fetch). */
  sha256?: string;
  canonicalPrompt: string;
  holdouts: { block: HoldoutSpec; entity: HoldoutSpec; extra?: HoldoutSpec[] };
}

/** Default source of the paper's CSVs: the authors' public repository. */
export const PAPER_BASE_URL =
  'https://raw.githubusercontent.com/wesg52/world-models/main/data/entity_datasets/';

const COORDS: TargetSource = { type: 'coords', latColumn: 'latitude', lonColumn: 'longitude' };
const LON_LAT = ['longitude', 'latitude'];

/** The paper's six entity datasets (docs/method.md#datasets, #prompts, #block-holdout, #paper-compat). */
/**
 * NYC borough outlines, published beside nyc_place in the authors' repository; fetched and verified with it, drawn
 * on the report's NYC maps.
 */
export const NYC_BOROUGH_OUTLINES = {
  dataset: 'nyc_place',
  file: 'nyc_borough_boundaries.geojson',
  sha256: '4f0c971134337e080d1c9e8b87f6cfdb892d396fa6b76ffa706b0f9f541597f3',
} as const;

export const DATASETS: Readonly<Record<string, PaperDatasetSpec>> = {
  world_place: {
    name: 'world_place',
    kind: 'space',
    description: 'DBpedia populated places, structures and natural places with > 5,000 Wikipedia page views',
    nameColumn: 'name',
    target: COORDS,
    targetNames: LON_LAT,
    requiredColumns: ['name', 'latitude', 'longitude', 'country', 'entity_type', 'is_test'],
    keyColumns: ['name'],
    blockColumn: 'country',
    entityTypeColumn: 'entity_type',
    entityTypes: ['populated_place', 'structure', 'natural_place'],
    rows: 39585,
    testRows: 7917,
    sha256: 'b1608f9410b48fe4ca71836d81baa5aa20d34d319cd7f98a725fd8545bdce040',
    canonicalPrompt: 'coords',
    holdouts: {
      block: {
        column: 'country',
        values: [
          'United_States',
          'United_Kingdom',
          'India',
          'Australia',
          'Italy',
          'Canada',
          'South_Africa',
          'Syria',
          'Japan',
          'Poland',
          'China',
          'Philippines',
          'Brazil',
          'Mexico',
          'Sweden',
          'Indonesia',
          'Switzerland',
          'Pakistan',
          'Argentina',
          'Netherlands',
        ],
      },
      entity: { column: 'entity_type', values: ['structure', 'natural_place'] },
    },
  },
  us_place: {
    name: 'us_place',
    kind: 'space',
    description:
      'US cities, zip codes, counties, colleges, structures and natural places (contiguous states + DC)',
    nameColumn: 'name',
    target: COORDS,
    targetNames: LON_LAT,
    requiredColumns: ['name', 'latitude', 'longitude', 'state_id', 'entity_type', 'is_test'],
    keyColumns: ['name'],
    blockColumn: 'state_id',
    entityTypeColumn: 'entity_type',
    entityTypes: ['city', 'zip', 'county', 'college', 'structure', 'natural_place'],
    rows: 29997,
    testRows: 5999,
    sha256: '95af51d5b80ba1a0085c431583294f4917b95628869130d65762a7e8bf6eff6e',
    canonicalPrompt: 'coords',
    holdouts: {
      block: { column: 'state_id' },
      entity: {
        column: 'entity_type',
        values: ['city', 'zip', 'county', 'college', 'structure', 'natural_place'],
      },
      extra: [{ column: 'timezone', values: ['Chicago', 'Los_Angeles', 'Denver', 'Detroit', 'Phoenix'] }],
    },
  },
  nyc_place: {
    name: 'nyc_place',
    kind: 'space',
    description: 'New York City points of interest (split grouped by complexid)',
    nameColumn: 'name',
    target: COORDS,
    targetNames: LON_LAT,
    requiredColumns: ['name', 'latitude', 'longitude', 'borough_name', 'facility_t_name', 'is_test'],
    keyColumns: ['name'],
    blockColumn: 'borough_name',
    entityTypeColumn: 'facility_t_name',
    entityTypes: [
      'Recreational Facility',
      'Education Facility',
      'Residential',
      'Religious Institution',
      'Social Services',
      'Transportation Facility',
      'Commercial',
      'Government Facility (non public safety)',
      'Miscellaneous',
      'Public Safety',
      'Cultural Facility',
      'Water',
      'Health Services',
    ],
    rows: 19838,
    testRows: 3967,
    sha256: '72558b55c86e0f113fdb35f3cd7ef0dfb439820e36b47e654e5169cb094445cf',
    canonicalPrompt: 'where_nyc',
    holdouts: {
      block: {
        column: 'borough_name',
        values: ['Manhattan', 'Brooklyn', 'Queens', 'Bronx', 'Staten Island'],
      },
      entity: { column: 'facility_t_name' },
    },
  },
  historical_figure: {
    name: 'historical_figure',
    kind: 'time',
    description: 'Historical figures (first 350 per death decade, death year > -1000); target = death year',
    nameColumn: 'name',
    target: { type: 'year', column: 'death_year' },
    targetNames: ['year'],
    requiredColumns: ['name', 'death_year', 'is_test'],
    keyColumns: ['name'],
    blockColumn: 'death_century',
    entityTypeColumn: 'occupation',
    canonicalPrompt: 'when',
    holdouts: {
      block: {
        column: 'death_century',
        values: Array.from({ length: 20 }, (_, i) => String(i * 100)),
      },
      entity: {
        column: 'occupation',
        values: [
          'artist',
          'politician',
          'researcher',
          'religious figure',
          'military personnel',
          'aristocrat',
          'monarch',
          'teacher',
          'athlete',
          'sovereign',
          'ruler',
          'architect',
          'feudatory',
          'physician',
          'nun',
          'monk',
          'condottiero',
          'engineer',
          'philosopher',
          'explorer',
        ],
      },
    },
  },
  art: {
    name: 'art',
    kind: 'time',
    description:
      'Songs, movies and books released 1950-2022 (split grouped by creator); target = release date',
    nameColumn: 'title',
    target: { type: 'date', column: 'release_date' },
    targetNames: ['year'],
    requiredColumns: ['title', 'creator', 'release_date', 'entity_type', 'is_test'],
    keyColumns: ['creator', 'title'],
    blockColumn: 'decade',
    entityTypeColumn: 'entity_type',
    entityTypes: ['song', 'movie', 'book'],
    rows: 31321,
    testRows: 6437,
    sha256: '37ef497d0c2871c074c166a0c4f229c460aca092a90ecc83bd6f9d0f12bc3b41',
    canonicalPrompt: 'release',
    holdouts: {
      block: { column: 'decade', values: ['1950', '1960', '1970', '1980', '1990', '2000', '2010'] },
      entity: { column: 'entity_type', values: ['movie', 'book'] },
    },
  },
  headline: {
    name: 'headline',
    kind: 'time',
    description: 'New York Times headlines 2010-2020 (a "." appended to each); target = publication date',
    nameColumn: 'headline',
    target: { type: 'date', column: 'pub_date' },
    targetNames: ['year'],
    requiredColumns: ['headline', 'pub_date', 'is_test'],
    keyColumns: ['headline'],
    blockColumn: 'year',
    entityTypeColumn: 'news_desk',
    entityTypes: ['Foreign', 'National', 'Politics', 'Washington', 'Obits'],
    canonicalPrompt: 'when_w_period',
    holdouts: {
      block: { column: 'year', values: Array.from({ length: 11 }, (_, i) => String(2010 + i)) },
      entity: { column: 'news_desk', values: ['National', 'Washington', 'Obits', 'Politics'] },
    },
  },
};

/** Names of the paper datasets, in the order of docs/method.md#datasets. */
export const PAPER_DATASET_NAMES = Object.keys(DATASETS);

/** Published row counts where the CSV is absent from the authors' repository (docs/method.md#datasets, from notebooks). */
export const NOTEBOOK_ROW_COUNTS: Readonly<Record<string, number>> = {
  historical_figure: 37539,
  headline: 28389,
};

export function isPaperDataset(name: string): boolean {
  return Object.hasOwn(DATASETS, name);
}

/**
 * What a time target counts (docs/method.md#datasets): a `date` target (art, headline, custom --date-col) is Julian years of
 * 365.25 days since 1970-01-01; a `year` target (historical_figure, custom --year-col) is the calendar year itself.
 */
export type TimeTargetUnit = 'years since 1970' | 'year';

/**
 * The unit of a time dataset's target: the registry's target definition for a paper dataset, else a declared unit
 * (e.g. results.json `targetUnit`: anything mentioning "since 1970"), else the year itself.
 */
export function timeTargetUnit(dataset: string, declared?: string): TimeTargetUnit {
  if (isPaperDataset(dataset)) return DATASETS[dataset]!.target.type === 'date' ? 'years since 1970' : 'year';
  return declared?.toLowerCase().includes('since 1970') ? 'years since 1970' : 'year';
}

/** What to add to a target to read it on a (decimal) calendar-year axis: 1970 or 0. */
export function calendarYearOffset(unit: TimeTargetUnit): number {
  return unit === 'year' ? 0 : 1970;
}

/**
 * The calendar year a reader names for one target value: 16.70 years since 1970 (1986-09-15) -> 1986, exactly
 * (through the day count, so 1971-01-01 = 0.9993 years is 1971, not 1970); a year target is floored (-44 BCE stays
 * -44). This is the one place a time target becomes a calendar year (familiarity answers, report axes).
 */
/**
 * A calendar year as running text writes it: 1986 -> "1986", -44 -> "44 BC". Negative years are the datasets'
 * historical numbering (Wikidata's: -44 is Caesar's 44 BC). Text has no year 0: it reads as "1 BC".
 */
export function yearText(year: number): string {
  return year > 0 ? String(year) : `${Math.max(1, -year)} BC`;
}

export function calendarYear(unit: TimeTargetUnit, value: number): number {
  if (unit === 'year') return Math.floor(value);
  // Targets are float64(ns) / NS_PER_YEAR; back to days with a margin for that rounding (dates are whole days).
  const days = Math.floor((value * NS_PER_YEAR) / 86400e9 + 1e-6);
  return civilYearFromDays(days);
}
