/**
 * The paper's nonlinear probe (docs/method.md#mlp): Linear(d→256) → ReLU → Linear(256→t), MSE on standardised
 * targets, AdamW (PyTorch semantics), weight-decay grid, early stopping on a validation split.
 *
 * Every step (forward, hand-written backward, AdamW update) is one onnxruntime graph run in float32, so the
 * GEMMs run natively; JS only gathers the batch rows and keeps the scalars of the schedule.
 */

import { cachedSession, GraphBuilder, ort } from '../native/index.js';
import { gatherRows } from '../probe/index.js';
import { UserError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

/** MLP weights in PyTorch's nn.Linear layout: w1 is [h, d], w2 is [t, h]. */
export interface MlpParams {
  d: number;
  h: number;
  t: number;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

export interface AdamWOptions {
  lr?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * PyTorch's default nn.Linear init (kaiming_uniform with a = √5): weights and biases ~ U(−1/√fan_in, 1/√fan_in),
 * drawn in PyTorch's order (w1, b1, w2, b2), row-major.
 */
export function initMlp(d: number, h: number, t: number, rng: Rng): MlpParams {
  const fill = (size: number, fanIn: number): Float32Array => {
    const bound = 1 / Math.sqrt(fanIn);
    const a = new Float32Array(size);
    for (let i = 0; i < size; i++) a[i] = (rng.uniform() * 2 - 1) * bound;
    return a;
  };
  const w1 = fill(h * d, d);
  const b1 = fill(h, d);
  const w2 = fill(t * h, h);
  const b2 = fill(t, h);
  return { d, h, t, w1, b1, w2, b2 };
}

export function cloneParams(p: MlpParams): MlpParams {
  return { ...p, w1: p.w1.slice(), b1: p.b1.slice(), w2: p.w2.slice(), b2: p.b2.slice() };
}

const PARAM_NAMES = ['w1', 'b1', 'w2', 'b2'] as const;
type ParamName = (typeof PARAM_NAMES)[number];

/** Forward + backward + AdamW update of one batch, as one graph. Scalars of the schedule are inputs. */
function trainStepGraph(beta1: number, beta2: number, eps: number): GraphBuilder {
  const g = new GraphBuilder('mlp_train_step');
  const f = (v: number) => g.constant({ type: 'float32', dims: [], values: [v] });
  g.input('X', 'float32', ['B', 'd']);
  g.input('Y', 'float32', ['B', 't']);
  const dims: Record<ParamName, string[]> = { w1: ['h', 'd'], b1: ['h'], w2: ['t', 'h'], b2: ['t'] };
  for (const p of PARAM_NAMES) for (const prefix of ['', 'm_', 'v_']) g.input(prefix + p, 'float32', dims[p]);
  g.input('gscale', 'float32', []); // 2 / (B·t): the derivative of the mean squared error
  g.input('decay', 'float32', []); // 1 − lr·wd
  g.input('step_size', 'float32', []); // lr / (1 − β1^step)
  g.input('bc2_sqrt', 'float32', []); // √(1 − β2^step)

  const H = g.op('Gemm', ['X', 'w1', 'b1'], { transB: 1 });
  const A = g.op('Relu', [H]);
  const P = g.op('Gemm', [A, 'w2', 'b2'], { transB: 1 });
  const R = g.op('Sub', [P, 'Y']);
  g.op('ReduceMean', [g.op('Mul', [R, R])], { keepdims: 0 }, 'loss');
  g.output('loss', 'float32', []);

  const axis0 = g.constant({ type: 'int64', dims: [1], values: [0] });
  const dP = g.op('Mul', [R, 'gscale']);
  const grads: Record<ParamName, string> = {
    w2: g.op('Gemm', [dP, A], { transA: 1 }),
    b2: g.op('ReduceSum', [dP, axis0], { keepdims: 0 }),
    w1: '',
    b1: '',
  };
  const dA = g.op('MatMul', [dP, 'w2']);
  const mask = g.op('Cast', [g.op('Greater', [H, f(0)])], { to: 1 });
  const dH = g.op('Mul', [dA, mask]);
  grads.w1 = g.op('Gemm', [dH, 'X'], { transA: 1 });
  grads.b1 = g.op('ReduceSum', [dH, axis0], { keepdims: 0 });

  const cBeta1 = f(beta1);
  const cBeta2 = f(beta2);
  const cOneMinusBeta1 = f(1 - beta1);
  const cOneMinusBeta2 = f(1 - beta2);
  const cEps = f(eps);
  for (const p of PARAM_NAMES) {
    const grad = grads[p];
    const decayed = g.op('Mul', [p, 'decay']);
    const m = g.op(
      'Add',
      [g.op('Mul', [`m_${p}`, cBeta1]), g.op('Mul', [grad, cOneMinusBeta1])],
      {},
      `new_m_${p}`,
    );
    const v = g.op(
      'Add',
      [g.op('Mul', [`v_${p}`, cBeta2]), g.op('Mul', [g.op('Mul', [grad, grad]), cOneMinusBeta2])],
      {},
      `new_v_${p}`,
    );
    const denom = g.op('Add', [g.op('Div', [g.op('Sqrt', [v]), 'bc2_sqrt']), cEps]);
    const update = g.op('Mul', [g.op('Div', [m, denom]), 'step_size']);
    g.op('Sub', [decayed, update], {}, `new_${p}`);
    for (const out of [`new_${p}`, m, v]) g.output(out, 'float32', dims[p]);
  }
  return g;
}

function forwardGraph(): GraphBuilder {
  const g = new GraphBuilder('mlp_forward');
  g.input('X', 'float32', ['B', 'd']);
  g.input('w1', 'float32', ['h', 'd']);
  g.input('b1', 'float32', ['h']);
  g.input('w2', 'float32', ['t', 'h']);
  g.input('b2', 'float32', ['t']);
  const A = g.op('Relu', [g.op('Gemm', ['X', 'w1', 'b1'], { transB: 1 })]);
  g.op('Gemm', [A, 'w2', 'b2'], { transB: 1 }, 'P');
  g.output('P', 'float32', ['B', 't']);
  return g;
}

function shapeOf(p: MlpParams, name: ParamName): number[] {
  switch (name) {
    case 'w1':
      return [p.h, p.d];
    case 'b1':
      return [p.h];
    case 'w2':
      return [p.t, p.h];
    case 'b2':
      return [p.t];
  }
}

const scalar = (v: number) => new ort.Tensor('float32', Float32Array.of(v), []);

/** AdamW training state of one MLP (parameters plus first and second moments), stepped batch by batch. */
export class MlpTrainer {
  readonly params: MlpParams;
  private readonly m: Record<ParamName, Float32Array>;
  private readonly v: Record<ParamName, Float32Array>;
  private stepCount = 0;
  private readonly lr: number;
  private readonly weightDecay: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;

  constructor(initial: MlpParams, options: AdamWOptions = {}) {
    this.params = cloneParams(initial);
    this.lr = options.lr ?? 1e-3;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    const zeros = () =>
      Object.fromEntries(PARAM_NAMES.map((n) => [n, new Float32Array(this.params[n].length)])) as Record<
        ParamName,
        Float32Array
      >;
    this.m = zeros();
    this.v = zeros();
  }

  get steps(): number {
    return this.stepCount;
  }

  /** One AdamW step on a batch (x: b×d row-major, y: b×t standardised targets); returns the batch MSE. */
  async step(x: Float32Array, y: Float32Array, b: number): Promise<number> {
    const p = this.params;
    if (x.length !== b * p.d || y.length !== b * p.t)
      throw new Error('MlpTrainer.step: batch sizes do not match');
    const session = await cachedSession(`mlp-train:${this.beta1}:${this.beta2}:${this.eps}`, () =>
      trainStepGraph(this.beta1, this.beta2, this.eps),
    );
    this.stepCount++;
    const feeds: Record<string, ort.Tensor> = {
      X: new ort.Tensor('float32', x, [b, p.d]),
      Y: new ort.Tensor('float32', y, [b, p.t]),
      gscale: scalar(2 / (b * p.t)),
      decay: scalar(1 - this.lr * this.weightDecay),
      step_size: scalar(this.lr / (1 - this.beta1 ** this.stepCount)),
      bc2_sqrt: scalar(Math.sqrt(1 - this.beta2 ** this.stepCount)),
    };
    for (const n of PARAM_NAMES) {
      const dims = shapeOf(p, n);
      feeds[n] = new ort.Tensor('float32', p[n], dims);
      feeds[`m_${n}`] = new ort.Tensor('float32', this.m[n], dims);
      feeds[`v_${n}`] = new ort.Tensor('float32', this.v[n], dims);
    }
    const out = await session.run(feeds);
    for (const n of PARAM_NAMES) {
      p[n] = out[`new_${n}`]!.data as Float32Array;
      this.m[n] = out[`new_m_${n}`]!.data as Float32Array;
      this.v[n] = out[`new_v_${n}`]!.data as Float32Array;
    }
    return (out['loss']!.data as Float32Array)[0]!;
  }
}

/** MLP outputs for n rows of x (n×d), in chunks so the hidden layer stays small. */
export async function mlpPredict(
  params: MlpParams,
  x: Float32Array,
  n: number,
  chunk = 4096,
): Promise<Float32Array> {
  const { d, h, t } = params;
  const session = await cachedSession('mlp-forward', forwardGraph);
  const out = new Float32Array(n * t);
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const res = await session.run({
      X: new ort.Tensor('float32', x.subarray(start * d, (start + rows) * d), [rows, d]),
      w1: new ort.Tensor('float32', params.w1, [h, d]),
      b1: new ort.Tensor('float32', params.b1, [h]),
      w2: new ort.Tensor('float32', params.w2, [t, h]),
      b2: new ort.Tensor('float32', params.b2, [t]),
    });
    out.set(res['P']!.data as Float32Array, start * t);
  }
  return out;
}

/** The paper's weight-decay grid (docs/method.md#mlp). */
export const DEFAULT_WEIGHT_DECAYS = [0.01, 0.03, 0.1, 0.3];

export interface MlpFitOptions {
  hidden?: number;
  lr?: number;
  weightDecays?: number[];
  batchSize?: number;
  maxEpochs?: number;
  validationFraction?: number;
  patience?: number;
  seed?: number;
  /** Called after each epoch (for progress output). */
  onEpoch?: (info: { weightDecay: number; epoch: number; trainLoss: number; valMse: number }) => void;
}

export interface MlpWeightDecayRun {
  weightDecay: number;
  epochs: number;
  valMse: number[];
  minValMse: number;
  trainLoss: number[];
}

export interface MlpFit {
  params: MlpParams;
  weightDecay: number;
  runs: MlpWeightDecayRun[];
  /** Train mean and std (ddof 0) per target, used to standardise and de-standardise. */
  yMean: Float64Array;
  yStd: Float64Array;
  nTrain: number;
  nValidation: number;
}

/**
 * Trains the docs/method.md#mlp MLP probe on the given training rows of x (n×d) with targets y (n×t, raw units).
 * Targets are standardised with the train rows' mean/std (ddof 0). 10% of the train rows (seeded) are held out
 * for early stopping; each weight decay starts from the same seeded init and batch order (common random numbers,
 * so the grid compares regularisation, not luck); the one with the smallest minimum validation MSE wins and its
 * final-epoch weights are returned.
 */
export async function fitMlpProbe(
  x: Float32Array,
  y: Float64Array,
  n: number,
  d: number,
  t: number,
  trainRows: ArrayLike<number>,
  options: MlpFitOptions = {},
): Promise<MlpFit> {
  const hidden = options.hidden ?? 256;
  const batchSize = options.batchSize ?? 512;
  const maxEpochs = options.maxEpochs ?? 20;
  const patience = options.patience ?? 3;
  const seed = options.seed ?? 0;
  const weightDecays = options.weightDecays ?? DEFAULT_WEIGHT_DECAYS;
  const valFraction = options.validationFraction ?? 0.1;
  if (x.length !== n * d || y.length !== n * t) throw new Error('fitMlpProbe: array sizes do not match');
  if (trainRows.length < 10)
    throw new UserError(`the MLP probe needs at least 10 training rows, got ${trainRows.length}`);
  if (weightDecays.length === 0) throw new UserError('the MLP probe needs at least one weight decay');

  const { mean: yMean, std: yStd } = columnStats(y, t, trainRows);
  const order = new Rng(seed, 'mlp-validation-split').shuffle(Int32Array.from(trainRows));
  const nVal = Math.max(1, Math.round(order.length * valFraction));
  const valRows = order.subarray(0, nVal);
  const fitRows = order.subarray(nVal);
  const standardised = (rows: ArrayLike<number>): Float32Array => {
    const out = new Float32Array(rows.length * t);
    for (let i = 0; i < rows.length; i++) {
      for (let j = 0; j < t; j++) out[i * t + j] = (y[rows[i]! * t + j]! - yMean[j]!) / yStd[j]!;
    }
    return out;
  };
  const xVal = gatherRows(x, d, valRows, { into: new Float32Array(nVal * d) });
  const yVal = standardised(valRows);
  const init = initMlp(d, hidden, t, new Rng(seed, 'mlp-init'));

  let best: { params: MlpParams; run: MlpWeightDecayRun } | undefined;
  const runs: MlpWeightDecayRun[] = [];
  for (const weightDecay of weightDecays) {
    const trainer = new MlpTrainer(init, { lr: options.lr ?? 1e-3, weightDecay });
    const shuffler = new Rng(seed, 'mlp-shuffle');
    const run: MlpWeightDecayRun = { weightDecay, epochs: 0, valMse: [], minValMse: Infinity, trainLoss: [] };
    let sinceBest = 0;
    for (let epoch = 0; epoch < maxEpochs; epoch++) {
      const perm = shuffler.permutation(fitRows.length);
      let lossSum = 0;
      for (let start = 0; start < perm.length; start += batchSize) {
        const b = Math.min(batchSize, perm.length - start);
        const rows = new Int32Array(b);
        for (let i = 0; i < b; i++) rows[i] = fitRows[perm[start + i]!]!;
        const loss = await trainer.step(
          gatherRows(x, d, rows, { into: new Float32Array(b * d) }),
          standardised(rows),
          b,
        );
        lossSum += loss * b;
      }
      const valMse = meanSquaredError(await mlpPredict(trainer.params, xVal, nVal), yVal);
      run.trainLoss.push(lossSum / perm.length);
      run.valMse.push(valMse);
      run.epochs = epoch + 1;
      options.onEpoch?.({ weightDecay, epoch, trainLoss: lossSum / perm.length, valMse });
      if (valMse < run.minValMse) {
        run.minValMse = valMse;
        sinceBest = 0;
      } else if (++sinceBest >= patience) {
        break;
      }
    }
    runs.push(run);
    if (!best || run.minValMse < best.run.minValMse) best = { params: trainer.params, run };
  }
  return {
    params: best!.params,
    weightDecay: best!.run.weightDecay,
    runs,
    yMean,
    yStd,
    nTrain: fitRows.length,
    nValidation: nVal,
  };
}

/** Predictions of a fitted MLP probe for every row, de-standardised to target units (n×t, f64). */
export async function predictMlpProbe(fit: MlpFit, x: Float32Array, n: number): Promise<Float64Array> {
  const { t } = fit.params;
  const raw = await mlpPredict(fit.params, x, n);
  const out = new Float64Array(n * t);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < t; j++) out[i * t + j] = raw[i * t + j]! * fit.yStd[j]! + fit.yMean[j]!;
  }
  return out;
}

function columnStats(y: Float64Array, t: number, rows: ArrayLike<number>) {
  const mean = new Float64Array(t);
  const std = new Float64Array(t);
  for (let i = 0; i < rows.length; i++) for (let j = 0; j < t; j++) mean[j] += y[rows[i]! * t + j]!;
  for (let j = 0; j < t; j++) mean[j] /= rows.length;
  for (let i = 0; i < rows.length; i++) {
    for (let j = 0; j < t; j++) std[j] += (y[rows[i]! * t + j]! - mean[j]!) ** 2;
  }
  for (let j = 0; j < t; j++) {
    std[j] = Math.sqrt(std[j]! / rows.length);
    if (!(std[j]! > 0))
      throw new UserError(`target ${j} is constant on the training rows; cannot standardise it`);
  }
  return { mean, std };
}

function meanSquaredError(p: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += (p[i]! - y[i]!) ** 2;
  return s / p.length;
}
