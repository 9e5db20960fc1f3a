/**
 * bench/extract: end-to-end extraction throughput, ours vs PyTorch, same job, same batches, same machine, same run.
 *
 *   node --import tsx bench/extract/bench.ts [--model smollm|7b-slice] [--rows 2000 | --rows 500,2000,8000]
 *                                            [--prompt coords|empty|...] [--batch N] [--dir /tmp/stl-bench-extract]
 *
 * Job: the first ROWS world_place entities (paper CSV from shared/), prompt `coords` (or --prompt), a random Llama
 * with Llama-2-7b-hf's tokenizer (rebuilt from llama-tokenizer-js, src/model/testing-tokenizers.ts), every layer's
 * hook_resid_post at the entity's last token. --model smollm (default): SmolLM2-135M's shape (30 layers, d 576,
 * 9/3 heads, MLP 1536, vocab 49152, f32); --model 7b-slice: Llama-2-7B's shape cut to 4 layers (d 4096, 32/32
 * heads, MLP 11008, vocab 32000, bf16 weights, ~1.9 GB), computed in f32 by both sides.
 * - ours: the `spacetime-lens extract` CLI in a child process under /usr/bin/time -v (wall time and peak RSS include
 *   Node start-up, TypeScript loading via tsx, CSV parsing, tokenization, model load and writing the store). Per
 *   chunk of BATCH rows (default: the CLI's own, defaultBatchSize) the engine computes the rows' shared prefix
 *   (BOS + the prompt's tokens) once;
 * - PyTorch, twice, bench/extract/torch_extract.py under /usr/bin/time -v (through bench/lib/python.ts: fair BLAS
 *   environment, kernel printed), given our token ids (no HF tokenizers library in this Python):
 *   - "plain": the loop a user writes, every row's full sequence, in our length buckets over the full lengths
 *     (so its padding is as low as ours); the same job, the same outputs;
 *   - "shared prefix": the same prefix trick written in PyTorch (prefix once per chunk, its keys/values reused),
 *     exactly our batches: equal work, so this ratio is the engines' own speed.
 * The ratios are of wall times (the same rows and outputs on every side). Timings are noisy on a shared machine:
 * the CPU model and the load average before and after every size are printed; a figure counts only when the
 * 1-minute load stayed under 3. With a list of sizes, a table of cost per entity follows.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedPrefixLength } from '../../src/extract/batch.js';
import { defaultBatchSize } from '../../src/extract/extract.js';
import { type LlamaShape, SMOLLM2_135M, writeRandomLlama } from '../../src/extract/testing.js';
import { readNpy } from '../../src/formats/npy.js';
import { DEFAULT_BATCH_TOKENS, planBatches } from '../../src/model/hooked-model.js';
import { writeTestTokenizer } from '../../src/model/testing-tokenizers.js';
import { openStore } from '../../src/store/index.js';
import { packageRoot, sharedDir } from '../../src/util/paths.js';
import { pythonInvocation } from '../lib/python.js';
import { BenchRun, loadavg as currentLoad, LOADED } from '../lib/run.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sizes = arg('rows', '2000').split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error('--rows takes positive integers: 500,2000');
const LLAMA2_7B_SLICE: LlamaShape = {
  layers: 4,
  hidden: 4096,
  heads: 32,
  kvHeads: 32,
  intermediate: 11008,
  vocab: 32000,
  maxPositions: 4096,
};
const MODELS = {
  smollm: { name: 'SmolLM2-135M shape, f32', dir: 'smollm2-135m-random', shape: SMOLLM2_135M, dtype: 'F32' },
  '7b-slice': {
    name: 'Llama-2-7B shape, 4-layer slice, bf16',
    dir: 'llama2-7b-slice4-bf16-random',
    shape: LLAMA2_7B_SLICE,
    dtype: 'BF16',
  },
} as const;
const modelKey = arg('model', 'smollm') as keyof typeof MODELS;
const model = MODELS[modelKey];
if (!model) throw new Error(`--model takes ${Object.keys(MODELS).join(' or ')}`);
const shape: LlamaShape = model.shape;
const batch = arg(
  'batch',
  String(defaultBatchSize({ nLayers: shape.layers, dModel: shape.hidden, dMlp: shape.intermediate })),
);
const prompt = arg('prompt', 'coords');
const dir = arg('dir', '/tmp/stl-bench-extract');
const root = packageRoot();
const run = new BenchRun('extract');

interface Timed {
  wallSeconds: number;
  peakRssMb: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time -v; returns its wall time and peak RSS. */
async function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Timed> {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-v', cmd, ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const wallSeconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${stdout}\n${stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return { wallSeconds, peakRssMb: rss ? Number(rss[1]) / 1024 : Number.NaN, stdout: stdout + stderr };
}

const launcher = `const { main } = await import(${JSON.stringify(join(root, 'src/cli/main.ts'))});
process.exitCode = await main(process.argv.slice(1));`;

interface SizeResult {
  rows: number;
  realTokens: number;
  /** Padded tokens of the full sequences (PyTorch plain). */
  paddedTokens: number;
  /** Tokens ours computes: the rows after their chunk's shared prefix (padded), plus each chunk's prefix once. */
  computedTokens: number;
  ours: Timed;
  torch: Timed;
  torchShared: Timed;
  oursCompute: number;
  torchCompute: number;
  torchSharedCompute: number;
  relErr: number;
  loadBefore: string;
  loadAfter: string;
}

interface TorchRun {
  timed: Timed;
  info: Record<string, number>;
  relErr: number;
}

async function main(): Promise<void> {
  const shared = sharedDir();
  if (!shared) throw new Error('needs shared/data/paper/world_place.csv');
  await mkdir(dir, { recursive: true });
  const modelDir = join(dir, model.dir);
  if (!existsSync(join(modelDir, 'model.safetensors'))) {
    console.log(`writing a random ${model.name} checkpoint to ${modelDir} ...`);
    await writeRandomLlama(modelDir, shape, { seed: 1, dtype: model.dtype });
  }
  // A directory from an older bench may hold another tokenizer: always (re)write Llama-2's (cheap).
  await writeTestTokenizer(modelDir, 'llama2');
  console.log(`model: ${model.name} (${modelDir}), batch ${batch}`);
  const results: SizeResult[] = [];
  for (const rows of sizes)
    results.push(await runSize(modelDir, join(shared, 'data/paper/world_place.csv'), rows));
  if (results.length > 1) printTable(results);
  run.finish();
}

async function runSize(modelDir: string, csv: string, rows: number): Promise<SizeResult> {
  const loadBefore = loadavg();
  const store = join(dir, 'store');
  await rm(store, { recursive: true, force: true });
  await rm(`${store}.work`, { recursive: true, force: true });

  console.log(
    `\nours: extract ${rows} world_place entities, prompt ${prompt}, all ${shape.layers} layers, batch ${batch} ...`,
  );
  const ours = await timed(process.execPath, [
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    launcher,
    'extract',
    '--model',
    modelDir,
    '--dataset',
    csv,
    '--prompt',
    prompt,
    '--limit',
    String(rows),
    '--batch-size',
    batch,
    '--quiet',
    '--out',
    store,
  ]);
  const s = await openStore(store);
  const entities = await s.entities();
  const lengths = entities.map((e) => e.input_ids!.length);
  const realTokens = lengths.reduce((a, b) => a + b, 0);
  const plain = sameBatchesAsOurs(lengths, Number(batch), shape.heads);
  const paddedTokens = plain.batches.reduce((t, b) => t + b.length * lengths[b[0]!]!, 0);
  const prefixes = entities.map((e) => ({
    ids: e.input_ids!,
    position: e.position!,
    span: e['entity_tokens'] as [number, number],
  }));
  const shared = sameBatchesAsOurs(lengths, Number(batch), shape.heads, prefixes);
  const computedTokens = shared.batches.reduce(
    (t, b, i) => t + b.length * (lengths[b[0]!]! - shared.prefix[i]!),
    shared.chunkPrefixTokens,
  );
  const datasetOrderPadded = datasetOrderPadding(lengths, 64);
  const job = { input_ids: entities.map((e) => e.input_ids), positions: entities.map((e) => e.position) };

  console.log(
    `PyTorch plain: every row's full sequence, ${plain.batches.length} length-bucketed batches ...`,
  );
  const torch = await runTorch(modelDir, { ...job, batches: plain.batches }, s, rows, 'plain');
  console.log(`PyTorch shared prefix: our ${shared.batches.length} batches, each chunk's prefix once ...`);
  const torchShared = await runTorch(
    modelDir,
    { ...job, batches: shared.batches, prefix: shared.prefix },
    s,
    rows,
    'shared',
  );
  if (torchShared.info['padded_tokens']! + shared.chunkPrefixTokens !== computedTokens)
    throw new Error('PyTorch shared prefix did not run our batches: not equal work');
  const oursComputeLine = /\((\d+) computed in ([\d.]+) s/.exec(ours.stdout);
  const oursCompute = oursComputeLine ? Number(oursComputeLine[2]) : Number.NaN;
  const loadAfter = loadavg();
  const line = (name: string, wall: number, compute: number, rss: number) =>
    `${name.padEnd(15)} wall ${wall.toFixed(1).padStart(7)} s ${(realTokens / wall).toFixed(0).padStart(7)} real tok/s ` +
    `${(rows / wall).toFixed(1).padStart(7)} ent/s | compute ${compute.toFixed(1).padStart(6)} s | peak RSS ${rss.toFixed(0).padStart(5)} MB`;
  console.log(
    `\n${rows} entities, ${realTokens} real tokens, ${shape.layers} layers x d ${s.manifest.d}. Full sequences in length buckets: ` +
      `${paddedTokens} padded tokens (${(paddedTokens / realTokens).toFixed(3)}x real; the authors' dataset-order ` +
      `batches of 64 would pad to ${(datasetOrderPadded / realTokens).toFixed(2)}x). With each chunk's shared prefix ` +
      `computed once: ${computedTokens} tokens (${(computedTokens / realTokens).toFixed(3)}x real).`,
  );
  console.log(`load average before ${loadBefore}, after ${loadAfter}${quiet(loadBefore, loadAfter)}`);
  console.log(line('ours', ours.wallSeconds, oursCompute, ours.peakRssMb));
  console.log(
    line('PyTorch plain', torch.timed.wallSeconds, torch.info['forward_s']!, torch.timed.peakRssMb),
  );
  console.log(
    line(
      'PyTorch shared',
      torchShared.timed.wallSeconds,
      torchShared.info['forward_s']!,
      torchShared.timed.peakRssMb,
    ),
  );
  console.log(
    `same job vs PyTorch plain: end-to-end ${(torch.timed.wallSeconds / ours.wallSeconds).toFixed(2)}x, compute ` +
      `${(torch.info['forward_s']! / oursCompute).toFixed(2)}x; peak RSS ${(ours.peakRssMb / torch.timed.peakRssMb).toFixed(2)}x`,
  );
  console.log(
    `equal work vs PyTorch shared prefix: end-to-end ${(torchShared.timed.wallSeconds / ours.wallSeconds).toFixed(2)}x, ` +
      `compute ${(torchShared.info['forward_s']! / oursCompute).toFixed(2)}x`,
  );
  const relErr = Math.max(torch.relErr, torchShared.relErr);
  console.log(
    `max |ours - PyTorch| / max |PyTorch| over all layers: plain ${torch.relErr.toExponential(2)}, shared prefix ` +
      `${torchShared.relErr.toExponential(2)}`,
  );
  const what = `${model.name}, ${rows} world_place rows, prompt ${prompt}`;
  const agreement = `agreement ${relErr.toExponential(1)}; peak RSS ours ${ours.peakRssMb.toFixed(0)} MB`;
  run.result({
    benchmark: `${what}, same job`,
    unit: 's',
    ours: ours.wallSeconds,
    reference: torch.timed.wallSeconds,
    referenceName: 'PyTorch f32, plain loop (full sequences, our length buckets)',
    ratio: torch.timed.wallSeconds / ours.wallSeconds,
    note: `${agreement} / PyTorch ${torch.timed.peakRssMb.toFixed(0)} MB`,
  });
  run.result({
    benchmark: `${what}, equal work`,
    unit: 's',
    ours: ours.wallSeconds,
    reference: torchShared.timed.wallSeconds,
    referenceName: 'PyTorch f32, same shared-prefix batches',
    ratio: torchShared.timed.wallSeconds / ours.wallSeconds,
    note: `computed/real tokens ${(computedTokens / realTokens).toFixed(3)}`,
  });
  return {
    rows,
    realTokens,
    paddedTokens,
    computedTokens,
    ours,
    torch: torch.timed,
    torchShared: torchShared.timed,
    oursCompute,
    torchCompute: torch.info['forward_s']!,
    torchSharedCompute: torchShared.info['forward_s']!,
    relErr,
    loadBefore,
    loadAfter,
  };
}

/** Runs torch_extract.py on a job; checks every layer of every entity against our store. */
async function runTorch(
  modelDir: string,
  job: Record<string, unknown>,
  s: Awaited<ReturnType<typeof openStore>>,
  rows: number,
  tag: string,
): Promise<TorchRun> {
  const jobFile = join(dir, `job-${tag}.json`);
  await writeFile(jobFile, JSON.stringify(job));
  const npy = join(dir, `torch-${tag}.npy`);
  const inv = pythonInvocation(join(root, 'bench/extract/torch_extract.py'), [modelDir, jobFile, npy]);
  const t = await timed(inv.command, inv.args, inv.env);
  inv.info();
  const info = JSON.parse(t.stdout.split('\n').find((l) => l.startsWith('{'))!) as Record<string, number>;
  const ref = await readNpy(npy);
  const d = s.manifest.d;
  let err = 0;
  let scale = 0;
  for (const l of s.manifest.layers) {
    const got = await s.read(`blocks.${l}.hook_resid_post`);
    const want = (ref.data as Float32Array).subarray(l * rows * d, (l + 1) * rows * d);
    for (let i = 0; i < got.length; i++) {
      err = Math.max(err, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
  }
  return { timed: t, info, relErr: err / scale };
}

/** Cost per entity at each size: linear growth shows as a flat ms/entity column. */
function printTable(results: SizeResult[]): void {
  console.log(
    '\n| entities | real tokens | padded/real (full) | computed/real (ours) | ours wall s | ours ms/entity | PyTorch plain wall s | PyTorch shared-prefix wall s | same job ratio | equal-work ratio | ours peak RSS MB | PyTorch plain peak RSS MB | max rel diff | load before / after |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const ms = (t: Timed) => ((1000 * t.wallSeconds) / r.rows).toFixed(2);
    console.log(
      `| ${r.rows} | ${r.realTokens} | ${(r.paddedTokens / r.realTokens).toFixed(3)} | ` +
        `${(r.computedTokens / r.realTokens).toFixed(3)} | ${r.ours.wallSeconds.toFixed(1)} | ${ms(r.ours)} | ` +
        `${r.torch.wallSeconds.toFixed(1)} | ${r.torchShared.wallSeconds.toFixed(1)} | ` +
        `${(r.torch.wallSeconds / r.ours.wallSeconds).toFixed(2)}x | ` +
        `${(r.torchShared.wallSeconds / r.ours.wallSeconds).toFixed(2)}x | ${r.ours.peakRssMb.toFixed(0)} | ` +
        `${r.torch.peakRssMb.toFixed(0)} | ${r.relErr.toExponential(1)} | ${r.loadBefore} / ${r.loadAfter} |`,
    );
  }
}

/**
 * The engine's micro-batches of an extraction, as global row indices: extract hands the engine chunks of `batch`
 * rows in dataset order, and the engine sorts each chunk into length buckets (planBatches, default token budget).
 * With `rows`, each chunk's shared prefix (sharedPrefixLength, as extract computes it) is cut off first, as the
 * engine does; without, the full lengths are bucketed.
 */
function sameBatchesAsOurs(
  lengths: number[],
  batch: number,
  heads: number,
  rows?: { ids: number[]; position: number; span: [number, number] }[],
): { batches: number[][]; prefix: number[]; chunkPrefixTokens: number } {
  const batches: number[][] = [];
  const prefix: number[] = [];
  let chunkPrefixTokens = 0;
  for (let start = 0; start < lengths.length; start += batch) {
    const P = rows ? sharedPrefixLength(rows.slice(start, start + batch)) : 0;
    chunkPrefixTokens += P;
    const chunk = lengths.slice(start, start + batch).map((n) => n - P);
    for (const b of planBatches(chunk, DEFAULT_BATCH_TOKENS, heads)) {
      batches.push(b.seqs.map((i) => start + i));
      prefix.push(P);
    }
  }
  return { batches, prefix, chunkPrefixTokens };
}

/** Padded tokens of dataset-order batches of `batch` rows, each padded to its longest row (the authors' way). */
function datasetOrderPadding(lengths: number[], batch: number): number {
  let total = 0;
  for (let start = 0; start < lengths.length; start += batch) {
    const chunk = lengths.slice(start, start + batch);
    total += chunk.length * Math.max(...chunk);
  }
  return total;
}

/** The 1-minute, 5- and 15-minute load averages as printed. */
function loadavg(): string {
  return currentLoad().join(' ');
}

/** A warning unless the 1-minute load average was under 3 before and after (README figures need a quiet machine). */
function quiet(before: string, after: string): string {
  const loaded = [before, after].some((l) => Number(l.split(' ')[0]) >= LOADED);
  return loaded ? ' -- LOADED (1-min load >= 3): not a figure for a README' : ' (quiet)';
}

await main();
