/**
 * Benchmarks the experiments' heavy parts against the Python reference in the same run, on the same arrays:
 *   - MLP probe training (ORT forward/backward/AdamW graph) vs PyTorch (nn.Linear + AdamW), same sizes and steps;
 *   - PCA (subspace iteration to convergence) vs torch.pca_lowrank(niter=2) (the authors' call, approximate) and
 *     NumPy eigh of the covariance (exact).
 * Usage: npx tsx bench/experiments/bench.ts [--n 20000] [--d 1024] [--k 100] [--epochs 3] [--skip-mlp] [--skip-pca]
 * Timings on a shared 2-core machine are noisy: run twice, compare the ratios, not the absolute numbers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';
import { gatherRowsForBench, initMlp, MlpTrainer, pca, Rng } from './lib.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const n = flag('n', 20000);
const d = flag('d', 1024);
const k = flag('k', 100);
const epochs = flag('epochs', 3);
const hidden = 256;
const batch = 512;
const t = 2;
const runMlp = !args.includes('--skip-mlp');
const runPca = !args.includes('--skip-pca');

const run = new BenchRun('experiments');
const rng = new Rng(1, 'bench');
const gauss = () => rng.normal();
// activations with a decaying spectrum (like real layers) and a planted target
const x = new Float32Array(n * d);
const scales = Float64Array.from({ length: d }, (_, j) => 1 / Math.sqrt(1 + j));
for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = gauss() * scales[j]! + 0.5;
const y = new Float64Array(n * t);
for (let i = 0; i < n; i++) {
  y[i * t] = Math.abs(x[i * d]! + x[i * d + 3]!);
  y[i * t + 1] = x[i * d + 1]! - x[i * d + 7]!;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-exp-'));
try {
  writeFileSync(join(dir, 'x.bin'), new Uint8Array(x.buffer));
  writeFileSync(join(dir, 'y.bin'), new Uint8Array(y.buffer));
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({
      n,
      d,
      t,
      ...(runMlp && { mlp: { hidden, epochs, batch } }),
      ...(runPca && { pca: { k } }),
    }),
  );
  console.log(`n=${n} d=${d} (MLP: hidden ${hidden}, batch ${batch}, ${epochs} epochs; PCA: k=${k})`);
  const py = runPython(join(import.meta.dirname, 'reference.py'), [dir]);
  const ref = JSON.parse(py.stdout.trim().split('\n').pop()!);

  if (runMlp) {
    const trainer = new MlpTrainer(initMlp(d, hidden, t, new Rng(0, 'init')), {
      lr: 1e-3,
      weightDecay: 0.01,
    });
    const yf = Float32Array.from(y);
    const order = new Rng(0, 'shuffle');
    const start = performance.now();
    let steps = 0;
    for (let e = 0; e < epochs; e++) {
      const perm = order.permutation(n);
      for (let s = 0; s < n; s += batch) {
        const rows = perm.subarray(s, Math.min(n, s + batch));
        await trainer.step(
          gatherRowsForBench(x, d, rows, { into: new Float32Array(rows.length * d) }),
          gatherRowsForBench(yf, t, rows, { into: new Float32Array(rows.length * t) }),
          rows.length,
        );
        steps++;
      }
    }
    const ours = (performance.now() - start) / 1000;
    console.log(
      `MLP training: ours ${ours.toFixed(2)} s, PyTorch ${ref.mlp_seconds.toFixed(2)} s (${steps} vs ${ref.mlp_steps} steps) -> speed ratio ${(ref.mlp_seconds / ours).toFixed(2)}x`,
    );
    run.result({
      benchmark: `MLP probe d ${d} -> ${hidden} -> ${t}, ${steps} AdamW steps of ${batch}`,
      unit: 's',
      ours,
      reference: ref.mlp_seconds,
      referenceName: 'PyTorch nn.Linear + AdamW',
      ratio: ref.mlp_seconds / ours,
    });
  }
  if (runPca) {
    const start = performance.now();
    const res = await pca(x, n, d, k, { seed: 0 });
    const ours = (performance.now() - start) / 1000;
    let worstExact = 0;
    let worstLowrank = 0;
    for (let i = 0; i < k; i++) {
      worstExact = Math.max(worstExact, Math.abs(res.explainedVariance[i]! / ref.eigh_variance[i] - 1));
      worstLowrank = Math.max(worstLowrank, Math.abs(ref.pca_lowrank_variance[i] / ref.eigh_variance[i] - 1));
    }
    console.log(
      `PCA top-${k}: ours ${ours.toFixed(2)} s (${res.iterations} passes, converged ${res.converged}), ` +
        `torch.pca_lowrank(niter=2) ${ref.pca_lowrank_seconds.toFixed(2)} s, NumPy eigh ${ref.eigh_seconds.toFixed(2)} s`,
    );
    console.log(
      `  speed ratio vs eigh ${(ref.eigh_seconds / ours).toFixed(2)}x, vs pca_lowrank ${(ref.pca_lowrank_seconds / ours).toFixed(2)}x; ` +
        `max rel. variance error vs eigh: ours ${worstExact.toExponential(2)}, pca_lowrank ${worstLowrank.toExponential(2)}`,
    );
    const what = `PCA top-${k}, n ${n}, d ${d}, exact`;
    run.result({
      benchmark: `${what}, vs eigh`,
      unit: 's',
      ours,
      reference: ref.eigh_seconds,
      referenceName: 'NumPy eigh of the covariance (exact)',
      ratio: ref.eigh_seconds / ours,
      note: `top-k variance rel. error ${worstExact.toExponential(1)}`,
    });
    run.result({
      benchmark: `${what}, vs pca_lowrank`,
      unit: 's',
      ours,
      reference: ref.pca_lowrank_seconds,
      referenceName: 'torch.pca_lowrank(niter=2) (approximate)',
      ratio: ref.pca_lowrank_seconds / ours,
      note: `pca_lowrank variance rel. error ${worstLowrank.toExponential(1)}`,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
run.finish();
