/**
 * Dataset loading speed: loadDataset (csv-parse + full validation + targets + split) vs the Python reference
 * (bench/data/reference.py: csv module + float() / np.datetime64), on the paper CSVs, in one run.
 * Usage: npx tsx bench/data/load.ts [--runs 5]
 * Prints median wall and CPU time per dataset (and our first, cold, load) and the Python/ours ratios.
 * The machine has 2 cores shared with other jobs: timings are noisy; re-run when quieter and compare ratios.
 */
import { join } from 'node:path';
import { loadDataset } from '../../src/data/index.js';
import { sharedDir } from '../../src/util/paths.js';
import { runPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';

const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
const shared = sharedDir();
if (!shared) throw new Error('needs the shared/ folder with the paper CSVs');
const paper = join(shared, 'data', 'paper');
const names = ['world_place', 'us_place', 'nyc_place', 'art'];
const run = new BenchRun('data');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const ours: Record<string, { wall: number[]; cpu: number[] }> = {};
for (const name of names) {
  ours[name] = { wall: [], cpu: [] };
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    const ds = await loadDataset(join(paper, `${name}.csv`));
    const used = process.cpuUsage(c);
    ours[name].wall.push((performance.now() - t) / 1000);
    ours[name].cpu.push((used.user + used.system) / 1e6);
    if (ds.n === 0) throw new Error('empty');
  }
}
const py = runPython(join(import.meta.dirname, 'reference.py'), [paper, String(runs)]);
const ref = JSON.parse(py.stdout) as Record<string, { wall: number[]; cpu: number[] }>;

const ms = (s: number) => (s * 1000).toFixed(0);
console.log(`runs per dataset: ${runs}`);
console.log(
  'medians in ms; CPU = user + system time of the process (less sensitive to other jobs than wall time)',
);
console.log(
  'dataset       ours wall (first)  python wall  wall ratio  ours CPU  python CPU  CPU ratio (python/ours)',
);
for (const name of names) {
  const [ow, pw] = [median(ours[name].wall), median(ref[name].wall)];
  const [oc, pc] = [median(ours[name].cpu), median(ref[name].cpu)];
  console.log(
    `${name.padEnd(12)}  ${`${ms(ow)} (${ms(ours[name].wall[0])})`.padStart(17)}  ${ms(pw).padStart(11)}  ` +
      `${(pw / ow).toFixed(2).padStart(10)}  ${ms(oc).padStart(8)}  ${ms(pc).padStart(10)}  ${(pc / oc).toFixed(2).padStart(9)}`,
  );
  run.result({
    benchmark: `load ${name}.csv (median of ${runs})`,
    unit: 's',
    ours: ow,
    reference: pw,
    referenceName: 'Python csv + float() / np.datetime64',
    ratio: pw / ow,
    note: `CPU ratio ${(pc / oc).toFixed(2)}`,
  });
}
run.finish();
