/**
 * The end of an extraction: the plan every step shares, the disk-space check before the chunks are written, and the
 * final store built from the work folder's chunks.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { getPrompt } from '../data/prompts.js';
import type { EntityDataset, RenderedPrompt } from '../data/types.js';
import { UserError } from '../util/errors.js';
import type { HeldLock } from '../util/lock.js';
import { assembleStore, type SegmentSource } from './assemble.js';
import type { StoreKey } from './cache-key.js';
import { RANDOM_TOKEN_LOW } from './prepare.js';
import type { Aggregation, ExtractDtype } from './spec.js';
import { ChunkReader, diskError, formatBytes, freeBytes, type JobFile } from './work.js';

/** What one extraction does, fixed before any batch runs. */
export interface Plan {
  /** The config.json fields that say which model it is (src/model/paper-models.ts), for the manifest. */
  modelShape: Record<string, unknown>;
  /** The selected rows of the dataset (all of it without --limit / --sample). */
  dataset: EntityDataset;
  /** Rows of the whole dataset file. */
  datasetRows: number;
  /** Dataset row indices kept, when a sample chose them (a limit keeps rows 0..n-1). */
  sampledRows?: number[];
  storeKey: StoreKey;
  n: number;
  rowStart: number;
  rowEnd: number;
  chunkRows: number;
  layers: number[];
  hookSuffixes: string[];
  /** Store hook name -> engine hook name (differ for the paper-compat last layer). */
  hookMap: Map<string, string>;
  aggregate: Aggregation;
  dtype: ExtractDtype;
  seed: number;
  storeDir: string;
  workDir: string;
  /** Held on `<store>.lock` for the whole extraction; `lost` when another process judged it stale. */
  lock?: HeldLock;
  key: Record<string, unknown>;
  maxId?: number;
  paperCompat: boolean;
  /** Prompt text and entity span of rows [0, n). */
  rendered: RenderedPrompt[];
  /** One line each, for the user (e.g. --limit kept a single entity type). */
  warnings: string[];
}

export async function checkDiskSpace(plan: Plan, d: number, rows: number, chunkBytes: number): Promise<void> {
  const free = await freeBytes(dirname(plan.storeDir));
  if (free === undefined) return;
  const values = rows * d * plan.hookMap.size;
  const storeBytes = (plan.rowEnd - plan.rowStart) * d * plan.hookMap.size * (plan.dtype === 'f16' ? 2 : 4);
  const need = values * chunkBytes + storeBytes;
  if (need > free) {
    throw new UserError(
      `not enough disk space: this extraction needs about ${formatBytes(need)} (work chunks + final store) but ` +
        `${dirname(plan.storeDir)} has ${formatBytes(free)} free. Free some space, extract fewer layers (--layers) ` +
        'or use --dtype f16',
    );
  }
}

/**
 * The store's creation time: now, or SOURCE_DATE_EPOCH (seconds, the reproducible-builds convention) so that two
 * separate runs can produce byte-identical stores. A resumed run keeps the first run's time from job.json.
 */
export function creationTime(env: NodeJS.ProcessEnv = process.env): string {
  const epoch = env['SOURCE_DATE_EPOCH'];
  if (epoch !== undefined && epoch !== '') {
    if (!/^\d+$/.test(epoch)) throw new UserError(`SOURCE_DATE_EPOCH='${epoch}' is not a number of seconds`);
    return new Date(Number(epoch) * 1000).toISOString();
  }
  return new Date().toISOString();
}

/** The dataset as the user named it (a registry name, or an absolute path so that merge can find it again). */
function datasetSource(given: string | EntityDataset, dataset: EntityDataset): string {
  if (typeof given !== 'string') return dataset.source.path;
  return existsSync(given) ? resolve(given) : given;
}

/** Builds the final store from the work directory's chunks (atomic: the store appears complete or not at all). */
export async function finish(
  plan: Plan,
  options: { dataset: string | EntityDataset; overwrite?: boolean; limit?: number },
  job: JobFile,
  chunkIds: number[],
  d: number,
): Promise<void> {
  const readers: ChunkReader[] = [];
  try {
    for (const c of chunkIds) readers.push(await ChunkReader.open(plan.workDir, c));
    const segments: SegmentSource[] = readers.map((r) => ({
      start: r.start,
      end: r.end,
      values: (hook: string) => r.values(hook),
      tokens: () => r.tokens(),
    }));
    const shard = plan.rowStart !== 0 || plan.rowEnd !== plan.n;
    const pendingInt8 = plan.dtype === 'int8' && shard;
    await assembleStore({
      dir: plan.storeDir,
      dataset: plan.dataset,
      segments,
      ...(options.overwrite ? { overwrite: true } : {}),
      hooks: [...plan.hookMap.keys()],
      d,
      rowStart: plan.rowStart,
      rowEnd: plan.rowEnd,
      // A shard of an int8 job keeps the fp16 values; merge quantises over all rows, like a single run.
      dtype: pendingInt8 ? 'f16' : plan.dtype,
      manifest: {
        model: {
          id: String(plan.key['model']),
          configHash: String(plan.key['configHash']),
          // Which model it is, by shape (src/model/paper-models.ts), for the paper's grids and layers downstream.
          ...(Object.keys(plan.modelShape).length && { config: plan.modelShape }),
        },
        prompt: String(plan.key['prompt']),
        promptText: getPrompt(plan.dataset, String(plan.key['prompt'])).prefix,
        layers: plan.layers,
        hookSuffixes: plan.hookSuffixes,
        aggregation: plan.aggregate,
        createdAt: job.createdAt,
        extra: {
          extractor: {
            seed: plan.seed,
            batchSize: plan.chunkRows,
            paperCompat: plan.paperCompat,
            requestedDtype: plan.dtype,
            ...(pendingInt8 ? { pendingQuantization: 'int8' } : {}),
            ...([...plan.hookMap.values()].includes('ln_final.hook_normalized')
              ? { lastLayerAfterFinalNorm: true }
              : {}),
            bos: plan.key['bos'],
            datasetSource: datasetSource(options.dataset, plan.dataset),
            ...(options.limit !== undefined ? { limit: options.limit } : {}),
            ...(plan.sampledRows ? { sampledRows: plan.sampledRows } : {}),
            ...(plan.maxId !== undefined
              ? {
                  randomTokens: {
                    low: RANDOM_TOKEN_LOW,
                    maxIdExclusive: plan.maxId,
                    algorithm: 'splitmix64(seed<<32|row)',
                  },
                }
              : {}),
            rows: { start: plan.rowStart, end: plan.rowEnd, of: plan.n, datasetRows: plan.datasetRows },
          },
          cacheKey: plan.storeKey,
        },
      },
    });
  } catch (err) {
    throw diskError(err, plan.storeDir);
  } finally {
    for (const r of readers) await r.close();
  }
}
