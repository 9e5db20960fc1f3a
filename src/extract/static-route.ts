import { loadDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { buildStaticEmbeddingStore, type StaticEmbeddingResult } from './static-embedding.js';
import { buildSurfaceStore, isSurfaceModel } from './surface.js';

/**
 * `--model static:glove-100d` or `static:/path/vectors.txt` (a static word-embedding baseline), or
 * `surface:tfidf|bag-of-tokens|char-ngrams[@TOKENIZER]` (surface-form baselines, docs/controls.md): not an LLM.
 */
export function isStaticModel(model: string): boolean {
  return model.startsWith('static:') || isSurfaceModel(model);
}

/**
 * Routes `extract --model static:...` (and `run`) to the static-embedding baseline builder
 * (src/extract/static-embedding.ts): the mean word vector of each entity, as a one-layer store.
 */
export async function extractStatic(o: {
  model: string;
  dataset: string | EntityDataset;
  out: string;
  prompt?: string;
  limit?: number;
  overwrite?: boolean;
}): Promise<StaticEmbeddingResult> {
  let dataset = typeof o.dataset === 'string' ? await loadDataset(o.dataset) : o.dataset;
  if (o.limit !== undefined && o.limit < dataset.n) dataset = sliceDataset(dataset, o.limit);
  if (isSurfaceModel(o.model)) {
    const r = await buildSurfaceStore(dataset, {
      model: o.model,
      out: o.out,
      ...(o.prompt ? { prompt: o.prompt } : {}),
      ...(o.overwrite ? { overwrite: true } : {}),
    });
    return { ...r, covered: r.n - r.uncovered, tokenCoverage: r.n ? 1 - r.uncovered / r.n : 0 };
  }
  return buildStaticEmbeddingStore(dataset, {
    model: o.model,
    out: o.out,
    ...(o.prompt ? { prompt: o.prompt } : {}),
    ...(o.overwrite ? { overwrite: true } : {}),
  });
}

/** The first `n` rows of a dataset (for --limit). */
export function sliceDataset(dataset: EntityDataset, n: number): EntityDataset {
  const k = dataset.targetNames.length;
  const columns: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(dataset.columns)) columns[name] = values.slice(0, n);
  return {
    ...dataset,
    n,
    names: dataset.names.slice(0, n),
    targets: dataset.targets.slice(0, n * k),
    isTest: dataset.isTest.slice(0, n),
    columns,
  };
}
