/**
 * The benchmark sweep, one bench after another, for a quiet machine (`bench/run-all` runs this file):
 *
 *   bench/run-all [--mode goals|sweep|all] [--budget MINUTES] [--only forward,probe,...] [--out DIR]
 *                 [--wait-quiet SECONDS] [--write-readme [--allow-loaded]] [--list]
 *
 * Modes: `goals` runs the steps that measure issue 24's goals (extract on the SmolLM2 shape and on the Llama-2-7B
 * 4-layer bf16 slice, 2,000 world_place rows, coords prompt; the forward pass; the probe against RidgeCV at n 30k,
 * d 2,048; SAE training 16k x 2,048 TopK k 32); `sweep` (default) runs those first, then every other bench that
 * replaces a withdrawn figure, in about 35 minutes on a quiet 2-core machine; `all` adds the slow ones (controls).
 * With --budget M, a step that is not a goal is skipped (and named) when its expected minutes no longer fit in
 * what is left of M; goal steps always run.
 *
 * Every bench appends its RESULT lines to DIR/summary.jsonl (STL_BENCH_SUMMARY; fields in bench/lib/run.ts: ours,
 * reference, ratio, roofline share, the reference's BLAS kernel, CPU, load before/after, date, commit, step) and
 * its output to DIR/NAME.log (default DIR: bench/results/<UTC date-time>, git-ignored); at the end DIR/table.md and
 * DIR/results.json hold the table and the goals (machine-readable). Before each step the sweep waits up to
 * --wait-quiet seconds (default 300) until no other process is running (a 3-second sample of the run queue) and
 * the 1-minute load is under 3. --write-readme writes the table into bench/README.md and the JSON into
 * bench/results.json (bench/lib/summary.ts): rows measured at a 1-minute load >= 3 are refused (named under the
 * table) unless --allow-loaded, which shows them flagged. Re-running some steps with --out DIR --only ... adds
 * their lines to the same summary (the latest quiet line of each benchmark wins). A failing bench is reported and
 * the sweep goes on; the exit status is 1 when one failed.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOADED, loadavg } from './lib/run.js';
import { readSummary, resultsJson, tables, writeReadmeTable } from './lib/summary.js';

type Tier = 'goal' | 'sweep' | 'slow';
interface Step {
  name: string;
  /** The script and its arguments, run as `node --import tsx SCRIPT ARGS`. */
  args: string[];
  /** Expected wall minutes on a quiet 2-core machine (for planning; from the loaded development runs, scaled). */
  minutes: number;
  tier: Tier;
}

const STEPS: Step[] = [
  { name: 'forward', args: ['bench/forward/bench.ts', 'all'], minutes: 2.5, tier: 'goal' },
  { name: 'extract-smollm', args: ['bench/extract/bench.ts', '--rows', '2000'], minutes: 3, tier: 'goal' },
  {
    name: 'extract-7b',
    args: ['bench/extract/bench.ts', '--model', '7b-slice', '--rows', '2000'],
    minutes: 9,
    tier: 'goal',
  },
  { name: 'probe', args: ['bench/probe/ridge-loo.bench.ts', '--d', '576,2048'], minutes: 2.5, tier: 'goal' },
  { name: 'sae', args: ['bench/sae/bench.ts', '--size', 'full'], minutes: 3, tier: 'goal' },
  {
    name: 'extract-smollm-empty',
    args: ['bench/extract/bench.ts', '--rows', '2000', '--prompt', 'empty'],
    minutes: 2.5,
    tier: 'sweep',
  },
  { name: 'experiments', args: ['bench/experiments/bench.ts'], minutes: 1, tier: 'sweep' },
  { name: 'neurons', args: ['bench/neurons/correlation.bench.ts'], minutes: 0.5, tier: 'sweep' },
  { name: 'store', args: ['bench/store/bench.ts'], minutes: 1, tier: 'sweep' },
  { name: 'data', args: ['bench/data/load.ts'], minutes: 1, tier: 'sweep' },
  { name: 'report', args: ['bench/report/bench.ts'], minutes: 1.5, tier: 'sweep' },
  { name: 'loading', args: ['bench/loading/tokenize.ts'], minutes: 0.5, tier: 'sweep' },
  { name: 'controls', args: ['bench/controls/surface.bench.ts'], minutes: 15, tier: 'slow' },
];
const MODES: Record<string, Tier[]> = {
  goals: ['goal'],
  sweep: ['goal', 'sweep'],
  all: ['goal', 'sweep', 'slow'],
};

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const mode = flag('mode') ?? 'sweep';
if (!MODES[mode]) throw new Error(`--mode takes ${Object.keys(MODES).join(', ')}, got ${mode}`);
const only = flag('only')?.split(',');
const unknown = only?.filter((n) => !STEPS.some((s) => s.name === n)) ?? [];
if (unknown.length)
  throw new Error(`unknown step(s) ${unknown.join(', ')}; steps: ${STEPS.map((s) => s.name).join(', ')}`);
const steps = STEPS.filter((s) => (only ? only.includes(s.name) : MODES[mode]!.includes(s.tier)));
const budget = flag('budget') === undefined ? Infinity : Number(flag('budget'));
if (!(budget > 0)) throw new Error(`--budget takes minutes > 0, got ${flag('budget')}`);
const minutes = (list: Step[]) => list.reduce((t, s) => t + s.minutes, 0);
if (argv.includes('--list')) {
  for (const s of steps)
    console.log(
      `${s.name.padEnd(22)} ${s.tier.padEnd(6)} ~${s.minutes} min  node --import tsx ${s.args.join(' ')}`,
    );
  console.log(`total ~${minutes(steps)} min (mode ${only ? `--only ${only.join(',')}` : mode})`);
  process.exit(0);
}
const root = join(import.meta.dirname, '..');
const out =
  flag('out') ?? join(root, 'bench', 'results', new Date().toISOString().slice(0, 19).replace(/:/g, ''));
mkdirSync(out, { recursive: true });
const summary = join(out, 'summary.jsonl');
const waitQuiet = Number(flag('wait-quiet') ?? 300);
const allowLoaded = argv.includes('--allow-loaded');

/** Runnable processes other than the sampler, averaged over `ms` (procs_running in /proc/stat). */
async function othersRunning(ms = 3000): Promise<number> {
  let sum = 0;
  let n = 0;
  for (const until = Date.now() + ms; Date.now() < until; n++) {
    const running = /procs_running (\d+)/.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    sum += Math.max(0, Number(running) - 1);
    await new Promise((r) => setTimeout(r, 100));
  }
  return sum / Math.max(1, n);
}

/** Waits (up to --wait-quiet seconds) until nothing else runs and the 1-minute load is under LOADED. */
async function quiet(): Promise<string> {
  const until = Date.now() + waitQuiet * 1000;
  for (;;) {
    const others = await othersRunning();
    const load = loadavg()[0];
    const ok = others < 0.5 && load < LOADED;
    if (ok || Date.now() >= until)
      return `load ${loadavg().join(' ')}, ${others.toFixed(1)} other processes running${ok ? '' : ' -- NOT QUIET'}`;
    await new Promise((r) => setTimeout(r, 5000));
  }
}

function runStep(s: Step): Promise<number | null> {
  const log = createWriteStream(join(out, `${s.name}.log`));
  const child = spawn(process.execPath, ['--import', 'tsx', ...s.args], {
    cwd: root,
    env: { ...process.env, STL_BENCH_SUMMARY: summary, STL_BENCH_STEP: s.name },
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

const started = performance.now();
const elapsed = () => (performance.now() - started) / 60000;
console.log(
  `sweep: ${steps.map((s) => s.name).join(', ')} (~${minutes(steps)} min expected); results in ${out}`,
);
const failed: string[] = [];
const skipped: string[] = [];
const ran: { name: string; exit: number | null; minutes: number; expected: number; before: string }[] = [];
for (const s of steps) {
  if (s.tier !== 'goal' && elapsed() + s.minutes > budget) {
    skipped.push(s.name);
    console.log(`\n=== ${s.name}: skipped (~${s.minutes} min does not fit in the ${budget} min budget)`);
    continue;
  }
  const before = await quiet();
  const t0 = performance.now();
  console.log(`\n=== ${s.name}: node --import tsx ${s.args.join(' ')} (${before})`);
  const code = await runStep(s);
  const took = (performance.now() - t0) / 60000;
  console.log(`=== ${s.name}: exit ${code} after ${took.toFixed(1)} min (expected ~${s.minutes})`);
  ran.push({ name: s.name, exit: code, minutes: took, expected: s.minutes, before });
  if (code !== 0) failed.push(s.name);
}
console.log(
  `\nsweep took ${elapsed().toFixed(1)} min; summary: ${summary}` +
    `${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}${skipped.length ? `; skipped: ${skipped.join(', ')}` : ''}`,
);
let lines: ReturnType<typeof readSummary> = [];
try {
  lines = readSummary(summary);
} catch {
  console.log('no results were written');
}
const t = tables(lines, { allowLoaded });
writeFileSync(join(out, 'table.md'), `${t.markdown}\n`);
const json = {
  mode,
  only,
  budget,
  minutes: elapsed(),
  steps: ran,
  failed,
  skipped,
  ...resultsJson(t, summary),
};
writeFileSync(join(out, 'results.json'), `${JSON.stringify(json, null, 1)}\n`);
console.log(`\n${t.markdown.split('\n\n').slice(1).join('\n\n')}`);
if (argv.includes('--write-readme') && lines.length) {
  const readme = join(root, 'bench', 'README.md');
  const w = writeReadmeTable(summary, readme, { allowLoaded, json: join(root, 'bench', 'results.json') });
  console.log(
    `wrote ${w.rows.length} rows into ${readme} and bench/results.json (${w.refused.length} refused as loaded)`,
  );
}
if (failed.length) process.exitCode = 1;
