import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { packageRoot } from '../util/paths.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { countFinishedChunks, rememberInvocation, repeatCommand } from './interrupt.js';

const skip = skipWithoutShared();

// The real CLI in a child process on a tiny generated Llama: Ctrl-C (SIGINT) mid-extraction must end with exit code
// 130 and one line saying what was kept and the exact command that continues.
let tmp: string;
let csv: string;

const launcher = `
const { main } = await import(${JSON.stringify(join(packageRoot(), 'src/cli/main.ts'))});
process.exitCode = await main(process.argv.slice(1));
`;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'stl-sigint-'));
  await writeRandomLlama(join(tmp, 'tiny-llama')); // used as ./tiny-llama: the CLI runs in tmp
  if (skip) return; // the rest needs the paper CSVs
  csv = await writePaperSlice(join(tmp, 'data'), 'world_place', 3000);
});
after(() => rm(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts the CLI, waits (up to 3 min, for slow machines) until `ready()` holds, sends SIGINT, returns the outcome. */
async function interrupt(args: string[], ready: () => boolean) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', launcher, ...args],
    {
      cwd: tmp,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.on('data', (b) => (err += b));
  child.stdout!.on('data', () => {});
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  let running = true;
  void exited.then(() => (running = false));
  const deadline = Date.now() + 180_000;
  while (running && !ready() && Date.now() < deadline) await sleep(25);
  assert.ok(running, `the command ended before it could be interrupted:\n${err}`);
  assert.ok(ready(), `the command never got going:\n${err}`);
  child.kill('SIGINT');
  return { ...(await exited), err };
}

test('repeatCommand quotes for a POSIX shell and adds missing flags once', () => {
  rememberInvocation(['extract', '--model', '../my model', '--out', "it's", '--resume']);
  assert.equal(
    repeatCommand(['--resume']),
    `spacetime-lens extract --model '../my model' --out 'it'\\''s' --resume`,
  );
});

test('Ctrl-C during extract: exit 130, the chunks kept and the exact --resume command', {
  skip,
}, async () => {
  const out = join(tmp, 'stores', 'world');
  const args = [
    'extract',
    '--model',
    './tiny-llama',
    '--dataset',
    csv,
    '--prompt',
    'coords',
    '--batch-size',
    '1',
  ];
  const r = await interrupt(
    [...args, '--quiet', '--out', out],
    () => countFinishedChunks(`${out}.work`, 0) > 0,
  );
  assert.equal(r.signal, null, 'the process exits by itself rather than dying from the signal');
  assert.equal(r.code, 130, r.err);
  const line = r.err.split('\n').find((l) => l.startsWith('spacetime-lens: interrupted;'));
  assert.ok(line, r.err);
  const kept = Number(/kept (\d+) finished extraction chunks? beside /.exec(line)?.[1]);
  assert.ok(kept >= 1, line);
  assert.ok(kept <= readdirSync(`${out}.work`).filter((f) => f.startsWith('chunk-')).length, line);
  assert.ok(
    line.endsWith(
      `continue with: spacetime-lens ${[...args, '--quiet', '--out', out, '--resume'].join(' ')}`,
    ),
    line,
  );
  assert.ok(!existsSync(join(out, 'manifest.json')), 'no store was finished');
});

test('Ctrl-C during run: exit 130 and the same command to continue, under the model folder name', {
  skip,
}, async () => {
  const args = ['run', '--model', './tiny-llama', '--dataset', csv, '--batch-size', '1', '--quiet'];
  const root = join(tmp, 'spacetime-lens-runs', 'tiny-llama');
  const r = await interrupt(args, () => countFinishedChunks(root) > 0);
  assert.equal(r.code, 130, r.err);
  const line = r.err.split('\n').find((l) => l.startsWith('spacetime-lens: interrupted;'));
  assert.ok(line, r.err);
  assert.match(
    line,
    new RegExp(`finished steps and \\d+ finished extraction chunks? are kept under ${root};`),
  );
  assert.ok(line.endsWith(`run the same command again to continue: spacetime-lens ${args.join(' ')}`), line);
});

test('Ctrl-C during paper: exit 130, what was kept under <out>/<model folder>, the same command to continue', {
  skip,
}, async () => {
  const args = [
    'paper',
    '--model',
    './tiny-llama',
    '--datasets',
    csv,
    '--prompts',
    'canonical',
    '--batch-size',
    '1',
  ];
  const root = join(tmp, 'grid', 'tiny-llama');
  const r = await interrupt([...args, '--out', 'grid', '--quiet'], () => countFinishedChunks(root) > 0);
  assert.equal(r.code, 130, r.err);
  const line = r.err.split('\n').find((l) => l.startsWith('spacetime-lens: interrupted;'));
  assert.ok(line, r.err);
  assert.match(line, new RegExp(`\\d+ finished extraction chunks? are kept under ${root};`));
  assert.ok(
    line.endsWith(`continue: spacetime-lens ${[...args, '--out', 'grid', '--quiet'].join(' ')}`),
    line,
  );
});
