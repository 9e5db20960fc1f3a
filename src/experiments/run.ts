/**
 * Store-level experiment runners: open stores, pick layers and α the paper's way, run an experiment, build the
 * `spacetime-lens/experiment@1` result (and write it when `out` is given). The CLI is a thin layer over these.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PROBE_RESULTS_SCHEMA, type ProbeResults } from '../probe/index.js';
import { UserError } from '../util/errors.js';
import { runHoldout } from './holdout.js';
import { fullHookName } from './layer-data.js';
import {
  type Distance,
  defaultDistance,
  experimentAlphaGrid,
  type ScalarMetrics,
  toScalarMetrics,
} from './linear.js';
import { DEFAULT_WEIGHT_DECAYS } from './mlp.js';
import { runMlpExperiment } from './mlp-experiment.js';
import { type ExperimentResult, newResult, type Row, writeExperimentResult } from './output.js';
import { PAPER_PCA_KS, runPcaExperiment } from './pca-experiment.js';
import { promptSensitivity, promptTransfer, type SensitivityRow } from './prompts.js';
import { holdoutGroupsFor, paperExperimentLayer, paperFixedAlpha } from './settings.js';
import { type LayerSource, openLayerSource } from './source.js';

export interface CommonOptions {
  /** Write `<experiment>.json` + CSVs here. */
  out?: string;
  /** Hook suffix (default resid_post). */
  hook?: string;
  /** Alpha grid: a preset name or explicit values (default: the experiment's paper choice). */
  alphas?: string | number[];
  distance?: Distance;
  paperCompat?: boolean;
  seed?: number;
  log?: (line: string) => void;
}

const METRIC_COLUMNS: [string, string][] = [
  ['r2', 'r2'],
  ['spearman', 'spearman'],
  ['pearson', 'pearson'],
  ['mae', 'mae'],
  ['rmse', 'rmse'],
  ['prox_error', 'proxError'],
  ['haversine_mae_km', 'haversineMaeKm'],
];

export function metricCells(prefix: string, m: ScalarMetrics | null, kind: 'space' | 'time'): Row {
  const row: Row = {};
  for (const [col, key] of METRIC_COLUMNS) {
    if (key === 'haversineMaeKm' && kind !== 'space') continue;
    const v = m?.[key];
    row[`${prefix}_${col}`] = typeof v === 'number' && Number.isFinite(v) ? v : null;
  }
  return row;
}

export function metricColumnNames(prefix: string, kind: 'space' | 'time'): string[] {
  return METRIC_COLUMNS.filter(([, k]) => k !== 'haversineMaeKm' || kind === 'space').map(
    ([c]) => `${prefix}_${c}`,
  );
}

export async function finish(result: ExperimentResult, options: CommonOptions): Promise<ExperimentResult> {
  if (options.out) {
    const paths = await writeExperimentResult(options.out, result);
    options.log?.(`wrote ${paths.join(', ')}`);
  }
  return result;
}

export function pickLayers(
  source: LayerSource,
  requested: number[] | undefined,
  experiment: 'mlp' | 'pca' | 'holdout' | 'transfer',
) {
  const available = source.layers;
  if (requested?.length) {
    for (const l of requested) {
      if (!available.includes(l)) {
        throw new UserError(`layer ${l} is not in store ${source.dir} (layers: ${compactList(available)})`);
      }
    }
    return requested;
  }
  return [paperExperimentLayer(source.paperSize, source.nLayers, available, experiment)];
}

function compactList(xs: number[]): string {
  return xs.length > 12 ? `${xs.slice(0, 5).join(',')},…,${xs.slice(-3).join(',')}` : xs.join(',');
}

/** Linear vs MLP probe (docs/method.md#mlp). */
export async function mlpExperiment(
  store: string,
  options: CommonOptions & {
    /** Layers to run; 'all' = every stored layer; default the paper's layer. */
    layers?: number[] | 'all';
    weightDecays?: number[];
    maxEpochs?: number;
    batchSize?: number;
    hidden?: number;
  },
): Promise<ExperimentResult> {
  const source = await openLayerSource(store, options.hook);
  const layers = options.layers === 'all' ? source.layers : pickLayers(source, options.layers, 'mlp');
  const alphas = experimentAlphaGrid(options.alphas ?? 'mlp-baseline', source.d, source.model);
  const distance = options.distance ?? defaultDistance(source.kind, options.paperCompat);
  const rows: Row[] = [];
  const curves: Row[] = [];
  for (const layer of layers) {
    options.log?.(`mlp: layer ${layer}`);
    const data = await source.load(layer);
    const res = await runMlpExperiment(data, {
      alphas: alphas.values,
      distance,
      mlp: {
        seed: options.seed ?? 0,
        weightDecays: options.weightDecays ?? DEFAULT_WEIGHT_DECAYS,
        ...(options.maxEpochs !== undefined && { maxEpochs: options.maxEpochs }),
        ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
        ...(options.hidden !== undefined && { hidden: options.hidden }),
        onEpoch: (e) =>
          options.log?.(
            `  wd ${e.weightDecay} epoch ${e.epoch + 1}: train ${e.trainLoss.toFixed(4)} val ${e.valMse.toFixed(4)}`,
          ),
      },
    });
    rows.push({
      layer,
      probe: 'linear',
      regularization: res.linear.alpha,
      ...metricCells('train', res.linear.train, source.kind),
      ...metricCells('test', res.linear.test, source.kind),
    });
    rows.push({
      layer,
      probe: 'mlp',
      regularization: res.mlp.weightDecay,
      ...metricCells('train', res.mlp.train, source.kind),
      ...metricCells('test', res.mlp.test, source.kind),
    });
    for (const run of res.mlp.runs) {
      for (const [epoch, v] of run.valMse.entries()) {
        curves.push({
          layer,
          weight_decay: run.weightDecay,
          epoch: epoch + 1,
          train_loss: run.trainLoss[epoch] ?? null,
          val_mse: v,
          chosen: run.weightDecay === res.mlp.weightDecay,
        });
      }
    }
  }
  const summary: Record<string, number | null> = {};
  if (layers.length === 1) {
    for (const r of rows) {
      summary[`${r['probe']}_test_r2`] = r['test_r2'] as number | null;
      summary[`${r['probe']}_test_prox_error`] = r['test_prox_error'] as number | null;
    }
  }
  return finish(
    newResult({
      experiment: 'mlp',
      title: 'Linear ridge vs MLP probe',
      model: source.modelId,
      dataset: source.dataset,
      prompt: source.prompt,
      layer: layers.length === 1 ? layers[0]! : null,
      hook: source.hook,
      kind: source.kind,
      targetNames: source.targetNames,
      settings: {
        alphas: alphas.values,
        alphaPreset: alphas.preset,
        distance,
        hidden: options.hidden ?? 256,
        weightDecays: options.weightDecays ?? DEFAULT_WEIGHT_DECAYS,
        lr: 1e-3,
        batchSize: options.batchSize ?? 512,
        maxEpochs: options.maxEpochs ?? 20,
        patience: 3,
        validationFraction: 0.1,
        seed: options.seed ?? 0,
        layers,
      },
      columns: [
        'layer',
        'probe',
        'regularization',
        ...metricColumnNames('train', source.kind),
        ...metricColumnNames('test', source.kind),
      ],
      table: rows,
      summary,
      tables: {
        curves: {
          columns: ['layer', 'weight_decay', 'epoch', 'train_loss', 'val_mse', 'chosen'],
          rows: curves,
        },
      },
      notes: [
        'regularization = the LOO-selected ridge alpha (linear) or the selected AdamW weight decay (mlp).',
        'MLP: every weight decay starts from the same seeded init and batch order; the final-epoch weights are kept.',
      ],
    }),
    options,
  );
}

/** PCA probes (docs/method.md#pca). */
export async function pcaExperiment(
  store: string,
  options: CommonOptions & {
    layer?: number;
    ks?: number[];
    includeRaw?: boolean;
    maxIterations?: number;
    method?: 'exact' | 'subspace';
  },
): Promise<ExperimentResult> {
  const source = await openLayerSource(store, options.hook);
  const [layer] = pickLayers(source, options.layer === undefined ? undefined : [options.layer], 'pca');
  const alphas = experimentAlphaGrid(options.alphas ?? 'auto', source.d, source.model);
  const distance = options.distance ?? defaultDistance(source.kind, options.paperCompat);
  options.log?.(`pca: layer ${layer}`);
  const data = await source.load(layer!);
  const res = await runPcaExperiment(data, {
    ks: options.ks ?? PAPER_PCA_KS,
    alphas: alphas.values,
    distance,
    includeRaw: options.includeRaw ?? true,
    pca: {
      seed: options.seed ?? 0,
      method: options.method ?? 'exact',
      ...(options.maxIterations !== undefined && { maxIterations: options.maxIterations }),
    },
  });
  const rows: Row[] = res.rows.map((r) => ({
    k: r.k,
    features: r.raw ? 'raw' : 'pca',
    explained_variance: r.explainedVariance,
    alpha: r.alpha,
    ...metricCells('train', r.train, source.kind),
    ...metricCells('test', r.test, source.kind),
  }));
  const raw = res.rows.find((r) => r.raw);
  return finish(
    newResult({
      experiment: 'pca',
      title: 'PCA probes: test R² and Spearman against the number of principal components',
      model: source.modelId,
      dataset: source.dataset,
      prompt: source.prompt,
      layer: layer!,
      hook: source.hook,
      kind: source.kind,
      targetNames: source.targetNames,
      settings: {
        ks: res.rows.map((r) => r.k),
        skippedKs: res.skippedKs,
        alphas: alphas.values,
        alphaPreset: alphas.preset,
        distance,
        seed: options.seed ?? 0,
        pcaMethod: options.method ?? 'exact',
        pcaIterations: res.pca.iterations,
        pcaConverged: res.pca.converged,
        pcaResidual: res.pca.residual,
      },
      columns: [
        'k',
        'features',
        'explained_variance',
        'alpha',
        ...metricColumnNames('train', source.kind),
        ...metricColumnNames('test', source.kind),
      ],
      table: rows,
      summary: {
        raw_test_r2: raw?.test['r2'] ?? null,
        raw_test_spearman: raw?.test['spearman'] ?? null,
      },
      tables: {
        spectrum: {
          columns: ['component', 'explained_variance_ratio'],
          rows: Array.from(res.pca.explainedVarianceRatio, (v, i) => ({
            component: i + 1,
            explained_variance_ratio: v,
          })),
        },
      },
      notes: [
        'PCA is fitted on all N rows (train and test), centred; features = X·V[:, :k] (not re-centred), as the paper.',
        'Components exact (f64 eigendecomposition) by default; the authors used torch.pca_lowrank(niter=2), which is approximate.',
        'explained_variance = cumulative fraction of the total variance in the top k components.',
      ],
    }),
    options,
  );
}

/**
 * A hold-out needs two or more groups: with one, holding it out leaves nothing to train on. Say so plainly (the
 * usual cause is --limit on a file sorted by type) instead of letting every hold-out value fail.
 */
function checkSeveralGroups(
  which: 'block' | 'entity',
  column: string,
  values: string[] | undefined,
  store: string,
) {
  const distinct = new Set(values ?? []);
  if (distinct.size !== 1) return;
  const only = [...distinct][0];
  const what = which === 'entity' ? 'entity type' : 'block';
  throw new UserError(
    `${which}-holdout: all ${values!.length} entities of ${store} have ${column} '${only}', i.e. one ${what} only, ` +
      `so there is nothing to hold out; extract a stratified sample (--sample N instead of --limit N) or use a ` +
      `dataset with several ${what}s`,
  );
}

/** Block or entity-type hold-out (docs/method.md#block-holdout, #entity-holdout). */
export async function holdoutExperiment(
  store: string,
  which: 'block' | 'entity',
  options: CommonOptions & { layer?: number; column?: string; values?: string[]; alpha?: number | 'loo' },
): Promise<ExperimentResult> {
  const source = await openLayerSource(store, options.hook);
  const [layer] = pickLayers(source, options.layer === undefined ? undefined : [options.layer], 'holdout');
  const distance = options.distance ?? defaultDistance(source.kind, options.paperCompat);
  const spec = holdoutGroupsFor(source.dataset, which, source.blockColumn, source.entityTypeColumn);
  const column = options.column ?? spec?.column;
  if (!column) {
    throw new UserError(
      `no ${which} column is known for dataset '${source.dataset}': pass --column (entity columns: ${source.columnNames.join(', ')})`,
    );
  }
  const values = options.values ?? (column === spec?.column ? spec?.values : undefined);
  options.log?.(`${which}-holdout: layer ${layer}, column ${column}`);
  const data = await source.load(layer!);
  checkSeveralGroups(which, column, data.columns[column], source.dir);
  const alpha = await paperFixedAlpha(options.alpha, source.model, data, options.alphas);
  const res = await runHoldout(data, { column, ...(values && { values }), alpha: alpha.value, distance });
  const rows: Row[] = res.groups.map((g) => ({
    group: g.group,
    n_group: g.nGroup,
    n_nominal: g.nNominal,
    ...metricCells('nominal', g.nominal, source.kind),
    ...metricCells('heldout', g.heldOut, source.kind),
    centroid_angle_deg: g.centroid.angleDeg,
  }));
  const summary: Record<string, number | null> = {
    groups: res.groups.length,
    nominal_groups: res.means.nominalGroups,
    mean_centroid_angle_deg: res.meanAngleDeg,
  };
  for (const [col, key] of METRIC_COLUMNS) {
    const a = res.means.nominal[key];
    const b = res.means.heldOut[key];
    if (a === undefined && b === undefined) continue;
    summary[`nominal_${col}`] = a !== undefined && Number.isFinite(a) ? a : null;
    summary[`heldout_${col}`] = b !== undefined && Number.isFinite(b) ? b : null;
  }
  const experiment = which === 'block' ? 'block-holdout' : 'entity-holdout';
  return finish(
    newResult({
      experiment,
      title: which === 'block' ? `Block hold-out by ${column}` : `Entity-type hold-out by ${column}`,
      model: source.modelId,
      dataset: source.dataset,
      prompt: source.prompt,
      layer: layer!,
      hook: source.hook,
      kind: source.kind,
      targetNames: source.targetNames,
      settings: {
        column,
        values: res.groups.map((g) => g.group),
        skipped: res.skipped,
        alpha: alpha.value,
        alphaSource: alpha.source,
        distance,
      },
      columns: [
        'group',
        'n_group',
        'n_nominal',
        ...metricColumnNames('nominal', source.kind),
        ...metricColumnNames('heldout', source.kind),
        'centroid_angle_deg',
      ],
      table: rows,
      summary,
      tables: {
        centroids: {
          columns: ['group', ...centroidColumns(source.targetNames)],
          rows: res.groups.map((g) => centroidRow(g.group, g.centroid, source.targetNames)),
        },
      },
      figures: res.maps.length ? { maps: res.maps } : undefined,
      notes: [
        'nominal: probe fitted on the default train split, scored on the group rows in the default test split.',
        'heldout: probe fitted on every row outside the group (test rows included), scored on all group rows.',
        'prox_error: mean over scored rows of the combined proximity error against all N predictions (docs/method.md#metrics).',
        'summary values are unweighted means over groups (nominal over groups with default-test rows).',
        'centroid_angle_deg comes from the paper TEXT, not its code: angle between (true centroid − training centroid) and (predicted centroid − training centroid) in the target plane; 1-D targets give 0 or 180.',
      ],
    }),
    options,
  );
}

function centroidColumns(names: string[]): string[] {
  return [
    ...names.map((n) => `true_${n}`),
    ...names.map((n) => `pred_${n}`),
    ...names.map((n) => `train_${n}`),
    'angle_deg',
  ];
}

function centroidRow(
  group: string,
  c: {
    trueCentroid: number[];
    predictedCentroid: number[];
    trainCentroid: number[];
    angleDeg: number | null;
  },
  names: string[],
): Row {
  const row: Row = { group };
  names.forEach((n, j) => {
    row[`true_${n}`] = c.trueCentroid[j]!;
    row[`pred_${n}`] = c.predictedCentroid[j]!;
    row[`train_${n}`] = c.trainCentroid[j]!;
  });
  row['angle_deg'] = c.angleDeg;
  return row;
}

/** Prompt sensitivity (every layer of each store) and prompt transfer at one layer (docs/method.md#prompt-experiments). */
export async function promptsExperiment(
  stores: string[],
  options: CommonOptions & {
    layers?: number[];
    transferLayer?: number;
    transfer?: boolean;
    /**
     * probe results.json files (or their folders) of these stores: layers they already scored with the same alpha
     * grid, hook and distance are taken from them instead of being refitted.
     */
    probeResults?: string[];
  },
): Promise<ExperimentResult> {
  if (stores.length < 1)
    throw new UserError('give the stores of one model and dataset under several prompts');
  const sources = await Promise.all(stores.map((s) => openLayerSource(s, options.hook)));
  const first = sources[0]!;
  const byPrompt = new Map<string, LayerSource>();
  for (const s of sources) {
    if (s.modelId !== first.modelId || s.dataset !== first.dataset || s.datasetSha !== first.datasetSha) {
      throw new UserError(
        `store ${s.dir} is ${s.modelId}/${s.dataset}, but ${first.dir} is ${first.modelId}/${first.dataset}`,
      );
    }
    if (byPrompt.has(s.prompt))
      throw new UserError(
        `two stores have prompt '${s.prompt}': ${byPrompt.get(s.prompt)!.dir} and ${s.dir}`,
      );
    byPrompt.set(s.prompt, s);
  }
  const prompts = [...byPrompt.keys()];
  const common = first.layers.filter((l) => sources.every((s) => s.layers.includes(l)));
  const layers = options.layers?.length ? options.layers : common;
  for (const l of layers) {
    if (!common.includes(l))
      throw new UserError(`layer ${l} is not in every prompt store (common layers: ${compactList(common)})`);
  }
  const alphas = experimentAlphaGrid(options.alphas ?? 'auto', first.d, first.model);
  const distance = options.distance ?? defaultDistance(first.kind, options.paperCompat);
  const load = (prompt: string, layer: number) => byPrompt.get(prompt)!.load(layer);
  const reused = await reusableProbeRows(
    options.probeResults ?? [],
    byPrompt,
    alphas.values,
    distance,
    options.log,
  );
  const sensitivity: SensitivityRow[] = [];
  for (const prompt of prompts) {
    const known = reused.get(prompt);
    const missing = layers.filter((l) => !known?.has(l));
    const fitted = await promptSensitivity([prompt], missing, load, {
      alphas: alphas.values,
      distance,
      onLayer: (p, l) => options.log?.(`prompts: ${p} layer ${l}`),
    });
    for (const layer of layers) sensitivity.push(known?.get(layer) ?? fitted.find((r) => r.layer === layer)!);
  }
  const rows: Row[] = sensitivity.map((r) => ({
    prompt: r.prompt,
    layer: r.layer,
    alpha: r.alpha,
    ...metricCells('train', r.train, first.kind),
    ...metricCells('test', r.test, first.kind),
  }));
  const tables: ExperimentResult['tables'] = {};
  const summary: Record<string, number | null> = {};
  let transferLayer: number | null = null;
  if ((options.transfer ?? true) && prompts.length >= 2) {
    transferLayer =
      options.transferLayer ?? paperExperimentLayer(first.paperSize, first.nLayers, common, 'transfer');
    if (!common.includes(transferLayer))
      throw new UserError(`transfer layer ${transferLayer} is not in every prompt store`);
    options.log?.(`prompts: transfer at layer ${transferLayer}`);
    const transfer = await promptTransfer(prompts, transferLayer, load, { alphas: alphas.values, distance });
    tables['transfer'] = {
      columns: [
        'activation_prompt',
        'probe_prompt',
        'centred',
        ...metricColumnNames('train', first.kind),
        ...metricColumnNames('test', first.kind),
      ],
      rows: transfer.rows.map((r) => ({
        activation_prompt: r.activationPrompt,
        probe_prompt: r.probePrompt,
        centred: r.centred,
        ...metricCells('train', r.train, first.kind),
        ...metricCells('test', r.test, first.kind),
      })),
    };
    for (const key of ['r2', 'spearman', 'proxError'] as const) {
      const col = key === 'proxError' ? 'prox_error' : key;
      summary[`same_test_${col}`] = finiteOrNull(transfer.same[key]);
      summary[`different_test_${col}`] = finiteOrNull(transfer.different[key]);
    }
  }
  return finish(
    newResult({
      experiment: 'prompts',
      title: 'Prompt sensitivity and prompt transfer',
      model: first.modelId,
      dataset: first.dataset,
      prompt: prompts.join(','),
      layer: transferLayer,
      hook: first.hook,
      kind: first.kind,
      targetNames: first.targetNames,
      settings: {
        prompts,
        layers,
        transferLayer,
        alphas: alphas.values,
        alphaPreset: alphas.preset,
        distance,
      },
      columns: [
        'prompt',
        'layer',
        'alpha',
        ...metricColumnNames('train', first.kind),
        ...metricColumnNames('test', first.kind),
      ],
      table: rows,
      summary,
      tables,
      notes: [
        'table: the LOO ridge probe per prompt and layer (sensitivity).',
        'transfer: probe fitted on probe_prompt applied to activation_prompt; centred subtracts mean(X_a) − mean(X_b) first (means over all rows).',
        'summary same = mean over activation_prompt = probe_prompt; different = mean over the other pairs, centred and uncentred (test split).',
      ],
    }),
    options,
  );
}

/**
 * Sensitivity rows from probe results that match this run: the same store (its cache key; for a store without one,
 * the same folder and row count), hook, grid, distance and LOO. A file that does not match is named in the log and
 * its layers are refitted.
 */
async function reusableProbeRows(
  paths: string[],
  stores: Map<string, LayerSource>,
  alphas: number[],
  distance: Distance,
  log?: (line: string) => void,
) {
  const out = new Map<string, Map<number, SensitivityRow>>();
  for (const path of paths) {
    const file = path.endsWith('.json') ? path : join(path, 'results.json');
    let res: ProbeResults;
    try {
      res = JSON.parse(await readFile(file, 'utf8')) as ProbeResults;
    } catch {
      throw new UserError(`cannot read probe results ${file}`);
    }
    const why = probeResultsMismatch(res, stores.get(res.prompt), alphas, distance);
    if (why) {
      log?.(`prompts: not reusing ${file}: ${why}`);
      continue;
    }
    const rows = new Map<number, SensitivityRow>();
    for (const l of res.layers) {
      rows.set(l.layer, {
        prompt: res.prompt,
        layer: l.layer,
        alpha: l.alpha,
        train: toScalarMetrics(l.train),
        test: toScalarMetrics(l.test),
      });
    }
    out.set(res.prompt, rows);
  }
  return out;
}

/** Why probe results cannot stand in for a refit on `store`; undefined when they can. */
function probeResultsMismatch(
  res: ProbeResults,
  store: LayerSource | undefined,
  alphas: number[],
  distance: Distance,
): string | undefined {
  if (res.schema !== PROBE_RESULTS_SCHEMA) return `schema ${res.schema}, not ${PROBE_RESULTS_SCHEMA}`;
  if (!store) return `its prompt '${res.prompt}' is not one of the stores' prompts`;
  if (res.model !== store.modelId || res.dataset !== store.dataset)
    return `it is ${res.model}/${res.dataset}, the store ${store.modelId}/${store.dataset}`;
  if (store.storeKeySha256 !== undefined) {
    // The key names the rows, prompt text, dtype, … that made the activations: a 60-row probe is not a 180-row one.
    if (res.storeKeySha256 !== store.storeKeySha256)
      return `its store key ${res.storeKeySha256?.slice(0, 12) ?? '(none)'} is not ${store.dir}'s ${store.storeKeySha256.slice(0, 12)}`;
  } else if (resolve(res.store) !== resolve(store.dir) || res.nTrain + res.nTest !== store.n) {
    return `it probed ${res.store} (${res.nTrain + res.nTest} rows), not ${store.dir} (${store.n} rows; no store key to compare)`;
  }
  if (fullHookName(res.hook, 0) !== fullHookName(store.hook, 0)) return `hook ${res.hook}, not ${store.hook}`;
  if (res.settings?.cv !== 'loo') return `alpha chosen by ${res.settings?.cv}, not LOO`;
  if (res.settings.distance !== distance) return `distance ${res.settings.distance}, not ${distance}`;
  const sameGrid =
    res.settings.alphas?.length === alphas.length &&
    res.settings.alphas.every((a, i) => Math.abs(a / alphas[i]! - 1) < 1e-12);
  return sameGrid ? undefined : 'another alpha grid';
}

function finiteOrNull(v: number | undefined): number | null {
  return v !== undefined && Number.isFinite(v) ? v : null;
}
