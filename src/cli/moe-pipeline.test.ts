/**
 * A mixture-of-experts model through the stages, as a user runs them: extract the router probabilities and the chosen
 * experts of a random Mixtral (one store each: their widths differ), `experts` on the probabilities, and a TopK SAE
 * trained on them; the stored rows are checked against the engine run directly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { loadModel } from '../model/index.js';
import { openStore } from '../store/index.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { runCliCaptured } from './testing.js';

const skip = skipWithoutShared(); // it extracts rows of the paper's world_place.csv

const tmp = mkdtempSync(join(tmpdir(), 'stl-moe-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('extract expert_weights / expert_indices, experts, sae train on a Mixtral', { skip }, async () => {
  const model = await writeRandomLlama(join(tmp, 'mixtral'), undefined, { experts: { count: 6, topK: 2 } });
  const csv = await writePaperSlice(join(tmp, 'data'), 'world_place', 40);
  const run = async (...argv: string[]) => {
    const r = await runCliCaptured(argv);
    assert.equal(r.code, 0, `${argv[0]}: ${r.err}`);
    return r;
  };
  const common = ['--model', model, '--dataset', csv, '--prompt', 'coords', '--limit', '30'];
  await run('extract', ...common, '--hooks', 'expert_weights', '--out', join(tmp, 'weights'));
  await run('extract', ...common, '--hooks', 'expert_indices', '--out', join(tmp, 'indices'));
  const weights = await openStore(join(tmp, 'weights'));
  const indices = await openStore(join(tmp, 'indices'));
  assert.deepEqual(weights.manifest.hooks, ['mlp.hook_expert_weights']);
  assert.equal(weights.manifest.d, 6);
  assert.equal(indices.manifest.d, 2);
  // The stored rows are the engine's values at each entity's kept token.
  const engine = await loadModel(model);
  const entities = await weights.entities();
  const ids = entities.map((e) => e['input_ids'] as number[]);
  const positions = entities.map((e) => e['position'] as number);
  const direct = await engine.run(ids, {
    hooks: ['blocks.1.mlp.hook_expert_weights', 'blocks.1.mlp.hook_expert_indices'],
    positions,
  });
  await engine.dispose();
  // (Extraction batches differently and computes the shared prompt prefix once: equal to float32 rounding.)
  const stored = await weights.read('blocks.1.mlp.hook_expert_weights');
  const expected = direct.get('blocks.1.mlp.hook_expert_weights')!;
  assert.ok(
    stored.every((v, i) => Math.abs(v - expected[i]!) < 1e-6),
    'expert weights',
  );
  const chosen = await indices.read('blocks.1.mlp.hook_expert_indices');
  assert.deepEqual(chosen, direct.get('blocks.1.mlp.hook_expert_indices'));
  assert.ok(chosen.every((v) => Number.isInteger(v) && v >= 0 && v < 6));

  const refused = await runCliCaptured([
    ...['extract', ...common],
    '--hooks',
    'expert_indices',
    '--dtype',
    'int8',
    '--out',
    join(tmp, 'x'),
  ]);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /expert_indices holds expert numbers/);
  const mixed = await runCliCaptured([
    ...['extract', ...common],
    '--hooks',
    'resid_post,expert_weights',
    '--out',
    join(tmp, 'y'),
  ]);
  assert.equal(mixed.code, 1);
  assert.match(mixed.err, /extract these hooks into separate stores/);

  await run(
    'experts',
    '--store',
    join(tmp, 'weights'),
    '--bins',
    '3',
    '--out',
    join(tmp, 'experts'),
    '--quiet',
  );
  const result = JSON.parse(readFileSync(join(tmp, 'experts', 'experts.json'), 'utf8'));
  assert.equal(result.experiment, 'experts');
  assert.equal(result.table.length, 3 * 6);
  const layer1 = result.table.filter((r: { layer: number }) => r.layer === 1);
  const shares = layer1.map((r: { top1_share: number }) => r.top1_share);
  assert.ok(Math.abs(shares.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-12);
  // top-1 shares are the first column of the indices store.
  for (let e = 0; e < 6; e++) {
    const count = Array.from({ length: 30 }, (_, i) => chosen[2 * i]).filter((v) => v === e).length;
    assert.equal(shares[e], count / 30, `expert ${e}`);
  }

  await run(
    'sae',
    'train',
    '--store',
    join(tmp, 'weights'),
    '--layer',
    '2',
    '--hook',
    'expert_weights',
    '--out',
    join(tmp, 'sae'),
    '--d-sae',
    '12',
    '--k',
    '2',
    '--epochs',
    '2',
    '--batch-size',
    '10',
    '--quiet',
  );
  const cfg = JSON.parse(readFileSync(join(tmp, 'sae', 'cfg.json'), 'utf8'));
  assert.equal(cfg.d_in, 6);
  assert.equal(cfg.hook_name, 'blocks.2.mlp.hook_expert_weights');
});
