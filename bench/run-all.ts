/**
 * The whole benchmark sweep, one bench after another, for a quiet machine:
 *
 *   node --import tsx bench/run-all.ts [--only forward,extract-smollm,...] [--out DIR] [--wait-quiet SECONDS]
 *                                      [--list] [--write-readme]
 *
 * Every bench appends its RESULT lines to DIR/summary.jsonl (STL_BENCH_SUMMARY; fields in bench/lib/run.ts: ours,
 * reference, ratio, roofline share, the reference's BLAS kernel, CPU, load before/after, date, commit) and its
 * full output to DIR/NAME.log (default DIR: bench/results/<UTC date-time>, git-ignored). --wait-quiet S waits up to
 * S seconds before each bench for the 1-minute load to drop under 1 (a run that still starts loaded is flagged in
 * its lines). --write-readme then writes the table into bench/README.md (bench/table.ts). A failing bench is
 * reported and the sweep goes on. `--list` prints the steps with their expected times on a quiet 2-core machine.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from './lib/run.js';
import { writeReadmeTable } from './lib/summary.js';

interface Step {
  name: string;
  /** The script and its arguments, run as `node --import tsx SCRIPT ARGS`. */
  args: string[];
  /** Expected wall minutes on a quiet 2-core machine (for planning; measured where noted in bench/README.md). */
  minutes: number;
}

const STEPS: Step[] = [
  { name: 'forward', args: ['bench/forward/bench.ts', 'all'], minutes: 2.5 },
  { name: 'extract-smollm', args: ['bench/extract/bench.ts', '--rows', '2000'], minutes: 3 },
  {
    name: 'extract-smollm-empty',
    args: ['bench/extract/bench.ts', '--rows', '2000', '--prompt', 'empty'],
    minutes: 2,
  },
  {
    name: 'extract-7b',
    args: ['bench/extract/bench.ts', '--model', '7b-slice', '--rows', '2000'],
    minutes: 12,
  },
  { name: 'probe', args: ['bench/probe/ridge-loo.bench.ts', '--d', '576,2048'], minutes: 2 },
  { name: 'sae', args: ['bench/sae/bench.ts', '--size', 'full'], minutes: 3 },
  { name: 'experiments', args: ['bench/experiments/bench.ts'], minutes: 1 },
  { name: 'neurons', args: ['bench/neurons/correlation.bench.ts'], minutes: 0.5 },
  { name: 'store', args: ['bench/store/bench.ts'], minutes: 1 },
  { name: 'data', args: ['bench/data/load.ts'], minutes: 1 },
  { name: 'report', args: ['bench/report/bench.ts'], minutes: 1.5 },
  { name: 'loading', args: ['bench/loading/tokenize.ts'], minutes: 0.5 },
  { name: 'controls', args: ['bench/controls/surface.bench.ts'], minutes: 15 },
];

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const only = flag('only')?.split(',');
const unknown = only?.filter((n) => !STEPS.some((s) => s.name === n)) ?? [];
if (unknown.length)
  throw new Error(`unknown step(s) ${unknown.join(', ')}; steps: ${STEPS.map((s) => s.name).join(', ')}`);
const steps = STEPS.filter((s) => !only || only.includes(s.name));
if (argv.includes('--list')) {
  for (const s of steps)
    console.log(`${s.name.padEnd(22)} ~${s.minutes} min  node --import tsx ${s.args.join(' ')}`);
  console.log(`total ~${steps.reduce((t, s) => t + s.minutes, 0)} min`);
  process.exit(0);
}
const root = join(import.meta.dirname, '..');
const out =
  flag('out') ?? join(root, 'bench', 'results', new Date().toISOString().slice(0, 19).replace(/:/g, ''));
mkdirSync(out, { recursive: true });
const summary = join(out, 'summary.jsonl');
const waitQuiet = Number(flag('wait-quiet') ?? 0);

async function quiet(): Promise<void> {
  const until = Date.now() + waitQuiet * 1000;
  while (loadavg()[0] >= 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10_000));
}

function runStep(s: Step): Promise<number | null> {
  const log = createWriteStream(join(out, `${s.name}.log`));
  const child = spawn(process.execPath, ['--import', 'tsx', ...s.args], {
    cwd: root,
    env: { ...process.env, STL_BENCH_SUMMARY: summary },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (b: Buffer) => {
      process.stdout.write(b);
      log.write(b);
    });
  }
  return new Promise((done) => child.on('close', (code) => log.end(() => done(code))));
}

const failed: string[] = [];
for (const s of steps) {
  await quiet();
  const t0 = performance.now();
  console.log(`\n=== ${s.name}: node --import tsx ${s.args.join(' ')} (load ${loadavg().join(' ')})`);
  const code = await runStep(s);
  console.log(`=== ${s.name}: exit ${code} after ${((performance.now() - t0) / 60000).toFixed(1)} min`);
  if (code !== 0) failed.push(s.name);
}
console.log(`\nsummary: ${summary}${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`);
if (argv.includes('--write-readme')) {
  const readme = join(root, 'bench', 'README.md');
  console.log(`wrote the table of ${writeReadmeTable(summary, readme)} benchmarks into ${readme}`);
}
if (failed.length) process.exitCode = 1;
