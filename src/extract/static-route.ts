import { loadDataset, subsetDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import type { SourceOptions } from '../model/index.js';
import { selectFor, staticStoreKey } from './cache-key.js';
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
  sample?: number;
  seed?: number;
  overwrite?: boolean;
  /** Where a surface baseline's Hub tokenizer comes from (`surface:tfidf@org/name`). */
  source?: SourceOptions;
}): Promise<StaticEmbeddingResult & { warnings: string[] }> {
  const full = typeof o.dataset === 'string' ? await loadDataset(o.dataset) : o.dataset;
  const selected = selectFor(full, o);
  const key = await staticStoreKey(o.model, full, o.prompt ?? 'empty', selected);
  const dataset = subsetDataset(full, selected.rows);
  const common = {
    model: o.model,
    out: o.out,
    ...(o.prompt ? { prompt: o.prompt } : {}),
    ...(o.overwrite ? { overwrite: true } : {}),
    extra: {
      cacheKey: key,
      ...(selected.selection.mode === 'sample' ? { sampledRows: selected.rows } : {}),
    },
  };
  if (isSurfaceModel(o.model)) {
    const r = await buildSurfaceStore(dataset, { ...common, ...(o.source ? { source: o.source } : {}) });
    const covered = r.n - r.uncovered;
    return { ...r, covered, tokenCoverage: r.n ? covered / r.n : 0, warnings: selected.warnings };
  }
  const result = await buildStaticEmbeddingStore(dataset, common);
  return { ...result, warnings: selected.warnings };
}

/** The first `n` rows of a dataset (for --limit). */
export function sliceDataset(dataset: EntityDataset, n: number): EntityDataset {
  return subsetDataset(
    dataset,
    Array.from({ length: Math.min(n, dataset.n) }, (_, i) => i),
  );
}
