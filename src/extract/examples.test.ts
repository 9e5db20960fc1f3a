import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { packageRoot } from '../util/paths.js';
import { resolveShard, shardOutDir } from './spec.js';

// The shipped cluster examples must agree with what the extractor does with their environment.
const examples = join(packageRoot(), 'examples');

test('Kubernetes Indexed Job: shard count matches completions, and the merge glob matches the shard directories', () => {
  const job = parse(readFileSync(join(examples, 'kubernetes/extract-indexed-job.yaml'), 'utf8'));
  assert.equal(job.spec.completionMode, 'Indexed');
  const container = job.spec.template.spec.containers[0];
  const env = Object.fromEntries(
    container.env.map((e: { name: string; value: string }) => [e.name, e.value]),
  );
  assert.equal(Number(env.SPACETIME_LENS_SHARD_COUNT), job.spec.completions);
  assert.ok(container.args.includes('--resume'));
  const out = container.args.find((a: string) => a.startsWith('--out=')).slice('--out='.length);
  const merge = parse(readFileSync(join(examples, 'kubernetes/merge-job.yaml'), 'utf8'));
  const glob = / (\S+\.shard-\*-of-\d+) /.exec(merge.spec.template.spec.containers[0].args[0])![1]!;
  const pattern = new RegExp(`^${glob.replace(/[.]/g, '\\.').replace('*', '\\d+')}$`);
  for (let i = 0; i < job.spec.completions; i++) {
    const shard = resolveShard({}, { ...env, JOB_COMPLETION_INDEX: String(i) });
    assert.deepEqual([shard?.index, shard?.count], [i, job.spec.completions]);
    assert.match(shardOutDir(out, shard), pattern);
  }
});

test('Slurm array script: resumable, quiet, and its merge glob matches the shard directories', () => {
  const script = readFileSync(join(examples, 'slurm/extract-array.sbatch'), 'utf8');
  assert.match(script, /--resume/);
  assert.match(script, /#SBATCH --array=0-7/);
  const merge = readFileSync(join(examples, 'slurm/merge.sbatch'), 'utf8');
  assert.match(merge, /spacetime-lens merge "\$OUT"\.shard-\*-of-\* --out "\$OUT"/);
  const env = { SLURM_ARRAY_TASK_ID: '7', SLURM_ARRAY_TASK_MIN: '0', SLURM_ARRAY_TASK_COUNT: '8' };
  assert.match(shardOutDir('/scratch/world', resolveShard({}, env)), /^\/scratch\/world\.shard-\d+-of-\d+$/);
});

// The Slurm scripts run for real under bash, with fake `sbatch`, `srun` and `spacetime-lens` commands on PATH that
// record their arguments (one per line, a blank line after each call) and print what Slurm would.
const slurm = join(examples, 'slurm');

function fakeBin(dir: string, name: string, log: string, output = ''): void {
  writeFileSync(
    join(dir, name),
    `#!/bin/bash\nprintf '%s\\n' "$@" >> ${JSON.stringify(log)}\necho >> ${JSON.stringify(log)}\n${output}\n`,
    { mode: 0o755 },
  );
}

/** Runs a script under bash in a fresh directory with the fakes first on PATH; returns the calls recorded. */
function runScript(script: string, env: Record<string, string>, args: string[] = []) {
  const cwd = mkdtempSync(join(tmpdir(), 'stl-slurm-'));
  const bin = join(cwd, 'bin');
  mkdirSync(bin);
  const log = join(cwd, 'calls.txt');
  // sbatch --parsable answers "4242;cluster" first, then "4243".
  fakeBin(
    bin,
    'sbatch',
    log,
    `n=$(grep -c '^--parsable$' ${JSON.stringify(log)}); [ "$n" = 1 ] && echo '4242;cluster' || echo 4243`,
  );
  fakeBin(bin, 'srun', log, 'exec "$@"');
  fakeBin(bin, 'spacetime-lens', log);
  const r = spawnSync('bash', [join(slurm, script), ...args], {
    cwd,
    env: { PATH: `${bin}:${process.env['PATH']}`, HOME: cwd, ...env },
    encoding: 'utf8',
  });
  const calls = existsSync(log)
    ? readFileSync(log, 'utf8')
        .split('\n\n')
        .filter((c) => c.trim())
        .map((c) => c.split('\n').filter(Boolean))
    : [];
  rmSync(cwd, { recursive: true, force: true });
  return { code: r.status, out: r.stdout, err: r.stderr, calls, cwd };
}

const JOB = {
  MODEL: 'meta-llama/Llama-2-7b-hf',
  DATASET: 'world_place',
  PROMPT: 'coords',
  OUT: '/scratch/world',
};

test('Slurm scripts: bash -n finds no syntax error in any of them', () => {
  for (const script of ['extract-array.sbatch', 'merge.sbatch', 'submit.sh']) {
    const r = spawnSync('bash', ['-n', join(slurm, script)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${script}: ${r.stderr}`);
  }
  assert.match(readFileSync(join(slurm, 'extract-array.sbatch'), 'utf8'), /examples\/slurm\/submit\.sh/);
});

test('submit.sh: submits the array, then the merge with --dependency=afterok on the array job id', () => {
  const r = runScript('submit.sh', { ...JOB, SHARDS: '4' }, ['--account=proj']);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.calls.length, 2);
  assert.deepEqual(r.calls[0], [
    '--parsable',
    '--account=proj',
    '--array=0-3',
    '--export=ALL',
    join(slurm, 'extract-array.sbatch'),
  ]);
  assert.deepEqual(r.calls[1], [
    '--parsable',
    '--account=proj',
    '--dependency=afterok:4242',
    '--export=ALL',
    join(slurm, 'merge.sbatch'),
  ]);
  assert.match(
    r.out,
    /array job 4242 submitted \(4 shards\); merge job 4243 runs when every task has succeeded/,
  );
});

test('submit.sh: a missing setting or a bad SHARDS stops before anything is submitted', () => {
  const { MODEL: _m, ...noModel } = JOB;
  const missing = runScript('submit.sh', noModel);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /MODEL: set MODEL/);
  assert.deepEqual(missing.calls, []);
  const bad = runScript('submit.sh', { ...JOB, SHARDS: '0' });
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /SHARDS must be a positive integer, got '0'/);
  assert.deepEqual(bad.calls, []);
});

test('extract-array.sbatch: the extract command it runs, with and without the optional settings', () => {
  const r = runScript('extract-array.sbatch', { ...JOB, BATCH_SIZE: '16', LAYERS: '0:32:4' });
  assert.equal(r.code, 0, r.err);
  const extract = r.calls.find((c) => c[0] === 'extract')!;
  assert.deepEqual(extract, [
    'extract',
    ...['--model', JOB.MODEL, '--dataset', JOB.DATASET, '--prompt', JOB.PROMPT, '--out', JOB.OUT],
    ...['--layers', '0:32:4', '--dtype', 'f16', '--batch-size', '16'],
    ...['--device', 'cpu', '--offline', '--resume', '--quiet'],
  ]);
  const plain = runScript('extract-array.sbatch', JOB).calls.find((c) => c[0] === 'extract')!;
  assert.ok(!plain.includes('--batch-size') && plain.includes('all'), plain.join(' '));
  const { PROMPT: _p, ...noPrompt } = JOB;
  const missing = runScript('extract-array.sbatch', noPrompt);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /PROMPT: set PROMPT/);
});
