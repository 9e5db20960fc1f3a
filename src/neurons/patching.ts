/**
 * Directed patching with a side-effect matrix (issue 27 item 3): move one entity's residual stream at layer L
 * along the direction of attribute A by set amounts and measure, through the model's own answers (readouts.ts),
 * how A and every other attribute the readouts carry move. The matched control is N random directions of the same
 * norm, orthogonal to A's direction (causal-edits.ts), moved by the same amounts.
 *
 * Amounts. unit `target` (default): v = a·w/‖w‖², so the probe of A re-reads a train standard deviations more
 * (w is the probe's coef_standardized column); unit `rms`: v = a·(‖x‖/√d)·w/‖w‖ with ‖x‖ the entity's own
 * residual norm at the edited position.
 *
 * Effects. For each entity, direction (probe or random twin) and amount, Δ = E[value | edit] − E[value | no edit]
 * per measured attribute (and Δ log P(true answer)). A cell of the matrix is the pooled least-squares slope through
 * the origin, slope = Σ a·Δ / Σ a² over entities and amounts (Δ(0) = 0 exactly), in measured units per unit of a,
 * and divided by the attribute's spread (std over the dataset) when one is given. The random band is the min..max
 * of the same slope over the N random directions; z = (slope − mean_random) / sd_random and the rank p-value
 * (1 + #{|random slope| ≥ |slope|}) / (N + 1).
 */
import type { HookedModel } from '../model/index.js';
import { UserError } from '../util/errors.js';
import {
  checkReach,
  dot,
  finiteMean,
  randomSubspaces,
  type StreamEdit,
  scoreUnderEdits,
} from './causal-edits.js';
import {
  attributeDelta,
  expectedAnswer,
  type Readout,
  type ReadoutPrompt,
  readoutPrompt,
} from './readouts.js';

/** A direction to steer along: a probe's coef_standardized column (or any vector) and its target scale. */
export interface SteeringDirection {
  name: string;
  /** Float64, length d. The reading x·w is the probe's prediction in train standard deviations. */
  w: Float64Array;
  /** Target units per standardised unit (the probe's y_scale). */
  yScale: number;
}

export interface PatchEntity {
  row: number;
  /** The entity string that goes into each readout's `{name}`. */
  text: string;
}

/** What patching and ablation share: where to edit, the answers read, the entities and the random control. */
export interface ReadoutEditOptions {
  positions?: 'entity' | 'all';
  readouts: Readout[];
  entities: PatchEntity[];
  randomDirections?: number;
  seed?: number;
  /** Spread (e.g. std over the dataset) per attribute name: slopes and |ΔE| in spreads. */
  scales?: Record<string, number>;
  /** Tokenises a readout for an entity (default: readoutPrompt with the model's tokenizer). */
  promptFor?(readout: Readout, entity: PatchEntity): ReadoutPrompt;
  onProgress?(done: number, total: number): void;
}

export interface PatchingOptions extends ReadoutEditOptions {
  layer: number;
  directions: SteeringDirection[];
  /** Non-zero amounts (the unedited run is the zero). */
  amounts: number[];
  unit?: 'target' | 'rms';
}

/** A measured column: an attribute of a readout, or Δ log P(true answer) of a readout (`attribute` null). */
export interface Measure {
  name: string;
  readout: number;
  attribute: number | null;
  scale: number;
}

export interface PatchEffect {
  row: number;
  entity: string;
  direction: string;
  /** −1: the probe direction; i ≥ 0: random twin i. */
  source: number;
  amount: number;
  /** ‖v‖ and ‖v‖ / ‖x‖ at the edited position. */
  shiftNorm: number;
  relativeShift: number;
  /** Measured change of each steering direction's probe reading (target units), re-read after the edit. */
  probeShifts: number[];
  /** Δ per measure (NaN where a measure has no value for this entity). */
  deltas: number[];
}

export interface PatchCell {
  direction: string;
  measure: string;
  slope: number;
  /** slope / the measure's scale (NaN without one). */
  slopeScaled: number;
  randomMin: number;
  randomMax: number;
  randomMean: number;
  randomSd: number;
  z: number;
  p: number;
  /** The probe slope lies outside the random band. */
  outside: boolean;
}

export interface PatchingResult {
  measures: Measure[];
  effects: PatchEffect[];
  /** Side effects through the model's answers: one cell per (direction, measure). */
  matrix: PatchCell[];
  /** The same slopes for the probes' own re-readings (direction × steering direction). */
  probeMatrix: PatchCell[];
  /** Clean answers per (entity, readout): expected values, candidate mass, log P(true answer). */
  clean: { row: number; entity: string; readout: string; values: number[]; mass: number; logpTrue: number }[];
}

/** The measures of a readout list: every attribute, then Δ log P(true answer) per readout that has truths. */
export function readoutMeasures(readouts: Readout[], scales: Record<string, number> = {}): Measure[] {
  const out: Measure[] = [];
  readouts.forEach((r, i) => {
    r.attributes.forEach((a, j) => {
      out.push({ name: a, readout: i, attribute: j, scale: scales[a] ?? Number.NaN });
    });
  });
  readouts.forEach((r, i) => {
    if (r.truth.some(Boolean))
      out.push({ name: `logp_true_${r.name}`, readout: i, attribute: null, scale: 1 });
  });
  return out;
}

function validate(model: HookedModel, o: PatchingOptions): void {
  const d = model.spec.dModel;
  if (!o.directions.length) throw new UserError('directed patching needs at least one direction');
  for (const dir of o.directions) {
    if (dir.w.length !== d)
      throw new UserError(`direction ${dir.name} has ${dir.w.length} values, the model has d_model = ${d}`);
    if (!(dot(dir.w, dir.w) > 0)) throw new UserError(`direction ${dir.name} is zero`);
  }
  if (!o.amounts.length || o.amounts.some((a) => a === 0 || !Number.isFinite(a)))
    throw new UserError('amounts must be non-zero numbers (the unedited run is the zero)');
  if (!o.readouts.length) throw new UserError('directed patching needs at least one readout');
  if (!o.entities.length) throw new UserError('directed patching needs at least one entity');
}

/** The default tokenisation of readouts: the model's tokenizer, the entity's true answer from the readout. */
export function tokenisedPrompts(model: HookedModel): (r: Readout, e: PatchEntity) => ReadoutPrompt {
  const tok = model.tokenizer;
  if (!tok) throw new UserError(`the model at ${model.source.dir} has no tokenizer.json`);
  return (r, e) => readoutPrompt(tok, r, e.text, r.truth[e.row] ?? '');
}

export async function directedPatching(model: HookedModel, o: PatchingOptions): Promise<PatchingResult> {
  validate(model, o);
  const promptFor = o.promptFor ?? tokenisedPrompts(model);
  const d = model.spec.dModel;
  const n = o.randomDirections ?? 0;
  const unit = o.unit ?? 'target';
  const site = { layer: o.layer, positions: o.positions ?? 'entity' } as const;
  const measures = readoutMeasures(o.readouts, o.scales);
  const randoms = await Promise.all(
    o.directions.map(async (dir) => (await randomSubspaces(d, 1, n, [dir.w], o.seed ?? 0)).map((b) => b[0]!)),
  );
  const reads = o.directions.map((dir) => dir.w);
  const effects: PatchEffect[] = [];
  const clean: PatchingResult['clean'] = [];
  for (const [done, ent] of o.entities.entries()) {
    const prompts = o.readouts.map((r) => promptFor(r, ent));
    for (const p of prompts) checkReach(model, site, p);
    const p0 = prompts[0]!;
    // ‖x‖ at the edited position, unedited (for unit rms and the relative shift).
    const base = await scoreUnderEdits(model, { ...p0, candidates: [] }, [{ kind: 'none' }], site, {
      read: { position: p0.editPosition, directions: reads },
    });
    const xNorm = base.readNorms![0]!;
    const edits: StreamEdit[] = [{ kind: 'none' }];
    const meta: { direction: number; source: number; amount: number; norm: number }[] = [];
    o.directions.forEach((dir, k) => {
      const wn = Math.sqrt(dot(dir.w, dir.w));
      for (const amount of o.amounts) {
        // v = c·w; its signed length along ŵ is c‖w‖
        const c = unit === 'target' ? amount / (wn * wn) : (amount * xNorm) / Math.sqrt(d) / wn;
        edits.push({ kind: 'add', vector: Float32Array.from(dir.w, (x) => c * x) });
        meta.push({ direction: k, source: -1, amount, norm: Math.abs(c) * wn });
        randoms[k]!.forEach((r, i) => {
          edits.push({ kind: 'add', vector: Float32Array.from(r, (x) => c * wn * x) });
          meta.push({ direction: k, source: i, amount, norm: Math.abs(c) * wn });
        });
      }
    });
    const answers: {
      exp: ReturnType<typeof expectedAnswer>[];
      logpTrue: number[];
      readings: Float64Array[] | undefined;
    }[] = [];
    for (const [i, r] of o.readouts.entries()) {
      const p = prompts[i]!;
      const s = await scoreUnderEdits(
        model,
        p,
        edits,
        site,
        i === 0 ? { read: { position: p.editPosition, directions: reads } } : {},
      );
      const exp = s.logProbs.map((lp) => expectedAnswer(r, lp));
      const logpTrue = s.logProbs.map((lp) => (p.trueIndex >= 0 ? lp[p.trueIndex]! : Number.NaN));
      answers.push({ exp, logpTrue, readings: s.readings });
      clean.push({
        row: ent.row,
        entity: ent.text,
        readout: r.name,
        values: exp[0]!.values,
        mass: exp[0]!.mass,
        logpTrue: logpTrue[0]!,
      });
    }
    meta.forEach((m, j) => {
      const e = j + 1;
      const readings = answers[0]!.readings!;
      effects.push({
        row: ent.row,
        entity: ent.text,
        direction: o.directions[m.direction]!.name,
        source: m.source,
        amount: m.amount,
        shiftNorm: m.norm,
        relativeShift: xNorm > 0 ? m.norm / xNorm : Number.NaN,
        probeShifts: o.directions.map((dir, k) => (readings[e]![k]! - readings[0]![k]!) * dir.yScale),
        deltas: measures.map((ms) => {
          const a = answers[ms.readout]!;
          if (ms.attribute === null) return a.logpTrue[e]! - a.logpTrue[0]!;
          const r = o.readouts[ms.readout]!;
          return attributeDelta(
            r,
            ms.attribute,
            a.exp[e]!.values[ms.attribute]!,
            a.exp[0]!.values[ms.attribute]!,
          );
        }),
      });
    });
    o.onProgress?.(done + 1, o.entities.length);
  }
  const names = o.directions.map((x) => x.name);
  return {
    measures,
    effects,
    matrix: sideEffectCells(
      effects,
      names,
      measures.map((m) => ({ name: m.name, scale: m.scale })),
      n,
      (e, i) => e.deltas[i]!,
    ),
    probeMatrix: sideEffectCells(
      effects,
      names,
      o.directions.map((x) => ({ name: x.name, scale: o.scales?.[x.name] ?? Number.NaN })),
      n,
      (e, i) => e.probeShifts[i]!,
    ),
    clean,
  };
}

/** Σ a·Δ / Σ a² over the effects with a finite Δ. */
function slopeThroughOrigin(list: PatchEffect[], value: (e: PatchEffect) => number): number {
  let num = 0;
  let den = 0;
  for (const e of list) {
    const v = value(e);
    if (!Number.isFinite(v)) continue;
    num += e.amount * v;
    den += e.amount * e.amount;
  }
  return den > 0 ? num / den : Number.NaN;
}

/** One cell per (direction, measure): the probe slope beside its random band. */
export function sideEffectCells(
  effects: PatchEffect[],
  directions: string[],
  measures: { name: string; scale: number }[],
  nRandom: number,
  value: (e: PatchEffect, measure: number) => number,
): PatchCell[] {
  const cells: PatchCell[] = [];
  for (const dir of directions) {
    const mine = effects.filter((e) => e.direction === dir);
    measures.forEach((m, i) => {
      const slope = slopeThroughOrigin(
        mine.filter((e) => e.source === -1),
        (e) => value(e, i),
      );
      const rand = Array.from({ length: nRandom }, (_, r) =>
        slopeThroughOrigin(
          mine.filter((e) => e.source === r),
          (e) => value(e, i),
        ),
      ).filter(Number.isFinite);
      const mean = rand.length ? rand.reduce((s, x) => s + x, 0) / rand.length : Number.NaN;
      const sd =
        rand.length > 1
          ? Math.sqrt(rand.reduce((s, x) => s + (x - mean) ** 2, 0) / (rand.length - 1))
          : Number.NaN;
      const randomMin = rand.length ? Math.min(...rand) : Number.NaN;
      const randomMax = rand.length ? Math.max(...rand) : Number.NaN;
      cells.push({
        direction: dir,
        measure: m.name,
        slope,
        slopeScaled: m.scale > 0 ? slope / m.scale : Number.NaN,
        randomMin,
        randomMax,
        randomMean: mean,
        randomSd: sd,
        z: sd > 0 ? (slope - mean) / sd : Number.NaN,
        p: rand.length
          ? (1 + rand.filter((x) => Math.abs(x) >= Math.abs(slope)).length) / (rand.length + 1)
          : Number.NaN,
        outside: rand.length > 0 && (slope < randomMin || slope > randomMax),
      });
    });
  }
  return cells;
}

/** Per (direction, measure, amount): the probe's entity-mean Δ beside the min / mean / max of its random twins'. */
export function doseResponse(
  effects: PatchEffect[],
  measures: string[],
  nRandom: number,
): {
  direction: string;
  measure: string;
  amount: number;
  probe: number;
  randomMin: number;
  randomMean: number;
  randomMax: number;
}[] {
  const out = [];
  const keys = [...new Set(effects.map((e) => `${e.direction}\u0000${e.amount}`))];
  for (const key of keys) {
    const [direction, a] = key.split('\u0000') as [string, string];
    const amount = Number(a);
    const mine = effects.filter((e) => e.direction === direction && e.amount === amount);
    for (const [i, measure] of measures.entries()) {
      const by = (s: number) => finiteMean(mine.filter((e) => e.source === s).map((e) => e.deltas[i]!));
      const rand = Array.from({ length: nRandom }, (_, s) => by(s)).filter(Number.isFinite);
      out.push({
        direction,
        measure,
        amount,
        probe: by(-1),
        randomMin: rand.length ? Math.min(...rand) : Number.NaN,
        randomMean: finiteMean(rand),
        randomMax: rand.length ? Math.max(...rand) : Number.NaN,
      });
    }
  }
  return out.sort((x, y) => x.amount - y.amount);
}
