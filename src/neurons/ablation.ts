/**
 * Probe direction vs causal subspace (issue 27 item 4): project the probe's direction(s) out of the residual stream
 * at its layer, x ← x − Q Qᵀ x (Q an orthonormal basis of the k probe directions), and measure how the model's
 * answers (readouts.ts) change, next to projecting out N seeded random k-dimensional subspaces orthogonal to the
 * probe's. A probe can decode a feature from a direction the model never reads: then removing that direction
 * changes the answers no more than removing a random one.
 *
 * Per entity, readout and subspace: KL(p_clean ‖ p_ablated) of the renormalised candidate distribution, Δ log P of
 * the true answer, and |ΔE[value]| per attribute. Each metric is averaged over entities per subspace; the probe's
 * mean stands beside the random subspaces' min / median / max, with the rank p-value
 * (1 + #{random ≥ probe}) / (N + 1) (mean |Δ log P| and |ΔE| ranked by size). The verdict reads the first
 * readout's KL: "used" when the probe's exceeds every random subspace's.
 */
import type { HookedModel } from '../model/index.js';
import { UserError } from '../util/errors.js';
import {
  checkReach,
  finiteMean as mean,
  orthonormalBasis,
  randomSubspaces,
  type StreamEdit,
  scoreUnderEdits,
} from './causal-edits.js';
import { quantile } from './familiarity.js';
import { type ReadoutEditOptions, tokenisedPrompts } from './patching.js';
import { attributeDelta, expectedAnswer, klDivergence, type Readout } from './readouts.js';

export interface AblationOptions extends ReadoutEditOptions {
  layer: number;
  /** The probe directions (any k independent vectors of length d). */
  directions: Float64Array[];
  /** What they decode, for the verdict (e.g. "longitude, latitude"). */
  label: string;
}

export interface AblationEntityRow {
  row: number;
  entity: string;
  readout: string;
  /** −1: the probe subspace; i ≥ 0: random subspace i. */
  source: number;
  kl: number;
  deltaLogpTrue: number;
  /** |ΔE[value]| per readout attribute (in spreads when scales are given). */
  absDeltas: number[];
  /** Mean ‖QQᵀx‖ / ‖x‖ over the edited rows: how much of the stream the projection removed. */
  removed: number;
}

export interface AblationSummaryRow {
  readout: string;
  metric: string;
  probe: number;
  randomMin: number;
  randomMedian: number;
  randomMax: number;
  /** probe / random median. */
  ratio: number;
  p: number;
  /** The probe's value exceeds every random subspace's. */
  exceeds: boolean;
}

export interface AblationResult {
  k: number;
  rows: AblationEntityRow[];
  summary: AblationSummaryRow[];
  used: boolean;
  verdict: string;
}

export async function probeAblation(model: HookedModel, o: AblationOptions): Promise<AblationResult> {
  const promptFor = o.promptFor ?? tokenisedPrompts(model);
  const d = model.spec.dModel;
  if (!o.directions.length) throw new UserError('ablation needs at least one probe direction');
  if (o.directions.some((w) => w.length !== d))
    throw new UserError(`a probe direction does not have d_model = ${d} values`);
  if (!o.readouts.length || !o.entities.length) throw new UserError('ablation needs readouts and entities');
  const n = o.randomDirections ?? 0;
  const basis = await orthonormalBasis(o.directions);
  const randoms = await randomSubspaces(d, basis.length, n, basis, o.seed ?? 0);
  const edits: StreamEdit[] = [
    { kind: 'none' },
    { kind: 'project', basis },
    ...randoms.map((b) => ({ kind: 'project' as const, basis: b })),
  ];
  const site = { layer: o.layer, positions: o.positions ?? 'all' } as const;
  const rows: AblationEntityRow[] = [];
  for (const [done, ent] of o.entities.entries()) {
    for (const r of o.readouts) {
      const p = promptFor(r, ent);
      checkReach(model, site, p);
      const s = await scoreUnderEdits(model, p, edits, site);
      const exp = s.logProbs.map((lp) => expectedAnswer(r, lp));
      const lpTrue = (e: number) => (p.trueIndex >= 0 ? s.logProbs[e]![p.trueIndex]! : Number.NaN);
      for (let e = 1; e < edits.length; e++) {
        rows.push({
          row: ent.row,
          entity: ent.text,
          readout: r.name,
          source: e - 2,
          kl: klDivergence(exp[0]!.probs, exp[e]!.probs),
          deltaLogpTrue: lpTrue(e) - lpTrue(0),
          absDeltas: r.attributes.map((a, j) => {
            const delta = Math.abs(attributeDelta(r, j, exp[e]!.values[j]!, exp[0]!.values[j]!));
            const scale = o.scales?.[a];
            return scale && scale > 0 ? delta / scale : delta;
          }),
          removed: s.relativeChange[e]!,
        });
      }
    }
    o.onProgress?.(done + 1, o.entities.length);
  }
  const summary = summarise(rows, o.readouts, n);
  const head = summary.find((x) => x.readout === o.readouts[0]!.name && x.metric === 'kl')!;
  return { k: basis.length, rows, summary, used: head.exceeds, verdict: verdict(o, head, basis.length, n) };
}

function summarise(rows: AblationEntityRow[], readouts: Readout[], n: number): AblationSummaryRow[] {
  const out: AblationSummaryRow[] = [];
  for (const r of readouts) {
    const mine = rows.filter((x) => x.readout === r.name);
    const metrics: [string, (x: AblationEntityRow) => number][] = [
      ['kl', (x) => x.kl],
      ['abs_dlogp_true', (x) => Math.abs(x.deltaLogpTrue)],
      ...r.attributes.map((a, j): [string, (x: AblationEntityRow) => number] => [
        `abs_d_${a}`,
        (x) => x.absDeltas[j]!,
      ]),
      ['removed', (x) => x.removed],
    ];
    for (const [metric, f] of metrics) {
      const probe = mean(mine.filter((x) => x.source === -1).map(f));
      if (!Number.isFinite(probe)) continue;
      const rand = Array.from({ length: n }, (_, i) =>
        mean(mine.filter((x) => x.source === i).map(f)),
      ).filter(Number.isFinite);
      const med = quantile(rand, 0.5);
      out.push({
        readout: r.name,
        metric,
        probe,
        randomMin: rand.length ? Math.min(...rand) : Number.NaN,
        randomMedian: med,
        randomMax: rand.length ? Math.max(...rand) : Number.NaN,
        ratio: med > 0 ? probe / med : Number.NaN,
        p: rand.length ? (1 + rand.filter((x) => x >= probe).length) / (rand.length + 1) : Number.NaN,
        exceeds: rand.length > 0 && probe > Math.max(...rand),
      });
    }
  }
  return out;
}

function verdict(o: AblationOptions, head: AblationSummaryRow, k: number, n: number): string {
  const what = `Projecting the ${o.label} probe direction${k > 1 ? 's' : ''} (${k}-D) out of layer ${o.layer}`;
  const nums =
    `mean KL of the ${head.readout} answers ${head.probe.toPrecision(3)} nats; ` +
    `${n} random ${k}-D subspaces ${head.randomMin.toPrecision(3)}–${head.randomMax.toPrecision(3)}`;
  if (!n)
    return `${what}: mean KL of the ${head.readout} answers ${head.probe.toPrecision(3)} nats (no random control).`;
  const floor =
    n < 19 ? ` (with ${n} random subspaces the rank p cannot go below ${(1 / (n + 1)).toFixed(2)})` : '';
  if (head.exceeds)
    return `${what} changes the model's ${head.readout} answers more than every random subspace (${nums}; rank p = ${head.p.toFixed(2)}${floor}): the model uses this direction.`;
  return (
    `${what} changes the model's ${head.readout} answers no more than random subspaces do (${nums}): ` +
    `the probe decodes ${o.label} from a direction the model's answers do not use at this layer.`
  );
}
