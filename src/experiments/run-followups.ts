/**
 * Store-level runners of the follow-up experiments (docs/experiments.md#pls, #spatial, #bias, #negative-controls):
 * PLS probes, spatial autocorrelation of units, fame and region bias of the probe's errors, and negative-control
 * targets. Each builds one `spacetime-lens/experiment@1` result, like the paper's experiments in run.ts.
 */

import { denseColumns } from '../sae/features.js';
import { loadSae, runSae } from '../sae/index.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { runBias } from './bias.js';
import {
  type Distance,
  defaultDistance,
  experimentAlphaGrid,
  fitRidgeLoo,
  predictLinear,
  scoreSplit,
} from './linear.js';
import { negativeControlTargets, probeTargetSets } from './negative-controls.js';
import { type ExperimentResult, newResult, type Row } from './output.js';
import { componentsToReach, runPlsExperiment } from './pls-experiment.js';
import { splitRows } from './prompts.js';
import { type CommonOptions, finish, metricCells, metricColumnNames, pickLayers } from './run.js';
import { type LayerSource, openLayerSource } from './source.js';
import { columnBlock, runSpatial, type UnitSource } from './spatial-experiment.js';

/** The default k list of `pls`: 1..32. */
export const DEFAULT_PLS_COMPONENTS = Array.from({ length: 32 }, (_, i) => i + 1);

/** What a result says about the store it ran on. */
function describe(source: LayerSource) {
  return {
    model: source.modelId,
    dataset: source.dataset,
    prompt: source.prompt,
    hook: source.hook,
    kind: source.kind,
    targetNames: source.targetNames,
  };
}

function oneLayer(source: LayerSource, layer: number | undefined) {
  return pickLayers(source, layer === undefined ? undefined : [layer], 'pca')[0]!;
}

/** PLS probes with k components beside PCA-k and the full ridge (Heinzerling & Inui 2024). */
export async function plsExperiment(
  store: string,
  options: CommonOptions & { layer?: number; components?: number[]; pca?: boolean; scale?: boolean },
): Promise<ExperimentResult> {
  const source = await openLayerSource(store, options.hook);
  const layer = oneLayer(source, options.layer);
  const alphas = experimentAlphaGrid(options.alphas ?? 'auto', source.d, source.modelId);
  const distance = options.distance ?? defaultDistance(source.kind, options.paperCompat);
  options.log?.(`pls: layer ${layer}`);
  const data = await source.load(layer);
  const res = await runPlsExperiment(data, {
    ks: options.components ?? DEFAULT_PLS_COMPONENTS,
    alphas: alphas.values,
    distance,
    pca: options.pca ?? true,
    pls: { scale: options.scale ?? true },
    seed: options.seed ?? 0,
  });
  const rows: Row[] = res.rows.map((r) => ({
    method: r.method,
    k: r.k,
    alpha: r.alpha,
    ...metricCells('train', r.train, source.kind),
    ...metricCells('test', r.test, source.kind),
  }));
  const pls = res.rows.filter((r) => r.method === 'pls');
  const best = pls.reduce<(typeof pls)[number] | undefined>(
    (b, r) => ((r.test['r2'] ?? -Infinity) > (b?.test['r2'] ?? -Infinity) ? r : b),
    undefined,
  );
  return finish(
    newResult({
      experiment: 'pls',
      title: 'PLS probes: test R² against the number of PLS components, beside PCA-k and the ridge',
      ...describe(source),
      layer,
      settings: {
        components: pls.map((r) => r.k),
        componentsFitted: res.components,
        skippedKs: res.skippedKs,
        scale: options.scale ?? true,
        pca: options.pca ?? true,
        alphas: alphas.values,
        alphaPreset: alphas.preset,
        distance,
        seed: options.seed ?? 0,
      },
      columns: [
        'method',
        'k',
        'alpha',
        ...metricColumnNames('train', source.kind),
        ...metricColumnNames('test', source.kind),
      ],
      table: rows,
      summary: {
        ridge_test_r2: res.rows.find((r) => r.method === 'ridge')?.test['r2'] ?? null,
        best_pls_test_r2: best?.test['r2'] ?? null,
        best_pls_k: best?.k ?? null,
        pls_k_for_90pct_ridge: componentsToReach(res.rows, 0.9),
        pls_k_for_95pct_ridge: componentsToReach(res.rows, 0.95),
      },
      notes: [
        'pls: sklearn PLSRegression (NIPALS, regression deflation) fitted on the train rows; scale = X and Y centred and divided by their ddof-1 std.',
        'pca: the LOO ridge on the top-k principal components of all rows (as the pca experiment); ridge: the LOO ridge on all d dimensions.',
        'PLS has no penalty: its only regulariser is k. The k-th PLS direction is the one of largest covariance with what the first k−1 left unexplained.',
      ],
    }),
    options,
  );
}

/** Spatial autocorrelation of every unit (neurons, residual dimensions, SAE features) over the places. */
export async function spatialExperiment(
  store: string,
  options: CommonOptions & {
    layer?: number;
    /** Hook suffixes (default: mlp.hook_post and hook_resid_post, those the store has). */
    hooks?: string[];
    /** An SAE directory (SAELens layout): its features over the store's rows at the SAE's hook. */
    sae?: string;
    k?: number;
    permutations?: number;
    lisaPermutations?: number;
    top?: number;
    maps?: number;
  },
): Promise<ExperimentResult> {
  const opened = await openStore(store);
  if (opened.manifest.dataset.kind !== 'space')
    throw new UserError(
      `spatial: ${store} is a ${opened.manifest.dataset.kind} dataset; Moran's I needs places`,
    );
  const wanted = options.hooks ?? ['mlp_post', 'resid_post'];
  const available: LayerSource[] = [];
  for (const hook of wanted) {
    try {
      available.push(await openLayerSource(store, hook));
    } catch (err) {
      if (!(err instanceof UserError) || options.hooks) throw err;
    }
  }
  if (!available.length && !options.sae)
    throw new UserError(`spatial: ${store} has none of the hooks ${wanted.join(', ')}`);
  const first = available[0] ?? (await openLayerSource(store, 'resid_post'));
  const layer = oneLayer(first, options.layer);
  const sources: UnitSource[] = [];
  let lonLat: Float64Array | undefined;
  for (const s of available) {
    if (!s.layers.includes(layer)) continue;
    const data = await s.load(layer);
    lonLat = data.targets;
    sources.push({
      name: s.hook === 'mlp.hook_post' ? 'neurons' : s.hook === 'hook_resid_post' ? 'residual' : s.hook,
      origin: `blocks.${layer}.${s.hook}`,
      count: data.d,
      block: (start, m) => columnBlock(data.x, data.n, data.d, start, m),
    });
  }
  if (options.sae) {
    const { params, provenance } = await loadSae(options.sae);
    const hook = provenance.hookName ?? `blocks.${layer}.hook_resid_post`;
    if (!opened.hookNames.includes(hook))
      throw new UserError(`spatial: the SAE reads ${hook}, which ${store} does not hold`);
    if (params.dIn !== opened.manifest.d)
      throw new UserError(
        `spatial: the SAE reads ${params.dIn}-wide activations, the store's are ${opened.manifest.d}-wide`,
      );
    const x = await opened.read(hook);
    const { acts } = await runSae(params, x, opened.manifest.n);
    lonLat = opened.targets();
    sources.push({
      name: 'sae',
      origin: `${options.sae} (${hook})`,
      count: params.dSae,
      block: (start, m) =>
        denseColumns(
          acts,
          Array.from({ length: m }, (_, c) => start + c),
        ),
    });
  }
  if (!sources.length || !lonLat) throw new UserError(`spatial: no units at layer ${layer} of ${store}`);
  const res = await runSpatial(lonLat, opened.manifest.n, sources, {
    ...(options.k !== undefined && { k: options.k }),
    ...(options.permutations !== undefined && { permutations: options.permutations }),
    ...(options.lisaPermutations !== undefined && { lisaPermutations: options.lisaPermutations }),
    ...(options.top !== undefined && { top: options.top }),
    ...(options.maps !== undefined && { maps: options.maps }),
    seed: options.seed ?? 0,
    ...(options.log && { onProgress: options.log }),
  });
  const m = opened.manifest;
  const summary: Record<string, number | null> = { k: res.weights.k };
  for (const s of res.sources) {
    summary[`${s.name}_units`] = s.units;
    summary[`${s.name}_bonferroni_significant`] = s.significant;
    summary[`${s.name}_top_I`] = res.top.find((t) => t.source === s.name)?.I ?? null;
  }
  return finish(
    newResult({
      experiment: 'spatial',
      title: "Spatial autocorrelation of units: Moran's I over the places (k-NN on the sphere)",
      model: m.model.id,
      dataset: m.dataset.name,
      prompt: m.prompt.name,
      layer,
      hook: sources.map((s) => s.origin).join(', '),
      kind: 'space',
      targetNames: m.dataset.targetNames,
      settings: {
        k: res.weights.k,
        permutations: options.permutations ?? 999,
        lisaPermutations: options.lisaPermutations ?? 199,
        top: options.top ?? 20,
        maps: options.maps ?? 4,
        seed: options.seed ?? 0,
        sources: res.sources.map((s) => ({ name: s.name, origin: s.origin, units: s.units })),
        weights: res.weights,
      },
      columns: ['source', 'rank', 'unit', 'moran_i', 'z_rand', 'p_rand', 'p_sim', 'z_sim'],
      table: res.top.map((t) => ({
        source: t.source,
        rank: t.rank,
        unit: t.unit,
        moran_i: t.I,
        z_rand: t.z,
        p_rand: t.p,
        p_sim: t.pSim,
        z_sim: t.zSim,
      })),
      summary,
      tables: {
        sources: {
          columns: ['source', 'origin', 'units', 'scored', 'bonferroni_significant'],
          rows: res.sources.map((s) => ({
            source: s.name,
            origin: s.origin,
            units: s.units,
            scored: s.scored,
            bonferroni_significant: s.significant,
          })),
        },
        histogram: {
          columns: ['source', 'lo', 'hi', 'count'],
          rows: res.sources.flatMap((s) => s.histogram.map((h) => ({ source: s.name, ...h }))),
        },
        maps: {
          columns: ['source', 'unit', 'moran_i', 'p_sim', 'hot_share', 'cold_share'],
          rows: res.maps.map((u) => ({
            source: u.source,
            unit: u.unit,
            moran_i: u.I,
            p_sim: u.pSim,
            hot_share: u.hotShare,
            cold_share: u.coldShare,
          })),
        },
      },
      figures: { maps: res.maps },
      notes: [
        "Moran's I with row-standardised k-NN weights on the sphere (great-circle order, ties by lower row index), as PySAL esda.Moran.",
        'z_rand, p_rand: the randomisation-variance normal test (two-sided); p_sim: folded one-sided permutation pseudo p-value, (min(#≥, #<) + 1)/(P + 1).',
        'bonferroni_significant: units with p_rand < 0.05 / (units scored). Maps: local Moran (LISA) clusters with conditional-permutation p ≤ 0.05.',
        'A unit with high I varies smoothly over the map; it need not encode position linearly (a "Europe" detector has high I too).',
      ],
    }),
    options,
  );
}

/** Fame and region bias of the LOO ridge probe's errors at one layer. */
export async function biasExperiment(
  store: string,
  options: CommonOptions & { layer?: number; groupColumns?: string[] },
): Promise<ExperimentResult> {
  const source = await openLayerSource(store, options.hook);
  const layer = oneLayer(source, options.layer);
  const alphas = experimentAlphaGrid(options.alphas ?? 'auto', source.d, source.modelId);
  const distance = options.distance ?? defaultDistance(source.kind, options.paperCompat);
  options.log?.(`bias: layer ${layer}`);
  const data = await source.load(layer);
  const { train } = splitRows(data);
  const fit = await fitRidgeLoo(data, train, alphas.values);
  const pred = await predictLinear(fit, data.x, data.n);
  const typeColumn =
    source.entityTypeColumn ?? (source.columnNames.includes('entity_type') ? 'entity_type' : undefined);
  const groupColumns =
    options.groupColumns ?? [source.blockColumn, typeColumn].filter((c): c is string => !!c);
  for (const c of groupColumns) {
    if (!source.columnNames.includes(c))
      throw new UserError(
        `bias: the store's entities have no column '${c}' (columns: ${source.columnNames.join(', ')})`,
      );
  }
  const res = await runBias(data, pred, { distance, groupColumns });
  const scores = await scoreSplit(data, pred, distance);
  const summary: Record<string, number | null> = {
    test_rows: res.testRows,
    mean_error: res.meanError,
    median_error: res.medianError,
    test_r2: scores.test['r2'] ?? null,
  };
  for (const r of res.regressions) {
    summary[`${r.column}_slope`] = r.slope;
    summary[`${r.column}_slope_se`] = r.slopeSe;
    summary[`${r.column}_spearman`] = r.spearman;
  }
  return finish(
    newResult({
      experiment: 'bias',
      title: `Fame and region bias of the probe's errors (${res.unit})`,
      ...describe(source),
      layer,
      settings: {
        alphas: alphas.values,
        alphaPreset: alphas.preset,
        alpha: fit.alpha,
        distance,
        unit: res.unit,
        groupColumns,
      },
      columns: ['column', 'n', 'slope', 'slope_se', 'intercept', 'r2', 'spearman'],
      table: res.regressions.map((r) => ({
        column: r.column,
        n: r.n,
        slope: r.slope,
        slope_se: r.slopeSe,
        intercept: r.intercept,
        r2: r.r2,
        spearman: r.spearman,
      })),
      summary,
      tables: {
        bins: {
          columns: ['column', 'bin', 'log10_lo', 'log10_hi', 'n', 'mean_error', 'median_error'],
          rows: res.regressions.flatMap((r) =>
            r.bins.map((b, i) => ({
              column: r.column,
              bin: i + 1,
              log10_lo: b.lo,
              log10_hi: b.hi,
              n: b.n,
              mean_error: b.meanError,
              median_error: b.medianError,
            })),
          ),
        },
        groups: {
          columns: [
            'by',
            'group',
            'n',
            'share',
            'mean_error',
            'median_error',
            'centroid_lon',
            'centroid_lat',
          ],
          rows: res.groups.map((g) => ({
            by: g.by,
            group: g.group,
            n: g.n,
            share: g.share,
            mean_error: g.meanError,
            median_error: g.medianError,
            centroid_lon: g.centroid?.[0] ?? null,
            centroid_lat: g.centroid?.[1] ?? null,
          })),
        },
      },
      figures: { sample: res.sample },
      notes: [
        `error: ${res.unit === 'km' ? 'great-circle km between the true and the predicted place' : '|predicted − true| in years'} on the test rows, from the LOO ridge probe at this layer.`,
        'slope: OLS of the error on log10 of the column (rows with a positive value): error units per tenfold more page views / population; spearman: rank correlation of error and column.',
        "groups: test rows per continent (from the country name, else the nearest place with a known country), block and entity type; share = the group's share of all rows of the dataset.",
      ],
    }),
    options,
  );
}

/** Evenly spaced stored layers (at most `count`, the first and last included). */
function spacedLayers(layers: number[], count: number): number[] {
  if (layers.length <= count) return layers;
  return [
    ...new Set(
      Array.from({ length: count }, (_, i) => layers[Math.round((i * (layers.length - 1)) / (count - 1))]!),
    ),
  ];
}

/** Real targets beside permuted targets and random smooth fields, probed the same way at several layers. */
export async function negativeControlsExperiment(
  store: string,
  options: CommonOptions & { layers?: number[] | 'all'; fields?: number },
): Promise<ExperimentResult> {
  const source = await openLayerSource(store, options.hook);
  const layers =
    options.layers === 'all'
      ? source.layers
      : options.layers?.length
        ? pickLayers(source, options.layers, 'pca')
        : spacedLayers(source.layers, 5);
  const alphas = experimentAlphaGrid(options.alphas ?? 'auto', source.d, source.modelId);
  const distance: Distance = options.distance ?? defaultDistance(source.kind, options.paperCompat);
  const fields = options.fields ?? 3;
  const rows: Row[] = [];
  let sets: Awaited<ReturnType<typeof negativeControlTargets>> | undefined;
  for (const layer of layers) {
    options.log?.(`negative-controls: layer ${layer}`);
    const data = await source.load(layer);
    sets ??= await negativeControlTargets(data, fields, options.seed ?? 0);
    for (const r of await probeTargetSets(data, sets, { alphas: alphas.values, distance })) {
      rows.push({
        layer,
        target: r.target,
        kind: r.kind,
        alpha: r.alpha,
        train_r2: r.train['r2'] ?? null,
        test_r2: r.test['r2'] ?? null,
        test_spearman: r.test['spearman'] ?? null,
      });
    }
  }
  const at = (kind: string) =>
    rows
      .filter((r) => r['kind'] === kind)
      .map((r) => r['test_r2'] as number)
      .filter(Number.isFinite);
  const max = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
  return finish(
    newResult({
      experiment: 'negative-controls',
      title: 'Negative-control targets: permuted targets and random smooth fields beside the real ones',
      ...describe(source),
      layer: layers.length === 1 ? layers[0]! : null,
      settings: {
        layers,
        fields,
        seed: options.seed ?? 0,
        alphas: alphas.values,
        alphaPreset: alphas.preset,
        distance,
      },
      columns: ['layer', 'target', 'kind', 'alpha', 'train_r2', 'test_r2', 'test_spearman'],
      table: rows,
      summary: {
        max_real_test_r2: max(at('real')),
        max_permuted_test_r2: max(at('permuted')),
        max_field_test_r2: max(at('field')),
      },
      notes: [
        'permuted: the real targets with whole rows permuted among entities (seeded); no probe can predict them on test rows.',
        'field-j: a random smooth field (64 random cosines) of the true position (places) or date, residualised on [1, x, y, z] (or [1, date]) over all rows and standardised: no linear function of the true position predicts it.',
        'Each target set gets the same LOO ridge (same alpha grid) as the real targets; R² of a field is on its standardised values.',
      ],
    }),
    options,
  );
}
