/** Types of the report stage: what goes in (probe results, predictions, experiment JSONs) and the options. */

/** The probe engineer's per-split metrics (COMMON.md, "probe results"). */
export interface Metrics {
  r2: number;
  r2PerTarget?: number[];
  spearman?: number[];
  pearson?: number[];
  mae?: number;
  rmse?: number;
  proxError?: number;
  haversineMaeKm?: number;
}

export interface ProbeLayerResult {
  layer: number;
  alpha?: number;
  looMse?: number[];
  train?: Metrics;
  test: Metrics;
  /** Why this layer's numbers may mislead (alpha at a grid edge...). */
  warnings?: string[];
}

/** `results.json` written by `spacetime-lens probe` (schema `spacetime-lens/probe-results@1`). */
export interface ProbeResults {
  schema: string;
  model: string;
  dataset: string;
  prompt: string;
  hook?: string;
  kind: 'space' | 'time';
  targetNames: string[];
  settings?: Record<string, unknown>;
  nTrain?: number;
  nTest?: number;
  d?: number;
  layers: ProbeLayerResult[];
  /** null: the probe named no best layer (too few test rows). */
  bestLayer?: number | null;
  /** Layers the probe skipped (non-finite activations): absent from `layers`, named in the report's notes. */
  skippedLayers?: { layer: number; reason: string }[];
  predictions?: { file: string; layers: number[] };
  /** Why the run's numbers may mislead (few test rows, d >= training rows...). */
  warnings?: string[];
  /** Optional: the dataset's time unit, e.g. 'years since 1970' (then 1970 is added for display). */
  targetUnit?: string;
  [key: string]: unknown;
}

/** Per-entity predictions of one run, column-major, for the layers present in `predictions.csv`. */
export interface PredictionTable {
  /** Dataset row index of each entity (the CSV's `row`). */
  rows: number[];
  names: string[];
  isTest: Uint8Array;
  /** truth[t][i]: true value of target t for entity i. */
  truth: Float64Array[];
  /** layer -> pred[t][i]. */
  pred: Map<number, Float64Array[]>;
  /** layer -> proximity error per entity (NaN where absent). */
  proxError: Map<number, Float64Array>;
}

/** One probe run: results plus, when available, predictions and raw dataset columns (for colouring). */
export interface ReportRun {
  results: ProbeResults;
  predictions?: PredictionTable;
  /** Raw dataset columns indexed by dataset row (as in the store's entities.jsonl), used to colour points. */
  columns?: Record<string, string[]>;
  /** Where it came from (shown in the report). */
  source?: string;
  /** Set by the report when two runs share model, dataset and prompt: tells them apart in legends and titles. */
  labelSuffix?: string;
}

/** Any other result JSON (experiments, neurons, interventions...): rendered by the generic table + chart view. */
export interface ExtraResult {
  title: string;
  data: unknown;
  source?: string;
}

export interface ReportInputs {
  runs: ReportRun[];
  extras?: ExtraResult[];
  /** NYC borough outlines found by the loader (the verified copy fetched with nyc_place); options.nycOutlines wins. */
  nycOutlines?: GeoJsonCollection;
}

/** A GeoJSON FeatureCollection of polygons (used for user-given NYC borough outlines). */
export interface GeoJsonCollection {
  type: 'FeatureCollection';
  features: {
    type: 'Feature';
    properties: Record<string, unknown> | null;
    geometry: { type: string; coordinates: unknown } | null;
  }[];
}

export type MapKind = 'world' | 'us' | 'nyc';

export interface ReportOptions {
  title?: string;
  /** Layer shown first in the maps / time scatter; default: the best layer of the first run that has predictions. */
  layer?: number;
  /** Which rows to plot first in maps and scatters; the page has a selector too. Default 'test'. */
  split?: 'test' | 'train' | 'all';
  /** NYC borough outlines (GeoJSON); NYC maps are drawn without outlines otherwise. */
  nycOutlines?: GeoJsonCollection;
  /** Force the map kind for every space run instead of detecting it from the dataset. */
  mapKind?: MapKind;
  /** Added to time targets for display; default 1970 for art / headline (years since 1970), else 0. */
  yearOffset?: number;
  /** Lines of text shown under the title (e.g. the demo's "static-embedding baseline" notice). */
  notes?: string[];
  /** Timestamp shown in the footer; default now. */
  generatedAt?: string;
}
