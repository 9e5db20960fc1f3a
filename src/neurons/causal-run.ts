/**
 * `patch` and `ablate` on a model + store + probe: picks the entities (seeded, from the test split: rows the probe
 * was not fitted on), builds the dataset's readouts, takes the probe's directions at the layer (plus, for patching,
 * ridge directions of the log10 of the dataset's other numeric attributes, fitted here the way the probe was), and
 * assembles one experiment@1 result each (docs/neurons.md#patch, #ablate).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { plsDirection, plsRegression } from '../experiments/pls.js';
import { type HookedModel, modelIdentity } from '../model/index.js';
import { resolveAlphas, ridgeLoo } from '../probe/index.js';
import type { ActivationStore, StoreEntity } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { VERSION } from '../version.js';
import { probeAblation } from './ablation.js';
import { readProbeDirections } from './neurons.js';
import type { CausalExperimentResult } from './neurons-run.js';
import {
  directedPatching,
  doseResponse,
  type PatchCell,
  type PatchEntity,
  type SteeringDirection,
} from './patching.js';
import { defaultReadouts, type Readout, readoutEntity } from './readouts.js';

/** Numeric columns a dataset may carry besides its targets, steered as log10 (patching's extra directions). */
export const EXTRA_ATTRIBUTES = ['population', 'page_views'];

export interface CausalCommon {
  model: HookedModel;
  store: ActivationStore;
  /** Output directory of `spacetime-lens probe` for this store. */
  probe: string;
  /** Default: the probe's best layer, else the middle stored layer. */
  layer?: number;
  /** Entities edited (default 12 for patching, 24 for ablation), drawn from the test split. */
  entities?: number;
  randomDirections?: number;
  seed?: number;
  maxCandidates?: number;
  onProgress?(message: string): void;
}

export interface PatchRunOptions extends CausalCommon {
  /** Directions to steer: probe target names and log10_<column> (default: all targets + the extra attributes). */
  steer?: string[];
  amounts?: number[];
  unit?: 'target' | 'rms';
  positions?: 'entity' | 'all';
}

export interface AblateRunOptions extends CausalCommon {
  /** Probe targets whose directions span the ablated subspace (default: all). */
  targets?: string[];
  positions?: 'entity' | 'all';
}

/**
 * The probe's best layer (results.json), else the middle stored layer; never the model's last layer, where an
 * edit of the entity's token could not reach the answer's positions (the highest stored layer below it then).
 */
export async function defaultCausalLayer(
  probe: string,
  store: ActivationStore,
  nLayers: number,
): Promise<number> {
  let layer: number | undefined;
  try {
    const r = JSON.parse(await readFile(join(probe, 'results.json'), 'utf8')) as {
      bestLayer?: number | null;
    };
    if (typeof r.bestLayer === 'number') layer = r.bestLayer;
  } catch {
    // no results.json: fall back to the store's layers
  }
  const layers = [...store.manifest.layers].sort((a, b) => a - b);
  layer ??= layers[Math.floor(layers.length / 2)]!;
  if (layer < nLayers - 1) return layer;
  return [...layers].reverse().find((l) => l < nLayers - 1) ?? Math.max(0, nLayers - 2);
}

/** `n` test rows (seeded), those whose true answer is a candidate of the first readout first. */
export function pickEntities(
  dataset: string,
  entities: StoreEntity[],
  readout: Readout,
  n: number,
  seed: number,
): PatchEntity[] {
  const known = new Set(readout.candidates.map((c) => c.text));
  const order = Array.from(new Rng(seed, 'causal-entities').permutation(entities.length));
  const test = order.filter((i) => entities[i]!.is_test);
  const pool = test.length ? test : order;
  const ranked = [
    ...pool.filter((i) => known.has(readout.truth[i]!)),
    ...pool.filter((i) => !known.has(readout.truth[i]!)),
  ];
  return ranked.slice(0, n).map((row) => ({ row, text: readoutEntity(dataset, entities[row]!) }));
}

/** Std (ddof 0) of each readout attribute over the dataset's entities: the spread effects are scaled by. */
export function attributeScales(store: ActivationStore, entities: StoreEntity[]): Record<string, number> {
  const out: Record<string, number> = {};
  const std = (xs: number[]) => {
    const f = xs.filter(Number.isFinite);
    const m = f.reduce((s, x) => s + x, 0) / f.length;
    return Math.sqrt(f.reduce((s, x) => s + (x - m) ** 2, 0) / f.length);
  };
  store.manifest.dataset.targetNames.forEach((t, j) => {
    out[t] = std(entities.map((e) => e.target[j]!));
  });
  for (const col of EXTRA_ATTRIBUTES) {
    const xs = entities.map((e) => Number(e[col])).filter((x) => x > 0);
    if (xs.length >= 2) out[`log10_${col}`] = std(xs.map(Math.log10));
  }
  return out;
}

/**
 * A ridge direction for log10(column) at the layer, fitted like the probe (exact LOO over the alpha grid,
 * standardised target) on the train rows that carry a positive value; undefined with fewer than 20 such rows.
 */
async function attributeDirection(
  store: ActivationStore,
  entities: StoreEntity[],
  layer: number,
  column: string,
  hook: string,
): Promise<SteeringDirection | undefined> {
  const rows = entities.flatMap((e, i) => (!e.is_test && Number(e[column]) > 0 ? [i] : []));
  if (rows.length < 20) return undefined;
  const m = store.manifest;
  const y = new Float64Array(m.n).fill(0);
  for (const i of rows) y[i] = Math.log10(Number(entities[i]![column]));
  const x = { data: await store.readLayer(layer, hook), rows: m.n, cols: m.d };
  const fit = await ridgeLoo(x, y, 1, resolveAlphas(undefined, m.d, m.model).alphas, { rows });
  return { name: `log10_${column}`, w: fit.coefStandardized, yScale: fit.yScale[0]! };
}

/** `pls<k>_<target>`: the target's direction in a k-component PLS fit (Heinzerling & Inui 2024). */
const PLS_NAME = /^pls(\d+)_(.+)$/;

/**
 * The direction of `pls<k>_<target>` at the layer: PLS with k components (sklearn's scale=True) fitted on the
 * store's train rows against all of the dataset's targets, read for one target (experiments/pls.ts plsDirection).
 */
async function plsSteeringDirection(
  store: ActivationStore,
  entities: StoreEntity[],
  layer: number,
  name: string,
  hook: string,
): Promise<SteeringDirection> {
  const [, ks, targetName] = PLS_NAME.exec(name)!;
  const m = store.manifest;
  const names = m.dataset.targetNames;
  const target = names.indexOf(targetName!);
  if (target < 0)
    throw new UserError(`${name}: the dataset has no target ${targetName} (targets: ${names.join(', ')})`);
  const k = Number(ks);
  const t = names.length;
  const y = new Float64Array(m.n * t);
  entities.forEach((e, i) => {
    for (let j = 0; j < t; j++) y[i * t + j] = e.target[j]!;
  });
  const train = entities.flatMap((e, i) => (e.is_test ? [] : [i]));
  const fit = await plsRegression(await store.readLayer(layer, hook), m.n, m.d, y, t, train, k);
  if (fit.components < k)
    throw new UserError(`${name}: only ${fit.components} PLS components could be fitted`);
  return { name, w: plsDirection(fit, k, target), yScale: fit.yScale[target]! };
}

async function probeDirections(probe: string, layer: number, names?: string[]) {
  const probes = await readProbeDirections(probe);
  try {
    const wanted = names ?? probes.targetNames;
    const { yScale } = await probes.ridge(layer);
    return {
      hook: probes.hook,
      targetNames: probes.targetNames,
      directions: await Promise.all(
        wanted.map(async (name) => {
          const t = probes.targetNames.indexOf(name);
          if (t < 0)
            throw new UserError(
              `the probe has no target ${name} (targets: ${probes.targetNames.join(', ')})`,
            );
          return { name, w: await probes.direction(layer, t), yScale: yScale[t]! };
        }),
      ),
    };
  } finally {
    await probes.close();
  }
}

function baseResult(o: CausalCommon, experiment: 'patch' | 'ablate', layer: number, title: string) {
  const m = o.store.manifest;
  return {
    schema: 'spacetime-lens/experiment@1' as const,
    experiment,
    title,
    model: modelIdentity(m.model.id),
    dataset: m.dataset.name,
    prompt: m.prompt.name,
    layer,
    hook: `blocks.${layer}.hook_resid_post`,
    kind: m.dataset.kind,
    targetNames: m.dataset.targetNames,
    toolVersion: VERSION,
    createdAt: new Date().toISOString(),
  };
}

const readoutInfo = (readouts: Readout[]) =>
  readouts.map((r) => ({
    name: r.name,
    template: r.template,
    attributes: r.attributes,
    candidates: r.candidates.map((c) => c.text),
  }));

const cellRow = (c: PatchCell) => ({
  direction: c.direction,
  measure: c.measure,
  slope: c.slope,
  slope_scaled: c.slopeScaled,
  random_min: c.randomMin,
  random_max: c.randomMax,
  random_mean: c.randomMean,
  random_sd: c.randomSd,
  z: c.z,
  p: c.p,
  outside: c.outside,
});
const CELL_COLUMNS = Object.keys(cellRow({} as PatchCell));

/** The layer (default: defaultCausalLayer), the store's entities and the dataset's readouts. */
async function setting(o: CausalCommon) {
  const m = o.store.manifest;
  const layer = o.layer ?? (await defaultCausalLayer(o.probe, o.store, o.model.spec.nLayers));
  const entities = await o.store.entities();
  const readouts = defaultReadouts(m.dataset.name, m.dataset.kind, m.dataset.targetNames, entities, {
    ...(o.maxCandidates !== undefined && { maxCandidates: o.maxCandidates }),
  });
  return { layer, entities, readouts };
}

/** Directed patching with a side-effect matrix (docs/neurons.md#patch). */
export async function runPatching(o: PatchRunOptions): Promise<CausalExperimentResult> {
  const m = o.store.manifest;
  const { layer, entities, readouts } = await setting(o);
  const scales = attributeScales(o.store, entities);
  const wanted = o.steer ?? [...m.dataset.targetNames, ...EXTRA_ATTRIBUTES.map((c) => `log10_${c}`)];
  const probeNames = wanted.filter((s) => !s.startsWith('log10_') && !PLS_NAME.test(s));
  const probe = await probeDirections(o.probe, layer, probeNames);
  const directions: SteeringDirection[] = [];
  for (const name of wanted) {
    if (name.startsWith('log10_')) {
      const dir = await attributeDirection(o.store, entities, layer, name.slice(6), probe.hook);
      if (dir) directions.push(dir);
      else if (o.steer)
        throw new UserError(`${name}: fewer than 20 train rows carry a positive ${name.slice(6)}`);
    } else if (PLS_NAME.test(name)) {
      directions.push(await plsSteeringDirection(o.store, entities, layer, name, probe.hook));
    } else directions.push(probe.directions.find((x) => x.name === name)!);
  }
  const picked = pickEntities(m.dataset.name, entities, readouts[0]!, o.entities ?? 12, o.seed ?? 0);
  const n = o.randomDirections ?? 8;
  const amounts = o.amounts ?? [-2, -1, 1, 2];
  const unit = o.unit ?? 'target';
  const positions = o.positions ?? 'entity';
  const res = await directedPatching(o.model, {
    layer,
    directions,
    amounts,
    unit,
    positions,
    readouts,
    entities: picked,
    randomDirections: n,
    seed: o.seed ?? 0,
    scales,
    onProgress: (done, total) => o.onProgress?.(`patched ${done}/${total} entities`),
  });
  const measures = res.measures.map((x) => x.name);
  const dirNames = directions.map((x) => x.name);
  const mass = Object.fromEntries(
    readouts.map((r) => {
      const xs = res.clean.filter((c) => c.readout === r.name).map((c) => c.mass);
      return [`candidate_mass_${r.name}`, xs.reduce((s, x) => s + x, 0) / xs.length];
    }),
  );
  return {
    ...baseResult(o, 'patch', layer, `Directed patching along probe directions at layer ${layer}`),
    settings: {
      probe: o.probe,
      steer: dirNames,
      yScales: Object.fromEntries(directions.map((x) => [x.name, x.yScale])),
      amounts,
      unit,
      positions,
      randomDirections: n,
      seed: o.seed ?? 0,
      entities: picked.map((e) => e.text),
      readouts: readoutInfo(readouts),
      scales,
    },
    columns: CELL_COLUMNS,
    table: res.matrix.map(cellRow),
    summary: { entities: picked.length, ...mass },
    tables: {
      probe_readings: { columns: CELL_COLUMNS, rows: res.probeMatrix.map(cellRow) },
      effects: {
        columns: [
          ...['row', 'entity', 'direction', 'source', 'amount', 'shift_norm', 'relative_shift'],
          ...dirNames.map((x) => `probe_shift_${x}`),
          ...measures.map((x) => `d_${x}`),
        ],
        rows: res.effects.map((e) => ({
          row: e.row,
          entity: e.entity,
          direction: e.direction,
          source: e.source < 0 ? 'probe' : `random-${e.source}`,
          amount: e.amount,
          shift_norm: e.shiftNorm,
          relative_shift: e.relativeShift,
          ...Object.fromEntries(dirNames.map((x, k) => [`probe_shift_${x}`, e.probeShifts[k]!])),
          ...Object.fromEntries(measures.map((x, k) => [`d_${x}`, e.deltas[k]!])),
        })),
      },
      clean: {
        columns: ['row', 'entity', 'readout', 'mass', 'logp_true', 'values'],
        rows: res.clean.map((c) => ({
          row: c.row,
          entity: c.entity,
          readout: c.readout,
          mass: c.mass,
          logp_true: c.logpTrue,
          values: c.values.map((v) => v.toFixed(4)).join(' '),
        })),
      },
    },
    figures: {
      directions: dirNames,
      measures,
      doseResponse: doseResponse(res.effects, measures, n),
    },
    notes: [
      `Each entity's resid_post at layer ${layer} (${positions === 'entity' ? "its name's last token" : 'every position'}) moves by ` +
        (unit === 'target'
          ? "amount·w/‖w‖² (the direction's probe re-reads amount train std more)"
          : 'amount·(‖x‖/√d)·w/‖w‖') +
        `; ${n} random directions of the same norm, orthogonal to w, move by the same amounts.`,
      "Δ = the model's expected answer under each readout (candidate-weighted, renormalised over the candidates) minus the unedited one; slope = Σ amount·Δ / Σ amount² over entities and amounts; slope_scaled = slope / the attribute's std over the dataset.",
      'candidate_mass = Σ P(candidate) before renormalising: how much of its probability the model puts on the readout at all.',
    ],
  };
}

/** Probe direction vs causal subspace (docs/neurons.md#ablate). */
export async function runAblation(o: AblateRunOptions): Promise<CausalExperimentResult> {
  const m = o.store.manifest;
  const { layer, entities, readouts } = await setting(o);
  const probe = await probeDirections(o.probe, layer, o.targets);
  const picked = pickEntities(m.dataset.name, entities, readouts[0]!, o.entities ?? 24, o.seed ?? 0);
  const n = o.randomDirections ?? 8;
  const positions = o.positions ?? 'all';
  const label = probe.directions.map((x) => x.name).join(', ');
  const res = await probeAblation(o.model, {
    layer,
    directions: probe.directions.map((x) => x.w),
    label,
    positions,
    readouts,
    entities: picked,
    randomDirections: n,
    seed: o.seed ?? 0,
    scales: attributeScales(o.store, entities),
    onProgress: (done, total) => o.onProgress?.(`ablated ${done}/${total} entities`),
  });
  const columns = [
    'readout',
    'metric',
    'probe',
    'random_min',
    'random_median',
    'random_max',
    'ratio',
    'p',
    'exceeds',
  ];
  const attrs = [...new Set(readouts.flatMap((r) => r.attributes))];
  return {
    ...baseResult(o, 'ablate', layer, `Ablating the ${label} probe direction at layer ${layer}`),
    settings: {
      probe: o.probe,
      targets: probe.directions.map((x) => x.name),
      k: res.k,
      positions,
      randomDirections: n,
      seed: o.seed ?? 0,
      entities: picked.map((e) => e.text),
      readouts: readoutInfo(readouts),
    },
    columns,
    table: res.summary.map((s) => ({
      readout: s.readout,
      metric: s.metric,
      probe: s.probe,
      random_min: s.randomMin,
      random_median: s.randomMedian,
      random_max: s.randomMax,
      ratio: s.ratio,
      p: s.p,
      exceeds: s.exceeds,
    })),
    summary: { used: res.used, verdict: res.verdict, k: res.k, entities: picked.length },
    tables: {
      entities: {
        columns: [
          'row',
          'entity',
          'readout',
          'source',
          'kl',
          'd_logp_true',
          'removed',
          ...attrs.map((a) => `abs_d_${a}`),
        ],
        rows: res.rows.map((r) => {
          const ro = readouts.find((x) => x.name === r.readout)!;
          return {
            row: r.row,
            entity: r.entity,
            readout: r.readout,
            source: r.source < 0 ? 'probe' : `random-${r.source}`,
            kl: r.kl,
            d_logp_true: r.deltaLogpTrue,
            removed: r.removed,
            ...Object.fromEntries(ro.attributes.map((a, j) => [`abs_d_${a}`, r.absDeltas[j]!])),
          };
        }),
      },
    },
    figures: {},
    notes: [
      res.verdict,
      `x ← x − QQᵀx at blocks.${layer}.hook_resid_post (${positions === 'all' ? 'every position' : "the name's last token"}), Q an orthonormal basis of the probe's ${res.k} direction(s); ${n} random ${res.k}-D subspaces orthogonal to it are the control.`,
      'kl = KL(clean ‖ ablated) of the candidate distribution renormalised over the readout; abs_d_<attribute> in std of the attribute over the dataset; removed = mean ‖QQᵀx‖/‖x‖; p = (1 + #{random ≥ probe}) / (N + 1).',
    ],
  };
}
