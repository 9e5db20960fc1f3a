/** `experts` against NumPy/SciPy (reference/neurons_experts_golden.py): means, top-1 shares with ties, ρ, bins. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { expertRouting } from './experts.js';
import { worldPlaceStore } from './store.test-util.js';

interface Golden {
  n: number;
  experts: number;
  bins: number;
  longitude: number[];
  latitude: number[];
  probs: number[][];
  layers: {
    mean_weight: number[];
    top1_share: number[];
    spearman: Record<string, number[]>;
    shares: Record<string, number[][]>;
    ranges: Record<string, [number, number][]>;
  }[];
}

const golden = JSON.parse(
  readFileSync(join(packageRoot(), 'test/fixtures/neurons/experts.json'), 'utf8'),
) as Golden;
const scratch = mkdtempSync(join(tmpdir(), 'stl-experts-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function makeStore(dir: string, hook: string) {
  const { experts: E, probs } = golden;
  const entities = golden.longitude.map((lon, i) => ({
    is_test: false,
    target: [lon, golden.latitude[i]!] as [number, number],
  }));
  return worldPlaceStore(
    dir,
    'tiny-moe',
    hook,
    E,
    entities,
    probs.map((p) => Float32Array.from(p)),
  );
}

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('experts: mean weights, top-1 shares (ties to the lower expert), Spearman and equal-count bins match SciPy', async () => {
  const store = await makeStore(join(scratch, 'weights'), 'mlp.hook_expert_weights');
  const result = await expertRouting({ store, bins: golden.bins });
  assert.equal(result.experiment, 'experts');
  const E = golden.experts;
  assert.equal(result.table.length, golden.layers.length * E);
  const figures = result.figures as {
    top1Shares: Record<string, number[][][]>;
    bins: Record<string, [number, number][]>;
  };
  golden.layers.forEach((g, l) => {
    for (let e = 0; e < E; e++) {
      const row = result.table[l * E + e]!;
      assert.equal(row['layer'], l);
      assert.equal(row['expert'], e);
      close(row['mean_weight'] as number, g.mean_weight[e]!, 1e-7, `layer ${l} expert ${e} mean`);
      assert.equal(row['top1_share'], g.top1_share[e], `layer ${l} expert ${e} top-1 share`);
      for (const t of ['longitude', 'latitude'])
        close(row[`spearman_${t}`] as number, g.spearman[t]![e]!, 1e-12, `layer ${l} expert ${e} ρ ${t}`);
    }
    for (const t of ['longitude', 'latitude']) {
      assert.deepEqual(figures.top1Shares[t]![l], g.shares[t], `layer ${l} ${t} bin shares`);
      assert.deepEqual(figures.bins[t], g.ranges[t]);
    }
  });
  // The ties (experts 3 and 5 equally probable on every 17th entity) went to expert 3.
  assert.ok(golden.layers.every((g) => g.top1_share[3]! > 0));
});

test('experts: a store without expert weights, a missing layer and bad bins are one-line errors', async () => {
  const resid = await makeStore(join(scratch, 'resid'), 'hook_resid_post');
  await assert.rejects(
    expertRouting({ store: resid }),
    (e: Error) => e instanceof UserError && /--hooks expert_weights/.test(e.message),
  );
  const store = await openStore(join(scratch, 'weights'));
  await assert.rejects(expertRouting({ store, layers: [7] }), /has no blocks\.7\.mlp\.hook_expert_weights/);
  await assert.rejects(expertRouting({ store, bins: 0 }), /--bins should be an integer/);
});
