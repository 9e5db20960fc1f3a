/**
 * The controls `run` and `paper` compute beside a model's probe (docs/controls.md): the three surface-form baselines
 * with the model's own tokenizer (always; seconds), the control task on the model's own store (selectivity,
 * written to <probe>/control-task.json), and, when asked, the random-init twin (a second extraction). Each control
 * is a store + probe under <out>/controls/<name>/, skipped when up to date like the main steps.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntityDataset } from '../data/types.js';
import { type ExtractOptions, extract, extractStatic, isStaticModel } from '../extract/index.js';
import { controlModelId } from '../extract/random-init-route.js';
import { SURFACE_KINDS } from '../extract/surface.js';
import { sourceOptions } from '../model/index.js';
import {
  CONTROL_TASK_FILE,
  controlTask,
  type ProbeResults,
  probeStore,
  writeControlTask,
  writeProbeResults,
} from '../probe/index.js';

export interface ControlsOptions {
  model: string;
  dataset: EntityDataset;
  prompt: string;
  /** The run's directory; controls go to <out>/controls/. */
  out: string;
  store: string;
  probeDir: string;
  limit?: number;
  paperCompat?: boolean;
  /** Also extract and probe the random-init twin (costs one more extraction). */
  randomInit?: boolean;
  /** Extraction settings for the twin (layers, hooks, seed, device...). */
  extractOptions?: Omit<ExtractOptions, 'prompt' | 'out' | 'dataset' | 'model'>;
  log?: (line: string) => void;
}

export interface ControlsResult {
  /** Probe directories of the control models (for the report). */
  probeDirs: string[];
  /** True when anything was (re)computed. */
  ran: boolean;
}

async function newer(output: string, input: string): Promise<boolean> {
  return existsSync(output) && (await stat(output)).mtimeMs >= (await stat(input)).mtimeMs;
}

/** Probes a control store into <dir>/probe unless that is up to date. */
async function probeControl(dir: string, paperCompat: boolean | undefined): Promise<boolean> {
  const store = join(dir, 'store');
  const probe = join(dir, 'probe');
  if (await newer(join(probe, 'results.json'), join(store, 'manifest.json'))) return false;
  await mkdir(probe, { recursive: true });
  await writeProbeResults(probe, await probeStore(store, paperCompat ? { paperCompat: true } : {}));
  return true;
}

/** Computes the controls of one run (see the file comment). Real models only: a baseline gets no controls. */
export async function runControls(o: ControlsOptions): Promise<ControlsResult> {
  const log = o.log ?? (() => {});
  const result: ControlsResult = { probeDirs: [], ran: false };
  if (isStaticModel(o.model)) return result;
  for (const kind of SURFACE_KINDS) {
    const model = kind === 'char-ngrams' ? `surface:${kind}` : `surface:${kind}@${o.model}`;
    const dir = join(o.out, 'controls', `surface-${kind}`);
    if (!existsSync(join(dir, 'store', 'manifest.json'))) {
      log(`controls: ${model}`);
      await extractStatic({
        model,
        dataset: o.dataset,
        out: join(dir, 'store'),
        prompt: o.prompt,
        overwrite: true,
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
        ...(o.extractOptions?.sample !== undefined ? { sample: o.extractOptions.sample } : {}),
        ...(o.extractOptions?.seed !== undefined ? { seed: o.extractOptions.seed } : {}),
        source: sourceOptions(o.extractOptions ?? {}),
      });
      result.ran = true;
    }
    if (await probeControl(dir, o.paperCompat)) result.ran = true;
    result.probeDirs.push(join(dir, 'probe'));
  }
  if (o.randomInit) {
    const dir = join(o.out, 'controls', 'random-init');
    if (!existsSync(join(dir, 'store', 'manifest.json'))) {
      log(`controls: ${controlModelId({ model: o.model, control: 'random-init' })}`);
      const { loadedModel: _real, modelId: _id, ...settings } = o.extractOptions ?? {};
      await extract({
        ...settings,
        model: o.model,
        control: 'random-init',
        dataset: o.dataset,
        prompt: o.prompt,
        out: join(dir, 'store'),
        resume: true,
        ...(o.limit !== undefined ? { limit: o.limit } : {}),
      });
      result.ran = true;
    }
    if (await probeControl(dir, o.paperCompat)) result.ran = true;
    result.probeDirs.push(join(dir, 'probe'));
  }
  const taskFile = join(o.probeDir, CONTROL_TASK_FILE);
  if (!(await newer(taskFile, join(o.probeDir, 'results.json')))) {
    log('controls: control task (targets shuffled within entity type / block)');
    const real = JSON.parse(await readFile(join(o.probeDir, 'results.json'), 'utf8')) as ProbeResults;
    const task = await controlTask(o.store, {
      ...(o.paperCompat ? { paperCompat: true } : {}),
      seed: o.extractOptions?.seed ?? 0,
      real,
    });
    await writeControlTask(o.probeDir, task);
    result.ran = true;
  }
  return result;
}

/** `run`'s call: its options mapped onto runControls (nothing when controls are off). */
export async function runControlsFor(
  options: Omit<ExtractOptions, 'prompt' | 'out' | 'dataset'> & {
    controls?: boolean;
    randomInitControl?: boolean;
  },
  where: Pick<ControlsOptions, 'dataset' | 'prompt' | 'out' | 'store' | 'probeDir' | 'log'>,
): Promise<ControlsResult> {
  if (options.controls === false) return { probeDirs: [], ran: false };
  const { controls: _c, randomInitControl, model, limit, paperCompat, ...extractOptions } = options;
  return runControls({
    ...where,
    model,
    ...(limit !== undefined ? { limit } : {}),
    ...(paperCompat ? { paperCompat } : {}),
    ...(randomInitControl ? { randomInit: true } : {}),
    extractOptions: { ...extractOptions, ...(paperCompat ? { paperCompat } : {}) },
  });
}
