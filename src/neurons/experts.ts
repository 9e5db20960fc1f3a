/**
 * Which experts do places (or dated entities) route to? For a mixture-of-experts model, from a store of
 * `blocks.{l}.mlp.hook_expert_weights` (each entity's router probabilities over all experts, at its kept token), per
 * layer and expert:
 *   - mean_weight: the mean router probability over all entities;
 *   - top1_share: the share of entities whose most probable expert it is (top-1; exact ties go to the lower expert
 *     index, as the engine's routing);
 *   - spearman_<target>: Spearman's ρ of the expert's probability with each target (longitude, latitude, year), the
 *     single-neuron statistic of the neuron search applied to routing probabilities;
 * and, for the report's figure, the top-1 shares within equal-count bins of each target (entities sorted by the
 * target, ties in input order, cut into `bins` runs of ⌊n/bins⌋ or ⌈n/bins⌉), so one can see whether places in the
 * west route differently from places in the east.
 */
import { type ActivationStore, hookName, openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { VERSION } from '../version.js';
import { rankTarget, spearmanColumns } from './neurons-math.js';
import type { CausalExperimentResult } from './neurons-run.js';

export const EXPERT_WEIGHTS_HOOK = 'mlp.hook_expert_weights';

export interface ExpertRoutingOptions {
  store: string | ActivationStore;
  /** Layers to analyse (default every layer the store holds expert weights for). */
  layers?: number[];
  /** Equal-count bins per target for the figure (default 8). */
  bins?: number;
}

/** The layers of a store that hold expert weights. */
export function expertLayers(store: ActivationStore): number[] {
  return store.manifest.layers.filter((l) => store.hookNames.includes(hookName(l, EXPERT_WEIGHTS_HOOK)));
}

/** The most probable expert of each row of p [n, E] (exact ties: the lower index). */
export function topExperts(p: Float32Array, n: number, E: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let e = 1; e < E; e++) if (p[i * E + e]! > p[i * E + best]!) best = e;
    out[i] = best;
  }
  return out;
}

/** Equal-count bins of `values`: each entity's bin and each bin's [min, max]. */
export function equalCountBins(
  values: Float64Array,
  bins: number,
): { bin: Int32Array; ranges: [number, number][] } {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]! || a - b);
  const bin = new Int32Array(n);
  const ranges: [number, number][] = Array.from({ length: bins }, () => [Infinity, -Infinity]);
  order.forEach((i, rank) => {
    const b = Math.min(bins - 1, Math.floor((rank * bins) / n));
    bin[i] = b;
    ranges[b]![0] = Math.min(ranges[b]![0], values[i]!);
    ranges[b]![1] = Math.max(ranges[b]![1], values[i]!);
  });
  return { bin, ranges };
}

export async function expertRouting(options: ExpertRoutingOptions): Promise<CausalExperimentResult> {
  const store = typeof options.store === 'string' ? await openStore(options.store) : options.store;
  const man = store.manifest;
  const available = expertLayers(store);
  if (!available.length) {
    throw new UserError(
      `store ${store.dir} holds no ${EXPERT_WEIGHTS_HOOK} (extract it from a mixture-of-experts model with ` +
        '--hooks expert_weights)',
    );
  }
  const layers = options.layers ?? available;
  for (const l of layers) {
    if (!available.includes(l))
      throw new UserError(
        `store ${store.dir} has no ${hookName(l, EXPERT_WEIGHTS_HOOK)} (it has layers ${available.join(', ')})`,
      );
  }
  const nBins = options.bins ?? 8;
  if (!Number.isInteger(nBins) || nBins < 1 || nBins > man.n)
    throw new UserError(`--bins should be an integer from 1 to the ${man.n} entities, got ${nBins}`);
  const { n, d: E } = man;
  const names = man.dataset.targetNames;
  const all = store.targets();
  const targetValues = names.map((_, t) =>
    Float64Array.from({ length: n }, (_, i) => all[i * names.length + t]!),
  );
  const ranked = names.map((name, t) => rankTarget(name, targetValues[t]!));
  const binned = targetValues.map((v) => equalCountBins(v, nBins));
  const rows: CausalExperimentResult['table'] = [];
  const shares: Record<string, number[][][]> = Object.fromEntries(names.map((t) => [t, []]));
  const summary: CausalExperimentResult['summary'] = {};
  const best = new Map<string, { layer: number; expert: number; rho: number }>();
  for (const l of layers) {
    const p = await store.read(hookName(l, EXPERT_WEIGHTS_HOOK));
    const top = topExperts(p, n, E);
    const rho = spearmanColumns(p, n, E, ranked);
    const mean = new Float64Array(E);
    const count = new Float64Array(E);
    for (let i = 0; i < n; i++) {
      for (let e = 0; e < E; e++) mean[e]! += p[i * E + e]!;
      count[top[i]!]! += 1;
    }
    for (let e = 0; e < E; e++) {
      const row: Record<string, number> = {
        layer: l,
        expert: e,
        mean_weight: mean[e]! / n,
        top1_share: count[e]! / n,
      };
      names.forEach((t, ti) => {
        const r = rho[e * names.length + ti]!;
        row[`spearman_${t}`] = r;
        const b = best.get(t);
        if (Number.isFinite(r) && (!b || Math.abs(r) > Math.abs(b.rho)))
          best.set(t, { layer: l, expert: e, rho: r });
      });
      rows.push(row);
    }
    names.forEach((t, ti) => {
      const { bin } = binned[ti]!;
      const m = Array.from({ length: nBins }, () => new Array<number>(E).fill(0));
      const size = new Array<number>(nBins).fill(0);
      for (let i = 0; i < n; i++) {
        m[bin[i]!]![top[i]!]! += 1;
        size[bin[i]!]! += 1;
      }
      shares[t]!.push(m.map((r, b) => r.map((c) => c / size[b]!)));
    });
  }
  for (const [t, b] of best) {
    summary[`best_abs_spearman_${t}`] = Math.abs(b.rho);
    summary[`best_expert_${t}`] = `layer ${b.layer} expert ${b.expert} (ρ = ${b.rho.toFixed(3)})`;
  }
  return {
    schema: 'spacetime-lens/experiment@1',
    experiment: 'experts',
    title: 'Which experts the entities route to',
    model: man.model.id,
    dataset: man.dataset.name,
    prompt: man.prompt.name,
    layer: null,
    hook: EXPERT_WEIGHTS_HOOK,
    kind: man.dataset.kind,
    targetNames: names,
    settings: { bins: nBins, layers, experts: E },
    columns: ['layer', 'expert', 'mean_weight', 'top1_share', ...names.map((t) => `spearman_${t}`)],
    table: rows,
    summary,
    tables: {},
    figures: {
      experts: E,
      layers,
      bins: Object.fromEntries(names.map((t, ti) => [t, binned[ti]!.ranges])),
      top1Shares: shares,
    },
    notes: [
      'router probabilities (the softmax over all experts, float32) at each entity’s kept token; top-1 = the most ' +
        'probable expert (exact ties: the lower index); spearman = Spearman’s ρ of one expert’s probability with ' +
        'the target over all entities; figure: top-1 shares within equal-count bins of each target.',
    ],
    toolVersion: VERSION,
    createdAt: new Date().toISOString(),
  };
}
