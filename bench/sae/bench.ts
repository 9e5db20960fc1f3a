/**
 * Benchmarks SAE training against PyTorch (CPU) in the same run, on the same generated activations:
 * one epoch of a TopK SAE (Adam, decoder renormalised each step) with ours (one onnxruntime graph per step) and with
 * reference.py (PyTorch autograd + torch.optim.Adam), then prints both epoch times, the ratio, the CPU model and the
 * load average. Default size: 40,000 × 2,048 activations, 16,384 features, k = 32, batch 4,096 (10 steps).
 * Usage: npx tsx bench/sae/bench.ts [--size full|small] [--steps N] (N < steps per epoch: time N steps, extrapolate)
 * On a loaded machine the absolute times are noise; compare the ratio, and re-run on a quiet machine for figures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initSae, SaeTrainer } from '../../src/sae/index.js';
import { Rng } from '../../src/util/rng.js';
import { runPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';

const args = process.argv.slice(2);
const value = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const SIZES = {
  full: { n: 40_000, d: 2048, m: 16_384, k: 32, batch: 4096 },
  small: { n: 4000, d: 512, m: 4096, k: 32, batch: 1024 },
} as const;
const sizeName = (value('size') ?? 'full') as keyof typeof SIZES;
const size = SIZES[sizeName];
if (!size) throw new Error(`--size should be full or small, got ${sizeName}`);
const { n, d, m, k, batch } = size;
const stepsPerEpoch = Math.ceil(n / batch);
const steps = Math.min(stepsPerEpoch, Number(value('steps') ?? stepsPerEpoch));

const run = new BenchRun('sae');
// Generated activations: sparse sums of random directions plus noise and an offset, like a residual stream.
const rng = new Rng(1, 'bench-sae');
const gauss = () => rng.normal();
const atoms = Float32Array.from({ length: 256 * d }, () => gauss() / Math.sqrt(d));
const x = new Float32Array(n * d);
for (let i = 0; i < n; i++) {
  const row = x.subarray(i * d, (i + 1) * d);
  for (let j = 0; j < d; j++) row[j] = 0.1 * gauss() + 0.2;
  for (let a = 0; a < 8; a++) {
    const atom = rng.int(256);
    const c = 1 + rng.uniform();
    for (let j = 0; j < d; j++) row[j]! += c * atoms[atom * d + j]!;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-sae-'));
try {
  writeFileSync(join(dir, 'x.bin'), new Uint8Array(x.buffer));
  writeFileSync(join(dir, 'meta.json'), JSON.stringify({ ...size, steps }));
  console.log(
    `${sizeName}: ${n} x ${d} activations, TopK SAE d_sae=${m} k=${k}, batch ${batch}, ${steps}/${stepsPerEpoch} steps timed`,
  );

  const mean = new Float32Array(d);
  const params = initSae('topk', d, m, { k, applyBDecToInput: true, mean, seed: 0 });
  const trainer = new SaeTrainer(
    params,
    { lr: 3e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    { l1Coefficient: 0, auxCoefficient: 1 / 32, deadAfterRows: Infinity },
  );
  const order = new Rng(0, 'bench-shuffle').permutation(n);
  const rows = new Float32Array(batch * d);
  const load = (s: number) => {
    const b = Math.min(batch, n - s * batch);
    for (let i = 0; i < b; i++)
      rows.set(x.subarray(order[s * batch + i]! * d, (order[s * batch + i]! + 1) * d), i * d);
    return b;
  };
  await trainer.step(rows.subarray(0, load(0) * d), load(0)); // warm-up: builds the session
  const start = performance.now();
  let mse = 0;
  for (let s = 0; s < steps; s++) {
    const b = load(s);
    mse = (await trainer.step(rows.subarray(0, b * d), b)).mse;
  }
  const ours = ((performance.now() - start) / 1000) * (stepsPerEpoch / steps);
  console.log(`ours:    epoch ${ours.toFixed(1)} s (last batch mse ${mse.toFixed(4)})`);

  const py = runPython(join(import.meta.dirname, 'reference.py'), [dir]);
  const ref = JSON.parse(py.stdout.trim().split('\n').pop()!) as {
    seconds: number;
    threads: number;
    mse: number;
  };
  const torchEpoch = ref.seconds * (stepsPerEpoch / steps);
  console.log(
    `PyTorch: epoch ${torchEpoch.toFixed(1)} s (${ref.threads} threads, last batch mse ${ref.mse.toFixed(4)})`,
  );
  console.log(`ratio (PyTorch time / ours): ${(torchEpoch / ours).toFixed(2)}x`);
  run.result({
    benchmark: `TopK SAE training, ${n} x ${d}, ${m} features, k ${k}, batch ${batch} (${steps}/${stepsPerEpoch} steps timed)`,
    unit: 's/epoch',
    ours,
    reference: torchEpoch,
    referenceName: 'PyTorch autograd + Adam',
    ratio: torchEpoch / ours,
    note: `last batch mse ours ${mse.toFixed(4)} / PyTorch ${ref.mse.toFixed(4)}`,
  });
  run.finish();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
