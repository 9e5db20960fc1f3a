import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { registerCausal } from '../cli/commands/causal.js';
import { extract } from '../extract/index.js';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { probeStore, writeProbeResults } from '../probe/index.js';
import { UserError } from '../util/errors.js';
import { skipWithoutShared } from '../util/shared.test-util.js';

const skip = skipWithoutShared(); // both tests extract rows of the paper's world_place.csv

// `patch` and `ablate` end to end on a tiny random Llama with Llama-2's tokenizer and a slice of world_place:
// extract -> probe -> patch / ablate. The maths is checked against PyTorch in causal.test.ts; here the wiring, the
// readouts built from the data and the shape of the results are.
let tmp: string;
let modelDir: string;
let storeDir: string;
let probeDir: string;

async function cli(...argv: string[]): Promise<void> {
  const program = new Command('spacetime-lens').exitOverride();
  registerCausal(program);
  const { log, error } = console;
  console.log = () => {};
  console.error = () => {};
  try {
    await program.parseAsync(argv, { from: 'user' });
  } finally {
    console.log = log;
    console.error = error;
  }
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'causal-cli-'));
  if (skip) return;
  modelDir = await writeRandomLlama(join(tmp, 'model'), undefined, { seed: 3 });
  const csv = await writePaperSlice(join(tmp, 'data'), 'world_place', 60);
  storeDir = (
    await extract({ model: modelDir, dataset: csv, prompt: 'empty', batchSize: 60, out: join(tmp, 'store') })
  ).store;
  probeDir = join(tmp, 'probe');
  await writeProbeResults(probeDir, await probeStore(storeDir, { alphas: [1, 10, 100] }));
});
after(() => rm(tmp, { recursive: true, force: true }));

const common = () => [
  '--model',
  modelDir,
  '--store',
  storeDir,
  '--probe',
  probeDir,
  '--layer',
  '1',
  '--quiet',
];

test('patch: a side-effect matrix with its random band; the probe re-reads the amount along its own direction', {
  skip,
}, async () => {
  const out = join(tmp, 'patch');
  await cli(
    'patch',
    ...common(),
    ...[
      '--entities',
      '3',
      '--random-directions',
      '3',
      '--amounts',
      '-1,2',
      '--max-candidates',
      '6',
      '--out',
      out,
    ],
  );
  const r = JSON.parse(await readFile(join(out, 'patch.json'), 'utf8'));
  assert.equal(r.experiment, 'patch');
  assert.equal(r.layer, 1);
  const dirs: string[] = r.figures.directions;
  assert.deepEqual(dirs.slice(0, 2), ['longitude', 'latitude']);
  // measures: the country readout's longitude and latitude, then log P(true country)
  const measures: string[] = r.figures.measures;
  assert.deepEqual(measures.slice(0, 2), ['longitude', 'latitude']);
  assert.ok(measures.includes('logp_true_country'));
  assert.equal(r.table.length, dirs.length * measures.length);
  for (const cell of r.table) {
    assert.ok(
      Number.isFinite(cell.slope) && Number.isFinite(cell.random_min) && cell.random_min <= cell.random_max,
    );
  }
  assert.equal(r.settings.readouts[0].name, 'country');
  assert.equal(r.settings.readouts[0].candidates.length, 6);
  const effects = r.tables.effects.rows;
  assert.equal(effects.length, 3 * dirs.length * 2 * 4);
  // unit target: the probe of the steered attribute re-reads amount train std (amount·y_scale); its twins ≈ 0
  const want = (e: { amount: number }) => e.amount * r.settings.yScales.longitude;
  for (const e of effects.filter((x: { direction: string }) => x.direction === 'longitude')) {
    const own = e.probe_shift_longitude;
    const tol = 1e-3 * Math.abs(want(e));
    if (e.source === 'probe')
      assert.ok(Math.abs(own - want(e)) < tol, `probe re-reads ${own}, want ${want(e)}`);
    else assert.ok(Math.abs(own) < tol, `random twin re-reads ${own}`);
  }
  const csv = await readFile(join(out, 'patch.effects.csv'), 'utf8');
  assert.match(
    csv.split('\n')[0]!,
    /^row,entity,direction,source,amount,shift_norm,relative_shift,probe_shift_longitude/,
  );
  await assert.rejects(
    cli('patch', ...common(), '--amounts', '0,1'),
    (e: Error) => e instanceof UserError && /non-zero/.test(e.message),
  );
  await assert.rejects(
    cli('patch', ...common(), '--steer', 'year'),
    (e: Error) => e instanceof UserError && /no target year/.test(e.message),
  ); // a PLS direction (the target's k-component coefficients) steers like a probe direction
  const pls = join(tmp, 'patch-pls');
  await cli(
    'patch',
    ...common(),
    ...['--steer', 'pls2_latitude', '--entities', '2', '--random-directions', '2', '--amounts', '1'],
    ...['--max-candidates', '6', '--out', pls],
  );
  const rp = JSON.parse(await readFile(join(pls, 'patch.json'), 'utf8'));
  assert.deepEqual(rp.figures.directions, ['pls2_latitude']);
  assert.ok(rp.settings.yScales.pls2_latitude > 0);
  assert.ok(rp.table.every((c: { slope: number }) => Number.isFinite(c.slope)));
  await assert.rejects(
    cli('patch', ...common(), '--steer', 'pls2_year'),
    (e: Error) => e instanceof UserError && /no target year/.test(e.message),
  );
  await assert.rejects(
    cli('patch', ...common(), '--steer', 'pls0_latitude'),
    (e: Error) => e instanceof UserError && /outside 1\.\./.test(e.message),
  );
});

test('ablate: the probe subspace beside random subspaces of the same dimension, with a plain verdict', {
  skip,
}, async () => {
  const out = join(tmp, 'ablate');
  await cli(
    'ablate',
    ...common(),
    ...['--entities', '4', '--random-directions', '3', '--max-candidates', '6', '--out', out],
  );
  const r = JSON.parse(await readFile(join(out, 'ablate.json'), 'utf8'));
  assert.equal(r.experiment, 'ablate');
  assert.equal(r.summary.k, 2);
  assert.equal(typeof r.summary.used, 'boolean');
  assert.match(r.summary.verdict, /longitude, latitude probe directions \(2-D\) out of layer 1/);
  const kl = r.table.find(
    (x: { metric: string; readout: string }) => x.metric === 'kl' && x.readout === 'country',
  );
  assert.ok(kl.probe >= 0 && kl.random_min <= kl.random_median && kl.random_median <= kl.random_max);
  assert.equal(kl.exceeds, r.summary.used);
  const removed = r.table.find((x: { metric: string }) => x.metric === 'removed');
  assert.ok(removed.probe > 0 && removed.probe < 1);
  assert.equal(r.tables.entities.rows.length, 4 * (1 + 3) * r.settings.readouts.length);
});
