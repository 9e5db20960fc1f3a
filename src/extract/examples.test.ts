import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
