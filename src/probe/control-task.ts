/**
 * Control tasks (Hewitt & Liang 2019; docs/controls.md#control-tasks): the same probe, fitted and scored on targets
 * shuffled among entities of the same group (entity type, and for places also the country / state / borough
 * block), so that what a group's members share survives and what singles out each entity does not. Selectivity =
 * real R² − control R², per layer (test R², or train R² where there are no test rows): how much of the probe's
 * score needs entity-specific knowledge rather than group membership or the probe's own capacity to memorise.
 */
import { join } from 'node:path';
import { DATASETS } from '../data/registry.js';
import { type ActivationStore, openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { Gaussian } from '../util/gaussian.js';
import { type ProbeOptions, type ProbeResults, probeStore } from './probe-store.js';

export const CONTROL_TASK_SCHEMA = 'spacetime-lens/control-task@1';

export interface ControlTaskLayer {
  layer: number;
  real: number;
  control: number;
  selectivity: number;
}

export interface ControlTaskResult {
  schema: typeof CONTROL_TASK_SCHEMA;
  model: string;
  dataset: string;
  /** Columns whose joint value defines a shuffling group (empty: one group, a plain permutation). */
  groupColumns: string[];
  groups: number;
  seed: number;
  /** 'test' or 'train' (no test rows). */
  split: 'test' | 'train';
  layers: ControlTaskLayer[];
  warnings: string[];
}

/** Entity type, plus the block (country, state, borough...) for places, of a paper dataset; else what exists. */
export function defaultGroupColumns(
  datasetName: string,
  kind: 'space' | 'time',
  columns: string[],
): string[] {
  const spec = DATASETS[datasetName];
  const wanted = spec
    ? [spec.entityTypeColumn, ...(kind === 'space' ? [spec.blockColumn] : [])]
    : ['entity_type', ...(kind === 'space' ? ['country'] : [])];
  return wanted.filter((c) => columns.includes(c));
}

/**
 * The targets (n × t, row-major) with whole target rows permuted uniformly at random within each group
 * (Fisher–Yates, seeded). Rows of a one-member group keep their own target.
 */
export function shuffleWithinGroups(
  targets: Float64Array,
  t: number,
  groupOf: readonly string[],
  seed: number,
): Float64Array {
  const members = new Map<string, number[]>();
  groupOf.forEach((g, i) => {
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  const rng = new Gaussian(seed, 'control-task');
  const out = new Float64Array(targets.length);
  for (const rows of members.values()) {
    const perm = rows.slice();
    for (let i = perm.length - 1; i > 0; i--) {
      const j = rng.uint32() % (i + 1);
      [perm[i], perm[j]] = [perm[j]!, perm[i]!];
    }
    rows.forEach((to, k) => {
      out.set(targets.subarray(perm[k]! * t, perm[k]! * t + t), to * t);
    });
  }
  return out;
}

/** Group key per entity from the store's entity table. */
async function groupKeys(store: ActivationStore, columns: string[]): Promise<string[]> {
  const entities = await store.entities();
  return entities.map((e) => JSON.stringify(columns.map((c) => String(e[c] ?? ''))));
}

export interface ControlTaskOptions extends Omit<ProbeOptions, 'targets'> {
  /** Group columns (default: defaultGroupColumns). */
  groupColumns?: string[];
  seed?: number;
  /** The real probe's results, when already computed (saves one probe; its layers, hook and grid are reused). */
  real?: ProbeResults;
}

/** Probes a store on its real targets and on the control targets and returns the selectivity per layer. */
export async function controlTask(
  storeOrDir: ActivationStore | string,
  options: ControlTaskOptions = {},
): Promise<ControlTaskResult> {
  const store = typeof storeOrDir === 'string' ? await openStore(storeOrDir) : storeOrDir;
  const m = store.manifest;
  const { groupColumns: asked, seed = 0, real: given, ...probeOptions } = options;
  const entities = await store.entities();
  const available = Object.keys(entities[0] ?? {});
  const columns = asked ?? defaultGroupColumns(m.dataset.name, m.dataset.kind, available);
  const missing = columns.filter((c) => !available.includes(c));
  if (missing.length) {
    throw new UserError(`control task: the store's entities have no column ${missing.join(', ')}`);
  }
  const warnings: string[] = [];
  if (!columns.length) warnings.push('no group column found: the control targets are one global permutation');
  const keys = await groupKeys(store, columns);
  const t = m.dataset.targetNames.length;
  const control = shuffleWithinGroups(store.targets(), t, keys, seed);
  const real = given ?? (await probeStore(store, probeOptions)).results;
  const same = {
    ...probeOptions,
    layers: real.layers.map((l) => l.layer),
    hook: real.hook,
    alphas: real.settings.alphas,
    cv: real.settings.cv,
  };
  const shuffled = await probeStore(store, { ...same, targets: control });
  const split = real.nTest > 0 ? 'test' : 'train';
  const layers = real.layers.map((r, i) => {
    const c = shuffled.results.layers[i]!;
    return {
      layer: r.layer,
      real: r[split].r2,
      control: c[split].r2,
      selectivity: r[split].r2 - c[split].r2,
    };
  });
  return {
    schema: CONTROL_TASK_SCHEMA,
    model: m.model.id,
    dataset: m.dataset.name,
    groupColumns: columns,
    groups: new Set(keys).size,
    seed,
    split,
    layers,
    warnings,
  };
}

export const CONTROL_TASK_FILE = 'control-task.json';

/** Writes control-task.json into a probe directory (atomically). */
export async function writeControlTask(dir: string, result: ControlTaskResult): Promise<void> {
  await writeFileAtomic(join(dir, CONTROL_TASK_FILE), `${JSON.stringify(result, null, 2)}\n`);
}

/** One line per layer for a terminal. */
export function formatControlTask(r: ControlTaskResult): string {
  const head = `control task (targets shuffled within ${r.groupColumns.join(' x ') || 'everything'}, ${r.groups} groups, seed ${r.seed}), ${r.split} R²:`;
  const rows = r.layers.map(
    (l) =>
      `  layer ${l.layer}: real ${l.real.toFixed(4)}  control ${l.control.toFixed(4)}  selectivity ${l.selectivity.toFixed(4)}`,
  );
  return [head, ...rows].join('\n');
}
