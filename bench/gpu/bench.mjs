// bench/gpu driver, run by run.sh with the packed Node against the packed, built CLI (no tsx, no TypeScript there).
//
//   node bench/gpu/bench.mjs APP_DIR probe
//   node bench/gpu/bench.mjs APP_DIR parity FIXTURES_DIR
//   node bench/gpu/bench.mjs APP_DIR extract MODEL_DIR LABEL WORK_DIR ROWS [BATCH] [GPU_DTYPE]
//   node bench/gpu/bench.mjs APP_DIR smollm MODEL_DIR
//
// Prints one JSON line per result (run.sh appends them to $OUT/results.jsonl). Numbers only: no pass/fail here
// except the parity goal (1e-4 relative), reported as `withinGoal`.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const [appDir, stage, ...rest] = process.argv.slice(2);
const app = resolve(appDir);
const lib = (p) => import(join(app, 'dist/src', p));
const here = new URL('.', import.meta.url).pathname;
const repo = resolve(here, '../..');
const GOAL = 1e-4;

const emit = (o) => console.log(JSON.stringify(o));

/** max|a - b| / max|b|. */
function relError(a, b) {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

async function probe() {
  const { probeWebGpu } = await lib('native/index.js');
  const t0 = performance.now();
  const r = await probeWebGpu();
  emit({ stage: 'probe', ...r, facts: undefined, seconds: (performance.now() - t0) / 1000 });
  if (!r.ok) process.exitCode = 3;
}

/** Every golden fixture: webgpu vs cpu (every hook, every position) and both vs the PyTorch float64 golden. */
async function parity(fixtures) {
  const { loadModel } = await lib('model/index.js');
  const { SafetensorsFile } = await lib('formats/safetensors.js');
  for (const name of readdirSync(fixtures).sort()) {
    const dir = join(fixtures, name);
    const meta = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8'));
    const golden = await SafetensorsFile.open(join(dir, 'golden.safetensors'));
    const { sequences, hooks } = meta;
    const maxLen = Math.max(...sequences.map((s) => s.length));
    const runs = {};
    // BENCH_DEVICE=cpu: the same comparisons with the resident engine on the CPU (a local smoke test).
    const gpu = { device: process.env.BENCH_DEVICE ?? 'webgpu', resident: true };
    for (const [label, options] of [
      ['cpu', {}],
      ['webgpu', gpu],
      ['webgpu-f16', { ...gpu, weightDtype: 'f16' }],
    ]) {
      const model = await loadModel(dir, options);
      try {
        runs[label] = await model.run(sequences, { hooks });
      } finally {
        await model.dispose();
      }
    }
    const worst = { webgpuVsCpu: 0, webgpuVsGolden: 0, cpuVsGolden: 0, f16VsGolden: 0 };
    for (const hook of hooks) {
      for (let i = 0; i < sequences.length; i++) {
        const info = golden.info(`s${i}.${hook}`);
        const width = info.shape[info.shape.length - 1];
        const ref = await golden.readFloat64(`s${i}.${hook}`);
        const rows = (out) => out.get(hook).subarray(i * maxLen * width, (i * maxLen + sequences[i].length) * width);
        worst.webgpuVsCpu = Math.max(worst.webgpuVsCpu, relError(rows(runs.webgpu), rows(runs.cpu)));
        worst.webgpuVsGolden = Math.max(worst.webgpuVsGolden, relError(rows(runs.webgpu), ref));
        worst.cpuVsGolden = Math.max(worst.cpuVsGolden, relError(rows(runs.cpu), ref));
        worst.f16VsGolden = Math.max(worst.f16VsGolden, relError(rows(runs['webgpu-f16']), ref));
      }
    }
    await golden.close();
    emit({ stage: 'parity', fixture: name, ...worst, withinGoal: worst.webgpuVsCpu <= GOAL });
  }
}

/** Runs a command; resolves with its wall time, output and the peak GPU memory used meanwhile (nvidia-smi). */
async function timed(cmd, args, env = {}) {
  const baseline = await gpuMemoryMiB();
  let peak = baseline;
  const poll = setInterval(async () => {
    peak = Math.max(peak, await gpuMemoryMiB());
  }, 200);
  const t0 = performance.now();
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  const code = await new Promise((r) => child.on('close', r));
  clearInterval(poll);
  const wallSeconds = (performance.now() - t0) / 1000;
  return { code, out, wallSeconds, peakGpuMiB: peak - baseline };
}

function gpuMemoryMiB() {
  return new Promise((res) => {
    const c = spawn('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits']);
    let s = '';
    c.stdout.on('data', (b) => (s += b));
    c.on('error', () => res(0));
    c.on('close', () => res(Number.parseFloat(s) || 0));
  });
}

/** Ours (webgpu) on ROWS world_place entities, every layer; then PyTorch CUDA and transformers on the same job. */
async function extract(modelDir, label, work, rows, batch = '2000', gpuDtype = 'f32') {
  const { openStore } = await lib('store/index.js');
  const { readNpy } = await lib('formats/npy.js');
  await mkdir(work, { recursive: true });
  const store = join(work, `store-${label}-${gpuDtype}`);
  await rm(store, { recursive: true, force: true });
  await rm(`${store}.work`, { recursive: true, force: true });
  const csv = join(app, 'shared/data/paper/world_place.csv');
  const args = [join(app, 'bin/spacetime-lens.js'), 'extract', '--model', modelDir, '--dataset', csv];
  args.push('--prompt', 'coords', '--limit', rows, '--batch-size', batch, '--layers', 'all');
  // BENCH_DEVICE=cpu: a local smoke test of this driver without a GPU.
  const device = process.env.BENCH_DEVICE ?? 'webgpu';
  args.push('--device', device, ...(device === 'webgpu' ? ['--gpu-dtype', gpuDtype] : []), '--quiet', '--out', store);
  const ours = await timed(process.execPath, args);
  const m = /\((\d+) computed in ([\d.]+) s, ([\d.]+) entities\/s\)/.exec(ours.out);
  emit({
    stage: 'extract',
    label,
    impl: `ours-${device}-${gpuDtype}`,
    code: ours.code,
    wallSeconds: ours.wallSeconds,
    extractSeconds: m ? Number(m[2]) : null,
    entitiesPerSecond: m ? Number(m[3]) : null,
    peakGpuBytes: ours.peakGpuMiB * 2 ** 20,
    tail: ours.code === 0 ? undefined : ours.out.slice(-2000),
  });
  if (ours.code !== 0) return;
  const s = await openStore(store);
  if (gpuDtype !== 'f32') {
    // Against the f32 run of the same job, when it is there (run.sh runs f32 first).
    const f32 = join(work, `store-${label}-f32`);
    if (!existsSync(join(f32, 'manifest.json'))) return;
    const ref = await openStore(f32);
    let worst = 0;
    for (const l of s.manifest.layers) {
      worst = Math.max(worst, relError(await s.read(`blocks.${l}.hook_resid_post`), await ref.read(`blocks.${l}.hook_resid_post`)));
    }
    emit({ stage: 'extract', label, impl: `ours-${device}-${gpuDtype}-vs-f32`, maxRelError: worst });
    return;
  }
  const entities = await s.entities();
  const job = join(work, `job-${label}.json`);
  await writeFile(job, JSON.stringify({ input_ids: entities.map((e) => e.input_ids), positions: entities.map((e) => e.position) }));
  const torchOut = join(work, `torch-${label}`);
  const variants = process.env.BENCH_TORCH_VARIANTS ?? 'manual-f32,manual-bf16,hf-f32,hf-bf16';
  const pyArgs = [join(here, 'torch_gpu.py'), modelDir, job, torchOut, '512', variants];
  const py = await timed(process.env.BENCH_PYTHON ?? 'python3', pyArgs, { PYTHONUNBUFFERED: '1' });
  const lines = py.out.split('\n').filter((l) => l.startsWith('{"variant"'));
  if (py.code !== 0) emit({ stage: 'extract', label, impl: 'pytorch', code: py.code, tail: py.out.slice(-3000) });
  const { n, d, layers } = s.manifest;
  for (const line of lines) {
    const r = JSON.parse(line);
    const ref = (await readNpy(join(torchOut, `${r.variant}.npy`))).data;
    let worst = 0;
    const compared = r.last_layer_normed ? layers.filter((l) => l !== Math.max(...layers)) : layers;
    for (const l of compared) {
      const got = await s.read(`blocks.${l}.hook_resid_post`);
      worst = Math.max(worst, relError(got, ref.subarray(l * n * d, (l + 1) * n * d)));
    }
    emit({ stage: 'extract', label, impl: r.variant, ...r, oursVsThisMaxRelError: worst, layersCompared: compared.length });
  }
}

/** SmolLM2-shaped random checkpoint (bf16) written with the library's own generator. */
async function smollm(modelDir) {
  const { writeRandomLlama, SMOLLM2_135M } = await lib('extract/testing.js');
  await writeRandomLlama(modelDir, SMOLLM2_135M, { seed: 1, dtype: 'BF16' });
  emit({ stage: 'checkpoint', label: 'smollm2-135m', dir: modelDir });
}

switch (stage) {
  case 'probe':
    await probe();
    break;
  case 'parity':
    await parity(rest[0] ?? join(repo, 'test/fixtures/engine'));
    break;
  case 'extract':
    await extract(rest[0], rest[1], rest[2], rest[3], rest[4], rest[5]);
    break;
  case 'smollm':
    await smollm(rest[0]);
    break;
  default:
    console.error(`unknown stage ${stage}`);
    process.exitCode = 2;
}
