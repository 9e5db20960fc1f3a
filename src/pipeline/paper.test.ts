import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { openStore } from '../store/index.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import { type PaperStep, readPaperConfig, runPaper } from './paper.js';
import { modelSlug } from './run.js';

const root = mkdtempSync(join(tmpdir(), 'stl-paper-'));
after(() => rmSync(root, { recursive: true, force: true }));
const skip = skipWithoutShared();

const cli = (...argv: string[]) => runCliCaptured(argv);

/** The folders under `dir` whose name starts with `prefix-` (the default layout appends a settings hash). */
const keyedDirs = (dir: string, prefix: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith(`${prefix}-`))
    .map((f) => join(dir, f));

test('paper --config runs extract + probe for two prompts, the experiments and one report, then resumes', {
  skip,
}, async () => {
  const model = await writeRandomLlama(join(root, 'model'));
  const data = await writePaperSlice(join(root, 'data'), 'world_place', 150);
  const config = join(root, 'grid.yaml');
  writeFileSync(
    config,
    [
      `models: [${JSON.stringify(model)}]`,
      `datasets: [${JSON.stringify(data)}]`,
      'prompts: [coords, empty]',
      'mlp: { maxEpochs: 2, weightDecays: [0.1] }',
      'alphas: "0.1,1,10"',
      'causal: { entities: 2, randomDirections: 2 }',
      '',
    ].join('\n'),
  );
  const out = join(root, 'runs');
  const first = await cli('paper', '--config', config, '--out', out, '--quiet');
  assert.equal(first.code, 0, first.err);
  const runDir = join(out, modelSlug(model));
  assert.ok(existsSync(join(runDir, 'report.html')));
  for (const prompt of ['coords', 'empty']) {
    const [dir, ...more] = keyedDirs(join(runDir, 'world_place'), prompt);
    assert.equal(more.length, 0);
    assert.ok(existsSync(join(dir!, 'store', 'manifest.json')));
    assert.ok(existsSync(join(dir!, 'probe', 'results.json')));
  }
  const expDirs = keyedDirs(join(runDir, 'world_place'), 'experiments');
  assert.equal(expDirs.length, 1);
  const expDir = expDirs[0]!;
  for (const e of ['mlp', 'pca', 'block-holdout', 'prompts', 'pls', 'negative-controls', 'bias', 'spatial']) {
    const json = JSON.parse(readFileSync(join(expDir, `${e}.json`), 'utf8'));
    assert.equal(json.schema, 'spacetime-lens/experiment@1');
    assert.equal(json.dataset, 'world_place');
  }
  // the slice has only structures: the hold-out says so plainly and is skipped, not fatal
  assert.ok(!existsSync(join(expDir, 'entity-holdout.json')));
  assert.match(
    first.out,
    /skipped: .*entity-holdout \(entity-holdout: all 150 entities .* entity_type 'structure', i\.e\. one entity type only/,
  );
  const blocks = JSON.parse(readFileSync(join(expDir, 'block-holdout.json'), 'utf8'));
  assert.ok(blocks.table.some((r: { group: string }) => r.group === 'United_States'));
  // the follow-ups: the globe probe beside the plain one; log-time needs dates
  const globe = JSON.parse(readFileSync(join(expDir, 'probe-globe', 'results.json'), 'utf8'));
  assert.equal(globe.settings.target, 'globe');
  assert.match(first.out, /skipped: .*world_place\/log-time \(needs a time dataset\)/);
  const html = readFileSync(join(runDir, 'report.html'), 'utf8');
  assert.match(html, /Block hold-out by country/);
  for (const section of [
    'Globe and log-time probes',
    'PLS probes',
    'Negative-control targets',
    'Fame and region bias',
    'Spatial autocorrelation',
  ]) {
    assert.ok(html.includes(section), `report section ${section}`);
  }
  assert.ok(html.includes('globe probe'), 'the globe line in the main figure');
  // the causal experiments on the canonical store and probe, sized by the config
  const patch = JSON.parse(readFileSync(join(expDir, 'patch.json'), 'utf8'));
  assert.equal(patch.settings.entities.length, 2);
  assert.equal(patch.settings.randomDirections, 2);
  const ablate = JSON.parse(readFileSync(join(expDir, 'ablate.json'), 'utf8'));
  assert.equal(ablate.layer, patch.layer);
  assert.match(ablate.summary.verdict, /probe directions \(2-D\) out of layer/);
  assert.match(html, /Directed patching: side effects/);
  assert.match(html, /Probe direction vs causal subspace/);

  const second = await cli('paper', '--config', config, '--out', out, '--quiet');
  assert.equal(second.code, 0, second.err);
  assert.match(second.out, /ran: nothing \(all up to date\)/);
});

test('paper config validation and flag errors', async () => {
  const bad = join(root, 'bad.json');
  writeFileSync(bad, JSON.stringify({ models: ['m'], prompt: 'x' }));
  await assert.rejects(readPaperConfig(bad), /unknown key\(s\) prompt/);
  writeFileSync(bad, JSON.stringify({ datasets: ['world_place'] }));
  await assert.rejects(readPaperConfig(bad), /'models' must be a non-empty list/);
  const yaml = join(root, 'ok.yml');
  writeFileSync(yaml, 'model: some/model\nexperiments: [pca]\nlimit: 10\n');
  const ok = await readPaperConfig(yaml);
  assert.deepEqual(ok.models, ['some/model']);
  assert.deepEqual(ok.experiments, ['pca']);
  assert.equal(ok.limit, 10);
  const none = await cli('paper', '--quiet');
  assert.equal(none.code, 1);
  assert.match(none.err, /give --model MODEL or --config FILE/);
});

test('paper: another --limit / --sample or another experiment setting gets its own folders and is recomputed', {
  skip,
}, async () => {
  const model = await writeRandomLlama(join(root, 'model-keys'));
  // 30 rows of each entity type (the file is sorted by type): the first 60 hold two types, a sample all three
  const data = await writePaperSlice(join(root, 'mixed'), 'world_place', 30, [0, 6453, 37236]);
  const out = join(root, 'runs-keys');
  const base = {
    model,
    datasets: [data],
    prompts: 'canonical' as const,
    experiments: ['pca', 'entity-holdout'] as PaperStep[],
    out,
    batchSize: 10,
    alphas: '0.1,1,10',
  };
  const limited = await runPaper({ ...base, limit: 60 });
  assert.deepEqual(limited.ran, ['world_place/pca', 'world_place/entity-holdout']);
  const sampled = await runPaper({ ...base, sample: 45 });
  assert.deepEqual(sampled.ran, ['world_place/pca', 'world_place/entity-holdout'], 'not the 60-row results');
  const storeOf = (r: typeof limited) => r.datasets[0]!.prompts['coords']!;
  assert.notEqual(storeOf(sampled), storeOf(limited));
  assert.equal((await openStore(storeOf(limited))).manifest.n, 60);
  assert.equal((await openStore(storeOf(sampled))).manifest.n, 45);
  const holdout = (r: typeof limited) =>
    JSON.parse(readFileSync(join(r.datasets[0]!.experiments, 'entity-holdout.json'), 'utf8'));
  // the paper holds out structure and natural_place: the first 60 rows have no natural place, the sample has
  const groups = (r: typeof limited) => holdout(r).table.map((row: { group: string }) => row.group);
  assert.deepEqual(groups(sampled), ['structure', 'natural_place']);
  assert.deepEqual(groups(limited), ['structure']);

  const logs: string[] = [];
  const alphas = await runPaper({ ...base, limit: 60, alphas: '1,10,100', log: (l) => logs.push(l) });
  assert.equal(storeOf(alphas), storeOf(limited), 'the store does not depend on the experiment alphas');
  assert.ok(logs.some((l) => /extract: .* is done, skipping/.test(l)));
  assert.notEqual(alphas.datasets[0]!.experiments, limited.datasets[0]!.experiments);
  assert.deepEqual(alphas.ran, ['world_place/pca', 'world_place/entity-holdout'], 'experiments redone');
  assert.ok(existsSync(join(limited.datasets[0]!.experiments, 'pca.json')), 'the other results are kept');

  const again = await runPaper({ ...base, limit: 60 });
  assert.deepEqual(again.ran, []);
});
