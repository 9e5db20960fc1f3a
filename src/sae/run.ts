/**
 * The SAE stage on an activation store (docs/sae.md): train an SAE on one hook of one layer and save it in the
 * SAELens layout, and analyse an SAE's features (ours or a pretrained release) against the store's targets.
 */

import { join, resolve } from 'node:path';
import { DATASETS } from '../data/index.js';
import { resolveAlphas } from '../probe/index.js';
import { type ActivationStore, HOOK_ALIASES, hookName, openStore, type StoreEntity } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { VERSION } from '../version.js';
import {
  compareProbes,
  type FeatureGroupStats,
  featureTable,
  type ProbeComparison,
  type ReconstructionMetrics,
  runSae,
  SAE_FEATURES_FORMAT,
  topFeatures,
} from './features.js';
import { type EpochStats, type SaeTrainOptions, trainSae } from './fit.js';
import { loadSae, saveSae } from './saelens.js';

export const TRAINING_LOG_FILE = 'training.json';
export const FEATURES_JSON = 'sae-features.json';
export const FEATURES_CSV = 'sae-features.csv';

/** A full hook name from a layer and a hook given as an alias (`resid_post`) or a suffix (`hook_resid_post`). */
export function storeHook(store: ActivationStore, layer: number, hook: string): string {
  const name = hookName(layer, HOOK_ALIASES[hook] ?? hook);
  if (!store.hookNames.includes(name))
    throw new UserError(`store ${store.dir} has no ${name} (it has: ${store.hookNames.join(', ')})`);
  return name;
}

function checkFinite(x: Float32Array, where: string): void {
  for (let i = 0; i < x.length; i++)
    if (!Number.isFinite(x[i]!)) throw new UserError(`${where} holds a non-finite value at element ${i}`);
}

export interface TrainOnStoreOptions extends Omit<SaeTrainOptions, 'checkpoint'> {
  store: string;
  layer: number;
  hook: string;
  out: string;
  /** Checkpoint file; default `<out>/checkpoint.safetensors`. */
  checkpoint?: string;
}

export async function trainOnStore(
  o: TrainOnStoreOptions,
): Promise<{ history: EpochStats[]; resumedEpochs: number; hookName: string }> {
  const store = await openStore(o.store);
  const name = storeHook(store, o.layer, o.hook);
  const x = await store.read(name);
  checkFinite(x, `${store.filePath(name)}`);
  const { n, d } = store.manifest;
  const { params, history, resumedEpochs } = await trainSae(x, n, d, {
    ...o,
    checkpoint: o.checkpoint ?? join(o.out, 'checkpoint.safetensors'),
  });
  await saveSae(o.out, params, {
    hookName: name,
    hookLayer: o.layer,
    modelName: store.manifest.model.id,
    datasetPath: store.dir,
  });
  const { onEpoch: _onEpoch, ...settings } = o;
  await writeFileAtomic(
    join(o.out, TRAINING_LOG_FILE),
    `${JSON.stringify({ toolVersion: VERSION, settings, hookName: name, n, d, history }, null, 2)}\n`,
  );
  return { history, resumedEpochs, hookName: name };
}

export interface FeatureReport {
  format: typeof SAE_FEATURES_FORMAT;
  toolVersion: string;
  createdAt: string;
  sae: { path: string; architecture: string; dIn: number; dSae: number; k?: number; hookName?: string };
  store: {
    dir: string;
    model: string;
    dataset: string;
    kind: string;
    targetNames: string[];
    hookName: string;
    n: number;
  };
  metrics: ReconstructionMetrics;
  probe: ProbeComparison;
  /** Per group (all rows, then each entity type) and target: the top features by |Spearman ρ|. */
  groups: {
    group: string;
    rows: number;
    top: Record<string, { feature: number; spearman: number | null; r2: number | null; frequency: number }[]>;
  }[];
  /**
   * Per entity (store row order): names, targets, and the activation of the best feature per target on all rows,
   * for maps and timelines coloured by a feature.
   */
  activations: {
    names: string[];
    targets: Record<string, number[]>;
    features: { feature: number; target: string; values: number[] }[];
  };
}

/** Groups of rows: all, then each value of the entity-type column (when the store has one). */
function rowGroups(entities: StoreEntity[], column: string | undefined): { name: string; rows: number[] }[] {
  const all = { name: 'all', rows: entities.map((_, i) => i) };
  if (!column) return [all];
  const byType = new Map<string, number[]>();
  entities.forEach((e, i) => {
    const key = `${column}=${String(e[column] ?? '')}`;
    const rows = byType.get(key) ?? [];
    rows.push(i);
    byType.set(key, rows);
  });
  return [
    all,
    ...[...byType.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([name, rows]) => ({ name, rows })),
  ];
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

export interface AnalyseOptions {
  sae: string;
  store: string;
  /** Layer and hook; default: the SAE's cfg hook_name. */
  layer?: number;
  hook?: string;
  out: string;
  /** Top features listed per group and target, and used per target by the sparse probe. */
  top?: number;
  probeK?: number;
  alphas?: string;
  /** Entity-type column (default: the paper dataset's, else `entity_type` when present). */
  typeColumn?: string;
}

/** Analyses an SAE's features against a store; writes sae-features.json and sae-features.csv into `out`. */
export async function analyseFeatures(o: AnalyseOptions): Promise<FeatureReport> {
  const { params, provenance } = await loadSae(o.sae);
  const store = await openStore(o.store);
  const m = store.manifest;
  const name =
    o.layer !== undefined ? storeHook(store, o.layer, o.hook ?? 'resid_post') : provenance.hookName;
  if (!name) throw new UserError(`the SAE's cfg.json names no hook_name: give --layer (and --hook)`);
  if (!store.hookNames.includes(name))
    throw new UserError(
      `store ${store.dir} has no ${name} (it has: ${store.hookNames.join(', ')}); give --layer/--hook`,
    );
  if (params.dIn !== m.d)
    throw new UserError(`the SAE reads ${params.dIn}-wide activations, the store's are ${m.d}-wide`);
  const x = await store.read(name);
  checkFinite(x, store.filePath(name));
  const t = m.dataset.targetNames.length;
  const targets = store.targets();
  const entities = await store.entities();
  const column =
    o.typeColumn ??
    DATASETS[m.dataset.name]?.entityTypeColumn ??
    ('entity_type' in (entities[0] ?? {}) ? 'entity_type' : undefined);
  if (column && entities.length && !(column in entities[0]!))
    throw new UserError(`the store's entities have no column '${column}' (for --type-column)`);
  const top = o.top ?? 10;
  const { acts, recon, metrics } = await runSae(params, x, m.n);
  const groups = rowGroups(entities, column);
  const stats = featureTable(acts, targets, t, groups);
  const probe = await compareProbes({
    x,
    recon,
    n: m.n,
    d: m.d,
    acts,
    targets,
    t,
    isTest: store.isTest(),
    alphas: resolveAlphas(o.alphas, m.d, m.model).alphas,
    k: o.probeK ?? 8,
  });
  const report: FeatureReport = {
    format: SAE_FEATURES_FORMAT,
    toolVersion: VERSION,
    createdAt: new Date().toISOString(),
    sae: {
      path: resolve(o.sae),
      architecture: params.architecture,
      dIn: params.dIn,
      dSae: params.dSae,
      ...(params.k !== undefined ? { k: params.k } : {}),
      ...(provenance.hookName ? { hookName: provenance.hookName } : {}),
    },
    store: {
      dir: store.dir,
      model: m.model.id,
      dataset: m.dataset.name,
      kind: m.dataset.kind,
      targetNames: m.dataset.targetNames,
      hookName: name,
      n: m.n,
    },
    metrics,
    probe,
    groups: stats.map((s) => ({
      group: s.group,
      rows: s.rows,
      top: Object.fromEntries(
        m.dataset.targetNames.map((target, c) => [
          target,
          topFeatures(s.spearman[c]!, top).map((feature) => ({
            feature,
            spearman: finite(s.spearman[c]![feature]!),
            r2: finite(s.r2[c]![feature]!),
            frequency: s.frequency[feature]!,
          })),
        ]),
      ),
    })),
    activations: {
      names: entities.map((e) => String(e.name)),
      targets: Object.fromEntries(
        m.dataset.targetNames.map((target, c) => [target, entities.map((e) => e.target[c]!)]),
      ),
      features: m.dataset.targetNames.map((target, c) => {
        const feature = topFeatures(stats[0]!.spearman[c]!, 1)[0]!;
        const values = new Array<number>(m.n).fill(0);
        for (let e = acts.start[feature]!; e < acts.start[feature + 1]!; e++)
          values[acts.rows[e]!] = acts.values[e]!;
        return { feature, target, values };
      }),
    },
  };
  await writeFileAtomic(join(o.out, FEATURES_JSON), `${JSON.stringify(report)}\n`);
  await writeFileAtomic(join(o.out, FEATURES_CSV), featuresCsv(stats, m.dataset.targetNames));
  return report;
}

/** One line per (group, target, feature) for the features that fire in the group. */
function featuresCsv(stats: FeatureGroupStats[], targetNames: string[]): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const num = (v: number) => (Number.isFinite(v) ? String(v) : '');
  const lines = ['group,target,feature,spearman,r2,frequency'];
  for (const s of stats) {
    for (const [c, target] of targetNames.entries()) {
      for (let j = 0; j < s.frequency.length; j++) {
        if (s.frequency[j] === 0) continue;
        lines.push(
          [
            quote(s.group),
            quote(target),
            j,
            num(s.spearman[c]![j]!),
            num(s.r2[c]![j]!),
            num(s.frequency[j]!),
          ].join(','),
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
