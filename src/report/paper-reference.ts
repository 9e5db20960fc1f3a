/**
 * The paper's own numbers (Gurnee & Tegmark 2023, Llama-2 7B/13B/70B, from the notebooks' text outputs; see
 * docs/method.md#paper-compat), shown beside the user's results where the dataset (and prompt) match.
 */
import { CANONICAL_PROMPTS } from '../data/prompts.js';

export const PAPER_MODELS = ['Llama-2-7B', 'Llama-2-13B', 'Llama-2-70B'] as const;
export type PaperModel = (typeof PAPER_MODELS)[number];

/** Paper dataset columns in the paper's order. */
export const PAPER_DATASETS = [
  'world_place',
  'us_place',
  'nyc_place',
  'historical_figure',
  'art',
  'headline',
];
export const PAPER_DATASET_TITLES: Record<string, string> = {
  world_place: 'World',
  us_place: 'USA',
  nyc_place: 'NYC',
  historical_figure: 'Historical',
  art: 'Entertainment',
  headline: 'Headlines',
};

/** Number of layers of each paper model (the last layer index is this minus 1). */
export const PAPER_DEPTH: Record<PaperModel, number> = {
  'Llama-2-7B': 32,
  'Llama-2-13B': 40,
  'Llama-2-70B': 80,
};

type Row6 = [number, number, number, number, number, number];
const byDataset = (v: Row6): Record<string, number> =>
  Object.fromEntries(PAPER_DATASETS.map((d, i) => [d, v[i]]));

/** The paper's table of linear probes (docs/method.md#probes): test R² at 7B L20 / 13B L24 / 70B L48, canonical prompts. */
export const PAPER_LINEAR_MLP: {
  model: PaperModel;
  layer: number;
  linear: Record<string, number>;
  mlp: Record<string, number>;
}[] = [
  {
    model: 'Llama-2-7B',
    layer: 20,
    linear: byDataset([0.881, 0.799, 0.219, 0.785, 0.788, 0.564]),
    mlp: byDataset([0.897, 0.819, 0.204, 0.775, 0.746, 0.467]),
  },
  {
    model: 'Llama-2-13B',
    layer: 24,
    linear: byDataset([0.896, 0.825, 0.237, 0.804, 0.806, 0.645]),
    mlp: byDataset([0.916, 0.824, 0.23, 0.818, 0.808, 0.656]),
  },
  {
    model: 'Llama-2-70B',
    layer: 48,
    linear: byDataset([0.911, 0.864, 0.359, 0.835, 0.885, 0.746]),
    mlp: byDataset([0.926, 0.869, 0.312, 0.839, 0.884, 0.739]),
  },
];

type Pair = [number, number];
const pairs = (v: [Pair, Pair, Pair, Pair, Pair, Pair]): Record<string, Pair> =>
  Object.fromEntries(PAPER_DATASETS.map((d, i) => [d, v[i]]));

/** The paper's prompt-transfer table (docs/method.md#prompt-experiments): prompt transfer, test, mean over the 4 prompts: [same, different]. */
export const PAPER_TRANSFER: {
  model: PaperModel;
  layer: number;
  spearman: Record<string, Pair>;
  r2: Record<string, Pair>;
}[] = [
  {
    model: 'Llama-2-7B',
    layer: 20,
    spearman: pairs([
      [0.899, 0.879],
      [0.858, 0.773],
      [0.447, 0.362],
      [0.865, 0.826],
      [0.826, 0.808],
      [0.772, 0.562],
    ]),
    r2: pairs([
      [0.82, 0.781],
      [0.753, 0.573],
      [0.213, 0.073],
      [0.749, 0.673],
      [0.736, 0.697],
      [0.583, -0.271],
    ]),
  },
  {
    model: 'Llama-2-13B',
    layer: 22,
    spearman: pairs([
      [0.91, 0.894],
      [0.87, 0.809],
      [0.487, 0.415],
      [0.88, 0.854],
      [0.836, 0.82],
      [0.799, 0.739],
    ]),
    r2: pairs([
      [0.843, 0.81],
      [0.773, 0.647],
      [0.248, 0.122],
      [0.77, 0.709],
      [0.753, 0.724],
      [0.632, 0.505],
    ]),
  },
  {
    model: 'Llama-2-70B',
    layer: 50,
    spearman: pairs([
      [0.924, 0.907],
      [0.89, 0.824],
      [0.564, 0.495],
      [0.904, 0.876],
      [0.897, 0.883],
      [0.856, 0.82],
    ]),
    r2: pairs([
      [0.87, 0.836],
      [0.809, 0.661],
      [0.331, 0.203],
      [0.808, 0.741],
      [0.845, 0.813],
      [0.726, 0.608],
    ]),
  },
];

/** The paper's hold-out table (docs/method.md#block-holdout): mean proximity error, [nominal, held-out] (the LaTeX versions). */
export const PAPER_HOLDOUT: {
  model: PaperModel;
  layer: number;
  block: Record<string, Pair>;
  entity: Record<string, Pair>;
}[] = [
  {
    model: 'Llama-2-7B',
    layer: 22,
    block: pairs([
      [0.071, 0.17],
      [0.144, 0.192],
      [0.331, 0.473],
      [0.129, 0.133],
      [0.147, 0.158],
      [0.258, 0.264],
    ]),
    entity: pairs([
      [0.12, 0.151],
      [0.206, 0.262],
      [0.313, 0.367],
      [0.164, 0.168],
      [0.224, 0.305],
      [0.199, 0.289],
    ]),
  },
  {
    model: 'Llama-2-13B',
    layer: 25,
    block: pairs([
      [0.068, 0.156],
      [0.144, 0.189],
      [0.319, 0.47],
      [0.121, 0.126],
      [0.141, 0.152],
      [0.223, 0.235],
    ]),
    entity: pairs([
      [0.117, 0.147],
      [0.197, 0.259],
      [0.31, 0.377],
      [0.153, 0.159],
      [0.207, 0.283],
      [0.171, 0.266],
    ]),
  },
  {
    model: 'Llama-2-70B',
    layer: 50,
    block: pairs([
      [0.071, 0.164],
      [0.121, 0.188],
      [0.262, 0.433],
      [0.115, 0.119],
      [0.105, 0.122],
      [0.182, 0.2],
    ]),
    entity: pairs([
      [0.113, 0.147],
      [0.173, 0.203],
      [0.266, 0.322],
      [0.149, 0.149],
      [0.159, 0.271],
      [0.144, 0.219],
    ]),
  },
];

/** One labelled reference value: "paper, Llama-2-70B, layer 48". */
export interface PaperMark {
  dataset: string;
  model: PaperModel;
  layer: number;
  /** layer / last layer of that model. */
  depth: number;
  value: number;
  label: string;
}

export function paperDepth(model: PaperModel, layer: number): number {
  return layer / (PAPER_DEPTH[model] - 1);
}

/** True when the paper measured this dataset with this prompt (its canonical prompt, docs/method.md#prompts). */
export function paperPromptMatches(dataset: string, prompt: string): boolean {
  return PAPER_DATASETS.includes(dataset) && CANONICAL_PROMPTS[dataset] === prompt;
}

/** The paper's test R² of the linear probe at its fixed layers, as markers for the main figure. */
export function paperR2Marks(dataset: string): PaperMark[] {
  if (!PAPER_DATASETS.includes(dataset)) return [];
  return PAPER_LINEAR_MLP.map((r) => ({
    dataset,
    model: r.model,
    layer: r.layer,
    depth: paperDepth(r.model, r.layer),
    value: r.linear[dataset]!,
    label: `paper, ${r.model}, layer ${r.layer}`,
  }));
}
