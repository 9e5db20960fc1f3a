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
import type { ProbeDirections } from './neurons.js';

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

/** log-softmax of one row of logits at index `id` (float64). */
export function logSoftmaxAt(logits: Float32Array, offset: number, width: number, id: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < width; i++) max = Math.max(max, logits[offset + i]!);
  let sum = 0;
  for (let i = 0; i < width; i++) sum += Math.exp(logits[offset + i]! - max);
  return logits[offset + id]! - max - Math.log(sum);
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
 * Scores candidate continuations of a prompt under optional edits: one batched run over prompt+candidate sequences.
 * Edits with absolute positions keep their meaning (positions past the prompt are the candidate's).
 */
export async function scoreCandidates(
  model: HookedModel,
  promptIds: number[],
  candidates: { text: string; ids: number[] }[],
  edits: HookEdit[] = [],
): Promise<{ scores: CandidateScore[]; top: { id: number; prob: number } }> {
  const V = model.spec.vocabSize;
  const seqs = candidates.length ? candidates.map((c) => [...promptIds, ...c.ids]) : [promptIds];
  const logits = (await model.run(seqs, { hooks: ['logits'], edits })).get('logits')!;
  const T = Math.max(...seqs.map((s) => s.length));
  const p = promptIds.length - 1;
  const row0 = p * V; // first sequence, last prompt position: the next-token distribution (the same for all)
  let top = 0;
  for (let i = 1; i < V; i++) if (logits[row0 + i]! > logits[row0 + top]!) top = i;
  const topProb = Math.exp(logSoftmaxAt(logits, row0, V, top));
  const scores = candidates.map((c, s) => {
    let logProb = 0;
    let firstProb = Number.NaN;
    c.ids.forEach((id, k) => {
      const lp = logSoftmaxAt(logits, (s * T + p + k) * V, V, id);
      if (k === 0) firstProb = Math.exp(lp);
      logProb += lp;
    });
    return { candidate: c.text, ids: c.ids, firstProb, logProb };
  });
  return { scores, top: { id: top, prob: topProb } };
}

export interface SweepRow {
  prompt: string;
  alpha: number;
  shiftNorm: number;
  /** ‖v‖ / typical residual norm. */
  relativeShift: number;
  /** The probe's predicted change of its target, in target units. */
  probeShift: number;
  completion: string;
  completionIds: number[];
  topToken: string;
  topProb: number;
  candidates: CandidateScore[];
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

/** Runs the α sweep on each prompt: greedy completion and candidate scores per α. */
export async function interveneSweep(
  model: HookedModel,
  prompts: string[],
  options: SweepOptions,
  onRow?: (row: SweepRow) => void,
): Promise<{ rows: SweepRow[]; typicalNorms: number[] }> {
  const tok = model.tokenizer;
  if (!tok) throw new UserError(`the model at ${model.source.dir} has no tokenizer.json`);
  const { layer, direction } = options;
  if (layer < 0 || layer >= model.spec.nLayers)
    throw new UserError(`--layer ${layer} is outside 0..${model.spec.nLayers - 1}`);
  if (direction.w.length !== model.spec.dModel)
    throw new UserError(
      `the probe has d = ${direction.w.length}, the model has d_model = ${model.spec.dModel}`,
    );
  const rows: SweepRow[] = [];
  const typicalNorms: number[] = [];
  for (const prompt of prompts) {
    const ids = promptIds(tok, prompt);
    const cands = (options.candidates ?? []).map((text) => ({ text, ids: candidateIds(tok, prompt, text) }));
    const typical = options.norm ?? (await typicalResidualNorm(model, ids, layer));
    typicalNorms.push(typical);
    for (const alpha of options.alphas) {
      const { v, norm, probeShift } = steeringVector(direction, alpha, options.unit ?? 'rms', typical);
      const edits = [steeringEdit(layer, v, options.positions ?? 'all', ids.length - 1)];
      const completionIds = await model.generate(ids, { maxNewTokens: options.maxNewTokens ?? 8, edits });
      const { scores, top } = await scoreCandidates(model, ids, cands, edits);
      const row: SweepRow = {
        prompt,
        alpha,
        shiftNorm: norm,
        relativeShift: typical > 0 ? norm / typical : Number.NaN,
        probeShift,
        completion: tok.decode(completionIds),
        completionIds,
        topToken: tok.decode([top.id]),
        topProb: top.prob,
        candidates: scores,
      };
      rows.push(row);
      onRow?.(row);
    }
  }
  return { rows, typicalNorms };
}
