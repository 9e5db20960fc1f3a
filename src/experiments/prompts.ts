/**
 * Prompt sensitivity and prompt transfer (docs/method.md#prompt-experiments), over stores of one model and dataset under several prompts.
 *
 * Sensitivity: the LOO ridge probe of docs/method.md#probes per prompt and layer; test R² (and Spearman) against layer.
 * Transfer at one layer: the probe fitted on prompt b's train rows is applied to prompt a's activations,
 *   uncentred:  X_a·w_b + b_b
 *   centred:    (X_a − (mean(X_a) − mean(X_b)))·w_b + b_b      (means over all N rows, as the authors' script)
 * both de-standardised with b's train μ/σ and scored on train and test rows. "same" = mean over a = b;
 * "different" = mean over a ≠ b of both the centred and uncentred scores (the paper's table, nb:prompts#50–53).
 */
import { UserError } from '../util/errors.js';
import type { LayerData } from './layer-data.js';
import {
  type Distance,
  fitRidgeLoo,
  type LinearFit,
  predictLinear,
  type ScalarMetrics,
  scoreSplit,
} from './linear.js';
import { meanMetrics } from './stats.js';

/** Loads one prompt's layer; called lazily so only one layer of activations is in memory at a time. */
export type LayerLoader = (prompt: string, layer: number) => Promise<LayerData>;

export interface SensitivityRow {
  prompt: string;
  layer: number;
  alpha: number;
  train: ScalarMetrics;
  test: ScalarMetrics;
}

export async function promptSensitivity(
  prompts: string[],
  layers: number[],
  load: LayerLoader,
  options: { alphas: number[]; distance: Distance; onLayer?: (prompt: string, layer: number) => void },
): Promise<SensitivityRow[]> {
  const rows: SensitivityRow[] = [];
  for (const prompt of prompts) {
    for (const layer of layers) {
      options.onLayer?.(prompt, layer);
      const data = await load(prompt, layer);
      const fit = await fitRidgeLoo(data, splitRows(data).train, options.alphas);
      const pred = await predictLinear(fit, data.x, data.n);
      const { train, test } = await scoreSplit(data, pred, options.distance);
      rows.push({ prompt, layer, alpha: fit.alpha, train, test });
    }
  }
  return rows;
}

export interface TransferRow {
  /** Prompt of the activations the probe is applied to. */
  activationPrompt: string;
  /** Prompt the probe was fitted on. */
  probePrompt: string;
  centred: boolean;
  train: ScalarMetrics;
  test: ScalarMetrics;
}

export interface TransferResult {
  layer: number;
  rows: TransferRow[];
  /** Test-split means: same (a = b) and different (a ≠ b, centred and uncentred), per metric. */
  same: ScalarMetrics;
  different: ScalarMetrics;
  alphas: Record<string, number>;
}

export async function promptTransfer(
  prompts: string[],
  layer: number,
  load: LayerLoader,
  options: { alphas: number[]; distance: Distance },
): Promise<TransferResult> {
  if (prompts.length < 2) throw new UserError('prompt transfer needs stores of at least two prompts');
  const fits = new Map<string, { fit: LinearFit; mean: Float64Array }>();
  let reference: LayerData | undefined;
  for (const b of prompts) {
    const data = await load(b, layer);
    if (reference) checkAligned(reference, data);
    else reference = data;
    const fit = await fitRidgeLoo(data, splitRows(data).train, options.alphas);
    fits.set(b, { fit, mean: columnMeans(data.x, data.n, data.d) });
  }
  const rows: TransferRow[] = [];
  for (const a of prompts) {
    const data = await load(a, layer);
    const meanA = columnMeans(data.x, data.n, data.d);
    for (const b of prompts) {
      const { fit, mean: meanB } = fits.get(b)!;
      for (const centred of a === b ? [false] : [false, true]) {
        const shift = centred ? meanA.map((v, j) => v - meanB[j]!) : undefined;
        const pred = await predictLinear(fit, data.x, data.n, shift);
        const { train, test } = await scoreSplit(data, pred, options.distance);
        rows.push({ activationPrompt: a, probePrompt: b, centred, train, test });
      }
    }
  }
  return {
    layer,
    rows,
    same: meanMetrics(rows.filter((r) => r.activationPrompt === r.probePrompt).map((r) => r.test)),
    different: meanMetrics(rows.filter((r) => r.activationPrompt !== r.probePrompt).map((r) => r.test)),
    alphas: Object.fromEntries([...fits].map(([p, f]) => [p, f.fit.alpha])),
  };
}

export function splitRows(data: Pick<LayerData, 'n' | 'isTest'>) {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < data.n; i++) (data.isTest[i] ? test : train).push(i);
  return { train: Int32Array.from(train), test: Int32Array.from(test) };
}

function checkAligned(a: LayerData, b: LayerData): void {
  if (a.n !== b.n || a.d !== b.d || a.dataset !== b.dataset) {
    throw new UserError(
      `prompt stores do not line up: ${a.prompt} has ${a.n}×${a.d} (${a.dataset}), ${b.prompt} has ${b.n}×${b.d} (${b.dataset})`,
    );
  }
  for (let i = 0; i < a.n; i++) {
    if (a.isTest[i] !== b.isTest[i] || a.names[i] !== b.names[i]) {
      throw new UserError(
        `prompt stores ${a.prompt} and ${b.prompt} differ at entity row ${i} (name or split)`,
      );
    }
  }
}

export function columnMeans(x: Float32Array, n: number, d: number): Float64Array {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * d, (i + 1) * d);
    for (let j = 0; j < d; j++) mean[j] += row[j]!;
  }
  for (let j = 0; j < d; j++) mean[j] /= n;
  return mean;
}
