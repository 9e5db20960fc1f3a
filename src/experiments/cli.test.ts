import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Command } from 'commander';
import { registerExperiment } from '../cli/commands/experiment.js';
import { runCliCaptured } from '../cli/testing.js';
import { Rng } from '../util/rng.js';
import { syntheticPlaces, writeSyntheticStore } from './synthetic.test-util.js';

const root = mkdtempSync(join(tmpdir(), 'stl-exp-cli-'));
after(() => rmSync(root, { recursive: true, force: true }));

const cli = (...argv: string[]) => runCliCaptured(argv);

const base = syntheticPlaces({ blocks: 5, perBlock: 30, d: 8, seed: 7, types: ['city', 'structure'] });
const rng = new Rng(7, 'layers');
const noisy = Float32Array.from(base.x, (v) => 0.2 * v + rng.normal());
const stores = {
  a: join(root, 'store-a'),
  b: join(root, 'store-b'),
};
const ready = (async () => {
  await writeSyntheticStore(stores.a, base, [noisy, base.x], { prompt: 'empty' });
  const shifted = base.x.map((v, i) => v + (i % base.d) * 0.5);
  await writeSyntheticStore(stores.b, base, [noisy, shifted], { prompt: 'coords' });
})();

test('registerExperiment adds the experiments to a fresh program', () => {
  const program = new Command('x');
  registerExperiment(program);
  const group = program.commands.find((c) => c.name() === 'experiment')!;
  assert.deepEqual(
    group.commands.map((c) => c.name()),
    [
      'mlp',
      'pca',
      'block-holdout',
      'entity-holdout',
      'pls',
      'spatial',
      'bias',
      'negative-controls',
      'prompts',
    ],
  );
});

test('experiment block-holdout writes JSON + CSVs and prints the table', async () => {
  await ready;
  const out = join(root, 'out-block');
  const r = await cli(
    'experiment',
    'block-holdout',
    '--store',
    stores.a,
    '--column',
    'block',
    '--alpha',
    '1',
    '--layer',
    '1',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Block hold-out by block/);
  assert.match(r.out, /heldout_prox_error: /);
  const json = JSON.parse(readFileSync(join(out, 'block-holdout.json'), 'utf8'));
  assert.equal(json.schema, 'spacetime-lens/experiment@1');
  assert.equal(json.experiment, 'block-holdout');
  assert.equal(json.layer, 1);
  assert.equal(json.settings.alpha, 1);
  assert.equal(json.table.length, 5);
  assert.equal(json.figures.maps.length, 5);
  assert.ok(json.summary.heldout_prox_error < 0.1);
  const csv = readFileSync(join(out, 'block-holdout.csv'), 'utf8').split('\n');
  assert.equal(csv[0], json.columns.join(','));
  assert.ok(existsSync(join(out, 'block-holdout.centroids.csv')));
});

test('experiment entity-holdout, pca and prompts run end to end on stores', async () => {
  await ready;
  const out = join(root, 'out-misc');
  const e = await cli(
    'experiment',
    'entity-holdout',
    '--store',
    stores.a,
    '--column',
    'entity_type',
    '--alpha',
    'loo',
    '--alphas',
    '0.1,1,10',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(e.code, 0, e.err);
  const ej = JSON.parse(readFileSync(join(out, 'entity-holdout.json'), 'utf8'));
  assert.deepEqual(ej.table.map((r: { group: string }) => r.group).sort(), ['city', 'structure']);
  assert.match(ej.settings.alphaSource, /^loo/);

  const p = await cli(
    'experiment',
    'pca',
    '--store',
    stores.a,
    '--layer',
    '1',
    '--ks',
    '2,4',
    '--alphas',
    '0.1,1',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(p.code, 0, p.err);
  const pj = JSON.parse(readFileSync(join(out, 'pca.json'), 'utf8'));
  assert.deepEqual(
    pj.table.map((r: { k: number }) => r.k),
    [2, 4, 8],
  );

  const q = await cli(
    'experiment',
    'prompts',
    '--store',
    stores.a,
    stores.b,
    '--alphas',
    '0.1,1,10',
    '--transfer-layer',
    '1',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(q.code, 0, q.err);
  const qj = JSON.parse(readFileSync(join(out, 'prompts.json'), 'utf8'));
  assert.equal(qj.table.length, 4); // 2 prompts × 2 layers
  assert.equal(qj.tables.transfer.rows.length, 6); // 2 same + 2 × 2 different
  assert.ok(qj.summary.same_test_r2 > 0.9);
  assert.ok(existsSync(join(out, 'prompts.transfer.csv')));
});

test('experiment mlp --layers all: linear and MLP rows per layer, training curves', async () => {
  await ready;
  const out = join(root, 'out-mlp');
  const r = await cli(
    'experiment',
    'mlp',
    '--store',
    stores.a,
    '--layers',
    'all',
    '--alphas',
    '0.1,1',
    '--weight-decays',
    '0.1',
    '--max-epochs',
    '2',
    '--batch-size',
    '32',
    '--hidden',
    '16',
    '--out',
    out,
    '--quiet',
  );
  assert.equal(r.code, 0, r.err);
  const json = JSON.parse(readFileSync(join(out, 'mlp.json'), 'utf8'));
  assert.equal(json.layer, null);
  assert.deepEqual(
    json.table.map((row: { layer: number; probe: string }) => `${row.layer}:${row.probe}`),
    ['0:linear', '0:mlp', '1:linear', '1:mlp'],
  );
  assert.deepEqual(json.settings.weightDecays, [0.1]);
  assert.equal(json.settings.hidden, 16);
  assert.equal(json.tables.curves.rows.length, 4); // 2 layers × 1 weight decay × 2 epochs
  assert.ok(existsSync(join(out, 'mlp.curves.csv')));
});

test('experiment prompts reuses matching probe results instead of refitting those layers', async () => {
  await ready;
  const probeA = join(root, 'probe-a');
  const probeB = join(root, 'probe-b');
  for (const [store, out] of [
    [stores.a, probeA],
    [stores.b, probeB],
  ] as const) {
    const p = await cli('probe', '--store', store, '--alphas', '0.1,1,10', '--out', out);
    assert.equal(p.code, 0, p.err);
  }
  const out = join(root, 'out-reuse');
  const q = await cli(
    'experiment',
    'prompts',
    '--store',
    stores.a,
    stores.b,
    '--alphas',
    '0.1,1,10',
    '--no-transfer',
    '--probe-results',
    probeA,
    probeB,
    '--out',
    out,
  );
  assert.equal(q.code, 0, q.err);
  assert.doesNotMatch(q.err, /prompts: (empty|coords) layer/, 'no layer was refitted');
  const probed = JSON.parse(readFileSync(join(probeA, 'results.json'), 'utf8'));
  const table = JSON.parse(readFileSync(join(out, 'prompts.json'), 'utf8')).table;
  assert.equal(table[1].test_r2, probed.layers[1].test.r2);
  // a different grid does not match, so the layers are fitted here
  const refit = await cli(
    'experiment',
    'prompts',
    '--store',
    stores.a,
    stores.b,
    '--alphas',
    '1,10',
    '--no-transfer',
    '--probe-results',
    probeA,
    probeB,
    '--out',
    out,
  );
  assert.equal(refit.code, 0, refit.err);
  assert.match(refit.err, /prompts: empty layer 0/);
});

test('experiment prompts reuses probe results only of the same store (its key; else its folder and rows)', async () => {
  await ready;
  // The same model, dataset and prompt, but 60 rows instead of 150: the old code took its layers silently.
  const small = syntheticPlaces({ blocks: 2, perBlock: 30, d: 8, seed: 7, types: ['city', 'structure'] });
  const prompts = (storeA: string, results: string[], out: string) =>
    cli(
      'experiment',
      'prompts',
      '--store',
      storeA,
      stores.b,
      '--alphas',
      '0.1,1,10',
      '--no-transfer',
      '--probe-results',
      ...results,
      '--out',
      out,
    );
  const probe = async (store: string, out: string) => {
    const p = await cli('probe', '--store', store, '--alphas', '0.1,1,10', '--out', out);
    assert.equal(p.code, 0, p.err);
    return out;
  };
  const unkeyed = await writeSyntheticStore(join(root, 'store-small'), small, [small.x, small.x], {
    prompt: 'empty',
  });
  const r = await prompts(
    stores.a,
    [await probe(unkeyed, join(root, 'probe-small'))],
    join(root, 'out-small'),
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /not reusing .*probe-small.*\(60 rows\), not .*store-a \(150 rows; no store key/);
  assert.match(r.err, /prompts: empty layer 0/, 'refitted');
  const direct = JSON.parse(readFileSync(join(root, 'out-small', 'prompts.json'), 'utf8')).table;

  // Keyed stores: the key decides, wherever the folders are.
  const keyed = (name: string, data: typeof base, rows: number) =>
    writeSyntheticStore(join(root, name), data, [data.x, data.x], {
      prompt: 'empty',
      extra: { cacheKey: { rows } },
    });
  const big = await keyed('store-key-150', base, 150);
  const smallKeyed = await keyed('store-key-60', small, 60);
  const same = await probe(big, join(root, 'probe-key-150'));
  const other = await probe(smallKeyed, join(root, 'probe-key-60'));
  const k = await prompts(big, [other], join(root, 'out-key-60'));
  assert.equal(k.code, 0, k.err);
  assert.match(
    k.err,
    /not reusing .*probe-key-60.*store key [0-9a-f]{12} is not .*store-key-150's [0-9a-f]{12}/,
  );
  assert.match(k.err, /prompts: empty layer 0/);
  const refit = JSON.parse(readFileSync(join(root, 'out-key-60', 'prompts.json'), 'utf8')).table;
  const s = await prompts(big, [same], join(root, 'out-key-150'));
  assert.equal(s.code, 0, s.err);
  assert.doesNotMatch(s.err, /prompts: empty layer/, 'the same key: reused');
  const reused = JSON.parse(readFileSync(join(root, 'out-key-150', 'prompts.json'), 'utf8')).table;
  const probed = JSON.parse(readFileSync(join(same, 'results.json'), 'utf8'));
  assert.equal(reused[1].test_r2, probed.layers[1].test.r2);
  assert.equal(refit[1].test_r2, reused[1].test_r2, 'the refit equals the probe of the same 150 rows');
  assert.notEqual(
    direct[0].test_r2,
    JSON.parse(readFileSync(join(root, 'probe-small', 'results.json'), 'utf8')).layers[0].test.r2,
  );
});

test('experiment errors are one-line user errors (exit 1)', async () => {
  await ready;
  const missing = await cli('experiment', 'block-holdout', '--store', join(root, 'nope'), '--quiet');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /does not exist/);
  const column = await cli(
    'experiment',
    'block-holdout',
    '--store',
    stores.a,
    '--column',
    'planet',
    '--alpha',
    '1',
    '--quiet',
    '--out',
    join(root, 'x'),
  );
  assert.equal(column.code, 1);
  assert.match(column.err, /column 'planet' is not in the store's entities/);
  const layer = await cli(
    'experiment',
    'pca',
    '--store',
    stores.a,
    '--layer',
    '9',
    '--quiet',
    '--out',
    join(root, 'x'),
  );
  assert.equal(layer.code, 1);
  assert.match(layer.err, /layer 9 is not in store/);
  const alpha = await cli('experiment', 'block-holdout', '--store', stores.a, '--alpha', 'big', '--quiet');
  assert.equal(alpha.code, 1);
  assert.match(alpha.err, /--alpha: expected a positive number or 'loo'/);
});
