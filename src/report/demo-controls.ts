/**
 * The demo's surface-form baselines beside GloVe (docs/controls.md): character n-gram TF-IDF always (no tokenizer),
 * token TF-IDF and bag-of-tokens when the shipped tokenizer package is installed. Each is a store + probe under
 * <out>/controls/<kind>/; returns the probe directories for the report. The demo keeps rank-DEMO_SURFACE_RANK
 * projections so that it stays short (about 80 s on a 2-core machine): they understate the full sparse baselines a little (`run` and
 * `paper` store the exact token matrices), which only flatters GloVe, never the baselines.
 */
import { join } from 'node:path';
import type { EntityDataset } from '../data/types.js';
import { buildSurfaceStore, SURFACE_KINDS } from '../extract/surface.js';
import { probeStore, writeProbeResults } from '../probe/index.js';
import { UserError } from '../util/errors.js';

/** Columns kept by the demo's surface baselines (the exact token matrices take minutes to probe). */
export const DEMO_SURFACE_RANK = 1024;

export async function demoSurfaceBaselines(
  dataset: EntityDataset,
  out: string,
  log: (line: string) => void,
): Promise<string[]> {
  const dirs: string[] = [];
  for (const kind of SURFACE_KINDS) {
    const model = `surface:${kind}:${DEMO_SURFACE_RANK}`;
    const store = join(out, 'controls', kind, 'store');
    try {
      await buildSurfaceStore(dataset, { model, out: store, overwrite: true });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      log(`              ${model} skipped: ${err.message}`);
      continue;
    }
    const probeDir = join(out, 'controls', kind, 'probe');
    const run = await probeStore(store);
    await writeProbeResults(probeDir, run);
    log(`              ${model}: test R² ${run.results.layers[0]!.test.r2.toFixed(3)}`);
    dirs.push(probeDir);
  }
  return dirs;
}
