import { join, resolve } from 'node:path';
import { loadDataset } from '../data/index.js';
import { canonicalPrompt } from '../data/prompts.js';
import { UserError } from '../util/errors.js';
import { type ExtractOptions, extract } from './extract.js';
import { pathExists } from './work.js';

export interface RunOptions extends Omit<ExtractOptions, 'prompt' | 'out'> {
  prompt?: string;
  out?: string;
  log?: (line: string) => void;
}

export interface RunResult {
  out: string;
  store: string;
  probe: string;
  report: string;
}

/** A file-system-friendly name for a model id or path. */
export function modelSlug(model: string): string {
  const trimmed = model.replace(/[\\/]+$/, '');
  return (trimmed.split(/[\\/]/).slice(-2).join('--') || 'model').replace(/[^A-Za-z0-9._-]+/g, '_');
}

/**
 * `spacetime-lens run`: extraction, probing and the report under one directory, each step skipped when its output
 * already exists (an interrupted extraction resumes).
 */
export async function runPipeline(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const dataset = typeof options.dataset === 'string' ? await loadDataset(options.dataset) : options.dataset;
  const prompt = options.prompt ?? canonicalPrompt(dataset);
  const out = resolve(
    options.out ?? join('spacetime-lens-runs', modelSlug(options.model), dataset.name, prompt),
  );
  const store = join(out, 'store');
  const probe = join(out, 'probe');
  const report = join(out, 'report.html');
  if (await pathExists(join(store, 'manifest.json'))) {
    log(`store: ${store} exists, skipping extraction`);
  } else {
    await extract({ ...options, dataset, prompt, out: store, resume: true });
  }
  throw new UserError(`probing is not wired yet; the store is at ${store} (${probe}, ${report})`);
}
