/**
 * bench/forward: tokens/s of our forward pass against PyTorch float32 on the same random model, same machine,
 * same run. Usage: node --import tsx bench/forward/bench.ts [smollm|llama7b-slice|all]
 * Also prints the forward pass's GFLOP/s as a % of the measured ORT GEMM roofline (a MatMul of the shape's own
 * d x d_mlp size, the better of spinning and non-spinning onnxruntime threads), the CPU model, the load average
 * before and after and the reference's BLAS kernel (bench/lib). Not a test: timings on a shared 2-core
 * machine are noisy (±30%); figures count only when the 1-minute load stayed under 3 (check `uptime`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/model/index.js';
import { createSession, GraphBuilder, ort } from '../../src/native/index.js';
import { runPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';

const SHAPES = {
  smollm: {
    name: 'SmolLM2-135M shape',
    L: 30,
    d: 576,
    H: 9,
    KV: 3,
    m: 1536,
    V: 49152,
    gemm: [1024, 576, 1536],
  },
  'llama7b-slice': {
    name: 'Llama-2-7B shape, 2 layers',
    L: 2,
    d: 4096,
    H: 32,
    KV: 32,
    m: 11008,
    V: 32000,
    gemm: [1024, 4096, 4096],
  },
};
type Shape = (typeof SHAPES)[keyof typeof SHAPES];

/**
 * FLOPs of one forward over B sequences of T tokens: the projections and the gated MLP (2 per multiply-add), plus
 * the attention products QK^T and PV over the full T x T (what both engines compute; the mask hides half).
 */
function forwardFlops(s: Shape, batch: number, len: number): number {
  const hd = s.d / s.H;
  const perToken = 2 * (s.d * (s.H + 2 * s.KV) * hd + s.H * hd * s.d + 3 * s.d * s.m);
  const attention = 2 * 2 * batch * s.H * len * len * hd;
  return s.L * (batch * len * perToken + attention);
}
const B = 64;
const T = 16;

/** A MatMul session for the roofline, with onnxruntime's threads spinning between calls or not. */
const gemmSessions = [true, false].map((spinning) => {
  const g = new GraphBuilder('roofline');
  g.input('A', 'float32', ['m', 'k']);
  g.input('B', 'float32', ['k', 'n']);
  g.op('MatMul', ['A', 'B'], {}, 'C');
  g.output('C', 'float32', ['m', 'n']);
  return createSession(g, { spinning });
});

/** GFLOP/s of ORT's f32 MatMul at m x k x n: the best of 3 timed calls, with and without spinning threads. */
async function roofline(m: number, k: number, n: number): Promise<number> {
  const a = new ort.Tensor('float32', new Float32Array(m * k).fill(0.5), [m, k]);
  const b = new ort.Tensor('float32', new Float32Array(k * n).fill(0.25), [k, n]);
  let best = Infinity;
  for (const session of await Promise.all(gemmSessions)) {
    await session.run({ A: a, B: b });
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await session.run({ A: a, B: b });
      best = Math.min(best, performance.now() - t0);
    }
  }
  return (2 * m * k * n) / (best / 1000) / 1e9;
}

async function benchShape(key: keyof typeof SHAPES): Promise<void> {
  const s = SHAPES[key];
  const dir = mkdtempSync(join(tmpdir(), 'stl-bench-'));
  try {
    const py = runPython(join(import.meta.dirname, 'torch_forward.py'), [
      dir,
      ...[s.L, s.d, s.H, s.KV, s.m, s.V, B, T].map(String),
    ]).stdout;
    const torch = JSON.parse(py.trim().split('\n').at(-1)!) as {
      tokens_per_s: number;
      dtype: string;
      gemm_gflops: number;
    };
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
    const [gm, gk, gn] = s.gemm as [number, number, number];
    // A roofline is a peak: the best of the start-up measurement and one taken now (load varies).
    const peak = Math.max(await roofline(gm, gk, gn), rooflines.get(`${gm}x${gk}x${gn}`) ?? 0);
    const gflops = forwardFlops(s, B, T) / best / 1e9;
    console.log(
      `${s.name} (${torch.dtype} weights), ${B}x${T} tokens, all ${s.L} layers captured:\n` +
        `  ours ${ours.toFixed(0)} tok/s (warm; first run incl. loading ${((B * T) / cold).toFixed(0)} tok/s)\n` +
        `  ours ${gflops.toFixed(0)} GFLOP/s = ${((100 * gflops) / peak).toFixed(0)}% of the ORT GEMM roofline ` +
        `${gm}x${gk}x${gn} measured just now (${peak.toFixed(0)} GFLOP/s)\n` +
        `  PyTorch f32 ${torch.tokens_per_s.toFixed(0)} tok/s (its GEMM ${B * T}x${s.d}x${s.m}: ` +
        `${torch.gemm_gflops.toFixed(0)} GFLOP/s)\n  ratio ours/PyTorch ${(ours / torch.tokens_per_s).toFixed(2)}x`,
    );
    run.result({
      benchmark: `${s.name}, ${B}x${T} tokens, every layer`,
      unit: 'tok/s',
      ours,
      reference: torch.tokens_per_s,
      referenceName: `PyTorch f32 (${torch.dtype} checkpoint)`,
      ratio: ours / torch.tokens_per_s,
      roofline: gflops / peak,
      note:
        `${gflops.toFixed(0)} of ${peak.toFixed(0)} GFLOP/s (ORT MatMul ${gm}x${gk}x${gn}); PyTorch's GEMM ` +
        `${B * T}x${s.d}x${s.m} ${torch.gemm_gflops.toFixed(0)} GFLOP/s`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const which = process.argv[2] ?? 'all';
const run = new BenchRun('forward');
const rooflines = new Map<string, number>();
for (const [m, k, n] of [
  [1024, 576, 1536],
  [1024, 4096, 4096],
] as const)
  rooflines.set(`${m}x${k}x${n}`, await roofline(m, k, n));
console.log(
  `GEMM roofline (ORT f32 MatMul): ${[...rooflines].map(([shape, g]) => `${shape} ${g.toFixed(0)} GFLOP/s`).join(', ')}`,
);
for (const key of Object.keys(SHAPES) as (keyof typeof SHAPES)[]) {
  if (which === 'all' || which === key) await benchShape(key);
}
run.finish();
