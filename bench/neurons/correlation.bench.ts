/**
 * One layer of the `neurons` correlation search (docs/method.md#neurons) against NumPy/SciPy on the same arrays, in one run:
 * gain-free RMSNorm, the neuron-proxy GEMM (n × d by d × m), average ranks of every proxy column and Spearman with
 * t targets. Shapes default to SmolLM2-135M's MLP (d 576, d_mlp 1536) on 4000 entities.
 *
 * Usage: npx tsx bench/neurons/correlation.bench.ts [--n 4000] [--d 576] [--m 1536]
 * Timings on the shared 2-core machine are noisy (other engineers run tests): compare ratios, re-run when quiet.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { matmulTransB, rankTarget, rmsNormRows, spearmanColumns } from '../../src/neurons/neurons-math.js';
import { runPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return Number(i >= 0 ? args[i + 1]! : fallback);
};
const n = flag('n', '4000');
const d = flag('d', '576');
const m = flag('m', '1536');
const t = 4;
const run = new BenchRun('neurons');
let s = 7;
const rand = () => {
  s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
  return s / 4294967296 - 0.5;
};
const x = Float32Array.from({ length: n * d }, rand);
const w = Float32Array.from({ length: m * d }, () => rand() * 0.1);
const y = Float64Array.from({ length: n * t }, (_, i) =>
  i % t === 0 ? x[(i / t) * d]! * 100 + rand() : rand() * 360,
);
const dir = mkdtempSync(join(tmpdir(), 'bench-neurons-'));
writeFileSync(join(dir, 'x.f32'), x);
writeFileSync(join(dir, 'w.f32'), w);
writeFileSync(join(dir, 'y.f64'), y);

async function ours(): Promise<{ seconds: number; sum: number; max: number }> {
  const start = performance.now();
  const a = rmsNormRows(x, n, d);
  const targets = Array.from({ length: t }, (_, j) =>
    rankTarget(
      `t${j}`,
      Float64Array.from({ length: n }, (_, i) => y[i * t + j]!),
    ),
  );
  const p = await matmulTransB(a, w, n, d, m);
  const corr = spearmanColumns(p, n, m, targets);
  const seconds = (performance.now() - start) / 1000;
  let sum = 0;
  let max = 0;
  for (const c of corr) {
    if (Number.isFinite(c)) {
      sum += Math.abs(c);
      max = Math.max(max, Math.abs(c));
    }
  }
  return { seconds, sum, max };
}

await ours(); // warm-up: ORT session creation
const mine = await ours();
let py: ReturnType<typeof runPython>;
try {
  py = runPython(join(dirname(fileURLToPath(import.meta.url)), 'scipy_correlation.py'), [
    dir,
    `${n}`,
    `${d}`,
    `${m}`,
    `${t}`,
  ]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const [pySeconds, pySum, pyMax] = py.stdout.trim().split(' ').map(Number) as [number, number, number];
console.log(`n ${n}, d ${d}, d_mlp ${m}, ${t} targets (one layer, one weight type)`);
console.log(
  `spacetime-lens: ${mine.seconds.toFixed(3)} s   checksum ${mine.sum.toFixed(6)} max |rho| ${mine.max.toFixed(6)}`,
);
console.log(
  `numpy/scipy:    ${pySeconds.toFixed(3)} s   checksum ${pySum.toFixed(6)} max |rho| ${pyMax.toFixed(6)}`,
);
console.log(`ratio (scipy time / ours): ${(pySeconds / mine.seconds).toFixed(2)}x`);
run.result({
  benchmark: `correlation search, one layer: n ${n}, d ${d}, d_mlp ${m}, ${t} targets`,
  unit: 's',
  ours: mine.seconds,
  reference: pySeconds,
  referenceName: 'NumPy GEMM + scipy.stats.rankdata',
  ratio: pySeconds / mine.seconds,
  note: `checksums ${mine.sum.toFixed(4)} / ${pySum.toFixed(4)}`,
});
run.finish();
