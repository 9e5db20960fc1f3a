import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadDataset } from '../data/index.js';
import { canonicalPrompt } from '../data/prompts.js';
import { type ExtractOptions, extract, extractStatic, isStaticModel } from '../extract/index.js';
import { formatResultsTable, probeStore, writeProbeResults } from '../probe/index.js';
import { loadReportInputs, writeReport } from '../report/index.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { pathExists } from '../util/fsx.js';
import { runControlsFor } from './controls.js';

export interface RunPipelineOptions extends Omit<ExtractOptions, 'prompt' | 'out'> {
  /** Prompt variant (default: the dataset's canonical prompt, METHOD §2). */
  prompt?: string;
  /** Output directory (default ./spacetime-lens-runs/<model>/<dataset>/<prompt>). */
  out?: string;
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
  /** Which steps ran (the others were up to date). */
  ran: { extract: boolean; probe: boolean; report: boolean };
  /** Probe directories of the controls (surface baselines, random-init twin). */
  controls: string[];
}

/** A file-system-friendly name for a model id or path (`org--name`). */
export function modelSlug(model: string): string {
  const trimmed = model.replace(/^static:/, 'static-').replace(/[\\/]+$/, '');
  return (trimmed.split(/[\\/]/).slice(-2).join('--') || 'model').replace(/[^A-Za-z0-9._-]+/g, '_');
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
 * `spacetime-lens run`: extraction, probing and the HTML report under one directory. Each step is skipped when its
 * output exists and is newer than its input; an interrupted extraction resumes from its chunks. An existing store
 * made with other settings (model, dataset, prompt, layers...) is an error rather than silently reused.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const dataset = typeof options.dataset === 'string' ? await loadDataset(options.dataset) : options.dataset;
  const prompt = options.prompt ?? canonicalPrompt(dataset);
  const out = resolve(
    options.out ?? join('spacetime-lens-runs', modelSlug(options.model), dataset.name, prompt),
  );
  const store = join(out, 'store');
  const probeDir = join(out, 'probe');
  const report = join(out, 'report.html');
  const manifest = join(store, 'manifest.json');
  const results = join(probeDir, 'results.json');
  const ran = { extract: false, probe: false, report: false };
  await mkdir(out, { recursive: true });

  if (await pathExists(manifest)) {
    await checkStoreMatches(store, options, dataset.source.sha256, prompt);
    log(`extract: ${store} is done, skipping`);
  } else if (isStaticModel(options.model)) {
    const r = await extractStatic({
      model: options.model,
      dataset,
      out: store,
      prompt,
      ...(options.limit !== undefined ? { limit: options.limit } : {}),
    });
    if (r.uncovered) log(`static: ${r.uncovered} of ${r.n} entities had no known word (zero vectors)`);
    ran.extract = true;
  } else {
    await extract({ ...options, dataset, prompt, out: store, resume: true });
    ran.extract = true;
  }

  if (await upToDate(results, [manifest])) {
    log(`probe: ${probeDir} is up to date, skipping`);
  } else {
    const run = await probeStore(store, { ...(options.paperCompat ? { paperCompat: true } : {}) });
    await mkdir(probeDir, { recursive: true });
    await writeProbeResults(probeDir, run);
    log(formatResultsTable(run.results));
    ran.probe = true;
  }

  const controls = await runControlsFor(options, { dataset, prompt, out, store, probeDir, log });
  if (!controls.ran && (await upToDate(report, [results]))) {
    log(`report: ${report} is up to date, skipping`);
  } else {
    const inputs = await loadReportInputs([probeDir, ...controls.probeDirs], { stores: [store] });
    await writeReport(report, inputs, {});
    ran.report = true;
  }
  return { out, store, probe: probeDir, report, ran, controls: controls.probeDirs };
}

/** A reused store must be the one this command would have made. */
async function checkStoreMatches(
  store: string,
  options: RunPipelineOptions,
  datasetSha: string,
  prompt: string,
): Promise<void> {
  const m = (await openStore(store)).manifest;
  const problems: string[] = [];
  if (m.model.id !== options.model) problems.push(`model ${m.model.id}`);
  if (m.dataset.sha256 !== datasetSha) problems.push(`dataset ${m.dataset.name} (another file version)`);
  if (m.prompt.name !== prompt) problems.push(`prompt ${m.prompt.name}`);
  if (problems.length) {
    throw new UserError(
      `${store} was made with other settings (${problems.join(', ')}); choose another --out or delete it`,
    );
  }
}
