/**
 * The LOO ridge sweep of `spacetime-lens probe` against scikit-learn RidgeCV (cv=None, exact LOO) on the same
 * arrays, in one run: n train rows (+ a test set for R²), 2 targets, 10 alphas, d from --d.
 * Data: float32 Gaussian activations with uneven feature scales and a common offset, targets a planted linear signal
 * plus noise; written once to a temp dir (x.f32, y.f64) and read by both sides.
 *
 * Usage: npx tsx bench/probe/ridge-loo.bench.ts [--n 30000] [--d 576,2048,4096] [--test 5000] [--repeats 2]
 *        [--skip-sklearn]
 * Each side fits `repeats` times on the same arrays in one process and the best is the figure (the first, cold fit
 * is printed too): `spacetime-lens probe` fits every layer of a store in one process, so the per-fit cost a user
 * pays is the warm one; scikit-learn gets the same treatment.
 * Timings on a shared 2-core machine are noisy: compare the ratios, and re-run when the machine is quiet.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logspace } from '../../src/probe/alphas.js';
import { r2Column } from '../../src/probe/metrics.js';
import { ridgeLoo, ridgePredict } from '../../src/probe/ridge.js';
import { runPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : fallback;
};
const nTrain = Number(flag('n', '30000'));
const nTest = Number(flag('test', '5000'));
const dims = flag('d', '576,2048').split(',').map(Number);
const skipSklearn = args.includes('--skip-sklearn');
const repeats = Math.max(1, Number(flag('repeats', '2')));
const t = 2;
const alphas = logspace(0, 5, 10);
const here = dirname(fileURLToPath(import.meta.url));

/** Reproducible normals: an LCG mixed with xorshift32 for uniforms, Box–Muller for normals. */
function normals(count: number, seed: number): Float64Array {
  let a = Math.imul(seed + 1, 2654435761) >>> 0;
  let b = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const u = () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    b ^= b << 13;
    b ^= b >>> 17;
    b ^= b << 5;
    b >>>= 0;
    return ((a ^ b) >>> 0) / 2 ** 32 + 2 ** -33;
  };
  const out = new Float64Array(count);
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const th = 2 * Math.PI * u();
    out[i] = r * Math.cos(th);
    if (i + 1 < count) out[i + 1] = r * Math.sin(th);
  }
  return out;
}

function makeData(n: number, d: number) {
  const z = normals(n * d, d);
  const scale = normals(d, d + 1).map((v) => Math.exp(0.5 * v));
  const offset = normals(d, d + 2).map((v) => 3 * v);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < d; c++) x[i * d + c] = z[i * d + c]! * scale[c]! + offset[c]!;
  const w = normals(d * t, d + 3).map((v) => v / Math.sqrt(d));
  const noise = normals(n * t, d + 4);
  const y = new Float64Array(n * t);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < t; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += (x[i * d + c]! - offset[c]!) * w[c * t + j]!;
      y[i * t + j] = 50 * s + 30 * noise[i * t + j]! + (j === 0 ? 10 : 40);
    }
  }
  return { x, y };
}

function r2(y: Float64Array, pred: Float64Array, rows: number[]): number {
  let s = 0;
  for (let j = 0; j < t; j++) {
    s += r2Column(
      rows.map((i) => y[i * t + j]!),
      rows.map((i) => pred[i * t + j]!),
    );
  }
  return s / t;
}

const run = new BenchRun('probe');
console.log(`ridge LOO sweep: n_train ${nTrain}, n_test ${nTest}, ${t} targets, ${alphas.length} alphas`);
for (const d of dims) {
  const n = nTrain + nTest;
  const dir = mkdtempSync(join(tmpdir(), 'stl-bench-probe-'));
  try {
    const { x, y } = makeData(n, d);
    writeFileSync(join(dir, 'x.f32'), x);
    writeFileSync(join(dir, 'y.f64'), y);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ n, d, t, nTrain, alphas, repeats }));
    const rows = Array.from({ length: nTrain }, (_, i) => i);
    const testRows = Array.from({ length: nTest }, (_, i) => nTrain + i);
    let ours = Infinity;
    let oursCpu = Infinity;
    let first = 0;
    let timings: Record<string, number> = {};
    let fit!: Awaited<ReturnType<typeof ridgeLoo>>;
    for (let rep = 0; rep < repeats; rep++) {
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      const phases: Record<string, number> = {};
      fit = await ridgeLoo({ data: x, rows: n, cols: d }, y, t, alphas, { rows, timings: phases });
      const wall = (performance.now() - start) / 1000;
      const cpu = process.cpuUsage(cpuStart);
      if (rep === 0) first = wall;
      if (wall < ours) [ours, timings] = [wall, phases];
      oursCpu = Math.min(oursCpu, (cpu.user + cpu.system) / 1e6);
    }
    const pred = await ridgePredict(fit, { data: x, rows: n, cols: d });
    const oursR2 = r2(y, pred, testRows);
    console.log(
      `d=${d}: ours ${ours.toFixed(2)} s best of ${repeats} (first ${first.toFixed(2)} s; CPU ${oursCpu.toFixed(1)} s, ${fit.route}), alpha ${fit.alpha.toPrecision(6)} [${fit.alphaIndex}], ` +
        `test R² ${oursR2.toFixed(8)}\n  phases: ${Object.entries(timings)
          .map(([k, v]) => `${k} ${v.toFixed(2)} s`)
          .join(', ')}`,
    );
    if (skipSklearn) continue;
    const py = runPython(join(here, 'sklearn_ridgecv.py'), [dir]);
    const ref = JSON.parse(py.stdout.trim().split('\n').pop()!) as {
      seconds: number;
      firstSeconds: number;
      cpuSeconds: number;
      alpha: number;
      alphaIndex: number;
      looMse: number[];
      r2Test: number;
    };
    const looRel = Math.max(...ref.looMse.map((v, i) => Math.abs(fit.looMse[i]! - v) / Math.abs(v)));
    console.log(
      `d=${d}: sklearn ${ref.seconds.toFixed(2)} s best of ${repeats} (first ${ref.firstSeconds.toFixed(2)} s; CPU ${ref.cpuSeconds.toFixed(1)} s), alpha ${ref.alpha.toPrecision(6)} [${ref.alphaIndex}], ` +
        `test R² ${ref.r2Test.toFixed(8)}\n` +
        `d=${d}: speed ratio sklearn/ours = ${(ref.seconds / ours).toFixed(2)}x wall, ` +
        `${(ref.cpuSeconds / oursCpu).toFixed(2)}x CPU; same alpha: ` +
        `${ref.alphaIndex === fit.alphaIndex}; |ΔR²|/R² = ${(Math.abs(oursR2 - ref.r2Test) / Math.abs(ref.r2Test)).toExponential(2)}; ` +
        `max rel. LOO-MSE difference ${looRel.toExponential(2)}`,
    );
    run.result({
      benchmark: `LOO ridge sweep, n ${nTrain}, d ${d}, ${alphas.length} alphas, ${t} targets`,
      unit: 's',
      ours,
      reference: ref.seconds,
      referenceName: 'scikit-learn RidgeCV (exact LOO)',
      ratio: ref.seconds / ours,
      note:
        `best of ${repeats} fits (first: ours ${first.toFixed(2)} s, sklearn ${ref.firstSeconds.toFixed(2)} s); CPU s ours ${oursCpu.toFixed(1)} / sklearn ${ref.cpuSeconds.toFixed(1)}; same alpha ${ref.alphaIndex === fit.alphaIndex}; ` +
        `LOO-MSE rel. diff ${looRel.toExponential(1)}`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
run.finish();
