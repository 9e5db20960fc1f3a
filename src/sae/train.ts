/**
 * SAE training (docs/sae.md#training). Each step is one onnxruntime graph: forward, the hand-written backward and
 * the Adam update, then the decoder rows renormalised to unit norm; JS gathers batch rows and keeps the schedule.
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
import { kthLargest, paramFeeds, type SaeParams, topkMask } from './model.js';

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

/** The train-step graph; `withAux` adds the AuxK branch (only built into the session used while features are dead). */
export function trainStepGraph(arch: TrainArchitecture, withAux: boolean, adam: AdamOptions): GraphBuilder {
  const g = new GraphBuilder(`sae_train_${arch}_${withAux ? 'aux' : 'plain'}`);
  const f = (v: number) => g.constant({ type: 'float32', dims: [], values: [v] });
  const axes = (a: number) => g.constant({ type: 'int64', dims: [1], values: [a] });
  g.input('X', 'float32', ['B', 'd']);
  for (const p of PARAMS) for (const prefix of ['', 'm_', 'v_']) g.input(prefix + p, 'float32', DIMS[p]);
  g.input('tie', 'float32', []); // 1: subtract b_dec from the input (SAELens apply_b_dec_to_input); 0: do not
  g.input('gscale', 'float32', []); // 2 / B
  g.input('l1_grad', 'float32', []); // l1Coefficient / B
  g.input('step_size', 'float32', []); // lr / (1 − β1^step)
  g.input('bc2_sqrt', 'float32', []); // √(1 − β2^step)
  if (arch === 'topk') g.input('k', 'int64', [1]);

  const saeIn = g.op('Sub', ['X', g.op('Mul', ['b_dec', 'tie'])]);
  const pre = g.op('Add', [g.op('MatMul', [saeIn, 'W_enc']), 'b_enc']);
  // keep: the features that fire. TopK keeps pre ≥ the row's k-th largest value and > 0 (one threshold per row, so
  // no [B, d_sae] scatter; an exact tie at the k-th value would keep both). The 0/1 mask multiplies the tensors.
  const keep =
    arch === 'topk'
      ? g.op('GreaterOrEqual', [pre, g.op('Max', [kthLargest(g, pre, 'k'), f(1.2e-38)])])
      : g.op('Greater', [pre, f(0)]);
  const keepF = g.op('Cast', [keep], { to: 1 });
  const acts = g.op('Mul', [pre, keepF]);
  const recon = g.op('Add', [g.op('MatMul', [acts, 'W_dec']), 'b_dec']);
  const R = g.op('Sub', [recon, 'X']);
  const rowSum = (t: string) => g.op('ReduceSum', [t, axes(1)], { keepdims: 0 });
  const batchMean = (t: string, name: string) => g.op('ReduceMean', [rowSum(t)], { keepdims: 0 }, name);
  batchMean(g.op('Mul', [R, R]), 'mse');
  const fired = g.op('ReduceSum', [keepF, axes(0)], { keepdims: 0 }, 'fired');
  g.op('Mul', [g.op('ReduceSum', [fired], { keepdims: 0 }), g.op('Mul', ['gscale', f(0.5)])], {}, 'l0'); // Σ / B
  if (arch === 'standard') {
    batchMean(acts, 'l1');
    g.output('l1', 'float32', []);
  }
  for (const out of ['mse', 'l0']) g.output(out, 'float32', []);
  g.output('fired', 'float32', ['m']);

  const dR = g.op('Mul', [R, 'gscale']);
  let dActs = g.op('Gemm', [dR, 'W_dec'], { transB: 1 });
  if (arch === 'standard') dActs = g.op('Add', [dActs, 'l1_grad']);
  let dPre = g.op('Mul', [dActs, keepF]);
  let gWdec = g.op('Gemm', [acts, dR], { transA: 1 });
  let gBdecOut = g.op('ReduceSum', [dR, axes(0)], { keepdims: 0 });
  if (withAux) {
    g.input('dead', 'float32', ['m']); // 1 for dead features
    g.input('k_aux', 'int64', [1]);
    g.input('aux_weight', 'float32', []); // auxCoefficient · min(1, nDead / k_aux)
    const deadPre = g.op('Where', [g.op('Greater', ['dead', f(0.5)]), pre, f(-3e38)]);
    const auxMask = g.op('Mul', [topkMask(g, deadPre, 'k_aux'), 'dead']);
    const auxActs = g.op('Mul', [pre, auxMask]);
    const E = g.op('Add', [g.op('Add', [g.op('MatMul', [auxActs, 'W_dec']), 'b_dec']), R]);
    batchMean(g.op('Mul', [E, E]), 'aux');
    g.output('aux', 'float32', []);
    const dE = g.op('Mul', [E, g.op('Mul', ['gscale', 'aux_weight'])]);
    gWdec = g.op('Add', [gWdec, g.op('Gemm', [auxActs, dE], { transA: 1 })]);
    gBdecOut = g.op('Add', [gBdecOut, g.op('ReduceSum', [dE, axes(0)], { keepdims: 0 })]);
    dPre = g.op('Add', [dPre, g.op('Mul', [g.op('Gemm', [dE, 'W_dec'], { transB: 1 }), auxMask])]);
  }
  const gBenc = g.op('ReduceSum', [dPre, axes(0)], { keepdims: 0 });
  const grads: Record<ParamName, string> = {
    W_enc: g.op('Gemm', [saeIn, dPre], { transA: 1 }),
    b_enc: gBenc,
    W_dec: gWdec,
    // sae_in = x − tie·b_dec, so b_dec also gets −tie · W_enc·(Σ_b dPre)
    b_dec: g.op('Sub', [gBdecOut, g.op('Mul', [g.op('MatMul', ['W_enc', gBenc]), 'tie'])]),
  };
  for (const p of PARAMS) adamNodes(g, p, grads[p], adam);
  const w = 'stepped_W_dec';
  const norm = g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [w, w]), axes(1)], { keepdims: 1 })]);
  g.op('Div', [w, g.op('Max', [norm, f(1e-12)])], {}, 'new_W_dec');
  for (const p of PARAMS)
    for (const prefix of ['new_', 'new_m_', 'new_v_']) g.output(prefix + p, 'float32', DIMS[p]);
  return g;
}

/** Adam (PyTorch semantics, no weight decay) for one parameter; W_dec's result is renormalised by the caller. */
function adamNodes(g: GraphBuilder, p: ParamName, grad: string, adam: AdamOptions): void {
  const f = (v: number) => g.constant({ type: 'float32', dims: [], values: [v] });
  const m = g.op(
    'Add',
    [g.op('Mul', [`m_${p}`, f(adam.beta1)]), g.op('Mul', [grad, f(1 - adam.beta1)])],
    {},
    `new_m_${p}`,
  );
  const gg = g.op('Mul', [grad, grad]);
  const v = g.op(
    'Add',
    [g.op('Mul', [`v_${p}`, f(adam.beta2)]), g.op('Mul', [gg, f(1 - adam.beta2)])],
    {},
    `new_v_${p}`,
  );
  const denom = g.op('Add', [g.op('Div', [g.op('Sqrt', [v]), 'bc2_sqrt']), f(adam.eps)]);
  const update = g.op('Mul', [g.op('Div', [m, denom]), 'step_size']);
  g.op('Sub', [p, update], {}, p === 'W_dec' ? 'stepped_W_dec' : `new_${p}`);
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

  constructor(
    initial: SaeParams,
    readonly adam: AdamOptions,
    readonly stepOptions: SaeStepOptions,
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
    const { lr, beta1, beta2, eps } = this.adam;
    const session = await cachedSession(`sae-train:${arch}:${withAux}:${beta1}:${beta2}:${eps}`, () =>
      trainStepGraph(arch, withAux, this.adam),
    );
    this.steps++;
    const feeds: Record<string, ort.Tensor> = {
      X: new ort.Tensor('float32', x, [b, p.dIn]),
      tie: scalar(p.applyBDecToInput ? 1 : 0),
      gscale: scalar(2 / b),
      l1_grad: scalar(p.architecture === 'standard' ? this.stepOptions.l1Coefficient / b : 0),
      step_size: scalar(lr / (1 - beta1 ** this.steps)),
      bc2_sqrt: scalar(Math.sqrt(1 - beta2 ** this.steps)),
    };
    if (arch === 'topk') feeds['k'] = paramFeeds(p)['k']!;
    const shapes: Record<ParamName, number[]> = {
      W_enc: [p.dIn, p.dSae],
      b_enc: [p.dSae],
      W_dec: [p.dSae, p.dIn],
      b_dec: [p.dIn],
    };
    for (const n of PARAMS) {
      feeds[n] = new ort.Tensor('float32', p[FIELD[n]], shapes[n]);
      feeds[`m_${n}`] = new ort.Tensor('float32', this.moments.m[n], shapes[n]);
      feeds[`v_${n}`] = new ort.Tensor('float32', this.moments.v[n], shapes[n]);
    }
    if (withAux) {
      const kAux = Math.min(Math.floor(p.dIn / 2), nDead);
      feeds['dead'] = new ort.Tensor('float32', dead, [p.dSae]);
      feeds['k_aux'] = new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.max(1, kAux))), [1]);
      feeds['aux_weight'] = scalar(this.stepOptions.auxCoefficient * Math.min(1, nDead / Math.max(1, kAux)));
    }
    const out = await session.run(feeds);
    for (const n of PARAMS) {
      p[FIELD[n]] = out[`new_${n}`]!.data as Float32Array;
      this.moments.m[n] = out[`new_m_${n}`]!.data as Float32Array;
      this.moments.v[n] = out[`new_v_${n}`]!.data as Float32Array;
    }
    const fired = out['fired']!.data as Float32Array;
    for (let j = 0; j < fired.length; j++)
      this.rowsSinceFired[j] = fired[j]! > 0 ? 0 : this.rowsSinceFired[j]! + b;
    const first = (name: string) => (out[name] ? (out[name]!.data as Float32Array)[0]! : 0);
    return { mse: first('mse'), l1: first('l1'), l0: first('l0'), aux: first('aux'), nDead };
  }
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
