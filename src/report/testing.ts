/**
 * Test and benchmark support: every result type the report reads, made by the real commands. A tiny random Llama
 * runs over evenly spaced rows of the paper's CSVs (so every entity type and block is present): `paper` (probe runs
 * for each prompt, mlp, pca, block and entity hold-outs, prompts, and the follow-ups: globe and log-time probes, pls,
 * negative controls, bias, spatial), then `neurons`, `intervene`, `patch`, `ablate` and `familiarity`; a tiny random
 * Mixtral's routing of the world places (`extract --hooks expert_weights`, `experts`).
 * It drives the CLI, so like the CLI tests it sits above the report stage; the library does not import it.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { runCliCaptured } from '../cli/testing.js';
import { writeRandomLlama } from '../extract/testing.js';
import { modelSlug } from '../pipeline/run.js';
import { sharedDir } from '../util/paths.js';

export interface SampleRuns {
  model: string;
  /** `<out>/runs/<model slug>`: one folder per dataset (prompt folders, experiments/, neurons/...). */
  runDir: string;
  /** Every result file: probe results.json files and experiment@1 documents. */
  paths: string[];
}

const csvCell = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** `rows` evenly spaced rows of a paper CSV, written under the same file name (so it loads as that dataset). */
export async function writeSpreadSlice(dir: string, name: string, rows: number): Promise<string> {
  const shared = sharedDir();
  if (!shared) throw new Error('the shared/ folder with the paper CSVs is missing');
  const records = parse(await readFile(join(shared, 'data/paper', `${name}.csv`), 'utf8'), {
    bom: true,
    skip_empty_lines: true,
  }) as string[][];
  const [header, ...body] = records;
  const step = Math.max(1, Math.floor(body.length / rows));
  const kept = body.filter((_, i) => i % step === 0).slice(0, rows);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.csv`);
  await writeFile(path, `${[header!, ...kept].map((r) => r.map(csvCell).join(',')).join('\n')}\n`);
  return path;
}

/** The one run folder of a prompt under a dataset folder. */
async function promptDir(datasetDir: string, prompt: string): Promise<string> {
  const found = (await readdir(datasetDir)).filter((n) => n.startsWith(`${prompt}-`));
  if (found.length !== 1)
    throw new Error(`expected one ${prompt}-* folder in ${datasetDir}, got ${found.join(', ')}`);
  return join(datasetDir, found[0]!);
}

async function cli(...argv: string[]): Promise<void> {
  const r = await runCliCaptured(argv);
  if (r.code !== 0) throw new Error(`${argv.slice(0, 2).join(' ')} failed: ${r.err}`);
}

/** Builds the sample under `out`; about 20 s on two cores. */
export async function buildSampleRuns(
  out: string,
  sizes: Record<string, number> = { world_place: 1500, us_place: 900, nyc_place: 700, art: 900 },
): Promise<SampleRuns> {
  const model = await writeRandomLlama(join(out, 'model'));
  const data: string[] = [];
  for (const [name, rows] of Object.entries(sizes))
    data.push(await writeSpreadSlice(join(out, 'data'), name, rows));
  const runs = join(out, 'runs');
  await cli(
    'paper',
    '--model',
    model,
    '--datasets',
    data.join(','),
    '--prompts',
    'paper',
    // every step but the causal ones, which run below on two datasets, sized for a test
    '--experiments',
    'mlp,pca,block-holdout,entity-holdout,prompts,globe,log-time,pls,negative-controls,bias,spatial',
    '--out',
    runs,
    '--quiet',
  );
  const runDir = join(runs, modelSlug(model));
  const paths: string[] = [];
  // run folders are <prompt>-<settings hash> (src/pipeline/run.ts)
  const world = await promptDir(join(runDir, 'world_place'), 'coords');
  const art = await promptDir(join(runDir, 'art'), 'release');
  for (const [dataset, dir] of [
    ['world_place', world],
    ['art', art],
  ] as const) {
    await cli(
      'neurons',
      ...['--model', model, '--store', join(dir, 'store'), '--probe', join(dir, 'probe')],
      ...['--procedure', 'both', '--top', '10', '--out', join(runDir, dataset, 'neurons'), '--quiet'],
    );
  }
  await cli(
    'intervene',
    ...['--model', model, '--probe', join(world, 'probe'), '--layer', '2'],
    ...['--prompt', 'Paris is in the country of', '--prompt', 'Tokyo is in the country of'],
    ...['--candidates', 'France,Japan', '--alphas', '-8,-4,-2,0,2,4,8'],
    ...['--out', join(runDir, 'world_place', 'intervene'), '--quiet'],
  );
  for (const [dataset, dir] of [
    ['world_place', world],
    ['art', art],
  ] as const) {
    const base = [
      '--model',
      model,
      '--store',
      join(dir, 'store'),
      '--probe',
      join(dir, 'probe'),
      '--layer',
      '1',
    ];
    const small = ['--entities', '6', '--random-directions', '6', '--max-candidates', '12', '--quiet'];
    await cli('patch', ...base, ...small, '--out', join(runDir, dataset, 'patch'));
    await cli('ablate', ...base, ...small, '--out', join(runDir, dataset, 'ablate'));
  }
  await cli(
    'familiarity',
    ...[
      '--model',
      model,
      '--store',
      join(world, 'store'),
      '--out',
      join(runDir, 'world_place', 'familiarity'),
    ],
    '--quiet',
  );
  // A random Mixtral's routing on the same places: extract --hooks expert_weights, then `experts`.
  const mixtral = await writeRandomLlama(join(out, 'mixtral'), undefined, { experts: { count: 8, topK: 2 } });
  const routing = join(out, 'mixtral-store');
  await cli(
    'extract',
    ...['--model', mixtral, '--dataset', data[0]!, '--prompt', 'coords', '--hooks', 'expert_weights'],
    ...['--out', routing, '--quiet'],
  );
  await cli('experts', '--store', routing, '--out', join(runDir, 'world_place', 'experts'), '--quiet');
  for (const dataset of Object.keys(sizes)) {
    for (const entry of await readdir(join(runDir, dataset), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const dir = join(runDir, dataset, entry.name);
      const files = await readdir(dir);
      if (files.includes('probe')) paths.push(join(dir, 'probe', 'results.json'));
      else
        for (const f of files) {
          if (f.endsWith('.json')) paths.push(join(dir, f));
          // experiments/probe-globe, probe-log-time: the paper's probes on another target
          else if (f.startsWith('probe-')) paths.push(join(dir, f, 'results.json'));
        }
    }
  }
  return { model, runDir, paths };
}
