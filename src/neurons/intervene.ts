/**
 * Causal interventions along a probe direction: add α·v to `blocks.{L}.hook_resid_post` while the model completes
 * factual prompts, sweep α, and report how completions and candidate-answer probabilities move (dose-response).
 *
 * The direction. The probe is a ridge fit on standardised targets: ŷ_std = (x − x̄)·w, so w (coef_standardized, one
 * column per target) is the direction in activation space along which the probe's prediction grows fastest.
 * We use u = w/‖w‖ and scale it so that α has a model-independent meaning:
 *  - unit `rms` (default): v = α · (‖x‖_typ / √d) · u, i.e. α times the typical per-coordinate RMS of the residual
 *    stream at layer L, where ‖x‖_typ is the mean residual norm over the prompt's positions after the first (the
 *    first token's, usually BOS, is an outlier), or `norm` if given. With d = 4096, α = 8 is 1/8 of the norm.
 *  - unit `norm`: v = α · ‖x‖_typ · u (α = fraction of the typical residual norm).
 *  - unit `target`: v = α · w/‖w‖², which moves the probe's prediction by exactly α train standard deviations of
 *    the target (α · y_scale in target units).
 * Every row also reports ‖v‖, ‖v‖/‖x‖_typ and the probe's predicted shift in target units, so units can be
 * compared across runs.
 */
import type { HookEdit, HookedModel, ModelTokenizer } from '../model/index.js';
import { UserError } from '../util/errors.js';
import { type EditedScores, randomSubspaces, type StreamEdit, scoreUnderEdits } from './causal-edits.js';
import type { ProbeDirections } from './neurons.js';

export { logSoftmaxAt } from './causal-edits.js';

export type SteeringUnit = 'rms' | 'norm' | 'target';
export type EditPositions = 'all' | 'last';

/** A probe direction at one layer for one target, ready to steer with. */
export interface ProbeDirection {
  layer: number;
  target: string;
  /** w, float64, length d (standardised-target units). */
  w: Float64Array;
  wNorm: number;
  /** Train std of the target (target units per standardised unit). */
  yScale: number;
}

export async function probeDirection(
  probes: ProbeDirections,
  layer: number,
  target: string | number,
): Promise<ProbeDirection> {
  const t = typeof target === 'number' ? target : probes.targetNames.indexOf(target);
  if (t < 0 || t >= probes.targetNames.length)
    throw new UserError(`the probe has no target ${target} (targets: ${probes.targetNames.join(', ')})`);
  const w = await probes.direction(layer, t);
  const { yScale } = await probes.ridge(layer);
  let ss = 0;
  for (const x of w) ss += x * x;
  const wNorm = Math.sqrt(ss);
  if (!(wNorm > 0))
    throw new UserError(`the probe direction of ${probes.targetNames[t]} at layer ${layer} is zero`);
  return { layer, target: probes.targetNames[t]!, w, wNorm, yScale: yScale[t]! };
}

/** The steering vector for one α (float32, length d) and its bookkeeping. */
export function steeringVector(
  dir: ProbeDirection,
  alpha: number,
  unit: SteeringUnit,
  typicalNorm: number,
): { v: Float32Array; norm: number; probeShift: number } {
  const d = dir.w.length;
  // coefficient c such that v = c · w
  const c =
    unit === 'target'
      ? alpha / (dir.wNorm * dir.wNorm)
      : (alpha * (unit === 'rms' ? typicalNorm / Math.sqrt(d) : typicalNorm)) / dir.wNorm;
  const v = Float32Array.from(dir.w, (x) => c * x);
  return { v, norm: Math.abs(c) * dir.wNorm, probeShift: c * dir.wNorm * dir.wNorm * dir.yScale };
}

/** A hook edit adding v at layer L's resid_post, at every position or only at absolute position `last`. */
export function steeringEdit(
  layer: number,
  v: Float32Array,
  positions: EditPositions,
  lastIndex: number,
): HookEdit {
  return {
    hook: `blocks.${layer}.hook_resid_post`,
    add: v,
    ...(positions === 'last' ? { positions: [lastIndex] } : {}),
  };
}

/** Mean ‖resid_post(L)‖ over the prompt's positions after the first (all positions for a 1-token prompt). */
export async function typicalResidualNorm(model: HookedModel, ids: number[], layer: number): Promise<number> {
  const hook = `blocks.${layer}.hook_resid_post`;
  const x = (await model.run([ids], { hooks: [hook] })).get(hook)!;
  const d = model.spec.dModel;
  const from = ids.length > 1 ? 1 : 0;
  let sum = 0;
  for (let t = from; t < ids.length; t++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[t * d + j]! * x[t * d + j]!;
    sum += Math.sqrt(ss);
  }
  return sum / (ids.length - from);
}

export interface CandidateScore {
  candidate: string;
  ids: number[];
  /** P(first token) after the prompt. */
  firstProb: number;
  /** Σ log P of all the candidate's tokens (teacher-forced). */
  logProb: number;
}

/**
 * Scores candidate continuations of a prompt under optional edits: one batched run over prompt+candidate sequences
 * (scoreUnderEdits with only engine edits). Edits with absolute positions keep their meaning (positions past the
 * prompt are the candidate's).
 */
export async function scoreCandidates(
  model: HookedModel,
  promptIds: number[],
  candidates: { text: string; ids: number[] }[],
  edits: HookEdit[] = [],
): Promise<{ scores: CandidateScore[]; top: { id: number; prob: number } }> {
  const s = await scoreUnderEdits(
    model,
    { ids: promptIds, candidates: candidates.map((c) => c.ids), editPosition: 0 },
    [{ kind: 'none' }],
    { layer: 0, positions: 'entity' },
    { extraEdits: edits },
  );
  return { scores: candidateScores(candidates, s, 0), top: s.top[0]! };
}

function candidateScores(
  candidates: { text: string; ids: number[] }[],
  s: EditedScores,
  e: number,
): CandidateScore[] {
  return candidates.map((c, k) => ({
    candidate: c.text,
    ids: c.ids,
    firstProb: s.firstProbs[e]![k]!,
    logProb: s.logProbs[e]![k]!,
  }));
}

export interface SweepRow {
  prompt: string;
  alpha: number;
  shiftNorm: number;
  /** ‖v‖ / typical residual norm. */
  relativeShift: number;
  /**
   * The probe's change of its target (target units), measured: the probe re-reads the edited resid_post at the
   * prompt's last position (the value a capture of the hook returns after the edit) minus its unedited reading.
   */
  probeShift: number;
  completion: string;
  completionIds: number[];
  topToken: string;
  topProb: number;
  candidates: CandidateScore[];
  /** The matched control: the same α along random directions of the same norm, orthogonal to the probe's. */
  random?: RandomBand;
}

/** What N random directions of ‖v‖ (the probe direction's component removed) do at one α. */
export interface RandomBand {
  /** Per candidate (in `candidates` order): min, mean and max of its log P over the random directions. */
  logProb: { min: number; mean: number; max: number }[];
  /** Min and max of the measured probe shift over the random directions (≈ 0: they are orthogonal to w). */
  probeShift: { min: number; max: number };
  /** One entry per random direction. */
  directions: { index: number; probeShift: number; logProbs: number[]; topToken: string; topProb: number }[];
}

export interface SweepOptions {
  layer: number;
  direction: ProbeDirection;
  alphas: number[];
  unit?: SteeringUnit;
  positions?: EditPositions;
  /** Overrides the measured typical residual norm. */
  norm?: number;
  maxNewTokens?: number;
  candidates?: string[];
  /** Random directions of equal norm scored beside the probe at every α (default 0: none). */
  randomDirections?: number;
  /** Seed of the random directions (default 0). */
  seed?: number;
}

/** Candidate token ids after a prompt: encode(prompt + sep + candidate) minus the prompt's own tokens. */
export function candidateIds(tokenizer: ModelTokenizer, prompt: string, candidate: string): number[] {
  const sep = /\s$/.test(prompt) ? '' : ' ';
  const base = tokenizer.encode(prompt).ids;
  const full = tokenizer.encode(prompt + sep + candidate).ids;
  if (base.every((id, i) => full[i] === id) && full.length > base.length) return full.slice(base.length);
  const alone = tokenizer.encode(sep + candidate).ids;
  if (!alone.length) throw new UserError(`candidate '${candidate}' encodes to no tokens`);
  return alone;
}

/** The prompt's ids as the model sees them: [BOS] + encode(prompt). */
export function promptIds(tokenizer: ModelTokenizer, prompt: string): number[] {
  const ids = tokenizer.encode(prompt).ids;
  if (!ids.length) throw new UserError('the prompt encodes to no tokens');
  return tokenizer.bosId !== undefined ? [tokenizer.bosId, ...ids] : ids;
}

/** Unit-length float64 copy of w. */
function unit(w: Float64Array): Float64Array {
  let ss = 0;
  for (const x of w) ss += x * x;
  const n = Math.sqrt(ss);
  return Float64Array.from(w, (x) => x / n);
}

/**
 * Runs the α sweep on each prompt: greedy completion and candidate scores per α; with `randomDirections` N, the
 * same α along N random directions of equal norm (seeded, orthogonal to w) scored in the same batched run.
 */
export async function interveneSweep(
  model: HookedModel,
  prompts: string[],
  options: SweepOptions,
  onRow?: (row: SweepRow) => void,
): Promise<{ rows: SweepRow[]; typicalNorms: number[] }> {
  const tok = model.tokenizer;
  if (!tok) throw new UserError(`the model at ${model.source.dir} has no tokenizer.json`);
  const { layer, direction } = options;
  const d = model.spec.dModel;
  if (layer < 0 || layer >= model.spec.nLayers)
    throw new UserError(`--layer ${layer} is outside 0..${model.spec.nLayers - 1}`);
  if (direction.w.length !== d)
    throw new UserError(`the probe has d = ${direction.w.length}, the model has d_model = ${d}`);
  const nRandom = options.randomDirections ?? 0;
  const randoms = (await randomSubspaces(d, 1, nRandom, [direction.w], options.seed ?? 0)).map((b) => b[0]!);
  const u = unit(direction.w);
  const positions = options.positions ?? 'all';
  const rows: SweepRow[] = [];
  const typicalNorms: number[] = [];
  for (const prompt of prompts) {
    const ids = promptIds(tok, prompt);
    const cands = (options.candidates ?? []).map((text) => ({ text, ids: candidateIds(tok, prompt, text) }));
    const typical = options.norm ?? (await typicalResidualNorm(model, ids, layer));
    typicalNorms.push(typical);
    const last = ids.length - 1;
    const steer = options.alphas.map((alpha) =>
      steeringVector(direction, alpha, options.unit ?? 'rms', typical),
    );
    // Edit 0 is the clean run; then per α the probe vector and its random twins (the same signed norm along r).
    const edits: StreamEdit[] = [{ kind: 'none' }];
    for (const { v } of steer) {
      const c = dotF(v, u); // signed ‖v‖: v = c·u
      edits.push({ kind: 'add', vector: v });
      for (const r of randoms) edits.push({ kind: 'add', vector: Float32Array.from(r, (x) => c * x) });
    }
    const scored = await scoreUnderEdits(
      model,
      { ids, candidates: cands.map((c) => c.ids), editPosition: last },
      edits,
      { layer, positions: positions === 'all' ? 'all' : 'entity' },
      { read: { position: last, directions: [direction.w] } },
    );
    const shiftOf = (e: number) => (scored.readings![e]![0]! - scored.readings![0]![0]!) * direction.yScale;
    for (const [a, alpha] of options.alphas.entries()) {
      const e = 1 + a * (1 + nRandom);
      const { v, norm } = steer[a]!;
      const completionIds = await model.generate(ids, {
        maxNewTokens: options.maxNewTokens ?? 8,
        edits: [steeringEdit(layer, v, positions, last)],
      });
      const row: SweepRow = {
        prompt,
        alpha,
        shiftNorm: norm,
        relativeShift: typical > 0 ? norm / typical : Number.NaN,
        probeShift: shiftOf(e),
        completion: tok.decode(completionIds),
        completionIds,
        topToken: tok.decode([scored.top[e]!.id]),
        topProb: scored.top[e]!.prob,
        candidates: candidateScores(cands, scored, e),
        ...(nRandom > 0 && { random: randomBand(scored, e, nRandom, cands.length, shiftOf, tok) }),
      };
      rows.push(row);
      onRow?.(row);
    }
  }
  return { rows, typicalNorms };
}

function dotF(v: Float32Array, u: Float64Array): number {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j]! * u[j]!;
  return s;
}

/** The random twins of the probe edit `e` (edits e+1 .. e+n) summarised per candidate. */
function randomBand(
  scored: EditedScores,
  e: number,
  n: number,
  k: number,
  shiftOf: (e: number) => number,
  tok: ModelTokenizer,
): RandomBand {
  const directions = Array.from({ length: n }, (_, i) => ({
    index: i,
    probeShift: shiftOf(e + 1 + i),
    logProbs: Array.from(scored.logProbs[e + 1 + i]!),
    topToken: tok.decode([scored.top[e + 1 + i]!.id]),
    topProb: scored.top[e + 1 + i]!.prob,
  }));
  const logProb = Array.from({ length: k }, (_, c) => {
    const xs = directions.map((r) => r.logProbs[c]!);
    return { min: Math.min(...xs), mean: xs.reduce((s, x) => s + x, 0) / n, max: Math.max(...xs) };
  });
  const shifts = directions.map((r) => r.probeShift);
  return { logProb, probeShift: { min: Math.min(...shifts), max: Math.max(...shifts) }, directions };
}
