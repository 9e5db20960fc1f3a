/** Shared types of the data stage: entity datasets, their specs and prompt variants. */

export type DatasetKind = 'space' | 'time';

/** One entity dataset in memory, column-oriented, in file row order. */
export interface EntityDataset {
  /** 'world_place', 'art', a custom name, 'world_cities'. */
  name: string;
  kind: DatasetKind;
  /** space: ['longitude', 'latitude'] (the authors' column order, docs/method.md#datasets); time: ['year']. */
  targetNames: string[];
  n: number;
  /** The entity name column as in the file (art: title, headline: the headline). */
  names: string[];
  /** n * targetNames.length, row-major, exactly as docs/method.md#datasets defines the target. */
  targets: Float64Array;
  /** 1 = test row. */
  isTest: Uint8Array;
  /** Every raw column (plus derived ones such as historical `death_century`), for blocks, groups, colouring. */
  columns: Record<string, string[]>;
  entityTypeColumn?: string;
  blockColumn?: string;
  source: { path: string; sha256: string };
  /** Which prompt table and entity-string rules apply (a paper dataset name, 'world_cities', 'custom_space'...). */
  promptFamily: string;
  /** Column that holds each row's name (the paper's `entity_col`). */
  nameColumn: string;
  /** Non-fatal findings (e.g. duplicate names in the paper's own files), one line each. */
  warnings: string[];
  /** Rows removed by `dropInvalid`, counted per reason; empty when nothing was dropped. */
  dropped: Record<string, number>;
}

/** How a custom file maps onto an EntityDataset (CLI flags or a JSON spec file). */
export interface ColumnMapping {
  /** Dataset name (default: the file name without extension). */
  name?: string;
  nameCol?: string;
  latCol?: string;
  lonCol?: string;
  /** A date column (ISO 8601 date or timestamp) -> years since 1970-01-01 (docs/method.md#datasets). */
  dateCol?: string;
  /** A numeric year column used as is (like historical_figure's death_year). */
  yearCol?: string;
  testCol?: string;
  blockCol?: string;
  typeCol?: string;
  /** Fraction of rows put in test by the seeded name hash when there is no split column (default 0.2). */
  testFraction?: number;
  /** Seed of the name-hash split (default 0). */
  seed?: number;
}

export interface LoadOptions {
  /** Where fetched paper datasets live (default: cacheDir('datasets')). */
  dir?: string;
  /** Drop invalid rows (and report counts per reason in `dropped`) instead of failing. */
  dropInvalid?: boolean;
  /** Column mapping for custom files; also read from a `.json` spec file passed as the path. */
  mapping?: ColumnMapping;
  /** world_cities options (population threshold, seed). */
  worldCities?: { minPopulation?: number; seed?: number };
  /** Treat a file as this registry dataset (its schema, targets and prompts). */
  as?: string;
}

/** A prompt variant: prefix text placed directly before the entity string (docs/method.md#prompts). */
export interface PromptVariant {
  name: string;
  prefix: string;
  /** Upper-case the entity string (not the prefix). */
  allCaps: boolean;
  /** Headline only: remove the entity's final '.'. */
  stripPeriod: boolean;
  /** 10 for 'random' (the extractor prepends that many random token ids), else 0. */
  randomTokens: number;
  /** True if the paper ran it (`full_prompts`). */
  paper: boolean;
  description: string;
}

export interface RenderedPrompt {
  text: string;
  /** Char span [entityStart, entityEnd) of the entity string within `text`. */
  entityStart: number;
  entityEnd: number;
  /** 10 for 'random', else 0: the extractor prepends that many token ids. */
  randomTokens: number;
}
