/**
 * `spacetime-lens paper`: the paper's grid for one model (or several, from a config file): for every dataset, every
 * prompt's extraction + probe (runPipeline, cached and resumable), then the robustness experiments on the canonical
 * prompt's store and the prompt experiments over all prompt stores, then one HTML report.
 * A step is skipped only when its output recorded the same cache key (src/extract/cache-key.ts) and is newer than
 * its inputs; folders are named by a hash of their settings, so an interrupted run resumes and other settings
 * (another --limit / --sample, another experiment setting) get folders of their own.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  canonicalPrompt,
  type EntityDataset,
  listPrompts,
  loadDataset,
  PAPER_DATASET_NAMES,
} from '../data/index.js';
import {
  biasExperiment,
  type CommonOptions,
  type ExperimentName,
  holdoutExperiment,
  mlpExperiment,
  negativeControlsExperiment,
  pcaExperiment,
  plsExperiment,
  promptsExperiment,
  spatialExperiment,
} from '../experiments/index.js';
import { EXPERIMENT_MATHS, type ExtractionModel, isStaticModel, shortKeyHash } from '../extract/index.js';
import {
  DEVICE_CHOICES,
  type DeviceRequest,
  type HookedModel,
  loadModel,
  modelIdentity,
  resolveDevice,
  type SourceOptions,
  sourceOptions,
} from '../model/index.js';
import { probeStore, writeProbeResults } from '../probe/index.js';
import { loadReportInputs, writeReport } from '../report/index.js';
import { UserError } from '../util/errors.js';
import { hashJson } from '../util/hash.js';
import { acquireLock } from '../util/lock.js';
import { modelDisplayName } from '../util/paths.js';
import {
  CAUSAL_EXPERIMENTS,
  type CausalExperiment,
  type CausalSizes,
  runCausalSteps,
} from './causal-steps.js';
import { keyMatches, writeKey } from './keys.js';
import { modelSlug, runPipeline } from './run.js';

/** A step on one dataset's stores: an experiment, or a probe on another target (globe: places; log-time: dates). */
export type PaperStep = ExperimentName | 'globe' | 'log-time';

/** A paper run's steps: those on one dataset's stores, then the causal ones (docs/neurons.md#patch, #ablate). */
export type PaperExperiment = PaperStep | CausalExperiment;

/**
 * The paper's experiments, the follow-ups' (docs/experiments.md#pls ...: each runs where its inputs exist, spatial
 * and globe on places, log-time on dates, and is listed as skipped elsewhere), then the causal ones.
 */
export const ALL_EXPERIMENTS: PaperExperiment[] = [
  'mlp',
  'pca',
  'block-holdout',
  'entity-holdout',
  'prompts',
  'globe',
  'log-time',
  'pls',
  'negative-controls',
  'bias',
  'spatial',
  ...CAUSAL_EXPERIMENTS,
];

export interface PaperOptions extends SourceOptions {
  model: string;
  /** Dataset names or paths (default: the six paper datasets; ones that cannot be loaded are an error). */
  datasets?: string[];
  /** 'paper' (the four prompts of each dataset, docs/method.md#prompts), 'canonical', or explicit prompt names. */
  prompts?: 'paper' | 'canonical' | string[];
  experiments?: PaperExperiment[];
  /** Root directory (default ./spacetime-lens-runs); the model's runs go to <out>/<model slug>/. */
  out?: string;
  /** Extraction settings passed through to src/extract. */
  layers?: string;
  /** The first N rows of each dataset (warns when they are one entity type). */
  limit?: number;
  /** N rows of each dataset, stratified by entity type and split (seeded by `seed`): the quick look to use. */
  sample?: number;
  batchSize?: number;
  /** cpu, cuda, webgpu, or auto (resolved once, before the first model load; see resolveDevice). */
  device?: DeviceRequest;
  /** Weights held on the GPU as f16 (webgpu only). */
  weightDtype?: 'f32' | 'f16';
  paperCompat?: boolean;
  seed?: number;
  alphas?: string;
  /** MLP settings (epochs etc.); defaults as docs/method.md#mlp. */
  mlp?: { maxEpochs?: number; batchSize?: number; weightDecays?: number[] };
  log?: (line: string) => void;
  /** Surface baselines + control task on each dataset's canonical prompt (default true; docs/controls.md). */
  controls?: boolean;
  /** Also the random-init twin on each dataset's canonical prompt (one more extraction each). */
  randomInitControl?: boolean;
  /** Sizes of the causal experiments (defaults: 12 entities for patch, 24 for ablate, 8 random directions). */
  causal?: CausalSizes;
}

export interface PaperResult {
  model: string;
  root: string;
  report: string;
  datasets: { dataset: string; prompts: Record<string, string>; experiments: string }[];
  ran: string[];
  skipped: string[];
}

async function mtime(path: string): Promise<number> {
  return (await stat(path)).mtimeMs;
}

async function upToDate(output: string, inputs: string[]): Promise<boolean> {
  if (!existsSync(output)) return false;
  const t = await mtime(output);
  for (const i of inputs) if ((await mtime(i)) > t) return false;
  return true;
}

/** Runs the grid for one model. */
export async function runPaper(options: PaperOptions): Promise<PaperResult> {
  const log = options.log ?? (() => {});
  const experiments = options.experiments ?? ALL_EXPERIMENTS;
  for (const e of experiments) {
    if (!ALL_EXPERIMENTS.includes(e))
      throw new UserError(`unknown experiment '${e}' (${ALL_EXPERIMENTS.join(', ')})`);
  }
  options = { ...options, model: modelIdentity(options.model) }; // a local directory by its absolute path
  const runsRoot = resolve(options.out ?? 'spacetime-lens-runs');
  const root = join(runsRoot, modelSlug(options.model));
  await mkdir(root, { recursive: true });
  const datasets = await loadDatasets(options.datasets, log);
  const static_ = isStaticModel(options.model); // static: and surface: baselines load no model
  const device = options.device && !static_ ? await resolveDevice(options.device, { log }) : undefined;
  const engine = {
    ...(device && { device }),
    ...(device === 'webgpu' && options.weightDtype === 'f16' && { weightDtype: 'f16' as const }),
  };
  let model: ExtractionModel | undefined;
  const result: PaperResult = {
    model: options.model,
    root,
    report: join(root, 'report.html'),
    datasets: [],
    ran: [],
    skipped: [],
  };
  const probeDirs: string[] = [];
  const experimentDirs: string[] = [];
  try {
    for (const dataset of datasets) {
      const canonical = canonicalPrompt(dataset);
      const prompts = promptList(dataset, options.prompts ?? 'paper', canonical);
      const stores: Record<string, string> = {};
      const storeKeys: Record<string, string> = {};
      const probes: string[] = [];
      for (const prompt of prompts) {
        if (!static_ && !model)
          model = (await loadModel(options.model, {
            ...engine,
            ...sourceOptions(options),
          })) as unknown as ExtractionModel;
        log(`== ${dataset.name} / ${prompt}`);
        const run = await runPipeline({
          model: options.model,
          dataset,
          prompt,
          runsRoot,
          ...(model && { loadedModel: model, modelId: options.model }),
          ...(options.layers !== undefined && { layers: options.layers }),
          ...(options.limit !== undefined && { limit: options.limit }),
          ...(options.sample !== undefined && { sample: options.sample }),
          ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
          ...engine,
          ...sourceOptions(options),
          ...(options.paperCompat && { paperCompat: true }),
          ...(options.seed !== undefined && { seed: options.seed }),
          controls: prompt === canonical && options.controls !== false,
          ...(options.randomInitControl && { randomInitControl: true }),
          log,
        });
        stores[prompt] = run.store;
        storeKeys[prompt] = hashJson(run.storeKey);
        probeDirs.push(run.probe, ...run.controls);
        probes.push(run.probe);
      }
      const main = stores[canonical] ?? stores[prompts[0]!]!;
      const expKey = experimentKey(options, storeKeys, stores[canonical] ? canonical : prompts[0]!);
      const expDir = join(root, dataset.name, `experiments-${shortKeyHash(expKey)}`);
      experimentDirs.push(expDir);
      result.datasets.push({ dataset: dataset.name, prompts: stores, experiments: expDir });
      // Two paper jobs of one model and settings take turns on a dataset's experiments (the second finds them done).
      await mkdir(expDir, { recursive: true });
      const expLock = await acquireLock(join(expDir, '.lock'), {
        purpose: 'paper experiments',
        onWait: (line) => log(`experiments: ${line}; continuing when it is done`),
      });
      try {
        const keyed = await keyMatches(expDir, expKey);
        if (!keyed) {
          await mkdir(expDir, { recursive: true });
          await writeKey(expDir, expKey);
        }
        const common: CommonOptions = {
          out: expDir,
          ...(options.paperCompat && { paperCompat: true }),
          ...(options.seed !== undefined && { seed: options.seed }),
          ...(options.alphas !== undefined && { alphas: options.alphas }),
          log,
        };
        for (const experiment of experiments) {
          if (isCausal(experiment)) continue;
          const inputs = experiment === 'prompts' ? Object.values(stores) : [main];
          const output = outputOf(expDir, experiment);
          const label = `${dataset.name}/${experiment}`;
          if (experiment === 'prompts' && inputs.length < 2) {
            result.skipped.push(`${label} (needs two or more prompts)`);
            continue;
          }
          const unfit = needsKind(experiment);
          if (unfit && unfit !== dataset.kind) {
            result.skipped.push(`${label} (needs a ${unfit} dataset)`);
            continue;
          }
          if (
            keyed &&
            (await upToDate(
              output,
              inputs.map((s) => join(s, 'manifest.json')),
            ))
          ) {
            log(`experiment ${label}: up to date, skipping`);
            result.skipped.push(label);
            continue;
          }
          log(`experiment ${label}`);
          try {
            await runOne(experiment, main, inputs, common, options, probes);
            result.ran.push(label);
          } catch (err) {
            // one experiment that cannot run on this data (no rows in any hold-out group...) must not stop the grid
            if (!(err instanceof UserError)) throw err;
            log(`experiment ${label} skipped: ${err.message}`);
            result.skipped.push(`${label} (${err.message})`);
          }
        }
        const causal = experiments.filter(isCausal);
        const canonicalProbe = probes[prompts.indexOf(canonical)];
        if (causal.length && model && canonicalProbe && stores[canonical]) {
          await runCausalSteps(
            model as unknown as HookedModel,
            stores[canonical],
            canonicalProbe,
            expDir,
            {
              experiments: causal,
              keyed,
              ...(options.seed !== undefined && { seed: options.seed }),
              ...(options.causal && { sizes: options.causal }),
              dataset: dataset.name,
              log,
            },
            result,
          );
        } else {
          for (const e of causal)
            result.skipped.push(`${dataset.name}/${e} (needs a language model with weights)`);
        }
      } finally {
        await expLock.release();
      }
    }
  } finally {
    await model?.dispose();
  }
  const inputs = await loadReportInputs([...probeDirs, ...experimentDirs.filter((d) => existsSync(d))]);
  await writeReport(result.report, inputs, { title: `spacetime-lens: ${modelDisplayName(options.model)}` });
  log(`report: ${result.report}`);
  return result;
}

/**
 * What decides a dataset's experiment results: the stores (by key), which one is the main store, and every
 * experiment setting. Results made before keys were recorded never match.
 */
function experimentKey(options: PaperOptions, storeKeys: Record<string, string>, mainPrompt: string) {
  return {
    experimentMaths: EXPERIMENT_MATHS,
    stores: storeKeys,
    mainPrompt,
    seed: options.seed ?? 0,
    alphas: options.alphas ?? null,
    paperCompat: !!options.paperCompat,
    mlp: options.mlp ?? null,
    // only when set, so results keyed before the causal experiments existed still match
    ...(options.causal && { causal: options.causal }),
  };
}

/** The file a step writes (its up-to-date check). */
function outputOf(expDir: string, step: PaperStep): string {
  return step === 'globe' || step === 'log-time'
    ? join(expDir, `probe-${step}`, 'results.json')
    : join(expDir, `${step}.json`);
}

/** The dataset kind a step needs, if any. */
function needsKind(step: PaperStep): 'space' | 'time' | undefined {
  if (step === 'globe' || step === 'spatial') return 'space';
  if (step === 'log-time') return 'time';
  return undefined;
}

const isCausal = (e: PaperExperiment): e is CausalExperiment =>
  (CAUSAL_EXPERIMENTS as readonly string[]).includes(e);

async function runOne(
  experiment: PaperStep,
  store: string,
  stores: string[],
  common: CommonOptions,
  options: PaperOptions,
  probeResults: string[],
): Promise<void> {
  switch (experiment) {
    case 'mlp':
      await mlpExperiment(store, {
        ...common,
        ...(options.mlp?.maxEpochs !== undefined && { maxEpochs: options.mlp.maxEpochs }),
        ...(options.mlp?.batchSize !== undefined && { batchSize: options.mlp.batchSize }),
        ...(options.mlp?.weightDecays && { weightDecays: options.mlp.weightDecays }),
      });
      return;
    case 'pca':
      await pcaExperiment(store, common);
      return;
    case 'block-holdout':
    case 'entity-holdout':
      await holdoutExperiment(store, experiment === 'block-holdout' ? 'block' : 'entity', common);
      return;
    case 'prompts':
      await promptsExperiment(stores, { ...common, probeResults });
      return;
    case 'globe':
    case 'log-time': {
      // The plain probe's settings (run's: the auto grid, LOO), so the two compare; the best layer's predictions
      // only: the report shows this probe's line beside the plain one and one map.
      const run = await probeStore(store, {
        target: experiment,
        predictions: 'best',
        ...(options.paperCompat && { paperCompat: true }),
      });
      await writeProbeResults(join(common.out!, `probe-${experiment}`), run);
      return;
    }
    case 'pls':
      await plsExperiment(store, common);
      return;
    case 'negative-controls':
      await negativeControlsExperiment(store, common);
      return;
    case 'bias':
      await biasExperiment(store, common);
      return;
    case 'spatial':
      await spatialExperiment(store, common);
      return;
  }
}

/** The given datasets (each must load), or every paper dataset that loads (the others are reported and skipped). */
async function loadDatasets(names: string[] | undefined, log: (line: string) => void) {
  if (names) return Promise.all(names.map((d) => loadDataset(d)));
  const loaded = [];
  for (const name of PAPER_DATASET_NAMES) {
    try {
      loaded.push(await loadDataset(name));
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      log(`skipping ${name}: ${err.message}`);
    }
  }
  if (!loaded.length) {
    throw new UserError(
      'none of the paper datasets is available: fetch them first (spacetime-lens datasets fetch all)',
    );
  }
  return loaded;
}

function promptList(dataset: EntityDataset, spec: PaperOptions['prompts'], canonical: string) {
  const all = listPrompts(dataset);
  if (spec === 'canonical') return [canonical];
  if (spec === 'paper' || spec === undefined) {
    const paper = all.filter((p) => p.paper).map((p) => p.name);
    return paper.length ? paper : [canonical];
  }
  for (const p of spec) {
    if (!all.some((v) => v.name === p)) {
      throw new UserError(
        `prompt '${p}' is not a prompt of ${dataset.name} (${all.map((v) => v.name).join(', ')})`,
      );
    }
  }
  return spec;
}

/** A larger grid from a JSON or YAML file: `{ models: [...], datasets, prompts, experiments, out, ... }`. */
export interface PaperConfig extends Omit<PaperOptions, 'model' | 'log'> {
  models: string[];
}

export async function readPaperConfig(path: string): Promise<PaperConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UserError(`config file ${path} cannot be read`);
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new UserError(
      `config file ${path} is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(err as Error).message}`,
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new UserError(`${path}: expected an object`);
  const c = data as Record<string, unknown>;
  const models = typeof c['model'] === 'string' ? [c['model']] : c['models'];
  if (!Array.isArray(models) || models.length === 0 || !models.every((m) => typeof m === 'string' && m)) {
    throw new UserError(`${path}: 'models' must be a non-empty list of model ids or paths`);
  }
  const stringList = (key: string) => {
    const v = c[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
      throw new UserError(`${path}: '${key}' must be a list of strings`);
    return v as string[];
  };
  const prompts = c['prompts'];
  if (prompts !== undefined && prompts !== 'paper' && prompts !== 'canonical' && !Array.isArray(prompts)) {
    throw new UserError(`${path}: 'prompts' must be 'paper', 'canonical' or a list`);
  }
  const known = new Set([
    'model',
    'models',
    'datasets',
    'prompts',
    'experiments',
    'out',
    'layers',
    'limit',
    'sample',
    'batchSize',
    'device',
    'weightDtype',
    'paperCompat',
    'seed',
    'alphas',
    'mlp',
    'causal',
  ]);
  const unknown = Object.keys(c).filter((k) => !known.has(k));
  if (unknown.length)
    throw new UserError(`${path}: unknown key(s) ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  const datasets = stringList('datasets');
  const experiments = stringList('experiments') as PaperExperiment[] | undefined;
  return {
    models: models as string[],
    ...(datasets && { datasets }),
    ...(prompts !== undefined && { prompts: prompts as PaperOptions['prompts'] }),
    ...(experiments && { experiments }),
    ...(typeof c['out'] === 'string' && { out: c['out'] }),
    ...(c['layers'] !== undefined && { layers: String(c['layers']) }),
    ...(typeof c['limit'] === 'number' && { limit: c['limit'] }),
    ...(typeof c['sample'] === 'number' && { sample: c['sample'] }),
    ...(typeof c['batchSize'] === 'number' && { batchSize: c['batchSize'] }),
    ...(c['device'] !== undefined && { device: deviceRequest(c['device'], path) }),
    ...((c['weightDtype'] === 'f32' || c['weightDtype'] === 'f16') && { weightDtype: c['weightDtype'] }),
    ...(c['paperCompat'] === true && { paperCompat: true }),
    ...(typeof c['seed'] === 'number' && { seed: c['seed'] }),
    ...(c['alphas'] !== undefined && { alphas: String(c['alphas']) }),
    ...(typeof c['mlp'] === 'object' && c['mlp'] !== null && { mlp: c['mlp'] as PaperOptions['mlp'] }),
    ...(c['causal'] !== undefined && { causal: causalSizes(c['causal'], path) }),
  };
}

function causalSizes(value: unknown, path: string): CausalSizes {
  const v = value as Record<string, unknown> | null;
  const ok = (x: unknown) => x === undefined || (Number.isInteger(x) && (x as number) >= 0);
  if (
    typeof v !== 'object' ||
    v === null ||
    Array.isArray(v) ||
    !ok(v['entities']) ||
    !ok(v['randomDirections'])
  )
    throw new UserError(
      `${path}: 'causal' must be { entities?: N, randomDirections?: N } with whole numbers`,
    );
  return {
    ...(v['entities'] !== undefined && { entities: v['entities'] as number }),
    ...(v['randomDirections'] !== undefined && { randomDirections: v['randomDirections'] as number }),
  };
}

function deviceRequest(value: unknown, path: string): DeviceRequest {
  if (typeof value === 'string' && (DEVICE_CHOICES as readonly string[]).includes(value))
    return value as DeviceRequest;
  throw new UserError(
    `${path}: device must be one of ${DEVICE_CHOICES.join(', ')}, got ${JSON.stringify(value)}`,
  );
}
