/**
 * The paper's per-experiment choices (docs/method.md#mlp, #pca, #block-holdout, #prompt-experiments): layers, fixed α, hold-out groups; with the project's
 * defaults for models and datasets the paper did not use.
 */
import { DATASETS } from '../data/index.js';
import { type ModelRef, type PaperSize, paperModelSize } from '../model/index.js';
import type { LayerData } from './layer-data.js';
import { experimentAlphaGrid, fitRidgeLoo } from './linear.js';
import { splitRows } from './prompts.js';

export type ExperimentKind = 'mlp' | 'pca' | 'holdout' | 'transfer';

/** Layers the paper used (docs/method.md#mlp, #pca, #block-holdout, #prompt-experiments). */
export const PAPER_LAYERS: Record<ExperimentKind, Record<PaperSize, number>> = {
  mlp: { '7b': 20, '13b': 24, '70b': 48 },
  pca: { '7b': 20, '13b': 24, '70b': 48 },
  holdout: { '7b': 22, '13b': 25, '70b': 50 },
  transfer: { '7b': 20, '13b': 22, '70b': 50 },
};

/** For other models: the 7B layer as a fraction of depth (20/32, 22/32). */
const DEPTH_FRACTION: Record<ExperimentKind, number> = {
  mlp: 20 / 32,
  pca: 20 / 32,
  holdout: 22 / 32,
  transfer: 20 / 32,
};

/**
 * The paper's layer for a Llama-2 model (`size`, from src/model/paper-models.ts), else the same relative depth;
 * then the nearest stored layer.
 */
export function paperExperimentLayer(
  size: PaperSize | undefined,
  nLayers: number,
  available: number[],
  kind: ExperimentKind,
) {
  const wanted = size ? PAPER_LAYERS[kind][size] : Math.round(DEPTH_FRACTION[kind] * nLayers);
  let best = available[0]!;
  for (const l of available) if (Math.abs(l - wanted) < Math.abs(best - wanted)) best = l;
  return best;
}

/** The generalization code's fixed α (docs/method.md#block-holdout). */
export const PAPER_FIXED_ALPHA: Record<PaperSize, number> = { '7b': 3000, '13b': 6000, '70b': 18000 };

/**
 * α for the hold-outs: a number as given; 'loo' = chosen by LOO on the default train split (grid: `alphas` or the
 * model's default); otherwise the paper's 3k/6k/18k for Llama-2, and 3000·d/4096 (the 7B value scaled with
 * width) for other models.
 */
export async function paperFixedAlpha(
  requested: number | 'loo' | undefined,
  model: ModelRef,
  data: LayerData,
  alphas?: string | number[],
): Promise<{ value: number; source: string }> {
  if (typeof requested === 'number') return { value: requested, source: 'given' };
  if (requested === 'loo') {
    const grid = experimentAlphaGrid(alphas ?? 'auto', data.d, model);
    const fit = await fitRidgeLoo(data, splitRows(data).train, grid.values);
    return { value: fit.alpha, source: `loo(${grid.preset})` };
  }
  const size = paperModelSize(model, data.d);
  if (size) return { value: PAPER_FIXED_ALPHA[size], source: `paper-${size}` };
  return { value: (3000 * data.d) / 4096, source: 'width-scaled (3000·d/4096)' };
}

export interface GroupSpec {
  column: string;
  values?: string[];
}

/** The exact hold-out groups of a paper dataset (docs/method.md#block-holdout); the block column elsewhere. */
export function holdoutGroupsFor(
  dataset: string,
  which: 'block' | 'entity',
  blockColumn?: string,
  entityTypeColumn?: string,
): GroupSpec | undefined {
  const paper = DATASETS[dataset];
  if (paper) return which === 'block' ? paper.holdouts.block : paper.holdouts.entity;
  const column = which === 'block' ? blockColumn : entityTypeColumn;
  return column ? { column } : undefined;
}
