// Two real CLI processes on one output folder (two Slurm jobs of one command): before the locks, the second
// `extract --resume` died with ENOENT (exit 2) when the first removed the work folder. Now the second waits with a
// message naming the first's pid and host, then finds the store done; a plain `extract` refuses in one line; two
// `run`s take turns. The stores must equal a single run's, with no work folder or lock left behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { openStore } from '../store/index.js';
import { packageRoot } from '../util/paths.js';
import { skipWithoutShared } from '../util/shared.test-util.js';

const skip = skipWithoutShared(); // both tests extract rows of the paper's world_place.csv

let tmp: string;
let model: string;
let csv: string;

const launcher = `
const { main } = await import(${JSON.stringify(join(packageRoot(), 'src/cli/main.ts'))});
process.exitCode = await main(process.argv.slice(1));
`;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-collide-'));
  if (skip) return;
  model = await writeRandomLlama(join(tmp, 'tiny-llama'));
  csv = await writePaperSlice(join(tmp, 'data'), 'world_place', 3000);
});
after(() => rm(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Proc {
  pid: number;
  done: Promise<{ code: number | null; err: string }>;
}

function cli(args: string[]): Proc {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', launcher, ...args],
    { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (b) => (err += b));
  return { pid: child.pid!, done: new Promise((r) => child.on('close', (code) => r({ code, err }))) };
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const extractArgs = (out: string, ...more: string[]) => [
  'extract',
  '--model',
  model,
  '--dataset',
  csv,
  '--prompt',
  'coords',
  '--batch-size',
  '20',
  '--quiet',
  '--out',
  out,
  ...more,
];

test('two extract --resume into one folder: the second waits, then finds the store done', {
  skip,
}, async () => {
  const out = join(tmp, 'store');
  // started together, as an array job's tasks are: one takes the lock, the other waits for it
  const jobs = [cli(extractArgs(out, '--resume')), cli(extractArgs(out, '--resume'))];
  await waitFor(() => existsSync(`${out}.lock`), 'the lock');
  const plain = cli(extractArgs(out));
  const [r1, r2, r3] = await Promise.all([jobs[0]!.done, jobs[1]!.done, plain.done]);
  assert.equal(r1.code, 0, r1.err);
  assert.equal(r2.code, 0, r2.err);
  const waited = [r1, r2].findIndex((r) => /waiting for pid/.test(r.err));
  assert.ok(waited >= 0, `neither waited:\n${r1.err}\n${r2.err}`);
  const other = jobs[1 - waited]!;
  const w = [r1, r2][waited]!.err;
  assert.match(w, new RegExp(`waiting for pid ${other.pid} on host ${hostname()} \\(extract\\)`));
  assert.match(w, /is already complete/);
  // without --resume: one line, exit 1 (unless the first had already finished: then "already exists")
  assert.equal(r3.code, 1, r3.err);
  assert.match(
    r3.err.trim(),
    /^spacetime-lens: .*(is being written by pid \d+ on host|already exists)[^\n]*$/,
  );
  assert.ok(!existsSync(`${out}.work`) && !existsSync(`${out}.lock`));

  const single = join(tmp, 'single');
  const r4 = await cli(extractArgs(single)).done;
  assert.equal(r4.code, 0, r4.err);
  const [a, b] = [await openStore(out), await openStore(single)];
  assert.equal(a.manifest.n, 3000);
  for (const layer of [0, 1, 2]) assert.deepEqual(await a.readLayer(layer), await b.readLayer(layer));
});

test('two runs with the same settings take turns; the second reuses every step', { skip }, async () => {
  const args = ['run', '--model', model, '--dataset', csv, '--batch-size', '50', '--no-controls', '--quiet'];
  const jobs = [cli(args), cli(args)];
  const [r1, r2] = await Promise.all([jobs[0]!.done, jobs[1]!.done]);
  assert.equal(r1.code, 0, r1.err);
  assert.equal(r2.code, 0, r2.err);
  const waited = [r1, r2].findIndex((r) => /run: waiting for pid/.test(r.err));
  assert.ok(waited >= 0, `neither waited:\n${r1.err}\n${r2.err}`);
  const w = [r1, r2][waited]!.err;
  assert.match(
    w,
    new RegExp(`run: waiting for pid ${jobs[1 - waited]!.pid} on host ${hostname()} \\(run\\)`),
  );
  assert.match(w, /extract: .* is done, skipping/);
  assert.match(w, /probe: .* is up to date, skipping/);
});
