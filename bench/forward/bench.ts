/**
 * bench/forward: tokens/s of our forward pass against PyTorch float32 on the same random model, same machine,
 * same run. Usage: node --import tsx bench/forward/bench.ts [smollm|llama7b-slice|all]
 * Not a test: timings on a shared 2-core machine are noisy (±30%); re-run when quiet.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/index.js';
import { matmul } from '../../src/native/index.js';

const SHAPES = {
  smollm: { name: 'SmolLM2-135M shape', L: 30, d: 576, H: 9, KV: 3, m: 1536, V: 49152 },
  'llama7b-slice': { name: 'Llama-2-7B shape, 2 layers', L: 2, d: 4096, H: 32, KV: 32, m: 11008, V: 32000 },
};
const B = 64;
const T = 16;

async function roofline(m: number, k: number, n: number): Promise<number> {
  const a = new Float32Array(m * k).fill(0.5);
  const b = new Float32Array(k * n).fill(0.25);
  await matmul(a, b, m, k, n);
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await matmul(a, b, m, k, n);
    best = Math.min(best, performance.now() - t0);
  }
  return (2 * m * k * n) / (best / 1000) / 1e9;
}

async function benchShape(key: keyof typeof SHAPES): Promise<void> {
  const s = SHAPES[key];
  const dir = mkdtempSync(join(tmpdir(), 'stl-bench-'));
  try {
    const py = execFileSync(
      '/usr/bin/python3',
      [
        join(import.meta.dirname, 'torch_forward.py'),
        dir,
        ...[s.L, s.d, s.H, s.KV, s.m, s.V, B, T].map(String),
      ],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      },
    );
    const torch = JSON.parse(py.trim().split('\n').at(-1)!) as { tokens_per_s: number; dtype: string };
    const model = await loadModel(dir);
    const seqs = Array.from({ length: B }, (_, i) =>
      Array.from({ length: T }, (_, t) => (i * 7919 + t * 104729) % s.V),
    );
    const hooks = Array.from({ length: s.L }, (_, l) => `blocks.${l}.hook_resid_post`);
    const t0 = performance.now();
    await model.run(seqs, { hooks });
    const cold = (performance.now() - t0) / 1000;
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t1 = performance.now();
      await model.run(seqs, { hooks });
      best = Math.min(best, (performance.now() - t1) / 1000);
    }
    await model.dispose();
    const ours = (B * T) / best;
    console.log(
      `${s.name} (${torch.dtype} weights), ${B}x${T} tokens, all ${s.L} layers captured:\n` +
        `  ours ${ours.toFixed(0)} tok/s (warm; first run incl. loading ${((B * T) / cold).toFixed(0)} tok/s)\n` +
        `  PyTorch f32 ${torch.tokens_per_s.toFixed(0)} tok/s\n  ratio ours/PyTorch ${(ours / torch.tokens_per_s).toFixed(2)}x`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const which = process.argv[2] ?? 'all';
console.log(
  `GEMM roofline (ORT f32 MatMul): 1024x576x1536 ${(await roofline(1024, 576, 1536)).toFixed(0)} GFLOP/s, ` +
    `1024x4096x4096 ${(await roofline(1024, 4096, 4096)).toFixed(0)} GFLOP/s`,
);
for (const key of Object.keys(SHAPES) as (keyof typeof SHAPES)[]) {
  if (which === 'all' || which === key) await benchShape(key);
}
