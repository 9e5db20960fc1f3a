/**
 * SAE training (docs/sae.md#training). Each step is one onnxruntime graph, the forward and the hand-written backward
 * (TopK's with sparse decoder products), then Adam and the decoder rows' renormalisation to unit norm in place in
 * JS; JS also gathers batch rows and keeps the schedule.
 *
 * Loss per batch of B rows (x, reconstruction r, feature activations a, pre-activations z):
 *   mse = (1/B) Σ_b ‖r_b − x_b‖²
 *   l1  = (1/B) Σ_b Σ_j a_bj                                   (standard/ReLU only; decoder rows have unit norm)
 *   aux = (1/B) Σ_b ‖ã_b·W_dec + b_dec − (x_b − r_b)‖²          (AuxK: ã keeps the k_aux largest z_bj of dead
 *                                                              features; the residual x − r is held constant)
 *   loss = mse + l1Coefficient·l1 + auxCoefficient·min(1, nDead/k_aux)·aux,  k_aux = min(d_in/2, nDead)
 * A feature is dead once it has not fired for `deadAfterRows` training rows.
 */

import { cachedSession, GraphBuilder, ort } from '../native/index.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { paramFeeds, type SaeParams, topkMask } from './model.js';

export type TrainArchitecture = 'topk' | 'standard';

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export interface SaeStepOptions {
  l1Coefficient: number;
  auxCoefficient: number;
  /** A feature counts as dead after this many training rows without firing. */
  deadAfterRows: number;
}

const PARAMS = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
type ParamName = (typeof PARAMS)[number];
const FIELD: Record<ParamName, 'wEnc' | 'bEnc' | 'wDec' | 'bDec'> = {
  W_enc: 'wEnc',
  b_enc: 'bEnc',
  W_dec: 'wDec',
  b_dec: 'bDec',
};
const DIMS: Record<ParamName, string[]> = {
  W_enc: ['d', 'm'],
  b_enc: ['m'],
  W_dec: ['m', 'd'],
  b_dec: ['d'],
};

/**
 * The train-step graph; `withAux` adds the AuxK branch (only built into the session used while features are dead).
 * TopK steps run the sparse graph (topkTrainStepGraph) over `chunks` row chunks; ReLU+L1 steps the dense one here.
 */
export function trainStepGraph(arch: TrainArchitecture, withAux: boolean, chunks = 1): GraphBuilder {
  if (arch === 'topk') return topkTrainStepGraph(withAux, chunks);
  const g = new GraphBuilder(`sae_train_${arch}_${withAux ? 'aux' : 'plain'}`);
  const f = (v: number) => g.constant({ type: 'float32', dims: [], values: [v] });
  const axes = (a: number) => g.constant({ type: 'int64', dims: [1], values: [a] });
  stepInputs(g);
  if (withAux) auxInputs(g);
  const saeIn = g.op('Sub', ['X', g.op('Mul', ['b_dec', 'tie'])]);
  const pre = g.op('Add', [g.op('MatMul', [saeIn, 'W_enc']), 'b_enc']);
  const keepF = g.op('Cast', [g.op('Greater', [pre, f(0)])], { to: 1 });
  const acts = g.op('Mul', [pre, keepF]);
  const recon = g.op('Add', [g.op('MatMul', [acts, 'W_dec']), 'b_dec']);
  const R = g.op('Sub', [recon, 'X']);
  const rowSum = (t: string) => g.op('ReduceSum', [t, axes(1)], { keepdims: 0 });
  const batchMean = (t: string, name: string) => g.op('ReduceMean', [rowSum(t)], { keepdims: 0 }, name);
  batchMean(g.op('Mul', [R, R]), 'mse');
  const fired = g.op('ReduceSum', [keepF, axes(0)], { keepdims: 0 }, 'fired');
  g.op('Mul', [g.op('ReduceSum', [fired], { keepdims: 0 }), g.op('Mul', ['gscale', f(0.5)])], {}, 'l0'); // Σ / B
  batchMean(acts, 'l1');
  g.output('l1', 'float32', []);
  for (const out of ['mse', 'l0']) g.output(out, 'float32', []);
  g.output('fired', 'float32', ['m']);

  const dR = g.op('Mul', [R, 'gscale']);
  const dActs = g.op('Add', [g.op('Gemm', [dR, 'W_dec'], { transB: 1 }), 'l1_grad']);
  let dPre = g.op('Mul', [dActs, keepF]);
  let gWdec = g.op('Gemm', [acts, dR], { transA: 1 });
  let gBdecOut = g.op('ReduceSum', [dR, axes(0)], { keepdims: 0 });
  if (withAux) {
    const aux = auxNodes(g, pre, R);
    gWdec = g.op('Add', [gWdec, aux.gWdec]);
    gBdecOut = g.op('Add', [gBdecOut, aux.gBdec]);
    dPre = g.op('Add', [dPre, aux.dPre]);
    batchMean(aux.sq, 'aux');
  }
  const gBenc = g.op('ReduceSum', [dPre, axes(0)], { keepdims: 0 });
  gradOutputs(g, { W_enc: g.op('Gemm', [saeIn, dPre], { transA: 1 }), b_enc: gBenc, W_dec: gWdec }, gBdecOut);
  return g;
}

/** The inputs every train-step graph takes: the batch, parameters and Adam moments, and the step's scalars. */
function stepInputs(g: GraphBuilder): void {
  g.input('X', 'float32', ['B', 'd']);
  for (const p of PARAMS) g.input(p, 'float32', DIMS[p]);
  g.input('tie', 'float32', []); // 1: subtract b_dec from the input (SAELens apply_b_dec_to_input); 0: do not
  g.input('gscale', 'float32', []); // 2 / B
  g.input('l1_grad', 'float32', []); // l1Coefficient / B
}

function auxInputs(g: GraphBuilder): void {
  g.input('dead', 'float32', ['m']); // 1 for dead features
  g.input('k_aux', 'int64', [1]);
  g.input('aux_weight', 'float32', []); // auxCoefficient · min(1, nDead / k_aux)
}

/**
 * The AuxK branch on some rows (dense: it touches every dead feature): pre-activations `pre` and residual `R` (held
 * constant) of those rows. Returns the squared error per row (to sum) and its gradient terms
 * (already scaled by aux_weight and 2/B).
 */
function auxNodes(
  g: GraphBuilder,
  pre: string,
  R: string,
): { sq: string; gWdec: string; gBdec: string; dPre: string } {
  const f = (v: number) => g.constant({ type: 'float32', dims: [], values: [v] });
  const axes = (a: number) => g.constant({ type: 'int64', dims: [1], values: [a] });
  const deadPre = g.op('Where', [g.op('Greater', ['dead', f(0.5)]), pre, f(-3e38)]);
  const auxMask = g.op('Mul', [topkMask(g, deadPre, 'k_aux'), 'dead']);
  const auxActs = g.op('Mul', [pre, auxMask]);
  const E = g.op('Add', [g.op('Add', [g.op('MatMul', [auxActs, 'W_dec']), 'b_dec']), R]);
  const dE = g.op('Mul', [E, g.op('Mul', ['gscale', 'aux_weight'])]);
  const dPre = g.op('Mul', [g.op('Gemm', [dE, 'W_dec'], { transB: 1 }), auxMask]);
  return {
    sq: g.op('Mul', [E, E]),
    gWdec: g.op('Gemm', [auxActs, dE], { transA: 1 }),
    gBdec: g.op('ReduceSum', [dE, axes(0)], { keepdims: 0 }),
    dPre,
  };
}

/**
 * The TopK train step with sparse decoder products: only k of d_sae features are active per row, so the decoder's
 * forward (acts·W_dec), its input gradient (dR·W_decᵀ) and both weight gradients (actsᵀ·dR, sae_inᵀ·dPre) are
 * gathers of the k active W_dec rows and scatter-adds (ScatterND, reduction add) into the k active gradient rows:
 * B·k·d multiply-adds each instead of B·d_sae·d (512x fewer at 16k features, k 32). The one dense GEMM left is the
 * encoder's sae_in·W_enc. Rows go in `chunks` chunks (sizes in the `chunk_rows` input) so that the gathered
 * [rows, k, d] tensors stay small; every gradient sums over chunks. Tie semantics are TopK's own: exactly k per row
 * (PyTorch's torch.topk), then ReLU.
 */
export function topkTrainStepGraph(withAux: boolean, chunks: number): GraphBuilder {
  const g = new GraphBuilder(`sae_train_topk_sparse_${withAux ? 'aux' : 'plain'}_${chunks}`);
  const f = (v: number) => g.constant({ type: 'float32', dims: [], values: [v] });
  const ints = (...v: number[]) => g.constant({ type: 'int64', dims: [v.length], values: v });
  stepInputs(g);
  g.input('k', 'int64', [1]);
  g.input('chunk_rows', 'int64', [chunks]);
  if (withAux) auxInputs(g);
  const xs = chunks === 1 ? ['X'] : g.node('Split', ['X', 'chunk_rows'], { axis: 0 }, fresh(chunks));
  const sumOver = (t: string, axis: number) => g.op('ReduceSum', [t, ints(axis)], { keepdims: 0 });
  const zerosLike = (t: string) =>
    g.op('ConstantOfShape', [g.op('Shape', [t])], {
      value: { tensor: { type: 'float32', dims: [1], values: [0] } },
    });
  const bDecTie = g.op('Mul', ['b_dec', 'tie']);
  // Accumulators over chunks; the [m, d] ones are updated in place by ScatterND.
  let gWdec = zerosLike('W_dec');
  let gWencT = zerosLike('W_dec'); // W_enc's gradient transposed ([m, d]): its rows are the active features
  let gBenc = zerosLike('b_enc');
  let fired = zerosLike('b_enc');
  const partial: Record<'sq' | 'fires' | 'gBdec' | 'auxSq', string[]> = {
    sq: [],
    fires: [],
    gBdec: [],
    auxSq: [],
  };
  const auxWenc: string[] = [];
  for (const x of xs) {
    const saeIn = g.op('Sub', [x, bDecTie]);
    const pre = g.op('Add', [g.op('MatMul', [saeIn, 'W_enc']), 'b_enc']); // [b, m]
    const [vals, idx] = g.node('TopK', [pre, 'k'], { axis: 1, largest: 1, sorted: 0 }, fresh(2));
    const where = g.op('Unsqueeze', [idx!, ints(2)]); // [b, k, 1]: ScatterND row indices
    const pos = g.op('Cast', [g.op('Greater', [vals!, f(0)])], { to: 1 }); // fired, and ReLU's gradient
    const acts = g.op('Mul', [vals!, pos]); // [b, k]
    const rows = g.op('Gather', ['W_dec', idx!], { axis: 0 }); // [b, k, d]
    const recon = g.op('Squeeze', [g.op('MatMul', [g.op('Unsqueeze', [acts, ints(1)]), rows]), ints(1)]);
    const R = g.op('Sub', [g.op('Add', [recon, 'b_dec']), x]);
    const dR = g.op('Mul', [R, 'gscale']);
    const dActs = g.op('Squeeze', [g.op('MatMul', [rows, g.op('Unsqueeze', [dR, ints(2)])]), ints(2)]);
    const dVals = g.op('Mul', [dActs, pos]); // [b, k]
    const outer = (a: string, v: string) =>
      g.op('Mul', [g.op('Unsqueeze', [a, ints(2)]), g.op('Unsqueeze', [v, ints(1)])]);
    const add = (acc: string, upd: string) => g.op('ScatterND', [acc, where, upd], { reduction: 'add' });
    gWdec = add(gWdec, outer(acts, dR));
    gWencT = add(gWencT, outer(dVals, saeIn));
    gBenc = add(gBenc, dVals);
    fired = add(fired, pos);
    partial.sq.push(sumOver(g.op('Mul', [R, R]), 1));
    partial.fires.push(sumOver(pos, 1));
    partial.gBdec.push(sumOver(dR, 0));
    if (withAux) {
      const aux = auxNodes(g, pre, R);
      partial.auxSq.push(sumOver(aux.sq, 1));
      gWdec = g.op('Add', [gWdec, aux.gWdec]);
      partial.gBdec.push(aux.gBdec);
      gBenc = g.op('Add', [gBenc, sumOver(aux.dPre, 0)]);
      auxWenc.push(g.op('Gemm', [saeIn, aux.dPre], { transA: 1 }));
    }
  }
  const concat = (ts: string[]) => (ts.length === 1 ? ts[0]! : g.op('Concat', ts, { axis: 0 }));
  const total = (ts: string[]) => (ts.length === 1 ? ts[0]! : g.op('Sum', ts));
  g.op('ReduceMean', [concat(partial.sq)], { keepdims: 0 }, 'mse');
  g.op(
    'Mul',
    [g.op('ReduceSum', [concat(partial.fires)], { keepdims: 0 }), g.op('Mul', ['gscale', f(0.5)])],
    {},
    'l0',
  );
  g.op('Identity', [fired], {}, 'fired');
  for (const out of ['mse', 'l0']) g.output(out, 'float32', []);
  g.output('fired', 'float32', ['m']);
  if (withAux) {
    g.op('ReduceMean', [concat(partial.auxSq)], { keepdims: 0 }, 'aux');
    g.output('aux', 'float32', []);
  }
  const gWenc = g.op('Transpose', [gWencT], { perm: [1, 0] });
  const gWencAll = auxWenc.length ? total([gWenc, ...auxWenc]) : gWenc;
  gradOutputs(g, { W_enc: gWencAll, b_enc: gBenc, W_dec: gWdec }, total(partial.gBdec));
  return g;
}

let outputId = 0;
/** Fresh names for a multi-output node's outputs. */
const fresh = (count: number) => Array.from({ length: count }, () => `part_${outputId++}`);

/**
 * Outputs grad_* of every parameter; b_dec's also gets −tie · W_enc·(Σ_b dPre), since sae_in = x − tie·b_dec.
 * Adam runs in JS on the trainer's own buffers (adamUpdate): as graph outputs, the new parameters and both moments
 * would be 6 fresh [d_in, d_sae] buffers per step, and filling fresh pages cost more than the update itself.
 */
function gradOutputs(
  g: GraphBuilder,
  grads: Record<'W_enc' | 'b_enc' | 'W_dec', string>,
  gBdecOut: string,
): void {
  const all: Record<ParamName, string> = {
    ...grads,
    b_dec: g.op('Sub', [gBdecOut, g.op('Mul', [g.op('MatMul', ['W_enc', grads.b_enc]), 'tie'])]),
  };
  for (const p of PARAMS) {
    g.op('Identity', [all[p]], {}, `grad_${p}`);
    g.output(`grad_${p}`, 'float32', DIMS[p]);
  }
}

/**
 * One Adam step in place, as torch.optim.Adam (no weight decay, no amsgrad) computes it in float32:
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,  p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
 * Memory-bound (~130 M values/s here): cheaper than passing 3 new [d_in, d_sae] arrays out of onnxruntime.
 */
export function adamUpdate(
  param: Float32Array,
  m: Float32Array,
  v: Float32Array,
  grad: Float32Array,
  adam: AdamOptions,
  step: number,
): void {
  const f = Math.fround;
  const { beta1: b1, beta2: b2, eps } = adam;
  const c1 = f(1 - b1);
  const c2 = f(1 - b2);
  const stepSize = f(adam.lr / (1 - b1 ** step));
  const bc2 = f(Math.sqrt(1 - b2 ** step));
  for (let i = 0; i < param.length; i++) {
    const gi = grad[i]!;
    const mi = f(f(m[i]! * b1) + f(gi * c1));
    const vi = f(f(v[i]! * b2) + f(f(gi * gi) * c2));
    m[i] = mi;
    v[i] = vi;
    param[i] = param[i]! - f(stepSize * f(mi / f(f(Math.sqrt(vi) / bc2) + eps)));
  }
}

/** Rows of w (rows × cols) scaled to unit L2 norm in place (norms below 1e-12 divide by 1e-12). */
function normalizeRows(w: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const row = w.subarray(r * cols, (r + 1) * cols);
    let ss = 0;
    for (let i = 0; i < cols; i++) ss += row[i]! * row[i]!;
    const norm = Math.fround(Math.max(Math.sqrt(ss), 1e-12));
    for (let i = 0; i < cols; i++) row[i] = row[i]! / norm;
  }
}

export interface StepStats {
  mse: number;
  l1: number;
  l0: number;
  aux: number;
  nDead: number;
}

const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);

/** Adam state of one SAE being trained (parameters, moments, rows since each feature last fired). */
export class SaeTrainer {
  readonly params: SaeParams;
  readonly moments: Record<'m' | 'v', Record<ParamName, Float32Array>>;
  /** Training rows since each feature last fired. */
  readonly rowsSinceFired: Float64Array;
  steps = 0;

  /**
   * @param chunkRows TopK only: rows per chunk of the sparse step (default defaultChunkRows: the gathered
   *   [rows, k, d_in] decoder rows stay near 128 MiB). Tests set it small to run several chunks.
   */
  constructor(
    initial: SaeParams,
    readonly adam: AdamOptions,
    readonly stepOptions: SaeStepOptions,
    readonly chunkRows?: number,
  ) {
    if (initial.architecture === 'jumprelu')
      throw new UserError('training supports the topk and standard SAEs');
    this.params = {
      ...initial,
      wEnc: initial.wEnc.slice(),
      bEnc: initial.bEnc.slice(),
      wDec: initial.wDec.slice(),
      bDec: initial.bDec.slice(),
    };
    const zeros = () =>
      Object.fromEntries(PARAMS.map((n) => [n, new Float32Array(this.params[FIELD[n]].length)])) as Record<
        ParamName,
        Float32Array
      >;
    this.moments = { m: zeros(), v: zeros() };
    this.rowsSinceFired = new Float64Array(initial.dSae);
  }

  /** Dead features now: those that have not fired for `deadAfterRows` rows. */
  deadMask(): Float32Array {
    const dead = new Float32Array(this.params.dSae);
    for (let j = 0; j < dead.length; j++)
      dead[j] = this.rowsSinceFired[j]! >= this.stepOptions.deadAfterRows ? 1 : 0;
    return dead;
  }

  /** One Adam step on a batch x (b × d_in, row-major). `dead` overrides the dead-feature mask (tests). */
  async step(x: Float32Array, b: number, dead = this.deadMask()): Promise<StepStats> {
    const p = this.params;
    if (x.length !== b * p.dIn) throw new Error('SaeTrainer.step: batch size does not match');
    let nDead = 0;
    for (const v of dead) nDead += v;
    const withAux = nDead > 0 && this.stepOptions.auxCoefficient > 0;
    const arch = p.architecture as TrainArchitecture;
    const chunkRows = arch === 'topk' ? splitRows(b, this.chunkRows ?? defaultChunkRows(p)) : [b];
    const session = await cachedSession(
      `sae-train:${arch}:${withAux}:${chunkRows.length}`,
      () => trainStepGraph(arch, withAux, chunkRows.length),
      { memPattern: false },
    );
    this.steps++;
    const feeds: Record<string, ort.Tensor> = {
      X: new ort.Tensor('float32', x, [b, p.dIn]),
      tie: scalar(p.applyBDecToInput ? 1 : 0),
      gscale: scalar(2 / b),
      l1_grad: scalar(p.architecture === 'standard' ? this.stepOptions.l1Coefficient / b : 0),
    };
    if (arch === 'topk') {
      feeds['k'] = paramFeeds(p)['k']!;
      feeds['chunk_rows'] = new ort.Tensor('int64', BigInt64Array.from(chunkRows, BigInt), [
        chunkRows.length,
      ]);
    }
    const shapes: Record<ParamName, number[]> = {
      W_enc: [p.dIn, p.dSae],
      b_enc: [p.dSae],
      W_dec: [p.dSae, p.dIn],
      b_dec: [p.dIn],
    };
    for (const n of PARAMS) {
      feeds[n] = new ort.Tensor('float32', p[FIELD[n]], shapes[n]);
    }
    if (withAux) {
      const kAux = Math.min(Math.floor(p.dIn / 2), nDead);
      feeds['dead'] = new ort.Tensor('float32', dead, [p.dSae]);
      feeds['k_aux'] = new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.max(1, kAux))), [1]);
      feeds['aux_weight'] = scalar(this.stepOptions.auxCoefficient * Math.min(1, nDead / Math.max(1, kAux)));
    }
    const out = await session.run(feeds);
    for (const n of PARAMS) {
      const grad = out[`grad_${n}`]!.data as Float32Array;
      adamUpdate(p[FIELD[n]], this.moments.m[n], this.moments.v[n], grad, this.adam, this.steps);
    }
    normalizeRows(p.wDec, p.dSae, p.dIn);
    const fired = out['fired']!.data as Float32Array;
    for (let j = 0; j < fired.length; j++)
      this.rowsSinceFired[j] = fired[j]! > 0 ? 0 : this.rowsSinceFired[j]! + b;
    const first = (name: string) => (out[name] ? (out[name]!.data as Float32Array)[0]! : 0);
    return { mse: first('mse'), l1: first('l1'), l0: first('l0'), aux: first('aux'), nDead };
  }
}

/** Rows per chunk of the sparse TopK step: the [rows, k, d_in] f32 gather of decoder rows near 128 MiB. */
export function defaultChunkRows(p: { k?: number; dIn: number }): number {
  return Math.max(16, Math.floor(2 ** 27 / (4 * (p.k ?? 1) * p.dIn)));
}

/** b rows as near-equal chunks of at most `max` rows. */
function splitRows(b: number, max: number): number[] {
  const n = Math.ceil(b / max);
  return Array.from({ length: n }, (_, i) => Math.floor((b * (i + 1)) / n) - Math.floor((b * i) / n));
}

/**
 * A fresh SAE: decoder rows drawn uniformly and normalised to unit length, W_enc = W_decᵀ, b_enc = 0, b_dec = the
 * mean input row (so the tied pre-bias starts by centring the data). Seeded.
 */
export function initSae(
  arch: TrainArchitecture,
  dIn: number,
  dSae: number,
  options: { k?: number; applyBDecToInput: boolean; mean: Float32Array; seed: number },
): SaeParams {
  const rng = new Rng(options.seed, 'sae-init');
  const wDec = new Float32Array(dSae * dIn);
  for (let i = 0; i < wDec.length; i++) wDec[i] = rng.uniform() * 2 - 1;
  const wEnc = new Float32Array(dIn * dSae);
  for (let j = 0; j < dSae; j++) {
    const row = wDec.subarray(j * dIn, (j + 1) * dIn);
    let norm = 0;
    for (const v of row) norm += v * v;
    norm = Math.sqrt(norm);
    for (let i = 0; i < dIn; i++) {
      row[i] = row[i]! / norm;
      wEnc[i * dSae + j] = row[i]!;
    }
  }
  return {
    architecture: arch,
    dIn,
    dSae,
    ...(arch === 'topk' ? { k: options.k! } : {}),
    applyBDecToInput: options.applyBDecToInput,
    wEnc,
    bEnc: new Float32Array(dSae),
    wDec,
    bDec: options.mean.slice(),
  };
}
