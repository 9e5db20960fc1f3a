import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadDataset, subsetDataset } from '../data/index.js';
import { entityString, getPrompt, renderWith } from '../data/prompts.js';
import type { EntityDataset, RenderedPrompt } from '../data/types.js';
import { type Device, loadModel, paperShapeOf, sourceOptions } from '../model/index.js';
import type { ModelTokenizer } from '../model/tokenizer.js';
import { hookName, openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { pathExists } from '../util/fsx.js';
import { hashJson } from '../util/hash.js';
import { acquireLock, type HeldLock } from '../util/lock.js';
import { VERSION } from '../version.js';
import { type ExtractionModel, extractBatch, hookWidth } from './batch.js';
import {
  keyDifferences,
  loadedModelIdentity,
  manifestKey,
  mismatchMessage,
  randomInitIdentity,
  resolveSettings,
  selectFor,
  storeHookNames,
  storeKeyOf,
} from './cache-key.js';
import { checkDiskSpace, creationTime, finish, type Plan } from './finish.js';
import { maxTokenId, prepareRows } from './prepare.js';
import { type ProgressSink, silentProgress } from './progress.js';
import { controlModelId, loadControlModel } from './random-init-route.js';
import { type Aggregation, type ExtractDtype, type Shard, shardOutDir, shardRows } from './spec.js';
import { extractStatic, isStaticModel } from './static-route.js';
import {
  type ChunkPrecision,
  diffJobKeys,
  diskError,
  finishedChunks,
  type JobFile,
  readJob,
  removeStaleStoreTemps,
  removeWorkDir,
  workDirFor,
  writeChunk,
  writeJob,
} from './work.js';

function tokenizerOf(model: ExtractionModel): ModelTokenizer {
  const t = model.tokenizer as ModelTokenizer | undefined;
  if (!t || typeof t.encode !== 'function') {
    throw new UserError(
      'this model has no tokenizer (tokenizer.json); extraction needs one to encode the entities',
    );
  }
  return t;
}

export interface ExtractOptions {
  /** A local Hugging Face checkpoint directory or a Hub id (`static:...` goes through extractStatic instead). */
  model: string;
  /** A dataset name or path (as loadDataset takes it), or a loaded dataset. */
  dataset: string | EntityDataset;
  /** A prompt variant of the dataset (docs/method.md#prompts). */
  prompt: string;
  /** The store directory to create (a shard writes `<out>.shard-i-of-N`). */
  out: string;
  /** `all` | `0,8,16` | `0:32:4` (default all). */
  layers?: string | number[];
  /** `resid_post[,mlp_post,...]` (default resid_post). */
  hooks?: string | string[];
  aggregate?: Aggregation;
  dtype?: ExtractDtype;
  /** Sequences per engine call, and the rows of one resumable chunk (default DEFAULT_BATCH_SIZE). */
  batchSize?: number;
  /** Only the first N rows of the dataset. */
  limit?: number;
  /** N rows stratified by entity type and split (src/data/sample.ts), seeded by `seed`. */
  sample?: number;
  /** Seed of the sample and of the random-token prompt (default 0). */
  seed?: number;
  /** Where the model runs (already resolved: `auto` is the caller's to resolve, see resolveDevice). */
  device?: Device;
  /** Weights held on the GPU as f16 (webgpu only; see docs/models.md#devices). */
  weightDtype?: 'f32' | 'f16';
  /** Continue an interrupted run from its work directory. */
  resume?: boolean;
  /** Replace an existing store. */
  overwrite?: boolean;
  /** Extract only this slice (cluster array jobs). */
  shard?: Shard;
  /** The authors' quirks: 8-bit quantisation and the last layer taken after the final norm (docs/method.md#paper-compat). */
  paperCompat?: boolean;
  progress?: ProgressSink;
  /** Where one-line warnings go, e.g. --limit kept one entity type (default: the progress log). */
  onWarning?: (line: string) => void;
  /** Reuse an already loaded model (several prompts, the `run` pipeline, tests). */
  loadedModel?: ExtractionModel;
  /** `random-init`: the model's architecture and tokenizer with fresh weights, seeded by `seed` (docs/controls.md). */
  control?: 'random-init';
  /** Model id recorded in the manifest when `loadedModel` is given (default: `model`). */
  modelId?: string;
  revision?: string;
  offline?: boolean;
  /** Hugging Face cache root for a Hub id (default: huggingface_hub's). */
  cacheDir?: string;
  /** Ask the Hub where a branch or tag points even when the cache resolves it. */
  refresh?: boolean;
}

export interface ExtractResult {
  store: string;
  n: number;
  d: number;
  layers: number[];
  hooks: string[];
  /** Rows computed in this call (resumed chunks excluded). */
  computedRows: number;
  tokens: number;
  seconds: number;
  /** True when the store already existed and was complete (resume after the final rename). */
  alreadyDone: boolean;
}

/**
 * Sequences in one resumable chunk (one engine call) for models whose f32 weights stay cached between calls. The
 * engine sorts a chunk by length into length buckets (planBatches): with 1,024 rows of short prompts the buckets are
 * big enough that padding is about 1% of the real tokens, where a 64-row chunk padded to its longest row (~1.5x).
 */
export const DEFAULT_BATCH_SIZE = 1024;
/**
 * For larger models the engine streams every layer's weights once per call, so bigger chunks amortise that (it
 * costs as much as the forward pass of a few hundred rows on a 7B model), but a chunk's activations are held in
 * memory until it is written: at least 256 rows, at most 2,048 (about one engine chunk of short prompts), and no
 * more than keep 512 MiB of f32 activations (rows x layers x d): 1,024 rows for Llama-2-7B (32 layers, d 4096).
 */
export const LARGE_MODEL_BATCH_SIZE = 256;
const LARGE_MODEL_MAX_BATCH_SIZE = 2048;

/**
 * Default --batch-size: 1024, or, when the model's f32 weights (about 4 * (4 d^2 + 3 d d_mlp) bytes per layer)
 * exceed the engine's 2 GiB weight cache and stream, the largest multiple of 256 rows (256 to 2,048) whose f32
 * activations of every layer stay within 512 MiB. Depends only on the model, so every shard and resume agrees.
 */
export function defaultBatchSize(spec: { nLayers: number; dModel: number; dMlp: number }): number {
  const bytes = spec.nLayers * 4 * (4 * spec.dModel ** 2 + 3 * spec.dModel * spec.dMlp);
  if (bytes <= 2 ** 31) return DEFAULT_BATCH_SIZE;
  const rows = Math.floor(2 ** 29 / (spec.nLayers * spec.dModel * 4) / 256) * 256;
  return Math.min(LARGE_MODEL_MAX_BATCH_SIZE, Math.max(LARGE_MODEL_BATCH_SIZE, rows));
}

/** Renders rows [0, n) with a prompt variant (docs/method.md#prompts). */
function renderRows(dataset: EntityDataset, promptName: string, n: number): RenderedPrompt[] {
  const prompt = getPrompt(dataset, promptName);
  const out: RenderedPrompt[] = [];
  for (let r = 0; r < n; r++) out.push(renderWith(prompt, entityString(dataset, r)));
  return out;
}

/** SHA-256 of the model's config.json (canonical JSON), so shards and resumes can check they ran the same model. */
export function configHash(config: Record<string, unknown>): string {
  return hashJson(config);
}

/** Bytes per value in chunk files and in the final store. */
function precisionOf(dtype: ExtractDtype): { chunk: ChunkPrecision; store: 'f32' | 'f16' } {
  // int8 keeps fp16 chunks: the authors cast activations to fp16 before quantising, so nothing is lost.
  if (dtype === 'f16') return { chunk: 'F16', store: 'f16' };
  if (dtype === 'int8') return { chunk: 'F16', store: 'f32' };
  return { chunk: 'F32', store: 'f32' };
}

/**
 * Extracts activations of one (model, dataset, prompt) into a store: every requested layer and hook at the kept
 * token of each entity (docs/method.md#prompts), chunk by chunk into a work directory, then one atomic store. Resumable and
 * shardable; see docs/extract.md.
 */
export async function extract(options: ExtractOptions): Promise<ExtractResult> {
  const progress = options.progress ?? silentProgress;
  const dataset = typeof options.dataset === 'string' ? await loadDataset(options.dataset) : options.dataset;
  if (isStaticModel(options.model)) return extractStaticResult(options, dataset);
  const storeDir = resolve(shardOutDir(options.out, options.shard));
  // One process at a time builds a store and its work folder (two `--resume` jobs of one command on a cluster):
  // a resume waits for the other and then finds the store done; a fresh extraction refuses.
  const lock = await acquireLock(`${storeDir}.lock`, {
    wait: !!options.resume,
    purpose: 'extract',
    onWait: (line) => progress.log(`${line}; continuing when it is done`),
    refuse: (who) =>
      `${storeDir} is being written by ${who}; wait for it, or rerun with --resume to wait and then reuse it`,
  });
  try {
    return await extractLocked(options, dataset, storeDir, lock, progress);
  } finally {
    await lock.release();
  }
}

async function extractLocked(
  options: ExtractOptions,
  dataset: EntityDataset,
  storeDir: string,
  lock: HeldLock,
  progress: ProgressSink,
): Promise<ExtractResult> {
  const workDir = workDirFor(storeDir);
  // A finished store is never touched again unless asked; a resume that finds it (killed after the final rename)
  // only cleans up, once its key shows it is the store these settings make.
  const finished = await pathExists(join(storeDir, 'manifest.json'));
  if (finished && !options.overwrite && !options.resume) {
    throw new UserError(`${storeDir} already exists; pass --overwrite to replace it or choose another --out`);
  }
  if (!finished && (await pathExists(storeDir))) {
    throw new UserError(
      `${storeDir} exists and is not an activation store; remove it or choose another --out`,
    );
  }

  const ownModel = !options.loadedModel;
  const model: ExtractionModel =
    options.loadedModel ??
    (options.control ? await loadControlModel(options) : undefined) ??
    ((await loadModel(options.model, {
      ...(options.device ? { device: options.device } : {}),
      ...(options.weightDtype ? { weightDtype: options.weightDtype } : {}),
      ...sourceOptions(options),
    })) as unknown as ExtractionModel);
  try {
    const plan = { ...(await makePlan(options, dataset, model, storeDir, workDir)), lock };
    for (const w of plan.warnings) (options.onWarning ?? ((l) => progress.log(`warning: ${l}`)))(w);
    if (finished && !options.overwrite) return await alreadyComplete(plan, progress);
    return await runPlan(plan, options, model, progress);
  } finally {
    if (ownModel) await model.dispose();
  }
}

/** `--resume` found the finished store: done if its key is this command's, else an error naming the setting. */
async function alreadyComplete(plan: Plan, progress: ProgressSink): Promise<ExtractResult> {
  const stored = manifestKey((await openStore(plan.storeDir)).manifest.extra);
  if (!stored) {
    throw new UserError(
      `${plan.storeDir} was written before stores recorded their settings (no cache key); ` +
        'pass --overwrite to redo it or choose another --out',
    );
  }
  const diffs = keyDifferences(
    stored as unknown as Record<string, unknown>,
    plan.storeKey as unknown as Record<string, unknown>,
  );
  if (diffs.length)
    throw new UserError(mismatchMessage(plan.storeDir, diffs, 'pass --overwrite or choose another --out'));
  await removeOwnWorkDir(plan);
  progress.log(`${plan.storeDir} is already complete`);
  return {
    store: plan.storeDir,
    n: 0,
    d: 0,
    layers: [],
    hooks: [],
    computedRows: 0,
    tokens: 0,
    seconds: 0,
    alreadyDone: true,
  };
}

/** `static:...` models: the word-vector baseline, one layer, computed in one go (no chunks, no shards). */
async function extractStaticResult(options: ExtractOptions, dataset: EntityDataset): Promise<ExtractResult> {
  if (options.shard) throw new UserError('static embeddings are computed in one go; --shard does not apply');
  const t0 = performance.now();
  const r = await extractStatic({
    model: options.model,
    dataset,
    out: options.out,
    prompt: options.prompt,
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.sample !== undefined ? { sample: options.sample } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.overwrite ? { overwrite: true } : {}),
    source: sourceOptions(options),
  });
  return {
    store: resolve(options.out),
    n: r.n,
    d: r.d,
    layers: [0],
    hooks: ['blocks.0.hook_resid_post'],
    computedRows: r.n,
    tokens: 0,
    seconds: (performance.now() - t0) / 1000,
    alreadyDone: false,
  };
}

async function makePlan(
  options: ExtractOptions,
  fullDataset: EntityDataset,
  model: ExtractionModel,
  storeDir: string,
  workDir: string,
): Promise<Plan> {
  const { nLayers } = model.spec;
  const settings = resolveSettings(options, nLayers);
  const { layers, hookSuffixes, paperCompat, dtype, aggregate, seed } = settings;
  if (hookSuffixes.includes('mlp.hook_expert_indices') && (dtype === 'int8' || aggregate === 'mean')) {
    throw new UserError(
      'mlp.hook_expert_indices holds expert numbers: extract it with --dtype f32 or f16 and the last-token ' +
        'aggregation (use expert_weights for averages)',
    );
  }
  const chunkRows = options.batchSize ?? defaultBatchSize(model.spec);
  if (!Number.isInteger(chunkRows) || chunkRows < 1)
    throw new UserError(`--batch-size must be a positive integer`);
  const selected = selectFor(fullDataset, options);
  const dataset = subsetDataset(fullDataset, selected.rows);
  const n = dataset.n;
  if (n === 0) throw new UserError(`${dataset.name} has no rows to extract`);
  const storeKey = storeKeyOf(
    options.control
      ? randomInitIdentity(model.config, settings.seed)
      : await loadedModelIdentity(model, options.modelId ?? options.model, options.revision),
    fullDataset,
    options.prompt,
    selected,
    settings,
  );

  // Paper-compat: HF's hidden_states[L] is taken after the final norm, so the last layer's resid_post becomes
  // ln_final.hook_normalized (stored under the resid_post name, flagged in the manifest).
  const hookMap = new Map<string, string>();
  for (const h of storeHookNames(layers, hookSuffixes)) hookMap.set(h, h);
  const lastPost = hookName(nLayers - 1, 'hook_resid_post');
  if (paperCompat && hookMap.has(lastPost)) hookMap.set(lastPost, 'ln_final.hook_normalized');

  const { rowStart, rowEnd } = (() => {
    const r = shardRows(n, chunkRows, options.shard);
    return { rowStart: r.start, rowEnd: r.end };
  })();

  const rendered = renderRows(dataset, options.prompt, n);
  let maxId: number | undefined;
  if (rendered.some((p) => p.randomTokens > 0)) maxId = maxTokenId(tokenizerOf(model), rendered);

  // The resume job key: the store key plus how the work is cut into chunks.
  const key: Record<string, unknown> = {
    ...storeKey,
    model: options.modelId ?? controlModelId(options),
    configHash: configHash(model.config),
    seed,
    chunkRows,
    rowStart,
    rowEnd,
    bos: tokenizerOf(model).bosRule,
    toolVersion: VERSION,
  };
  return {
    dataset,
    datasetRows: fullDataset.n,
    ...(selected.selection.mode === 'sample' ? { sampledRows: selected.rows } : {}),
    storeKey,
    warnings: selected.warnings,
    n,
    rowStart,
    rowEnd,
    chunkRows,
    layers,
    hookSuffixes,
    hookMap,
    aggregate,
    dtype,
    seed,
    storeDir,
    workDir,
    key,
    ...(maxId !== undefined ? { maxId } : {}),
    paperCompat,
    rendered,
    modelShape: paperShapeOf(model.config),
  };
}

async function runPlan(
  plan: Plan,
  options: ExtractOptions,
  model: ExtractionModel,
  progress: ProgressSink,
): Promise<ExtractResult> {
  const t0 = performance.now();
  const { workDir, storeDir, chunkRows, rowStart, rowEnd } = plan;
  const d = hookWidth(model, [...plan.hookMap.values()]);
  const precision = precisionOf(plan.dtype);

  // The job file pins the settings; a resume must match them, a fresh run must not trample an old one.
  let job = await readJob(workDir);
  if (job) await removeStaleStoreTemps(storeDir);
  if (job && !options.resume) {
    throw new UserError(
      `${workDir} holds an interrupted extraction; rerun with --resume to finish it, or delete that directory`,
    );
  }
  if (job) {
    const diff = diffJobKeys(job.key, plan.key);
    if (diff.length) {
      throw new UserError(
        `--resume: ${workDir} was started with different settings (${diff.join('; ')}); ` +
          'rerun with the original settings or delete the work directory',
      );
    }
  }

  // Validate every row before anything is written (a bad model/dataset pairing fails fast, naming the row).
  const allRows = prepareRows(tokenizerOf(model), plan.rendered, rowStart, rowEnd, {
    seed: plan.seed,
    ...(plan.maxId !== undefined ? { maxId: plan.maxId } : {}),
    ...(model.spec.maxPositions !== undefined ? { maxPositions: model.spec.maxPositions } : {}),
    datasetName: plan.dataset.name,
    promptName: String(plan.key['prompt']),
  });

  const firstChunk = Math.floor(rowStart / chunkRows);
  const lastChunk = Math.ceil(rowEnd / chunkRows); // exclusive
  const done = job ? await finishedChunks(workDir) : new Set<number>();
  const todo: number[] = [];
  for (let c = firstChunk; c < lastChunk; c++) if (!done.has(c)) todo.push(c);
  await checkDiskSpace(plan, d, todo.length * chunkRows, precision.chunk === 'F16' ? 2 : 4);

  if (!job) {
    await mkdir(workDir, { recursive: true });
    job = {
      format: 'spacetime-lens/extract-job@1',
      key: plan.key,
      createdAt: creationTime(),
      rowStart,
      rowEnd,
      chunkRows,
    } satisfies JobFile;
    try {
      await writeJob(workDir, job);
    } catch (err) {
      await removeWorkDir(workDir);
      throw diskError(err, `${workDir}/job.json`);
    }
  }

  const rowsOfChunk = (c: number) => {
    const start = Math.max(rowStart, c * chunkRows);
    const end = Math.min(rowEnd, (c + 1) * chunkRows);
    return { start, end, rows: allRows.slice(start - rowStart, end - rowStart) };
  };
  const todoRows = todo.reduce((s, c) => s + rowsOfChunk(c).rows.length, 0);
  const todoTokens = todo.reduce((s, c) => s + rowsOfChunk(c).rows.reduce((t, r) => t + r.ids.length, 0), 0);
  const label = `${plan.dataset.name}/${plan.key['prompt']}`;
  progress.start({
    label,
    rows: rowEnd - rowStart,
    tokens: todoTokens,
    doneRows: rowEnd - rowStart - todoRows,
  });
  let rowsDone = 0;
  let tokensDone = 0;
  try {
    for (const c of todo) {
      const { start, end, rows } = rowsOfChunk(c);
      const chunkTokens = rows.reduce((t, r) => t + r.ids.length, 0);
      const values = await extractBatch(model, rows, plan.hookMap, plan.aggregate, (f) =>
        progress.update(rowsDone + Math.floor(f * rows.length), tokensDone + Math.floor(f * chunkTokens)),
      );
      try {
        await writeChunk(
          workDir,
          c,
          {
            start,
            end,
            d,
            values,
            inputIds: rows.map((r) => r.ids),
            positions: rows.map((r) => r.position),
            entitySpans: rows.map((r) => r.span),
          },
          precision.chunk,
        );
      } catch (err) {
        throw diskError(err, `chunk ${c} in ${workDir}`);
      }
      rowsDone += rows.length;
      tokensDone += chunkTokens;
      progress.update(rowsDone, tokensDone);
    }
  } finally {
    progress.stop();
  }

  const chunkIds: number[] = [];
  for (let c = firstChunk; c < lastChunk; c++) chunkIds.push(c);
  if (plan.lock?.lost) throw lostLock(plan);
  await finish(plan, options, job, chunkIds, d);
  await removeOwnWorkDir(plan);
  return {
    store: storeDir,
    n: rowEnd - rowStart,
    d,
    layers: plan.layers,
    hooks: [...plan.hookMap.keys()],
    computedRows: rowsDone,
    tokens: tokensDone,
    seconds: (performance.now() - t0) / 1000,
    alreadyDone: false,
  };
}

function lostLock(plan: Plan): UserError {
  return new UserError(
    `another process took over ${plan.lock?.path} while this one ran (it judged this one dead); the finished ` +
      `chunks are kept in ${plan.workDir} for it`,
  );
}

/** Removes the work folder, unless another process took the lock over (the folder is then its). */
async function removeOwnWorkDir(plan: Plan): Promise<void> {
  if (plan.lock?.lost) throw lostLock(plan);
  await removeWorkDir(plan.workDir);
}
