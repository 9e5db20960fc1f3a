/**
 * bench/forward/ab: this checkout's forward pass against another checkout's (before/after a change), interleaved
 * in one process so that both see the same load. Usage:
 *   node --import tsx bench/forward/ab.ts OTHER_CHECKOUT [CHECKPOINT_DIR] [ALTERNATIONS]
 * OTHER_CHECKOUT is a directory with the other commit's src/ (e.g. `git archive BASE src | tar -x -C DIR`, with
 * DIR/node_modules linked to this one's). Without CHECKPOINT_DIR a random SmolLM2-135M-shaped checkpoint is
 * written by torch_forward.py. Prints tokens/s, GFLOP/s as a % of the ORT GEMM roofline measured in the same run,
 * the CPU seconds per run (less sensitive to load than the wall time) and the load average before and after.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadModel } from '../../src/model/index.js';
import { createSession, GraphBuilder, ort } from '../../src/native/index.js';

const [other, given, alternations = '3'] = process.argv.slice(2);
if (!other) throw new Error('usage: ab.ts OTHER_CHECKOUT [CHECKPOINT_DIR] [ALTERNATIONS]');
const shape = { L: 30, d: 576, H: 9, KV: 3, m: 1536, V: 49152 };
const [B, T] = [64, 16];
const { L, d, H, KV, m, V } = shape;
const hd = d / H;
const flops = L * (B * T * 2 * (d * (H + 2 * KV) * hd + H * hd * d + 3 * d * m) + 4 * B * H * T * T * hd);
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function roofline(): Promise<number> {
  const [gm, gk, gn] = [1024, d, m];
  const a = new ort.Tensor('float32', new Float32Array(gm * gk).fill(0.5), [gm, gk]);
  const b = new ort.Tensor('float32', new Float32Array(gk * gn).fill(0.25), [gk, gn]);
  let best = Infinity;
  for (const spinning of [true, false]) {
    const g = new GraphBuilder('roofline');
    g.input('A', 'float32', ['m', 'k']);
    g.input('B', 'float32', ['k', 'n']);
    g.op('MatMul', ['A', 'B'], {}, 'C');
    g.output('C', 'float32', ['m', 'n']);
    const session = await createSession(g, { spinning });
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      await session.run({ A: a, B: b });
      if (i > 0) best = Math.min(best, performance.now() - t0);
    }
    await session.release();
  }
  return (2 * gm * gk * gn) / (best / 1000) / 1e9;
}

const dir = given ?? mkdtempSync(join(tmpdir(), 'stl-ab-'));
try {
  if (!given) {
    const args = [dir, ...[L, d, H, KV, m, V, B, T, 1].map(String)];
    execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'torch_forward.py'), ...args]);
  }
  const otherIndex = resolve(other, 'src/model/index.ts');
  const { loadModel: loadOther } = (await import(otherIndex)) as { loadModel: typeof loadModel };
  const engines = { other: await loadOther(dir), this: await loadModel(dir) };
  const seqs = Array.from({ length: B }, (_, i) =>
    Array.from({ length: T }, (_, t) => (i * 7919 + t * 104729) % V),
  );
  const hooks = Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_post`);
  for (const engine of Object.values(engines)) await engine.run(seqs, { hooks });
  const before = loadavg();
  const wall = { other: Infinity, this: Infinity };
  const cpu = { other: Infinity, this: Infinity };
  let peak = await roofline();
  for (let alt = 0; alt < Number(alternations); alt++) {
    for (const name of ['other', 'this'] as const) {
      for (let r = 0; r < 2; r++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await engines[name].run(seqs, { hooks });
        wall[name] = Math.min(wall[name], (performance.now() - t0) / 1000);
        const c = process.cpuUsage(c0);
        cpu[name] = Math.min(cpu[name], (c.user + c.system) / 1e6);
      }
    }
    peak = Math.max(peak, await roofline());
  }
  for (const engine of Object.values(engines)) await engine.dispose();
  console.log(
    `SmolLM2-135M shape, ${B}x${T} tokens, every layer's resid_post; best of ${2 * Number(alternations)} runs each`,
  );
  for (const name of ['other', 'this'] as const) {
    const gflops = flops / wall[name] / 1e9;
    console.log(
      `  ${name.padEnd(5)} ${((B * T) / wall[name]).toFixed(0)} tok/s, ${gflops.toFixed(0)} GFLOP/s = ` +
        `${((100 * gflops) / peak).toFixed(0)}% of the ORT GEMM roofline (${peak.toFixed(0)} GFLOP/s); ` +
        `${cpu[name].toFixed(2)} CPU s per run`,
    );
  }
  console.log(`load average before ${before}, after ${loadavg()}`);
} finally {
  if (!given) rmSync(dir, { recursive: true, force: true });
}
