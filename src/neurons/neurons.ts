/**
 * Space and time neurons (docs/method.md#neurons), both procedures, named as such:
 *
 * - `correlation` — the code's procedure (model_composition.py `__main__`): for every stored layer l ≤ L−2,
 *   A = gain-free RMSNorm of resid_post(l); neuron proxies A·up(l+1)ᵀ (W_in), A·gate(l+1)ᵀ (W_gate) and A·down(l)
 *   (W_out, each neuron's output direction); Spearman of every proxy column with every target over all entities;
 *   top K per (target, weight type). Every column is ranked (the authors' chunking bug is not reproduced).
 * - `probe-cosine` — the paper text's procedure (the legacy `place_neuron_correlations`): cosine between each probe
 *   direction and each neuron's input (up, gate) and output (down) weights as TransformerLens holds them (the
 *   pre-MLP norm's gain folded into the input weights), top K per (target, weight type); then how well each top
 *   neuron's own activation (`blocks.{l}.mlp.hook_post`) predicts the target: Spearman and R² of a 1-D fit,
 *   overall and per entity type. `paperCompat`: the authors' probe layers 15..L−1, W_in and W_out only, and their
 *   second step (the Spearman of every stored layer's resid_post projected on the neuron's weight).
 *
 * Weights stream one layer at a time; proxies are computed in neuron chunks so memory stays bounded.
 */
import { join } from 'node:path';
import { DATASETS } from '../data/index.js';
import { SafetensorsFile } from '../formats/index.js';
import type { EditInfo, HookEdit, HookedModel } from '../model/index.js';
import { type ActivationStore, hookName } from '../store/index.js';
import { UserError } from '../util/errors.js';
import {
  type NeuronWeights,
  neuronRows,
  paperProbeLayers,
  residualRows,
  type WeightType,
  weightTypes,
} from './neuron-weights.js';
import {
  matmulTransB,
  type RankedTarget,
  rankTarget,
  rmsNormRows,
  rowCosines,
  type SingleFit,
  singleNeuronFit,
  spearmanColumns,
  unit,
} from './neurons-math.js';

/** The targets the neuron search correlates with (docs/method.md#neurons): lon, lat (+ abs_lat, abs_lon for world), or year. */
export function neuronFeatures(
  kind: 'space' | 'time',
  targetNames: string[],
  targets: Float64Array,
  n: number,
  datasetName: string,
): { name: string; values: Float64Array }[] {
  const t = targetNames.length;
  const col = (j: number, f: (v: number) => number = (v) => v) =>
    Float64Array.from({ length: n }, (_, i) => f(targets[i * t + j]!));
  if (kind === 'time') return [{ name: 'year', values: col(0) }];
  const lon = targetNames.indexOf('longitude');
  const lat = targetNames.indexOf('latitude');
  if (lon < 0 || lat < 0)
    throw new UserError(`a space store needs longitude and latitude targets, has ${targetNames}`);
  const out = [
    { name: 'lon', values: col(lon) },
    { name: 'lat', values: col(lat) },
  ];
  if (datasetName === 'world_place' || datasetName === 'world_cities') {
    out.push(
      { name: 'abs_lat', values: col(lat, Math.abs) },
      { name: 'abs_lon', values: col(lon, Math.abs) },
    );
  }
  return out;
}

export interface CorrelationHit {
  feature: string;
  weight: WeightType;
  /** l+1 for W_in/W_gate, l for W_out (docs/method.md#neurons). */
  layer: number;
  neuron: number;
  corr: number;
  absCorr: number;
}

export interface CorrelationSearchOptions {
  /** Store layers to use (default: every stored resid_post layer ≤ L−2). */
  layers?: number[];
  topK?: number;
  /** Max proxy floats per GEMM chunk (memory bound; default 32M = 128 MB). */
  chunkFloats?: number;
  /** Sees every layer's full correlation matrix (d_mlp × features), e.g. for plots or tests. */
  onLayer?(layer: number, weight: WeightType, corr: Float64Array, features: string[]): void;
  onProgress?(done: number, total: number): void;
}

export interface CorrelationSearchResult {
  features: string[];
  layers: number[];
  hits: CorrelationHit[];
  /** Per (store layer, weight type, feature): the best |ρ| in that layer and its neuron (plot data). */
  layerMax: { layer: number; weight: WeightType; feature: string; neuron: number; corr: number }[];
  /** Store layers left out because an activation is NaN/Inf (their proxies would rank garbage), with why. */
  skippedLayers: { layer: number; reason: string }[];
}

/** The code's procedure: the correlation search over every neuron of every layer. */
export async function correlationSearch(
  weights: NeuronWeights,
  store: ActivationStore,
  features: { name: string; values: Float64Array }[],
  options: CorrelationSearchOptions = {},
): Promise<CorrelationSearchResult> {
  const { spec } = weights;
  const m = store.manifest;
  if (m.d !== spec.dModel)
    throw new UserError(`store ${store.dir} has d = ${m.d}, the model has d_model = ${spec.dModel}`);
  if (!m.hooks.includes('hook_resid_post'))
    throw new UserError(`store ${store.dir} has no hook_resid_post layers`);
  const stored = [...m.layers].sort((a, b) => a - b).filter((l) => l <= spec.nLayers - 2);
  const layers = options.layers ?? stored;
  for (const l of layers) {
    if (!stored.includes(l))
      throw new UserError(`layer ${l} is not a usable store layer (stored ≤ L−2: ${stored.join(',')})`);
  }
  const topK = options.topK ?? 50;
  const n = m.n;
  const d = spec.dModel;
  const dm = spec.dMlp;
  for (const f of features) {
    const bad = firstNonFinite(f.values);
    if (bad >= 0)
      throw new UserError(
        `target ${f.name} of row ${bad} is ${f.values[bad]}: the store's targets must be finite`,
      );
  }
  const ranked: RankedTarget[] = features.map((f) => rankTarget(f.name, f.values));
  const T = ranked.length;
  const chunk = Math.max(1, Math.min(dm, Math.floor((options.chunkFloats ?? 2 ** 25) / n)));
  const types = weightTypes(spec);
  const best = new Map<string, CorrelationHit[]>();
  const layerMax: CorrelationSearchResult['layerMax'] = [];
  let done = 0;
  const skippedLayers: CorrelationSearchResult['skippedLayers'] = [];
  for (const l of layers) {
    const x = await store.readLayer(l, 'hook_resid_post');
    const bad = firstNonFinite(x);
    if (bad >= 0) {
      // A NaN would take the top rank in every proxy column and give a finite, meaningless ρ: skip the layer.
      const row = Math.floor(bad / d);
      skippedLayers.push({ layer: l, reason: `row ${row}, column ${bad % d} of resid_post is ${x[bad]}` });
      options.onProgress?.(++done, layers.length);
      continue;
    }
    const a = rmsNormRows(x, n, d, 1e-6, x); // in place: one [n, d] array per layer
    for (const type of types) {
      const wl = type === 'W_out' ? l : l + 1;
      const rows = await neuronRows(weights, wl, type);
      const badWeight = firstNonFinite(rows);
      if (badWeight >= 0)
        throw new UserError(`layer ${wl} ${type}: neuron ${Math.floor(badWeight / d)} has a NaN/Inf weight`);
      const corr = new Float64Array(dm * T);
      for (let c0 = 0; c0 < dm; c0 += chunk) {
        const c1 = Math.min(dm, c0 + chunk);
        const proxy = await matmulTransB(a, rows.subarray(c0 * d, c1 * d), n, d, c1 - c0);
        corr.set(spearmanColumns(proxy, n, c1 - c0, ranked), c0 * T);
      }
      options.onLayer?.(
        l,
        type,
        corr,
        ranked.map((r) => r.name),
      );
      for (let t = 0; t < T; t++) {
        const feature = ranked[t]!.name;
        const hits: CorrelationHit[] = [];
        for (let j = 0; j < dm; j++) {
          const c = corr[j * T + t]!;
          hits.push({ feature, weight: type, layer: wl, neuron: j, corr: c, absCorr: Math.abs(c) });
        }
        const top = hits.reduce((b, h) => (byAbsDesc(h, b) < 0 ? h : b), hits[0]!);
        layerMax.push({ layer: wl, weight: type, feature, neuron: top.neuron, corr: top.corr });
        const key = `${feature}/${type}`;
        best.set(key, [...(best.get(key) ?? []), ...hits].sort(byAbsDesc).slice(0, topK));
      }
    }
    options.onProgress?.(++done, layers.length);
  }
  const hits = ranked.flatMap((r) => types.flatMap((w) => best.get(`${r.name}/${w}`) ?? []));
  const used = layers.filter((l) => !skippedLayers.some((s) => s.layer === l));
  return { features: ranked.map((r) => r.name), layers: used, hits, layerMax, skippedLayers };
}

/** Descending |value|, NaN last (the authors' NaNs sorted into the top set; ours never do). */
function byAbsDesc<T extends { absCorr?: number; absCos?: number }>(a: T, b: T): number {
  const x = a.absCorr ?? a.absCos ?? Number.NaN;
  const y = b.absCorr ?? b.absCos ?? Number.NaN;
  if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : 1;
  if (Number.isNaN(y)) return -1;
  return y - x;
}

// ------------------------------------------------------------------------------------------- probe directions

/** The probe directions of a probe run (`probe` output dir): coef_standardized per layer, d × t. */
export interface ProbeDirections {
  dir: string;
  targetNames: string[];
  hook: string;
  model?: string;
  dataset?: string;
  layers: number[];
  d: number;
  /** Direction of target t at a layer (float64, length d), in standardised-target units. */
  direction(layer: number, target: number): Promise<Float64Array>;
  /** The ridge model's pieces at a layer (for mapping edits back to target units). */
  ridge(layer: number): Promise<{ coefStd: Float64Array; yScale: Float64Array; xMean: Float64Array }>;
  close(): Promise<void>;
}

/** Opens `<dir>/probes.safetensors` (+ results.json for names): see src/probe/README.md. */
export async function readProbeDirections(dir: string): Promise<ProbeDirections> {
  const path = join(dir, 'probes.safetensors');
  let file: SafetensorsFile;
  try {
    file = await SafetensorsFile.open(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new UserError(
        `${dir} has no probes.safetensors: pass the output directory of 'spacetime-lens probe'`,
      );
    throw err;
  }
  let results: Record<string, unknown> = {};
  try {
    const { readFile } = await import('node:fs/promises');
    results = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8'));
  } catch {
    // results.json is optional: the safetensors metadata names the targets and the hook.
  }
  const meta = file.metadata;
  const targetNames =
    (results['targetNames'] as string[] | undefined) ?? JSON.parse(meta['targetNames'] ?? 'null');
  if (!Array.isArray(targetNames))
    throw new UserError(`${path}: no targetNames in its metadata or results.json`);
  const layers = [...file.tensors.keys()]
    .map((k) => /^layer\.(\d+)\.coef_standardized$/.exec(k)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  if (!layers.length) throw new UserError(`${path} holds no layer.{l}.coef_standardized tensors`);
  const first = file.tensors.get(`layer.${layers[0]}.coef_standardized`)!;
  const d = first.shape[0]!;
  const t = targetNames.length;
  if (first.shape.length !== 2 || first.shape[1] !== t)
    throw new UserError(`${path}: coef_standardized has shape [${first.shape}], expected [d, ${t}]`);
  const f64 = async (name: string): Promise<Float64Array> => {
    if (!file.tensors.has(name)) throw new UserError(`${path} has no tensor ${name}`);
    const raw = await file.readRaw(name);
    const info = file.tensors.get(name)!;
    if (info.dtype === 'F64') return new Float64Array(raw.slice().buffer);
    return Float64Array.from(await file.readFloat32(name));
  };
  const checkLayer = (layer: number) => {
    if (!layers.includes(layer))
      throw new UserError(`the probe in ${dir} has no layer ${layer} (layers: ${layers.join(',')})`);
  };
  return {
    dir,
    targetNames,
    hook: String(results['hook'] ?? meta['hook'] ?? 'hook_resid_post'),
    ...(typeof results['model'] === 'string' ? { model: results['model'] } : {}),
    ...(typeof results['dataset'] === 'string' ? { dataset: results['dataset'] } : {}),
    layers,
    d,
    async direction(layer, target) {
      checkLayer(layer);
      const coef = await f64(`layer.${layer}.coef_standardized`);
      return Float64Array.from({ length: d }, (_, i) => coef[i * t + target]!);
    },
    async ridge(layer) {
      checkLayer(layer);
      return {
        coefStd: await f64(`layer.${layer}.coef_standardized`),
        yScale: await f64(`layer.${layer}.y_scale`),
        xMean: await f64(`layer.${layer}.x_mean`),
      };
    },
    close: () => file.close(),
  };
}

export interface CosineHit {
  target: string;
  probeLayer: number;
  weight: WeightType;
  layer: number;
  neuron: number;
  cos: number;
  absCos: number;
}

export interface CosineSearchOptions {
  probeLayers?: number[];
  neuronLayers?: number[];
  targets?: number[];
  topK?: number;
  /** The authors' legacy function: probe layers 15..L−1 (unless given) and W_in, W_out only (no W_gate). */
  paperCompat?: boolean;
}

/**
 * The paper text's procedure, step 1: cosine of every probe direction with every neuron's input/output weights
 * in the residual stream's basis (residualRows: the norm gain folded in, as TransformerLens does).
 */
export async function probeCosineSearch(
  weights: NeuronWeights,
  probes: ProbeDirections,
  options: CosineSearchOptions = {},
): Promise<CosineHit[]> {
  const { spec } = weights;
  if (probes.d !== spec.dModel)
    throw new UserError(`the probe has d = ${probes.d}, the model has d_model = ${spec.dModel}`);
  const probeLayers =
    options.probeLayers ??
    (options.paperCompat ? paperProbeLayers(probes.layers, spec.nLayers) : probes.layers);
  const neuronLayers = options.neuronLayers ?? [...Array(spec.nLayers).keys()];
  for (const l of neuronLayers)
    if (l < 0 || l >= spec.nLayers)
      throw new UserError(`neuron layer ${l} is outside 0..${spec.nLayers - 1}`);
  const targets = options.targets ?? probes.targetNames.map((_, i) => i);
  const topK = options.topK ?? 50;
  const dirs = new Map<string, Float64Array>();
  for (const pl of probeLayers)
    for (const t of targets) dirs.set(`${pl}/${t}`, unit(await probes.direction(pl, t)));
  const best = new Map<string, CosineHit[]>();
  const types = options.paperCompat ? (['W_in', 'W_out'] as WeightType[]) : weightTypes(spec);
  for (const l of neuronLayers) {
    for (const type of types) {
      const rows = await residualRows(weights, l, type);
      for (const t of targets) {
        const target = probes.targetNames[t]!;
        const hits: CosineHit[] = [];
        for (const pl of probeLayers) {
          const cos = rowCosines(rows, spec.dMlp, spec.dModel, dirs.get(`${pl}/${t}`)!);
          for (let j = 0; j < cos.length; j++) {
            const c = cos[j]!;
            hits.push({
              target,
              probeLayer: pl,
              weight: type,
              layer: l,
              neuron: j,
              cos: c,
              absCos: Math.abs(c),
            });
          }
        }
        const key = `${target}/${type}`;
        best.set(key, [...(best.get(key) ?? []), ...hits].sort(byAbsDesc).slice(0, topK));
      }
    }
  }
  return targets.flatMap((t) => types.flatMap((w) => best.get(`${probes.targetNames[t]}/${w}`) ?? []));
}

export interface ProjectionRow {
  target: string;
  weight: WeightType;
  layer: number;
  neuron: number;
  activationLayer: number;
  spearman: number;
}

/**
 * The legacy function's step 2 (`make_correlation_df`, docs/neurons.md): for each top neuron, the resid_post of
 * every stored layer projected on its weight (residualRows: the folded W_in column or the W_out row, unnormalised),
 * Spearman with its target over all entities. Layers with non-finite activations are skipped (named in `skipped`).
 */
export async function projectionCorrelations(
  weights: NeuronWeights,
  store: ActivationStore,
  neurons: { target: string; weight: WeightType; layer: number; neuron: number }[],
  features: { name: string; values: Float64Array }[],
): Promise<{ rows: ProjectionRow[]; skipped: number[] }> {
  const { n } = store.manifest;
  const d = weights.spec.dModel;
  const unique = [
    ...new Map(neurons.map((x) => [`${x.target}/${x.weight}/${x.layer}/${x.neuron}`, x])).values(),
  ];
  const vectors = new Float32Array(unique.length * d);
  const cache = new Map<string, Float32Array>();
  for (const [k, x] of unique.entries()) {
    const key = `${x.layer}/${x.weight}`;
    if (!cache.has(key)) cache.set(key, await residualRows(weights, x.layer, x.weight));
    vectors.set(cache.get(key)!.subarray(x.neuron * d, (x.neuron + 1) * d), k * d);
  }
  cache.clear();
  const ranked = features.map((f) => rankTarget(f.name, f.values));
  const rows: ProjectionRow[] = [];
  const skipped: number[] = [];
  for (const a of [...store.manifest.layers].sort((x, y) => x - y)) {
    const x = await store.readLayer(a, 'hook_resid_post');
    if (firstNonFinite(x) >= 0) {
      skipped.push(a);
      continue;
    }
    const proj = await matmulTransB(x, vectors, n, d, unique.length);
    const corr = spearmanColumns(proj, n, unique.length, ranked);
    unique.forEach((u, k) => {
      const t = ranked.findIndex((r) => r.name === u.target);
      if (t < 0)
        throw new UserError(`no target '${u.target}' (targets: ${ranked.map((r) => r.name).join(', ')})`);
      rows.push({ ...u, activationLayer: a, spearman: corr[k * ranked.length + t]! });
    });
  }
  return { rows, skipped };
}

/** Index of the first NaN/Inf value, or −1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i]! - a[i]! !== 0) return i;
  return -1;
}

// ------------------------------------------------------------------------------------------- single neurons

/**
 * Where single-neuron activations (`blocks.{l}.mlp.hook_post`) come from: given layer -> neuron indices, returns
 * `${layer}/${neuron}` -> the n per-entity activations. Only the wanted columns are kept (a whole [n, d_mlp] layer
 * of a 7B model on 40k entities is 1.8 GB).
 */
export type ActivationSource = (wanted: Map<number, number[]>) => Promise<Map<string, Float64Array>>;

/** Activations from a store extracted with the mlp_post hook (one layer file read at a time). */
export function storeActivations(store: ActivationStore): ActivationSource {
  return async (wanted) => {
    const { n, d } = store.manifest;
    const out = new Map<string, Float64Array>();
    for (const [l, neurons] of wanted) {
      const hook = hookName(l, 'mlp.hook_post');
      if (!store.hookNames.includes(hook))
        throw new UserError(
          `store ${store.dir} has no ${hook} (extract with --hooks mlp_post, or omit --mlp-store to run the engine)`,
        );
      const a = await store.read(hook);
      for (const j of neurons) {
        if (j >= d) throw new UserError(`store ${store.dir}: neuron ${j} is outside its width ${d}`);
        out.set(
          `${l}/${j}`,
          Float64Array.from({ length: n }, (_, i) => a[i * d + j]!),
        );
      }
    }
    return out;
  };
}

/**
 * Activations computed by the engine on the store's own token ids at each entity's kept position. The wanted
 * columns are copied out inside the hook (an edit that leaves the value unchanged), so no [n, d_mlp] array is kept.
 */
export function engineActivations(model: HookedModel, store: ActivationStore): ActivationSource {
  return async (wanted) => {
    const entities = await store.entities();
    const seqs = entities.map((e, i) => {
      if (!Array.isArray(e.input_ids) || typeof e.position !== 'number')
        throw new UserError(
          `store ${store.dir}, row ${i}: no input_ids/position (not extracted from a model)`,
        );
      return e.input_ids;
    });
    const n = seqs.length;
    const dMlp = model.spec.dMlp;
    const positions = entities.map((e) => e.position as number);
    const out = new Map<string, Float64Array>();
    const edits: HookEdit[] = [...wanted].map(([l, neurons]) => {
      for (const j of neurons) out.set(`${l}/${j}`, new Float64Array(n));
      const cols = neurons.map((j) => [j, out.get(`${l}/${j}`)!] as const);
      return {
        hook: hookName(l, 'mlp.hook_post'),
        apply(value: Float32Array, info: EditInfo) {
          info.sequences.forEach((s, b) => {
            const row = b * info.rowsPerSequence + (info.rowsPerSequence === 1 ? 0 : info.keptPositions![s]!);
            for (const [j, dest] of cols) dest[s] = value[row * dMlp + j]!;
          });
        },
      };
    });
    // Capturing the deepest needed layer's (small, kept-position) resid_post makes the run reach it.
    const last = Math.max(...wanted.keys());
    await model.run(seqs, { hooks: [hookName(last, 'hook_resid_post')], positions, edits });
    return out;
  };
}

export interface SingleNeuronRow {
  target: string;
  layer: number;
  neuron: number;
  group: string;
  fit: SingleFit;
}

/**
 * Step 2 of the paper text's procedure: each neuron's own activation as a 1-D predictor of its target, over all
 * entities (`group` 'all') and per entity type.
 */
export async function singleNeuronStats(
  neurons: { target: string; layer: number; neuron: number }[],
  activations: ActivationSource,
  features: { name: string; values: Float64Array }[],
  n: number,
  dMlp: number,
  groups?: string[],
): Promise<{ rows: SingleNeuronRow[]; acts: Map<string, Float64Array> }> {
  const wanted = new Map<number, number[]>();
  for (const { layer, neuron } of neurons) {
    if (neuron < 0 || neuron >= dMlp) throw new UserError(`neuron ${neuron} is outside 0..${dMlp - 1}`);
    const list = wanted.get(layer) ?? [];
    if (!list.includes(neuron)) list.push(neuron);
    wanted.set(layer, list);
  }
  const acts = await activations(wanted);
  const groupNames = groups ? [...new Set(groups)].sort() : [];
  const rows: SingleNeuronRow[] = [];
  const values = new Map<string, Float64Array>();
  for (const { target, layer, neuron } of neurons) {
    const feature = features.find((f) => f.name === target);
    if (!feature)
      throw new UserError(`no target '${target}' (targets: ${features.map((f) => f.name).join(', ')})`);
    const x = acts.get(`${layer}/${neuron}`)!;
    if (x.length !== n) throw new UserError(`${x.length} activations for ${n} entities (layer ${layer})`);
    values.set(`${layer}/${neuron}`, x);
    rows.push({ target, layer, neuron, group: 'all', fit: singleNeuronFit(x, feature.values) });
    for (const g of groupNames) {
      const idx = groups!.flatMap((v, i) => (v === g ? [i] : []));
      const fit = singleNeuronFit(
        idx.map((i) => x[i]!),
        idx.map((i) => feature.values[i]!),
      );
      rows.push({ target, layer, neuron, group: g, fit });
    }
  }
  return { rows, acts: values };
}

/** The store's entity-type column: a paper dataset's, else the first of entity_type/type/category present. */
export function entityTypeColumn(datasetName: string, columns: string[]): string | undefined {
  const known = DATASETS[datasetName]?.entityTypeColumn;
  if (known && columns.includes(known)) return known;
  return ['entity_type', 'type', 'category'].find((c) => columns.includes(c));
}

/** Map the cosine search's probe target names (longitude/latitude/year) to the feature names (lon/lat/year). */
export function featureOfTarget(targetName: string): string {
  return targetName === 'longitude' ? 'lon' : targetName === 'latitude' ? 'lat' : targetName;
}
