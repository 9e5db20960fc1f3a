import { UserError } from '../util/errors.js';
import { runHoldout } from './holdout.js';
import { type Distance, defaultDistance, experimentAlphaGrid, type ScalarMetrics } from './linear.js';
import { DEFAULT_WEIGHT_DECAYS } from './mlp.js';
import { runMlpExperiment } from './mlp-experiment.js';
import { type ExperimentResult, newResult, type Row, writeExperimentResult } from './output.js';
import { PAPER_PCA_KS, runPcaExperiment } from './pca-experiment.js';
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

/** The fields of a result that say which activations it came from (in the order the JSON writes them). */
export function origin(source: LayerSource, layer: number | null, prompt = source.prompt) {
  const { modelId: model, dataset, hook, kind, targetNames } = source;
  return { model, dataset, prompt, layer, hook, kind, targetNames };
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

export function compactList(xs: number[]): string {
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
      ...origin(source, layers.length === 1 ? layers[0]! : null),
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
      ...origin(source, layer!),
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
      ...origin(source, layer!),
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
