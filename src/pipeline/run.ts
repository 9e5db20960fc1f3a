import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadDataset } from '../data/index.js';
import { canonicalPrompt } from '../data/prompts.js';
import {
  type ExtractOptions,
  expectedStoreKey,
  extract,
  extractStatic,
  isStaticModel,
  PROBE_MATHS,
  type StoreKey,
  shortKeyHash,
} from '../extract/index.js';
import { modelIdentity, sourceOptions } from '../model/index.js';
import { allWarnings, formatResultsTable, probeStore, writeProbeResults } from '../probe/index.js';
import { loadReportInputs, writeReport } from '../report/index.js';
import { pathExists } from '../util/fsx.js';
import { acquireLock } from '../util/lock.js';
import { modelDisplayName } from '../util/paths.js';
import { runControlsFor } from './controls.js';
import { checkStoreKey, clearKey, keyMatches, writeKey } from './keys.js';

export interface RunPipelineOptions extends Omit<ExtractOptions, 'prompt' | 'out'> {
  /** Prompt variant (default: the dataset's canonical prompt, docs/method.md#prompts). */
  prompt?: string;
  /**
   * Output directory. An existing one is reused only when every setting matches, else refused. Default:
   * <runsRoot>/<model>/<dataset>/<prompt>-<settings hash>, so two settings never share a folder.
   */
  out?: string;
  /** Root of the default layout (default ./spacetime-lens-runs). */
  runsRoot?: string;
  /** Lines for the user (skipped steps, the probe table). */
  log?: (line: string) => void;
  /** Surface baselines and the control task beside the probe (default true; docs/controls.md). */
  controls?: boolean;
  /** Also the random-init twin (one more extraction). */
  randomInitControl?: boolean;
}

export interface RunResult {
  out: string;
  store: string;
  probe: string;
  report: string;
  /** The store's cache key (what decides its content). */
  storeKey: StoreKey;
  /** Which steps ran (the others were up to date). */
  ran: { extract: boolean; probe: boolean; report: boolean };
  /** Probe directories of the controls (surface baselines, random-init twin). */
  controls: string[];
}

/**
 * A file-system-friendly name for a model: a local directory's folder name (`../tiny-llama` -> `tiny-llama`), a Hub
 * id as `org--name`, `static:x` as `static-x`.
 */
export function modelSlug(model: string): string {
  const name = modelDisplayName(modelIdentity(model)).replace(/^static:/, 'static-');
  const slug = name
    .split('/')
    .join('--')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^\.+/, '');
  return slug || 'model';
}

async function mtime(path: string): Promise<number> {
  return (await stat(path)).mtimeMs;
}

/** True when `output` exists and is at least as new as every input. */
async function upToDate(output: string, inputs: string[]): Promise<boolean> {
  if (!(await pathExists(output))) return false;
  const t = await mtime(output);
  for (const i of inputs) if ((await mtime(i)) > t) return false;
  return true;
}

/**
 * The probe settings `run` uses (the probe CLI's defaults), recorded in the probe results' key; `predictions` is
 * also what it asks probeStore for, so the key says what the results hold.
 */
function probeSettings(paperCompat: boolean) {
  return { alphas: 'auto', cv: 'loo', hook: 'resid_post', predictions: 'compact' as const, paperCompat };
}

/**
 * `spacetime-lens run`: extraction, probing and the HTML report under one directory. A step is skipped only when
 * its output's cache key (src/extract/cache-key.ts) is the one these settings give; an interrupted extraction
 * resumes from its chunks. The default folder name carries a hash of the settings, so other settings get their
 * own folder; an explicit --out made with other settings is refused, naming the setting.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  options = { ...options, model: modelIdentity(options.model) }; // a local directory by its absolute path
  const dataset = typeof options.dataset === 'string' ? await loadDataset(options.dataset) : options.dataset;
  const prompt = options.prompt ?? canonicalPrompt(dataset);
  const { key: storeKey, selected } = await expectedStoreKey({ ...options, prompt }, dataset);
  const warn = (line: string) => log(`warning: ${line}`);
  const probeKey = {
    probeMaths: PROBE_MATHS,
    store: storeKey,
    probe: probeSettings(!!options.paperCompat),
  };
  const datasetDir = join(options.runsRoot ?? 'spacetime-lens-runs', modelSlug(options.model), dataset.name);
  const out = resolve(options.out ?? join(datasetDir, `${prompt}-${shortKeyHash(probeKey)}`));
  if (!options.out && (await pathExists(join(datasetDir, prompt, 'store', 'manifest.json')))) {
    log(
      `note: ${resolve(datasetDir, prompt)} was made before runs recorded their settings; it is not reused ` +
        `(this run goes to ${out})`,
    );
  }
  const store = join(out, 'store');
  const probeDir = join(out, 'probe');
  const report = join(out, 'report.html');
  const manifest = join(store, 'manifest.json');
  const results = join(probeDir, 'results.json');
  const ran = { extract: false, probe: false, report: false };
  await mkdir(out, { recursive: true });
  // Two jobs with the same settings (common on Slurm) take turns: the second waits, then finds every step done.
  const lock = await acquireLock(join(out, '.lock'), {
    purpose: 'run',
    onWait: (line) => log(`run: ${line}; continuing when it is done`),
  });
  try {
    if (await pathExists(manifest)) {
      await checkStoreKey(store, storeKey, options.out ? '--out' : undefined);
      for (const w of selected.warnings) warn(w);
      log(`extract: ${store} is done, skipping`);
    } else if (isStaticModel(options.model)) {
      const r = await extractStatic({
        model: options.model,
        dataset,
        out: store,
        prompt,
        ...(options.limit !== undefined ? { limit: options.limit } : {}),
        ...(options.sample !== undefined ? { sample: options.sample } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        source: sourceOptions(options),
      });
      for (const w of r.warnings) warn(w);
      if (r.uncovered) log(`static: ${r.uncovered} of ${r.n} entities had no known word (zero vectors)`);
      ran.extract = true;
    } else {
      await extract({ ...options, dataset, prompt, out: store, resume: true, onWarning: warn });
      ran.extract = true;
    }

    if ((await keyMatches(probeDir, probeKey)) && (await upToDate(results, [manifest]))) {
      log(`probe: ${probeDir} is up to date, skipping`);
    } else {
      const run = await probeStore(store, {
        predictions: probeKey.probe.predictions,
        ...(options.paperCompat ? { paperCompat: true } : {}),
      });
      await mkdir(probeDir, { recursive: true });
      await clearKey(probeDir);
      await writeProbeResults(probeDir, run);
      await writeKey(probeDir, probeKey);
      log(formatResultsTable(run.results));
      for (const s of run.results.skippedLayers) log(`probe: layer ${s.layer} skipped: ${s.reason}`);
      for (const w of allWarnings(run.results)) log(`warning: ${w}`);
      ran.probe = true;
    }

    const controls = await runControlsFor(options, { dataset, prompt, out, log });
    if (!controls.ran && (await upToDate(report, [results]))) {
      log(`report: ${report} is up to date, skipping`);
    } else {
      const inputs = await loadReportInputs([probeDir, ...controls.probeDirs], { stores: [store] });
      await writeReport(report, inputs, {});
      ran.report = true;
    }
    return { out, store, probe: probeDir, report, storeKey, ran, controls: controls.probeDirs };
  } finally {
    await lock.release();
  }
}
