import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadModel } from '../model/index.js';
import { packageRoot } from '../util/paths.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import type { ExtractionModel } from './batch.js';
import { type ExtractOptions, extract } from './extract.js';
import { mergeStores } from './merge.js';
import { writePaperSlice, writeRandomLlama } from './testing.js';

const skip = skipWithoutShared();

// Real processes running the real CLI: a run killed with SIGKILL and resumed must give a store byte-identical to an
// uninterrupted run; shards run as separate processes (one per way of choosing the shard: --shard, a Slurm array
// task, a Kubernetes Indexed Job) and merged must give layer files byte-identical to the single-process store.
let tmp: string;
let modelDir: string;
let csv: string;
const ROWS = '120';
const EPOCH = '1700000000';

const launcher = `
const { main } = await import(${JSON.stringify(join(packageRoot(), 'src/cli/main.ts'))});
process.exitCode = await main(process.argv.slice(1));
`;

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', launcher, ...args], {
    cwd: packageRoot(),
    env: { ...process.env, SOURCE_DATE_EPOCH: EPOCH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

async function finish(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null; out: string }> {
  let out = '';
  child.stdout?.on('data', (b) => (out += b));
  child.stderr?.on('data', (b) => (out += b));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out })));
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const r = await finish(start(args, env));
  assert.equal(r.code, 0, `spacetime-lens ${args.join(' ')} failed:\n${r.out}`);
  return r.out;
}

const extractArgs = (out: string, extra: string[] = []) => [
  'extract',
  '--model',
  modelDir,
  '--dataset',
  csv,
  '--prompt',
  'coords',
  '--limit',
  ROWS,
  '--batch-size',
  '2',
  '--quiet',
  '--out',
  out,
  ...extra,
];

/** Every file of a store, by name -> bytes. */
async function storeFiles(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) out.set(name, await readFile(join(dir, name)));
  return out;
}

/** The same job through the library (what the CLI calls). */
const libraryArgs = (out: string, extra: Partial<ExtractOptions> = {}): ExtractOptions => ({
  model: modelDir,
  loadedModel: model,
  dataset: csv,
  prompt: 'coords',
  limit: Number(ROWS),
  batchSize: 2,
  out,
  ...extra,
});

let reference: Map<string, Buffer>;
let model: ExtractionModel;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-cluster-'));
  modelDir = await writeRandomLlama(join(tmp, 'model'));
  if (skip) return; // the rest needs the paper CSVs
  csv = await writePaperSlice(join(tmp, 'data'), 'world_place', Number(ROWS));
  model = (await loadModel(modelDir)) as unknown as ExtractionModel;
  process.env['SOURCE_DATE_EPOCH'] = EPOCH;
  await extract(libraryArgs(join(tmp, 'single')));
  reference = await storeFiles(join(tmp, 'single'));
});

after(async () => {
  delete process.env['SOURCE_DATE_EPOCH'];
  await model?.dispose();
  await rm(tmp, { recursive: true, force: true });
});

test('SIGKILL mid-run, then --resume: the store is byte-identical to an uninterrupted run', {
  skip,
}, async () => {
  const out = join(tmp, 'killed');
  const work = `${out}.work`;
  const child = start(extractArgs(out));
  const done = finish(child);
  // Kill once a few chunks are on disk, while many are still to come.
  let chunks = 0;
  // (Time-based, generous: a loaded CI machine may take long to start the child.)
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && chunks < 4 && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 5));
    chunks = existsSync(work) ? (await readdir(work)).filter((n) => n.startsWith('chunk-')).length : 0;
  }
  child.kill('SIGKILL');
  const killed = await done;
  assert.equal(killed.signal, 'SIGKILL', `the run ended before it could be killed:\n${killed.out}`);
  assert.ok(!existsSync(join(out, 'manifest.json')), 'no store may appear from a killed run');
  const left = (await readdir(work)).filter((n) => n.startsWith('chunk-')).length;
  assert.ok(left >= 4 && left < 60, `killed with ${left} of 60 chunks done`);

  // A fresh run refuses to trample the interrupted one; a resume with other settings is refused too.
  await assert.rejects(extract(libraryArgs(out)), /--resume/);
  await assert.rejects(extract(libraryArgs(out, { resume: true, seed: 5 })), /different settings.*seed/);

  // Litter of a store build killed during assembly (a dead pid) is cleaned up by the resume.
  const litter = join(tmp, '.killed.999999.00ab.tmp');
  await mkdir(litter);
  const resumed = await extract(libraryArgs(out, { resume: true }));
  assert.equal(resumed.computedRows, Number(ROWS) - left * 2, 'only the missing chunks are computed');
  assert.ok(!existsSync(litter));
  assert.ok(!existsSync(work), 'the work directory is removed once the store is in place');
  assert.deepEqual(await storeFiles(out), reference);
  // Resuming a finished job is a no-op.
  assert.equal((await extract(libraryArgs(out, { resume: true }))).alreadyDone, true);
});

test('3 shard processes (--shard, Slurm array, Kubernetes Indexed Job) merged == the single-process store', {
  skip,
}, async () => {
  const out = join(tmp, 'sharded');
  await Promise.all([
    cli(extractArgs(out, ['--shard', '0/3'])),
    cli(extractArgs(out), {
      SLURM_ARRAY_TASK_ID: '2',
      SLURM_ARRAY_TASK_MIN: '1',
      SLURM_ARRAY_TASK_COUNT: '3',
    }),
    cli(extractArgs(out), { JOB_COMPLETION_INDEX: '2', SPACETIME_LENS_SHARD_COUNT: '3' }),
  ]);
  const shards = ['0000', '0001', '0002'].map((i) => `${out}.shard-${i}-of-0003`);
  for (const s of shards) assert.ok(existsSync(join(s, 'manifest.json')), s);

  // Missing, repeated or foreign shards are refused, and nothing is written.
  const bad = join(tmp, 'bad');
  await assert.rejects(
    mergeStores({ inputs: [shards[0]!, shards[2]!], out: bad }),
    /rows 40\.\.79 are missing/,
  );
  await assert.rejects(mergeStores({ inputs: [...shards, shards[1]!], out: bad }), /overlaps/);
  const other = await extract(
    libraryArgs(join(tmp, 'other'), { shard: { index: 1, count: 3, source: 'test' }, seed: 5 }),
  );
  await assert.rejects(
    mergeStores({ inputs: [shards[0]!, other.store, shards[2]!], out: bad }),
    /does not belong.*seed/,
  );
  assert.ok(!existsSync(bad));

  await mergeStores({ inputs: [...shards].reverse(), out: join(tmp, 'merged') });
  const merged = await storeFiles(join(tmp, 'merged'));
  assert.deepEqual([...merged.keys()], [...reference.keys()]);
  for (const [name, bytes] of reference) {
    if (name === 'manifest.json') continue;
    assert.ok(bytes.equals(merged.get(name)!), `${name} differs from the single-process store`);
  }
  const m = JSON.parse(merged.get('manifest.json')!.toString()) as Record<string, unknown>;
  const r = JSON.parse(reference.get('manifest.json')!.toString()) as Record<string, unknown>;
  for (const k of [
    'model',
    'dataset',
    'prompt',
    'hooks',
    'layers',
    'dtype',
    'n',
    'd',
    'files',
    'createdAt',
  ]) {
    assert.deepEqual(m[k], r[k], k);
  }
});

test('int8 shards keep fp16 values and merge quantises over all rows, like a single int8 run', {
  skip,
}, async () => {
  const opts = { dtype: 'int8' as const, layers: '0,2', limit: 40 };
  const single = await extract(libraryArgs(join(tmp, 'q-single'), opts));
  const parts = [];
  for (let i = 0; i < 2; i++) {
    parts.push(
      (await extract(libraryArgs(join(tmp, 'q'), { ...opts, shard: { index: i, count: 2, source: 'test' } })))
        .store,
    );
  }
  const shardManifest = JSON.parse(await readFile(join(parts[0]!, 'manifest.json'), 'utf8'));
  assert.equal(shardManifest.dtype, 'f16');
  assert.equal(shardManifest.extra.extractor.pendingQuantization, 'int8');
  await mergeStores({ inputs: parts, out: join(tmp, 'q-merged') });
  const a = await storeFiles(single.store);
  const b = await storeFiles(join(tmp, 'q-merged'));
  for (const name of [
    'blocks.0.hook_resid_post.safetensors',
    'blocks.2.hook_resid_post.safetensors',
    'entities.jsonl',
  ]) {
    assert.ok(a.get(name)!.equals(b.get(name)!), name);
  }
  const qa = JSON.parse(a.get('manifest.json')!.toString()).extra.quantization;
  const qb = JSON.parse(b.get('manifest.json')!.toString()).extra.quantization;
  assert.deepEqual(qa, qb);
});

test('--sample shards tile the sampled rows; merged == a single sampled run, key included', {
  skip,
}, async () => {
  const opts = { sample: 30, seed: 4, layers: '0,2', limit: undefined };
  const single = await extract(libraryArgs(join(tmp, 's-single'), opts));
  const parts = [];
  for (let i = 0; i < 2; i++) {
    const shard = { index: i, count: 2, source: 'test' as const };
    parts.push((await extract(libraryArgs(join(tmp, 's'), { ...opts, shard }))).store);
  }
  await mergeStores({ inputs: parts, out: join(tmp, 's-merged') });
  const a = await storeFiles(single.store);
  const b = await storeFiles(join(tmp, 's-merged'));
  for (const name of ['blocks.0.hook_resid_post.safetensors', 'entities.jsonl']) {
    assert.ok(a.get(name)!.equals(b.get(name)!), name);
  }
  const ma = JSON.parse(a.get('manifest.json')!.toString());
  const mb = JSON.parse(b.get('manifest.json')!.toString());
  assert.equal(ma.n, 30);
  assert.deepEqual(mb.extra.cacheKey, ma.extra.cacheKey);
  assert.deepEqual(mb.extra.extractor.sampledRows, ma.extra.extractor.sampledRows);
});
