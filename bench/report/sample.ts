/**
 * Builds a real sample of every result type the report reads: a tiny random Llama, slices of the paper's CSVs, the
 * `paper` grid (probe runs for two prompts, mlp, pca, block/entity hold-outs, prompts), then neurons, intervene and
 * familiarity. Used to look at the report by eye and by bench/report. Usage: npx tsx bench/report/sample.ts OUT
 */
import { join, resolve } from 'node:path';
import { runCliCaptured } from '../../src/cli/testing.js';
import { writePaperSlice, writeRandomLlama } from '../../src/extract/testing.js';
import { modelSlug } from '../../src/pipeline/run.js';

const out = resolve(process.argv[2] ?? 'bench/out/report-sample');
const cli = async (...argv: string[]) => {
  const t0 = Date.now();
  const r = await runCliCaptured(argv);
  console.log(`${argv.slice(0, 2).join(' ')}: exit ${r.code} in ${Date.now() - t0} ms`);
  if (r.code !== 0) throw new Error(r.err);
  return r;
};
const model = await writeRandomLlama(join(out, 'model'));
const sizes: Record<string, number> = { world_place: 1500, us_place: 800, nyc_place: 800, art: 800 };
const datasets = await Promise.all(
  Object.entries(sizes).map(([n, k]) => writePaperSlice(join(out, 'data'), n, k)),
);
await cli(
  'paper',
  '--model',
  model,
  '--datasets',
  datasets.join(','),
  '--prompts',
  'paper',
  '--out',
  join(out, 'runs'),
  '--quiet',
);
const runDir = join(out, 'runs', modelSlug(model));
console.log(runDir);
const world = join(runDir, 'world_place', 'coords');
await cli(
  'neurons',
  '--model',
  model,
  '--store',
  join(world, 'store'),
  '--probe',
  join(world, 'probe'),
  '--procedure',
  'both',
  '--top',
  '10',
  '--out',
  join(runDir, 'world_place', 'neurons'),
  '--quiet',
);
const art = join(runDir, 'art', 'release');
await cli(
  'neurons',
  '--model',
  model,
  '--store',
  join(art, 'store'),
  '--probe',
  join(art, 'probe'),
  '--procedure',
  'both',
  '--top',
  '10',
  '--out',
  join(runDir, 'art', 'neurons'),
  '--quiet',
);
await cli(
  'intervene',
  '--model',
  model,
  '--probe',
  join(world, 'probe'),
  '--layer',
  '2',
  '--prompt',
  'Paris is in the country of',
  '--prompt',
  'Tokyo is in the country of',
  '--candidates',
  'France,Japan',
  '--alphas',
  '-8,-4,-2,0,2,4,8',
  '--out',
  join(runDir, 'world_place', 'intervene'),
  '--quiet',
);
await cli(
  'familiarity',
  '--model',
  model,
  '--store',
  join(world, 'store'),
  '--out',
  join(runDir, 'world_place', 'familiarity'),
  '--quiet',
);
