import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHooks, parseLayers } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { randomTokenIds } from './rng.js';
import { resolveShard, shardOutDir, shardRows } from './spec.js';

test('parseLayers: all, lists, ranges, negatives', () => {
  assert.deepEqual(parseLayers('all', 4), [0, 1, 2, 3]);
  assert.deepEqual(parseLayers('0,8,16', 32), [0, 8, 16]);
  assert.deepEqual(parseLayers('0:32:4', 32), [0, 4, 8, 12, 16, 20, 24, 28]);
  assert.deepEqual(parseLayers('28:', 30), [28, 29]);
  assert.deepEqual(parseLayers('-1,0', 30), [0, 29]);
  assert.deepEqual(parseLayers('3,1,3', 30), [1, 3]);
  assert.throws(() => parseLayers('32', 32), /layer 32 does not exist.*0\.\.31/);
  assert.throws(() => parseLayers('a', 32), UserError);
  assert.throws(() => parseLayers('0:8:0', 32), /step/);
});

test('parseHooks maps short names and rejects unknown ones', () => {
  assert.deepEqual(parseHooks('resid_post,mlp_post'), ['hook_resid_post', 'mlp.hook_post']);
  assert.deepEqual(parseHooks('hook_resid_post'), ['hook_resid_post']);
  assert.throws(() => parseHooks('attn'), /unknown hook 'attn'/);
});

test('resolveShard: flag, Slurm array, Kubernetes Indexed Job', () => {
  assert.deepEqual(resolveShard({ shard: '2/8' }, {}), { index: 2, count: 8, source: '--shard' });
  assert.throws(() => resolveShard({ shard: '8/8' }, {}), /outside 0\.\.7/);
  assert.throws(() => resolveShard({ shard: '1-8' }, {}), /i\/N/);
  const slurm = { SLURM_ARRAY_TASK_ID: '5', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '3' };
  assert.deepEqual(resolveShard({}, slurm), { index: 2, count: 4, source: 'SLURM_ARRAY_TASK_ID' });
  assert.deepEqual(
    resolveShard({}, { JOB_COMPLETION_INDEX: '1', SPACETIME_LENS_SHARD_COUNT: '3' })?.index,
    1,
  );
  assert.deepEqual(resolveShard({ shardCount: 3 }, { JOB_COMPLETION_INDEX: '2' })?.count, 3);
  assert.throws(() => resolveShard({}, { JOB_COMPLETION_INDEX: '1' }), /--shard-count/);
  assert.equal(resolveShard({ autoShard: false }, slurm), undefined);
  assert.equal(resolveShard({}, {}), undefined);
});

test('shardRows: contiguous whole chunks that cover every row exactly once', () => {
  for (const [n, chunk, count] of [
    [100, 8, 3],
    [5, 8, 3],
    [1000, 7, 10],
    [64, 64, 2],
  ] as const) {
    let next = 0;
    for (let i = 0; i < count; i++) {
      const { start, end } = shardRows(n, chunk, { index: i, count, source: 't' });
      assert.equal(start, next);
      assert.ok(start % chunk === 0 || start === n);
      next = end;
    }
    assert.equal(next, n);
  }
  assert.equal(
    shardOutDir('out/store/', { index: 3, count: 8, source: 't' }),
    'out/store.shard-0003-of-0008',
  );
});

test('random token ids: in range, keyed by (seed, row) only, roughly uniform', () => {
  const a = randomTokenIds(0, 17, 10, 100, 32000);
  assert.equal(a.length, 10);
  assert.ok(a.every((v) => Number.isInteger(v) && v >= 100 && v < 32000));
  assert.deepEqual(randomTokenIds(0, 17, 10, 100, 32000), a);
  assert.notDeepEqual(randomTokenIds(1, 17, 10, 100, 32000), a);
  assert.notDeepEqual(randomTokenIds(0, 18, 10, 100, 32000), a);
  // SplitMix64 reference values (computed by hand from the published algorithm: seed 0, row 0 -> state starts at 0;
  // the first output of SplitMix64 seeded with 0 is 0xE220A8397B1DCDAF).
  assert.deepEqual(randomTokenIds(0, 0, 1, 0, 2 ** 32), [Number(0xe220a8397b1dcdafn % 2n ** 32n)]);
  // Chi-square on 6 bins over 60k draws.
  const bins = new Array(6).fill(0);
  for (let r = 0; r < 6000; r++) for (const v of randomTokenIds(7, r, 10, 100, 106)) bins[v - 100]++;
  const chi = bins.reduce((s, c) => s + (c - 10000) ** 2 / 10000, 0);
  assert.ok(chi < 20.5, `chi2 ${chi}`); // p ~ 0.001 for 5 dof
});
