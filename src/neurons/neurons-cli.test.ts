import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { registerNeurons } from '../cli/commands/neurons.js';
import { extract } from '../extract/index.js';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { probeStore, writeProbeResults } from '../probe/index.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { skipWithoutShared } from '../util/shared.test-util.js';

const skip = skipWithoutShared();

// End to end through the commands on a tiny random Llama with Llama-2's tokenizer (src/model/testing-tokenizers.ts)
// and a slice of the paper's world_place CSV: extract -> probe -> neurons / intervene / familiarity. Numbers are checked
// against SciPy/NumPy and by exact mechanics in the other test files; here the wiring and the outputs are.
let tmp: string;
let modelDir: string;
let storeDir: string;
let mlpDir: string;
let probeDir: string;

async function cli(...argv: string[]): Promise<{ out: string; err: string }> {
  const program = new Command('spacetime-lens').exitOverride();
  registerNeurons(program);
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => out.push(a.join(' '));
  console.error = (...a: unknown[]) => err.push(a.join(' '));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { out: out.join('\n'), err: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'neurons-cli-'));
  modelDir = await writeRandomLlama(join(tmp, 'model'), undefined, { seed: 3 });
  if (skip) return; // the rest needs the paper CSVs
  const csv = await writePaperSlice(join(tmp, 'data'), 'world_place', 40);
  const common = { model: modelDir, dataset: csv, prompt: 'empty', batchSize: 40 };
  storeDir = (await extract({ ...common, out: join(tmp, 'store') })).store;
  mlpDir = (await extract({ ...common, out: join(tmp, 'mlp'), hooks: 'mlp_post' })).store;
  probeDir = join(tmp, 'probe');
  await writeProbeResults(probeDir, await probeStore(storeDir, { alphas: [1, 10, 100] }));
});
after(() => rm(tmp, { recursive: true, force: true }));

test('neurons: both procedures; single-neuron fits from an mlp_post store equal those from the engine', {
  skip,
}, async () => {
  const out = join(tmp, 'n-store');
  const res = await cli(
    'neurons',
    '--model',
    modelDir,
    '--store',
    storeDir,
    '--probe',
    probeDir,
    '--top',
    '5',
  );
  assert.match(res.out, /feature\s+weight\s+layer\s+neuron/);
  await cli(
    'neurons',
    ...['--model', modelDir, '--store', storeDir, '--probe', probeDir, '--top', '5'],
    ...['--mlp-store', mlpDir, '--out', out, '--quiet', '--procedure', 'both'],
  );
  const viaEngine = JSON.parse(await readFile(`${storeDir}.neurons/neurons.json`, 'utf8'));
  const viaStore = JSON.parse(await readFile(join(out, 'neurons.json'), 'utf8'));
  assert.equal(viaStore.schema, 'spacetime-lens/experiment@1');
  assert.equal(viaStore.experiment, 'neurons');
  assert.deepEqual(viaStore.columns, ['feature', 'weight', 'layer', 'neuron', 'corr', 'abs_corr']);
  // 4 features (lon, lat, abs_lat, abs_lon) x 3 weight types x top 5
  assert.equal(viaStore.table.length, 60);
  assert.equal(viaStore.tables.probe_cosine.rows.length, 2 * 3 * 5);
  const a = viaEngine.tables.single_neuron.rows;
  const b = viaStore.tables.single_neuron.rows;
  assert.equal(a.length, b.length);
  a.forEach((r: { r2: number; spearman: number }, i: number) => {
    assert.ok(Math.abs(r.r2 - b[i].r2) < 1e-5 && Math.abs(r.spearman - b[i].spearman) < 1e-5);
  });
  assert.ok(viaStore.figures.neuronActivations.length > 0);
  assert.equal(viaStore.figures.neuronActivations[0].values.length, 40);
  const csv = await readFile(join(out, 'neurons.probe_cosine.csv'), 'utf8');
  assert.match(csv.split('\n')[0]!, /^target,probe_layer,weight,layer,neuron,cos,abs_cos,spearman,r2$/);
  // --paper-compat: the authors' legacy function (W_in, W_out; their step 2 over every stored layer).
  const compat = join(tmp, 'n-compat');
  await cli(
    'neurons',
    ...['--model', modelDir, '--store', storeDir, '--probe', probeDir, '--top', '5', '--paper-compat'],
    ...[
      '--probe-layers',
      '0:2',
      '--mlp-store',
      mlpDir,
      '--out',
      compat,
      '--quiet',
      '--procedure',
      'probe-cosine',
    ],
  );
  const legacy = JSON.parse(await readFile(join(compat, 'neurons.json'), 'utf8'));
  assert.equal(legacy.settings.mode, 'paper-compat');
  assert.deepEqual([...new Set(legacy.table.map((r: { weight: string }) => r.weight))].sort(), [
    'W_in',
    'W_out',
  ]);
  const proj = legacy.tables.probe_cosine_projection;
  assert.deepEqual(proj.columns, ['target', 'weight', 'layer', 'neuron', 'activation_layer', 'spearman']);
  const stored = (await openStore(storeDir)).manifest.layers.length;
  const unique = new Set(
    legacy.table.map(
      (r: { target: string; weight: string; layer: number; neuron: number }) =>
        `${r.target}/${r.weight}/${r.layer}/${r.neuron}`,
    ),
  );
  assert.equal(proj.rows.length, unique.size * stored, 'one row per top neuron and stored layer');
});

test('intervene: a dose-response table per alpha with candidate scores', { skip }, async () => {
  const out = join(tmp, 'iv');
  await cli(
    'intervene',
    ...['--model', modelDir, '--probe', probeDir, '--layer', '1', '--prompt', 'Paris is in the country of'],
    ...[
      '--alphas',
      '-4,0,4',
      '--candidates',
      'France,Germany',
      '--max-new-tokens',
      '2',
      '--out',
      out,
      '--quiet',
    ],
  );
  const r = JSON.parse(await readFile(join(out, 'intervene.json'), 'utf8'));
  assert.equal(r.experiment, 'intervene');
  assert.deepEqual(
    r.table.map((x: { alpha: number }) => x.alpha),
    [-4, 0, 4],
  );
  assert.ok(r.columns.includes('logp_France') && r.columns.includes('p_first_Germany'));
  assert.equal(r.figures.doseResponse.length, 2);
  assert.ok(r.table.every((x: { logp_France: number }) => x.logp_France < 0));
  // the matched control (default 8 random directions of equal norm): a band per candidate, every twin in a table
  assert.equal(r.settings.randomDirections, 8);
  for (const row of r.table) {
    assert.ok(row.logp_France_random_min <= row.logp_France_random_mean + 1e-9);
    assert.ok(row.logp_France_random_mean <= row.logp_France_random_max + 1e-9);
    assert.ok(Math.abs(row.probe_shift_random_min) < 1e-3 && Math.abs(row.probe_shift_random_max) < 1e-3);
  }
  assert.equal(r.tables.random.rows.length, 3 * 8);
  assert.ok(
    r.figures.doseResponse[0].points.every((p: { randomMin: number }) => Number.isFinite(p.randomMin)),
  );
  const csv = await readFile(join(out, 'intervene.random.csv'), 'utf8');
  assert.match(
    csv.split('\n')[0]!,
    /^prompt,alpha,direction,probe_shift,top_token,top_prob,logp_France,logp_Germany$/,
  );
  await assert.rejects(
    cli('intervene', '--model', modelDir, '--probe', probeDir, '--layer', '9', '--prompt', 'x'),
    (e: Error) => e instanceof UserError && /no layer 9/.test(e.message),
  );
  await assert.rejects(
    cli('intervene', '--model', modelDir, '--probe', storeDir, '--layer', '1', '--prompt', 'x'),
    (e: Error) => e instanceof UserError && /probes.safetensors/.test(e.message),
  );
});

test('familiarity: scores beside the store, reusable, and a probe report', { skip }, async () => {
  const out = join(tmp, 'fam');
  await cli(
    'familiarity',
    '--model',
    modelDir,
    '--store',
    storeDir,
    '--layer',
    '1',
    '--alphas',
    '1,10,100',
    '--out',
    out,
    '--quiet',
  );
  const csv = (await readFile(join(storeDir, 'familiarity.csv'), 'utf8')).trim().split('\n');
  assert.equal(csv.length, 41);
  assert.match(csv[0]!, /^row,name,answer,answer_tokens,log_prob,mean_log_prob,first_prob,answer_in_name$/);
  const store = await openStore(storeDir); // the extra files leave the store readable
  assert.equal(store.manifest.n, 40);
  const r = JSON.parse(await readFile(join(out, 'familiarity.json'), 'utf8'));
  assert.equal(r.experiment, 'familiarity');
  assert.ok(r.table.some((x: { analysis: string }) => x.analysis === 'filtered'));
  const again = join(tmp, 'fam2');
  await cli(
    ...['familiarity', '--model', 'unused', '--store', storeDir, '--layer', '1', '--alphas', '1,10,100'],
    ...['--scores', join(storeDir, 'familiarity.csv'), '--out', again, '--quiet'],
  );
  const r2 = JSON.parse(await readFile(join(again, 'familiarity.json'), 'utf8'));
  assert.deepEqual(r2.table, r.table);
});
