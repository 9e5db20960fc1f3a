/** The prompt experiments' runner: sensitivity over every layer of each store, transfer at one layer. */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PROBE_RESULTS_SCHEMA, type ProbeResults } from '../probe/index.js';
import { UserError } from '../util/errors.js';
import { fullHookName } from './layer-data.js';
import { type Distance, defaultDistance, experimentAlphaGrid, toScalarMetrics } from './linear.js';
import { type ExperimentResult, newResult, type Row } from './output.js';
import { promptSensitivity, promptTransfer, type SensitivityRow } from './prompts.js';
import { type CommonOptions, compactList, finish, metricCells, metricColumnNames, origin } from './run.js';
import { paperExperimentLayer } from './settings.js';
import { type LayerSource, openLayerSource } from './source.js';

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
      ...origin(first, transferLayer, prompts.join(',')),
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
