import { type ActivationStore, HOOK_ALIASES, hookName, openStore, parseLayers } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { hashJson } from '../util/hash.js';
import { VERSION } from '../version.js';
import { resolveAlphas } from './alphas.js';
import {
  defaultGroupColumn,
  type GroupBaseline,
  type GroupPlan,
  planGroups,
  type WithinGroupResult,
  withinGroupProbe,
} from './group-control.js';
import { type Metrics, MIN_TEST_ROWS, r2Column, splitMetrics } from './metrics.js';
import type { DistanceMode } from './proximity.js';
import { fitRidge, type RidgeModel, ridgeLoo, ridgePredict } from './ridge.js';
import { type TargetVariant, targetTransform } from './targets.js';
import { alphaEdgeWarning, sizeWarnings } from './warnings.js';

export const PROBE_RESULTS_SCHEMA = 'spacetime-lens/probe-results@1';

export interface LayerResult {
  layer: number;
  alpha: number;
  /** Index of the chosen alpha in settings.alphas (null with cv 'none'). */
  alphaIndex: number | null;
  /** Mean squared LOO error per alpha on the standardised targets (empty with cv 'none'). */
  looMse: number[];
  train: Metrics;
  test: Metrics;
  /** The probe refitted within groups (docs/controls.md#group-baseline-and-within-group-r); absent without groups. */
  withinGroup?: WithinGroupResult;
  /** Target variants only: R² (mean over the fitted columns) on the fitted targets, e.g. (x, y, z) or ln(R − year). */
  fitR2?: { train: number; test: number };
  warnings?: string[];
}

/** A requested layer the run did not probe. */
export interface SkippedLayer {
  layer: number;
  reason: string;
}

export interface ProbeResults {
  schema: typeof PROBE_RESULTS_SCHEMA;
  model: string;
  dataset: string;
  prompt: string;
  hook: string;
  kind: 'space' | 'time';
  targetNames: string[];
  settings: {
    cv: 'loo' | 'none';
    alphas: number[];
    alphaPreset: string;
    mode: 'default' | 'paper-compat';
    distance: DistanceMode;
    /** What the ridge was fitted on when not the dataset's targets (docs/method.md#target-variants). */
    target?: Exclude<TargetVariant, 'native'>;
    /** The fitted columns (the probes file's columns), e.g. x, y, z. */
    fitTargetNames?: string[];
    /** log-time: the reference year R of ln(R − year). */
    referenceYear?: number;
  };
  nTrain: number;
  nTest: number;
  d: number;
  layers: LayerResult[];
  /** Layers that were not probed (non-finite activations), with why; absent from `layers` and the files. */
  skippedLayers: SkippedLayer[];
  /** The layer with the highest test R²; null with fewer than MIN_TEST_ROWS (20) test rows. */
  bestLayer: number | null;
  /** The group-mean predictor (docs/controls.md#group-baseline-and-within-group-r); null without a group column. */
  groupBaseline: GroupBaseline | null;
  /** `testRowsOnly`: layers other than the best hold test rows only (compact predictions of a large run). */
  predictions: { file: string; layers: number[]; mode: PredictionsMode; testRowsOnly: boolean };
  probes: { file: string };
  store: string;
  /** SHA-256 of the store's cache key (manifest extra.cacheKey): which settings made the activations probed. */
  storeKeySha256?: string;
  toolVersion: string;
  createdAt: string;
  warnings: string[];
}

/**
 * best: the best layer only; all: every layer, every row, full precision; compact (default): every layer, the best
 * one in full, the others to 6 significant digits and, above COMPACT_PREDICTION_ROWS entity-layer rows, test rows
 * only (docs/report.md#layers).
 */
export type PredictionsMode = 'best' | 'all' | 'compact';
export const COMPACT_PREDICTION_ROWS = 1_000_000;

export interface ProbeOptions {
  /** Layer spec (`all`, `0,8,16`, `0:32:4`, negatives from the end) or a list; default every stored layer. */
  layers?: string | number[];
  /** Hook suffix or alias: resid_post (default), resid_pre, resid_mid, mlp_post, attn_out, mlp_out, or a full suffix. */
  hook?: string;
  /** Alpha grid: preset name, `auto`, `logspace:a:b:k`, comma list, or numbers. */
  alphas?: string | number[];
  cv?: 'loo' | 'none';
  /** The authors' quirks: swapped haversine (docs/method.md#paper-compat). */
  paperCompat?: boolean;
  /** Which layers' per-entity predictions to keep (default compact, so the report can show every layer). */
  predictions?: PredictionsMode;
  /** Entity-layer rows above which compact predictions keep only test rows (default COMPACT_PREDICTION_ROWS). */
  compactRowLimit?: number;
  /** Targets to fit and score instead of the store's (n × t). */
  targets?: Float64Array;
  /**
   * Entity column that defines the groups of the group baseline and the within-group probe (default:
   * defaultGroupColumn; `none` turns both off).
   */
  groupBy?: string;
  /**
   * Fit the probe on (x, y, z) unit vectors (`globe`, space) or on ln(R − year) (`log-time`, time) and score its
   * predictions mapped back to longitude/latitude or years (docs/method.md#target-variants); default `native`.
   */
  target?: TargetVariant;
  /** log-time: the reference year R (default 2025; every date must be earlier). */
  referenceYear?: number;
  /** Called after each layer (progress). */
  onLayer?: (result: LayerResult, done: number, total: number) => void;
  /** Called for each layer that is skipped (non-finite activations). */
  onSkip?: (skipped: SkippedLayer, done: number, total: number) => void;
}

export interface LayerPredictions {
  /** n × t, target units. */
  pred: Float64Array;
  /** PE_All(i) per entity. */
  proxErrorPerPoint: Float64Array;
}

/** Everything a probe run produced: the JSON results plus the arrays behind the CSV and safetensors files. */
export interface ProbeRun {
  results: ProbeResults;
  names: string[];
  targets: Float64Array;
  isTest: Uint8Array;
  predictions: Map<number, LayerPredictions>;
  models: Map<number, RidgeModel>;
}

function resolveHook(hook: string | undefined, store: ActivationStore): string {
  const raw = (hook ?? 'resid_post').trim();
  const suffix = HOOK_ALIASES[raw] ?? raw;
  if (!store.manifest.hooks.includes(suffix)) {
    throw new UserError(
      `store ${store.dir} has no hook '${raw}' (it holds: ${store.manifest.hooks.join(', ') || 'none'})`,
    );
  }
  return suffix;
}

function resolveLayers(spec: string | number[] | undefined, store: ActivationStore): number[] {
  const stored = [...store.manifest.layers].sort((a, b) => a - b);
  if (spec === undefined || spec === 'all') return stored;
  const top = Math.max(...stored) + 1;
  const wanted = Array.isArray(spec) ? spec : parseLayers(spec, top);
  for (const l of wanted) {
    if (!stored.includes(l)) {
      throw new UserError(`layer ${l} is not in store ${store.dir} (stored layers: ${stored.join(',')})`);
    }
  }
  return wanted;
}

/**
 * Why a layer cannot be probed (NaN/Inf activations), naming the first bad row, entity and column; undefined when
 * every value is finite. Such a layer is skipped, not fatal (docs/method.md#probes): one overflowed layer must not
 * cost the others.
 */
function nonFiniteReason(data: Float32Array, n: number, d: number, names: string[]): string | undefined {
  for (let i = 0; i < n * d; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      const row = Math.floor(i / d);
      return (
        `row ${row} ('${names[row]}') has a non-finite activation (${v}) in column ${i % d}; ` +
        'the extraction overflowed or the store is corrupt'
      );
    }
  }
  return undefined;
}

/** Fits and scores a probe on every requested layer of a store. */
export async function probeStore(
  storeOrDir: ActivationStore | string,
  options: ProbeOptions = {},
): Promise<ProbeRun> {
  const store = typeof storeOrDir === 'string' ? await openStore(storeOrDir) : storeOrDir;
  const m = store.manifest;
  const kind = m.dataset.kind;
  const targetNames = m.dataset.targetNames;
  const t = targetNames.length;
  if (kind === 'space' && t !== 2) {
    throw new UserError(
      `store ${store.dir}: a space dataset needs two targets (longitude, latitude), got ${t}`,
    );
  }
  if (kind === 'time' && t !== 1)
    throw new UserError(`store ${store.dir}: a time dataset needs one target, got ${t}`);
  const mode = options.paperCompat ? 'paper-compat' : 'default';
  const distance: DistanceMode =
    kind === 'time' ? 'absolute' : options.paperCompat ? 'haversine-swapped' : 'haversine';
  const cv = options.cv ?? 'loo';
  const hook = resolveHook(options.hook, store);
  const layers = resolveLayers(options.layers, store);
  const grid = resolveAlphas(options.alphas, m.d, m.model);
  if (cv === 'none' && grid.alphas.length !== 1) {
    throw new UserError(
      `--cv none fits one fixed alpha; give exactly one with --alphas (got ${grid.alphas.length})`,
    );
  }
  const entities = await store.entities();
  const names = entities.map((e) => String(e.name));
  const targets = options.targets ?? store.targets();
  if (targets.length !== m.n * t)
    throw new Error(`probeStore: targets hold ${targets.length} values, expected ${m.n * t}`);
  const isTest = store.isTest();
  const n = m.n;
  const transform = targetTransform(options.target ?? 'native', kind, m.dataset.name, {
    ...(options.referenceYear !== undefined && { referenceYear: options.referenceYear }),
  });
  const fitTargets = transform ? transform.forward(targets, n) : targets;
  const tFit = transform ? transform.fitNames.length : t;
  const trainRows: number[] = [];
  for (let i = 0; i < n; i++) if (!isTest[i]) trainRows.push(i);
  if (trainRows.length < 2)
    throw new UserError(`store ${store.dir} has ${trainRows.length} training rows; need 2+`);
  const warnings: string[] = [];
  // Stores from `extract` record their mode under extra.extractor; imported stores have none (nothing to compare).
  const extractor = m.extra?.['extractor'] as { paperCompat?: boolean } | undefined;
  if (extractor && !!extractor.paperCompat !== !!options.paperCompat) {
    warnings.push(
      extractor.paperCompat
        ? 'the store was extracted with --paper-compat but the probe runs in default mode (true haversine)'
        : 'the probe runs with --paper-compat on a store extracted in default mode',
    );
  }

  const groups = groupPlanFor(options.groupBy, entities, m.dataset.name, kind, targets, t, isTest, distance);
  if (groups?.withinSkip) warnings.push(groups.withinSkip);
  const layerResults: LayerResult[] = [];
  const predictions = new Map<number, LayerPredictions>();
  const models = new Map<number, RidgeModel>();
  const skippedLayers: SkippedLayer[] = [];
  for (const [k, layer] of layers.entries()) {
    const full = hookName(layer, hook);
    const data = await store.read(full);
    const bad = nonFiniteReason(data, n, m.d, names);
    if (bad) {
      const skipped = { layer, reason: `${full}: ${bad}` };
      skippedLayers.push(skipped);
      options.onSkip?.(skipped, k + 1, layers.length);
      continue;
    }
    const x = { data, rows: n, cols: m.d };
    const ridgeOptions = { rows: trainRows, targetNames: transform?.fitNames ?? targetNames };
    const fit =
      cv === 'loo'
        ? await ridgeLoo(x, fitTargets, tFit, grid.alphas, ridgeOptions)
        : {
            ...(await fitRidge(x, fitTargets, tFit, grid.alphas[0]!, ridgeOptions)),
            alphaIndex: null,
            looMse: [],
          };
    const fitted = await ridgePredict(fit, x);
    const pred = transform ? transform.back(fitted, n) : fitted;
    const metrics = await splitMetrics(targets, pred, t, isTest, distance);
    const layerWarnings = [...fit.warnings, alphaEdgeWarning(fit.alphaIndex, grid.alphas) ?? []].flat();
    // Last use of this layer's activations: the within-group probe demeans them in place.
    const within =
      groups && !groups.withinSkip
        ? await withinGroupProbe(groups, x, targets, t, { cv, alphas: grid.alphas, targetNames }, distance)
        : undefined;
    for (const w of within?.warnings ?? []) layerWarnings.push(`within-group probe: ${w}`);
    const result: LayerResult = {
      layer,
      alpha: fit.alpha,
      alphaIndex: fit.alphaIndex,
      looMse: fit.looMse,
      train: metrics.train,
      test: metrics.test,
      ...(within ? { withinGroup: within } : {}),
      ...(transform && { fitR2: fitR2(fitTargets, fitted, tFit, isTest) }),
      ...(layerWarnings.length ? { warnings: layerWarnings } : {}),
    };
    const model: RidgeModel = fit;
    layerResults.push(result);
    predictions.set(layer, { pred, proxErrorPerPoint: metrics.proxErrorPerPoint });
    models.set(layer, model);
    options.onLayer?.(result, k + 1, layers.length);
  }
  if (!layerResults.length) {
    throw new UserError(
      `no layer could be probed: ${skippedLayers.map((s) => `layer ${s.layer}: ${s.reason}`).join('; ')}`,
    );
  }
  const nTest = n - trainRows.length;
  warnings.push(...sizeWarnings(m.d, trainRows.length, nTest));
  const best = nTest >= MIN_TEST_ROWS ? highest(layerResults, (r) => r.test.r2) : undefined;
  // Without a best layer, --predictions best keeps the layer with the lowest LOO error (a train-side score, not a
  // claim).
  const shown = best ?? highest(layerResults, (r) => -Math.min(...r.looMse, Number.POSITIVE_INFINITY));
  const probed = layerResults.map((r) => r.layer);
  const predictionsMode = options.predictions ?? 'compact';
  const keep = predictionsMode === 'best' ? [(shown ?? layerResults.at(-1)!).layer] : probed;
  for (const l of probed) if (!keep.includes(l)) predictions.delete(l);
  for (const s of skippedLayers) warnings.push(`layer ${s.layer} skipped: ${s.reason}`);
  const testRowsOnly =
    predictionsMode === 'compact' &&
    n * keep.length > (options.compactRowLimit ?? COMPACT_PREDICTION_ROWS) &&
    nTest > 0;
  const results: ProbeResults = {
    schema: PROBE_RESULTS_SCHEMA,
    model: m.model.id,
    dataset: m.dataset.name,
    prompt: m.prompt.name,
    hook,
    kind,
    targetNames,
    settings: {
      cv,
      alphas: grid.alphas,
      alphaPreset: grid.preset,
      mode,
      distance,
      ...(transform && { target: transform.variant, fitTargetNames: transform.fitNames }),
      ...(transform?.referenceYear !== undefined && { referenceYear: transform.referenceYear }),
    },
    nTrain: trainRows.length,
    nTest,
    d: m.d,
    layers: layerResults,
    skippedLayers,
    bestLayer: best?.layer ?? null,
    groupBaseline: groups?.baseline ?? null,
    predictions: { file: 'predictions.csv', layers: keep, mode: predictionsMode, testRowsOnly },
    probes: { file: 'probes.safetensors' },
    store: store.dir,
    ...(m.extra?.['cacheKey'] !== undefined && { storeKeySha256: hashJson(m.extra['cacheKey']) }),
    toolVersion: VERSION,
    createdAt: new Date().toISOString(),
    warnings,
  };
  return { results, names, targets, isTest, predictions, models };
}

/** The run's groups (docs/controls.md#group-baseline-and-within-group-r), or undefined when there are none. */
function groupPlanFor(
  asked: string | undefined,
  entities: Record<string, unknown>[],
  dataset: string,
  kind: 'space' | 'time',
  targets: Float64Array,
  t: number,
  isTest: Uint8Array,
  distance: DistanceMode,
): GroupPlan | undefined {
  if (asked === 'none') return undefined;
  const columns = Object.keys(entities[0] ?? {});
  if (asked !== undefined && !columns.includes(asked)) {
    throw new UserError(
      `--group-by ${asked}: the store's entities have no such column (they have: ${columns.join(', ')})`,
    );
  }
  const column = asked ?? defaultGroupColumn(dataset, kind, columns);
  if (!column) return undefined;
  const keys = entities.map((e) => String(e[column] ?? ''));
  return planGroups(column, keys, targets, t, isTest, distance);
}

/** R² on the fitted targets (mean over their columns), train and test rows (NaN with no such rows). */
function fitR2(truth: Float64Array, pred: Float64Array, t: number, isTest: Uint8Array) {
  const score = (test: boolean) => {
    const rows = [...isTest.keys()].filter((i) => !!isTest[i] === test);
    if (!rows.length) return Number.NaN;
    let sum = 0;
    for (let j = 0; j < t; j++) {
      sum += r2Column(
        rows.map((i) => truth[i * t + j]!),
        rows.map((i) => pred[i * t + j]!),
      );
    }
    return sum / t;
  };
  return { train: score(false), test: score(true) };
}

/** The result with the highest finite score (the first on ties); undefined when no score is finite. */
function highest(results: LayerResult[], score: (r: LayerResult) => number): LayerResult | undefined {
  let best: LayerResult | undefined;
  for (const r of results) {
    const v = score(r);
    if (Number.isFinite(v) && (best === undefined || v > score(best))) best = r;
  }
  return best;
}
