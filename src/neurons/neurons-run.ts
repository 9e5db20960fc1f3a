/**
 * `neurons`: runs the two neuron searches of docs/method.md#neurons on a model + store and assembles one experiment@1
 * result (tables for both procedures, the single-neuron fits, and the data behind the paper's neuron plots).
 */

import { type ExperimentResult, type Row, writeExperimentResult } from '../experiments/output.js';
import { type HookedModel, loadModel } from '../model/index.js';
import { type ActivationStore, openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { VERSION } from '../version.js';
import {
  type CosineHit,
  correlationSearch,
  engineActivations,
  entityTypeColumn,
  featureOfTarget,
  neuronFeatures,
  probeCosineSearch,
  readProbeDirections,
  singleNeuronStats,
  storeActivations,
} from './neurons.js';

export type NeuronProcedure = 'correlation' | 'probe-cosine';

/** experiment@1 with this area's experiment names (the shared union lists the robustness experiments only). */
export type CausalExperimentResult = Omit<ExperimentResult, 'experiment'> & {
  experiment: 'neurons' | 'intervene' | 'familiarity' | 'patch' | 'ablate' | 'experts';
};

export interface NeuronsOptions {
  /** Model directory / Hub id, or a loaded model. */
  model: string | HookedModel;
  /** Store with the resid_post layers (the correlation search's inputs; targets and entity types). */
  store: string | ActivationStore;
  /** Probe output directory (probes.safetensors): needed for the probe-cosine procedure. */
  probe?: string;
  /** Default: both when a probe is given, else correlation only. */
  procedures?: NeuronProcedure[];
  /** Top neurons kept per (target, weight type); default 50. */
  topK?: number;
  /** Store layers for the correlation search (default every stored layer ≤ L−2). */
  layers?: number[];
  /** Probe layers for the cosine search (default every probe layer). */
  probeLayers?: number[];
  /** A store of `mlp.hook_post` activations (d = d_mlp) for the single-neuron fits; default: run the engine. */
  mlpStore?: string | ActivationStore;
  /** Neurons per target whose per-entity activations go into the figure data (default 4). */
  figureNeurons?: number;
  onProgress?(message: string): void;
}

export async function runNeurons(options: NeuronsOptions): Promise<CausalExperimentResult> {
  const store = typeof options.store === 'string' ? await openStore(options.store) : options.store;
  const model = typeof options.model === 'string' ? await loadModel(options.model) : options.model;
  try {
    return await neuronsWith(model, store, options);
  } finally {
    if (typeof options.model === 'string') await model.dispose();
  }
}

async function neuronsWith(
  model: HookedModel,
  store: ActivationStore,
  options: NeuronsOptions,
): Promise<CausalExperimentResult> {
  const man = store.manifest;
  const procedures =
    options.procedures ?? (options.probe ? ['correlation', 'probe-cosine'] : ['correlation']);
  if (procedures.includes('probe-cosine') && !options.probe)
    throw new UserError(
      'the probe-cosine procedure needs --probe (the output directory of `spacetime-lens probe`)',
    );
  const weights = { spec: model.spec, source: model.source };
  const features = neuronFeatures(
    man.dataset.kind,
    man.dataset.targetNames,
    store.targets(),
    man.n,
    man.dataset.name,
  );
  const entities = await store.entities();
  const typeCol = entityTypeColumn(man.dataset.name, Object.keys(entities[0] ?? {}));
  const groups = typeCol ? entities.map((e) => String(e[typeCol] ?? '')) : undefined;
  const tables: CausalExperimentResult['tables'] = {};
  const figures: Record<string, unknown> = {};
  const notes: string[] = [];
  const summary: CausalExperimentResult['summary'] = {};
  let main: { columns: string[]; rows: Row[] } | undefined;

  if (procedures.includes('correlation')) {
    options.onProgress?.('correlation search (the code procedure, docs/method.md#neurons)');
    const res = await correlationSearch(weights, store, features, {
      ...(options.layers ? { layers: options.layers } : {}),
      topK: options.topK ?? 50,
      onProgress: (done, total) => options.onProgress?.(`  layer ${done}/${total}`),
    });
    main = {
      columns: ['feature', 'weight', 'layer', 'neuron', 'corr', 'abs_corr'],
      rows: res.hits.map((h) => ({
        feature: h.feature,
        weight: h.weight,
        layer: h.layer,
        neuron: h.neuron,
        corr: h.corr,
        abs_corr: h.absCorr,
      })),
    };
    tables['layer_max'] = {
      columns: ['layer', 'weight', 'feature', 'neuron', 'corr'],
      rows: res.layerMax.map((r) => ({ ...r })),
    };
    for (const f of res.features) {
      const top = res.hits.find((h) => h.feature === f);
      if (top) summary[`top_abs_corr_${f}`] = top.absCorr;
    }
    notes.push(
      'correlation = the code procedure (model_composition.py __main__): Spearman of RMS-normalised resid_post(l) ' +
        'projected on up/gate of layer l+1 (W_in/W_gate, reported at l+1) and on down of layer l (W_out, reported ' +
        'at l); every neuron column ranked with average ranks (the authors skipped columns past ceil(N/1024)·1024).',
    );
  }

  if (procedures.includes('probe-cosine')) {
    options.onProgress?.('probe-cosine search (the paper text procedure)');
    const probes = await readProbeDirections(options.probe!);
    let hits: CosineHit[];
    try {
      hits = await probeCosineSearch(weights, probes, {
        ...(options.probeLayers ? { probeLayers: options.probeLayers } : {}),
        topK: options.topK ?? 50,
      });
    } finally {
      await probes.close();
    }
    const unique = new Map<string, { target: string; layer: number; neuron: number }>();
    for (const h of hits) {
      const target = featureOfTarget(h.target);
      unique.set(`${target}/${h.layer}/${h.neuron}`, { target, layer: h.layer, neuron: h.neuron });
    }
    options.onProgress?.(`single-neuron fits of ${unique.size} neurons`);
    const mlp = options.mlpStore
      ? storeActivations(
          typeof options.mlpStore === 'string' ? await openStore(options.mlpStore) : options.mlpStore,
        )
      : engineActivations(model, store);
    const singles = await singleNeuronStats(
      [...unique.values()],
      mlp,
      features,
      man.n,
      model.spec.dMlp,
      groups,
    );
    const fitOf = new Map(
      singles.rows.filter((r) => r.group === 'all').map((r) => [`${r.target}/${r.layer}/${r.neuron}`, r.fit]),
    );
    const rows = hits.map((h) => {
      const fit = fitOf.get(`${featureOfTarget(h.target)}/${h.layer}/${h.neuron}`)!;
      return {
        target: h.target,
        probe_layer: h.probeLayer,
        weight: h.weight,
        layer: h.layer,
        neuron: h.neuron,
        cos: h.cos,
        abs_cos: h.absCos,
        spearman: fit.spearman,
        r2: fit.r2,
      };
    });
    const cosTable = {
      columns: ['target', 'probe_layer', 'weight', 'layer', 'neuron', 'cos', 'abs_cos', 'spearman', 'r2'],
      rows,
    };
    if (main) tables['probe_cosine'] = cosTable;
    else main = cosTable;
    tables['single_neuron'] = {
      columns: ['target', 'layer', 'neuron', 'group', 'n', 'spearman', 'r2', 'slope', 'intercept'],
      rows: singles.rows.map((r) => ({
        target: r.target,
        layer: r.layer,
        neuron: r.neuron,
        group: r.group,
        ...r.fit,
      })),
    };
    // Plot data: the best single neurons per target (by R²), with every entity's activation and the targets.
    const perTarget = new Map<string, typeof singles.rows>();
    for (const r of singles.rows.filter((x) => x.group === 'all'))
      perTarget.set(r.target, [...(perTarget.get(r.target) ?? []), r]);
    figures['neuronActivations'] = [...perTarget].flatMap(([target, rs]) =>
      rs
        .sort((a, b) => (b.fit.r2 || 0) - (a.fit.r2 || 0))
        .slice(0, options.figureNeurons ?? 4)
        .map((r) => ({
          target,
          layer: r.layer,
          neuron: r.neuron,
          r2: r.fit.r2,
          spearman: r.fit.spearman,
          values: Array.from(singles.acts.get(`${r.layer}/${r.neuron}`)!, (v) => Math.fround(v)),
        })),
    );
    figures['targets'] = Object.fromEntries(features.map((f) => [f.name, Array.from(f.values)]));
    figures['names'] = entities.map((e) => e.name);
    if (groups) figures['entityTypes'] = groups;
    notes.push(
      'probe-cosine = the paper text procedure (the legacy function): cosine of the unit probe direction ' +
        '(coef_standardized per target) with each neuron input (up rows; gate rows for gated MLPs) and output ' +
        '(down columns) weight; each top neuron then alone predicts its target from blocks.{l}.mlp.hook_post ' +
        '(Spearman, R² of a 1-D least-squares fit), overall and per entity type. Both probe targets are used (the ' +
        'authors took the latitude probe for both).',
    );
  }

  if (!main) throw new UserError(`no procedure to run (choose from correlation, probe-cosine)`);
  return {
    schema: 'spacetime-lens/experiment@1',
    experiment: 'neurons',
    title: 'Space and time neurons',
    model: man.model.id,
    dataset: man.dataset.name,
    prompt: man.prompt.name,
    layer: null,
    hook: 'hook_resid_post',
    kind: man.dataset.kind,
    targetNames: man.dataset.targetNames,
    settings: {
      procedures,
      topK: options.topK ?? 50,
      rmsEps: 1e-6,
      ...(options.probe ? { probe: options.probe } : {}),
      activations: options.mlpStore ? 'store' : 'engine',
      entityTypeColumn: typeCol ?? null,
    },
    columns: main.columns,
    table: main.rows,
    summary,
    tables,
    figures,
    notes,
    toolVersion: VERSION,
    createdAt: new Date().toISOString(),
  };
}

/** Writes `<dir>/<experiment>.json` + CSVs (the experiments' writer, with this area's experiment names). */
export async function writeCausalResult(dir: string, result: CausalExperimentResult): Promise<string[]> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  return writeExperimentResult(dir, result as unknown as ExperimentResult);
}
