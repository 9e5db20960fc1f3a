import { loadDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { UserError } from '../util/errors.js';

/** `--model static:glove-100d` or `static:/path/vectors.txt`: a static word-embedding baseline, not an LLM. */
export function isStaticModel(model: string): boolean {
  return model.startsWith('static:');
}

interface StaticModule {
  buildStaticEmbeddingStore(
    dataset: EntityDataset,
    options: { model: string; out: string; prompt?: string },
  ): Promise<unknown>;
}

/**
 * Routes `extract --model static:...` to src/extract/static-embedding.ts (the report stage's baseline builder).
 * Loaded lazily: the baseline pulls in word-vector files that an LLM extraction never needs.
 */
export async function extractStatic(o: {
  model: string;
  dataset: string | EntityDataset;
  out: string;
  prompt?: string;
  limit?: number;
}): Promise<string> {
  const specifier = './static-embedding.js';
  let mod: StaticModule;
  try {
    mod = (await import(specifier)) as StaticModule;
  } catch (err) {
    throw new UserError(`static embeddings are not available in this build (${(err as Error).message})`);
  }
  let dataset = typeof o.dataset === 'string' ? await loadDataset(o.dataset) : o.dataset;
  if (o.limit !== undefined && o.limit < dataset.n) dataset = sliceDataset(dataset, o.limit);
  await mod.buildStaticEmbeddingStore(dataset, {
    model: o.model,
    out: o.out,
    ...(o.prompt ? { prompt: o.prompt } : {}),
  });
  return o.out;
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
