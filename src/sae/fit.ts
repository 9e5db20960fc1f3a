/**
 * The SAE training loop (docs/sae.md#training): seeded epochs of shuffled mini-batches over an in-memory [n, d]
 * activation matrix, with an atomic checkpoint (parameters, Adam moments, dead-feature counters, history) after
 * every epoch, so an interrupted run resumes where it stopped and ends bit-identical to an uninterrupted one.
 */

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../formats/index.js';
import { UserError } from '../util/errors.js';
import { pathExists } from '../util/fsx.js';
import { Rng } from '../util/rng.js';
import type { SaeParams } from './model.js';
import { initSae, SaeTrainer, type TrainArchitecture } from './train.js';

export interface SaeTrainOptions {
  architecture: TrainArchitecture;
  dSae: number;
  /** Active features per row (topk). */
  k?: number;
  /** L1 coefficient (standard). */
  l1Coefficient?: number;
  applyBDecToInput?: boolean;
  lr?: number;
  batchSize?: number;
  epochs?: number;
  auxCoefficient?: number;
  /** Rows without firing after which a feature is dead (default: one epoch, n rows). */
  deadAfterRows?: number;
  seed?: number;
  /** Checkpoint file (safetensors), written atomically after every epoch; resumed from when it exists. */
  checkpoint?: string;
  onEpoch?: (e: EpochStats) => void;
}

export interface EpochStats {
  epoch: number;
  mse: number;
  l0: number;
  aux: number;
  deadFraction: number;
}

export interface SaeTrainResult {
  params: SaeParams;
  history: EpochStats[];
  /** Epochs read from a checkpoint instead of trained in this call. */
  resumedEpochs: number;
}

type Resolved = Required<Omit<SaeTrainOptions, 'checkpoint' | 'onEpoch' | 'k'>> & { k: number };

function resolve(o: SaeTrainOptions, n: number, d: number): Resolved {
  const r: Resolved = {
    architecture: o.architecture,
    dSae: o.dSae,
    k: o.architecture === 'topk' ? (o.k ?? 32) : 0,
    l1Coefficient: o.architecture === 'standard' ? (o.l1Coefficient ?? 1) : 0,
    applyBDecToInput: o.applyBDecToInput ?? true,
    lr: o.lr ?? 3e-4,
    batchSize: o.batchSize ?? 4096,
    epochs: o.epochs ?? 10,
    auxCoefficient: o.auxCoefficient ?? 1 / 32,
    deadAfterRows: o.deadAfterRows ?? n,
    seed: o.seed ?? 0,
  };
  if (!(Number.isInteger(r.dSae) && r.dSae >= 1))
    throw new UserError(`d_sae should be a positive integer, got ${r.dSae}`);
  if (r.architecture === 'topk' && !(Number.isInteger(r.k) && r.k >= 1 && r.k <= r.dSae))
    throw new UserError(`k should be an integer in [1, d_sae=${r.dSae}], got ${r.k}`);
  if (!(r.lr > 0) || !(r.batchSize >= 1) || !(r.epochs >= 0) || !(r.l1Coefficient >= 0))
    throw new UserError('lr and batch size should be positive, epochs and the L1 coefficient non-negative');
  if (n < 1 || d < 1) throw new UserError('cannot train an SAE on an empty activation matrix');
  return r;
}

/** What a checkpoint must agree on to be resumed (everything but the epoch count). */
function fingerprint(r: Resolved, n: number, d: number): string {
  const { epochs: _epochs, ...rest } = r;
  return JSON.stringify({ ...rest, n, d });
}

/** Mean of each column (the tied pre-bias starts there). */
function columnMean(x: Float32Array, n: number, d: number): Float32Array {
  const sum = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) sum[j] += x[i * d + j]!;
  return Float32Array.from(sum, (s) => s / n);
}

export async function trainSae(
  x: Float32Array,
  n: number,
  d: number,
  options: SaeTrainOptions,
): Promise<SaeTrainResult> {
  if (x.length !== n * d) throw new Error('trainSae: x does not hold n × d values');
  const r = resolve(options, n, d);
  const init = initSae(r.architecture, d, r.dSae, {
    ...(r.architecture === 'topk' ? { k: r.k } : {}),
    applyBDecToInput: r.applyBDecToInput,
    mean: columnMean(x, n, d),
    seed: r.seed,
  });
  const trainer = new SaeTrainer(
    init,
    { lr: r.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    { l1Coefficient: r.l1Coefficient, auxCoefficient: r.auxCoefficient, deadAfterRows: r.deadAfterRows },
  );
  const print = fingerprint(r, n, d);
  let history: EpochStats[] = [];
  if (options.checkpoint && (await pathExists(options.checkpoint)))
    history = await restore(options.checkpoint, trainer, print);
  const resumedEpochs = history.length;
  const batch = new Float32Array(Math.min(r.batchSize, n) * d);
  for (let epoch = history.length; epoch < r.epochs; epoch++) {
    const order = new Rng(r.seed, `sae-shuffle:${epoch}`).permutation(n);
    let mse = 0;
    let l0 = 0;
    let aux = 0;
    for (let start = 0; start < n; start += r.batchSize) {
      const b = Math.min(r.batchSize, n - start);
      for (let i = 0; i < b; i++)
        batch.set(x.subarray(order[start + i]! * d, (order[start + i]! + 1) * d), i * d);
      const s = await trainer.step(batch.subarray(0, b * d), b);
      mse += s.mse * b;
      l0 += s.l0 * b;
      aux += s.aux * b;
    }
    const nDead = trainer.deadMask().reduce((a, v) => a + v, 0);
    const stats = { epoch, mse: mse / n, l0: l0 / n, aux: aux / n, deadFraction: nDead / r.dSae };
    history.push(stats);
    if (options.checkpoint) await save(options.checkpoint, trainer, print, history);
    options.onEpoch?.(stats);
  }
  return { params: trainer.params, history, resumedEpochs };
}

const STATE_NAMES = ['W_enc', 'b_enc', 'W_dec', 'b_dec'] as const;
const FIELD = { W_enc: 'wEnc', b_enc: 'bEnc', W_dec: 'wDec', b_dec: 'bDec' } as const;

async function save(path: string, t: SaeTrainer, print: string, history: EpochStats[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tensors: TensorToWrite[] = [];
  for (const name of STATE_NAMES) {
    const data = t.params[FIELD[name]];
    tensors.push({ name, dtype: 'F32', shape: [data.length], data });
    for (const mom of ['m', 'v'] as const)
      tensors.push({
        name: `${mom}_${name}`,
        dtype: 'F32',
        shape: [data.length],
        data: t.moments[mom][name],
      });
  }
  tensors.push({
    name: 'rows_since_fired',
    dtype: 'F64',
    shape: [t.rowsSinceFired.length],
    data: t.rowsSinceFired,
  });
  await writeSafetensors(path, tensors, {
    fingerprint: print,
    steps: String(t.steps),
    history: JSON.stringify(history),
  });
}

async function restore(path: string, t: SaeTrainer, print: string): Promise<EpochStats[]> {
  const file = await SafetensorsFile.open(path);
  try {
    if (file.metadata['fingerprint'] !== print)
      throw new UserError(
        `checkpoint ${path} was written by a run with other settings or data; delete it or use another path`,
      );
    for (const name of STATE_NAMES) {
      t.params[FIELD[name]] = await file.readFloat32(name);
      for (const mom of ['m', 'v'] as const) t.moments[mom][name] = await file.readFloat32(`${mom}_${name}`);
    }
    t.rowsSinceFired.set(await file.readFloat64('rows_since_fired'));
    t.steps = Number(file.metadata['steps']);
    return JSON.parse(file.metadata['history'] ?? '[]') as EpochStats[];
  } finally {
    await file.close();
  }
}
