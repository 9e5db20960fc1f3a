/**
 * bench/extract: end-to-end extraction throughput, ours vs PyTorch, same job, same batches, same machine, same run.
 *
 *   node --import tsx bench/extract/bench.ts [--rows 2000 | --rows 500,2000,8000] [--batch N] [--dir /tmp/stl-bench-extract]
 *
 * Job: the first ROWS world_place entities (paper CSV from shared/), prompt `coords`, a random SmolLM2-135M-shaped
 * Llama (30 layers, d 576, 9/3 heads, MLP 1536, vocab 49152, f32) with Llama-2-7b-hf's tokenizer (rebuilt from
 * llama-tokenizer-js, src/model/testing-tokenizers.ts), every layer's hook_resid_post at the entity's last token.
 * - ours: the `spacetime-lens extract` CLI in a child process under /usr/bin/time -v (wall time and peak RSS include
 *   Node start-up, TypeScript loading via tsx, CSV parsing, tokenization, model load and writing the store);
 * - PyTorch: bench/extract/torch_extract.py under /usr/bin/time -v, given our token ids (no HF tokenizers library
 *   in this Python) and our batches: chunks of BATCH rows (default: extract's default) in dataset order, each
 *   sorted into length buckets exactly as the engine does (planBatches), so both sides pad to the same tokens.
 * Equal work: the headline is the ratio of real (unpadded) tokens per second, which with the same batches is the
 * ratio of wall times. Also printed: how much padding the authors' dataset-order batches would have added. Timings
 * are noisy on a shared machine: the CPU model and the load average before and after every size are printed; a
 * figure counts only when the 1-minute load stayed under 3. With a list of sizes, a table of cost per entity follows.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BATCH_SIZE } from '../../src/extract/extract.js';
import { SMOLLM2_135M, writeRandomLlama } from '../../src/extract/testing.js';
import { readNpy } from '../../src/formats/npy.js';
import { DEFAULT_BATCH_TOKENS, planBatches } from '../../src/model/hooked-model.js';
import { writeTestTokenizer } from '../../src/model/testing-tokenizers.js';
import { openStore } from '../../src/store/index.js';
import { packageRoot, sharedDir } from '../../src/util/paths.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const sizes = arg('rows', '2000').split(',').map(Number);
if (sizes.some((n) => !Number.isInteger(n) || n < 1))
  throw new Error('--rows takes positive integers: 500,2000');
const batch = arg('batch', String(DEFAULT_BATCH_SIZE));
const dir = arg('dir', '/tmp/stl-bench-extract');
const root = packageRoot();

interface Timed {
  wallSeconds: number;
  peakRssMb: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time -v; returns its wall time and peak RSS. */
async function timed(cmd: string, args: string[]): Promise<Timed> {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-v', cmd, ...args], {
    cwd: root,
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
  paddedTokens: number;
  ours: Timed;
  torch: Timed;
  oursCompute: number;
  torchCompute: number;
  relErr: number;
  loadBefore: string;
  loadAfter: string;
}

async function main(): Promise<void> {
  const shared = sharedDir();
  if (!shared) throw new Error('needs shared/data/paper/world_place.csv');
  await mkdir(dir, { recursive: true });
  const modelDir = join(dir, 'smollm2-135m-random');
  if (!existsSync(join(modelDir, 'model.safetensors'))) {
    console.log(`writing a random SmolLM2-135M-shaped checkpoint to ${modelDir} ...`);
    await writeRandomLlama(modelDir, SMOLLM2_135M, { seed: 1 });
  }
  // A directory from an older bench may hold another tokenizer: always (re)write Llama-2's (cheap).
  await writeTestTokenizer(modelDir, 'llama2');
  console.log(`CPU: ${await cpuModel()}, ${availableParallelism()} cores`);
  const results: SizeResult[] = [];
  for (const rows of sizes)
    results.push(await runSize(modelDir, join(shared, 'data/paper/world_place.csv'), rows));
  if (results.length > 1) printTable(results);
}

async function runSize(modelDir: string, csv: string, rows: number): Promise<SizeResult> {
  const loadBefore = await loadavg();
  const store = join(dir, 'store');
  await rm(store, { recursive: true, force: true });
  await rm(`${store}.work`, { recursive: true, force: true });

  console.log(`\nours: extract ${rows} world_place entities, all 30 layers, batch ${batch} ...`);
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
    'coords',
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
  const batches = sameBatchesAsOurs(lengths, Number(batch), SMOLLM2_135M.heads);
  const paddedTokens = batches.reduce((t, b) => t + b.length * lengths[b[0]!]!, 0);
  const datasetOrderPadded = datasetOrderPadding(lengths, 64);
  const job = join(dir, 'job.json');
  await writeFile(
    job,
    JSON.stringify({
      input_ids: entities.map((e) => e.input_ids),
      positions: entities.map((e) => e.position),
      batches,
    }),
  );

  console.log(`PyTorch: same job, the same ${batches.length} length-bucketed batches ...`);
  const npy = join(dir, 'torch.npy');
  const torch = await timed('/usr/bin/python3', [
    join(root, 'bench/extract/torch_extract.py'),
    modelDir,
    job,
    npy,
  ]);
  const torchInfo = JSON.parse(torch.stdout.split('\n').find((l) => l.startsWith('{'))!) as Record<
    string,
    number
  >;
  if (torchInfo['padded_tokens'] !== paddedTokens)
    throw new Error(
      `PyTorch ran ${torchInfo['padded_tokens']} padded tokens, ours ${paddedTokens}: not equal work`,
    );

  // Agreement: every layer, every entity.
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
  const oursComputeLine = /\((\d+) computed in ([\d.]+) s/.exec(ours.stdout);
  const oursCompute = oursComputeLine ? Number(oursComputeLine[2]) : Number.NaN;
  const loadAfter = await loadavg();
  const line = (name: string, wall: number, compute: number, rss: number) =>
    `${name.padEnd(8)} wall ${wall.toFixed(1).padStart(7)} s ${(realTokens / wall).toFixed(0).padStart(7)} real tok/s ` +
    `${(rows / wall).toFixed(1).padStart(7)} ent/s | compute ${compute.toFixed(1).padStart(6)} s ` +
    `${(realTokens / compute).toFixed(0).padStart(7)} real tok/s | peak RSS ${rss.toFixed(0).padStart(5)} MB`;
  console.log(
    `\n${rows} entities, ${realTokens} real tokens, 30 layers x d ${d}; both sides: ${batches.length} ` +
      `length-bucketed batches, ${paddedTokens} padded tokens (${(paddedTokens / realTokens).toFixed(3)}x real; ` +
      `the authors' dataset-order batches of 64 would pad to ${(datasetOrderPadded / realTokens).toFixed(2)}x)`,
  );
  console.log(`load average before ${loadBefore}, after ${loadAfter}${quiet(loadBefore, loadAfter)}`);
  console.log(line('ours', ours.wallSeconds, oursCompute, ours.peakRssMb));
  console.log(line('PyTorch', torch.wallSeconds, torchInfo['forward_s']!, torch.peakRssMb));
  console.log(
    `equal-work ratio (ours / PyTorch real tokens per second): end-to-end ${(torch.wallSeconds / ours.wallSeconds).toFixed(2)}x, ` +
      `compute ${(torchInfo['forward_s']! / oursCompute).toFixed(2)}x; peak RSS ${(ours.peakRssMb / torch.peakRssMb).toFixed(2)}x`,
  );
  console.log(`max |ours - PyTorch| / max |PyTorch| over all layers: ${(err / scale).toExponential(2)}`);
  return {
    rows,
    realTokens,
    paddedTokens,
    ours,
    torch,
    oursCompute,
    torchCompute: torchInfo['forward_s']!,
    relErr: err / scale,
    loadBefore,
    loadAfter,
  };
}

/** Cost per entity at each size: linear growth shows as a flat ms/entity column. */
function printTable(results: SizeResult[]): void {
  console.log(
    '\n| entities | real tokens | padded/real | ours wall s | ours ms/entity | PyTorch wall s | PyTorch ms/entity | ratio | ours peak RSS MB | PyTorch peak RSS MB | max rel diff | load before / after |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const ms = (t: Timed) => ((1000 * t.wallSeconds) / r.rows).toFixed(2);
    console.log(
      `| ${r.rows} | ${r.realTokens} | ${(r.paddedTokens / r.realTokens).toFixed(3)} | ${r.ours.wallSeconds.toFixed(1)} | ` +
        `${ms(r.ours)} | ${r.torch.wallSeconds.toFixed(1)} | ${ms(r.torch)} | ` +
        `${(r.torch.wallSeconds / r.ours.wallSeconds).toFixed(2)}x | ${r.ours.peakRssMb.toFixed(0)} | ` +
        `${r.torch.peakRssMb.toFixed(0)} | ${r.relErr.toExponential(1)} | ${r.loadBefore} / ${r.loadAfter} |`,
    );
  }
}

/**
 * The engine's micro-batches of an extraction, as global row indices: extract hands the engine chunks of `batch`
 * rows in dataset order, and the engine sorts each chunk into length buckets (planBatches, default token budget).
 */
function sameBatchesAsOurs(lengths: number[], batch: number, heads: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < lengths.length; start += batch) {
    const chunk = lengths.slice(start, start + batch);
    for (const b of planBatches(chunk, DEFAULT_BATCH_TOKENS, heads)) out.push(b.seqs.map((i) => start + i));
  }
  return out;
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

async function loadavg(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

/** A warning unless the 1-minute load average was under 3 before and after (README figures need a quiet machine). */
function quiet(before: string, after: string): string {
  const loaded = [before, after].some((l) => Number(l.split(' ')[0]) >= 3);
  return loaded ? ' -- LOADED (1-min load >= 3): not a figure for a README' : ' (quiet)';
}

async function cpuModel(): Promise<string> {
  const info = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return /model name\s*:\s*(.*)/.exec(info)?.[1]?.trim() ?? 'unknown CPU';
}

await main();
