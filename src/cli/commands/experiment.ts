import { basename, join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import type { CommonOptions } from '../../experiments/index.js';
import {
  type ExperimentResult,
  formatTable,
  holdoutExperiment,
  mlpExperiment,
  pcaExperiment,
  promptsExperiment,
} from '../../experiments/index.js';
import type { DeviceRequest } from '../../model/index.js';
import {
  ALL_EXPERIMENTS,
  modelSlug,
  type PaperExperiment,
  type PaperOptions,
  readPaperConfig,
  runPaper,
} from '../../pipeline/index.js';
import { UserError } from '../../util/errors.js';
import { deviceOption, gpuDtypeOption } from '../device.js';
import { keptChunks, repeatCommand, withInterruptNotice } from '../interrupt.js';
import { addSourceOptions, type SourceFlags, sourceFromFlags } from '../source.js';
import { registerFollowups } from './experiment-followups.js';

export interface CommonFlags {
  store: string[];
  hook: string;
  alphas?: string;
  distance?: 'haversine' | 'haversine-swapped' | 'absolute';
  paperCompat?: boolean;
  seed: string;
  out?: string;
  quiet?: boolean;
}

/** Registers `experiment mlp|pca|block-holdout|entity-holdout|prompts`. */
export function registerExperiment(program: Command): void {
  const group = program
    .command('experiment')
    .description("the paper's robustness experiments on activation stores (JSON + CSV for the report)")
    .addHelpText(
      'after',
      `
Each experiment reads one store (prompts: several) made by \`extract\` or \`import\`, writes
<out>/<experiment>.json (schema spacetime-lens/experiment@1) and <out>/<experiment>.csv, and prints its table.
Layers and alpha default to the paper's choices for Llama-2 7B/13B/70B and to the same relative depth and a
width-scaled alpha for other models. Details: docs/experiments.md.`,
    );

  withCommon(group.command('mlp'))
    .description(
      'linear ridge vs MLP probe (Linear(d,256)-ReLU-Linear, AdamW, early stopping) at one or more layers',
    )
    .option('--layers <list>', "layers: '20', '16,20,24', 'a:b[:step]' or 'all' (default: the paper's layer)")
    .option('--weight-decays <list>', 'AdamW weight decays to try', '0.01,0.03,0.1,0.3')
    .option('--max-epochs <n>', 'epochs at most', '20')
    .option('--batch-size <n>', 'minibatch size', '512')
    .option('--hidden <n>', 'hidden width', '256')
    .action(async (flags: CommonFlags & Record<string, string | undefined>) => {
      const store = single(flags.store);
      const source = parseLayers(flags['layers']);
      await report(
        await mlpExperiment(store, {
          ...common(flags, store),
          ...(source && { layers: source }),
          weightDecays: numberList(flags['weightDecays']!, '--weight-decays'),
          maxEpochs: positiveInt(flags['maxEpochs']!, '--max-epochs'),
          batchSize: positiveInt(flags['batchSize']!, '--batch-size'),
          hidden: positiveInt(flags['hidden']!, '--hidden'),
        }),
        flags,
      );
    });

  withCommon(group.command('pca'))
    .description('PCA probes: LOO ridge on the top-k principal components, test R² and Spearman against k')
    .option('--layer <n>', "layer (default: the paper's layer)")
    .option(
      '--ks <list>',
      'numbers of components (d, the raw activations, is added)',
      '2,4,6,8,10,15,20,30,40,50,75,100',
    )
    .option('--no-raw', 'skip the raw-activation (k = d) probe')
    .addOption(
      new Option(
        '--pca-method <method>',
        'exact (f64 eigendecomposition) or subspace (streamed iteration, very wide layers)',
      )
        .choices(['exact', 'subspace'])
        .default('exact'),
    )
    .option('--max-iterations <n>', 'subspace-iteration passes at most (--pca-method subspace)', '30')
    .action(async (flags: CommonFlags & Record<string, string | boolean | undefined>) => {
      const store = single(flags.store);
      await report(
        await pcaExperiment(store, {
          ...common(flags, store),
          ...(flags['layer'] !== undefined && { layer: nonNegativeInt(String(flags['layer']), '--layer') }),
          ks: numberList(String(flags['ks']), '--ks').map((k) => positiveIntValue(k, '--ks')),
          includeRaw: flags['raw'] !== false,
          maxIterations: positiveInt(String(flags['maxIterations']), '--max-iterations'),
          method: flags['pcaMethod'] as 'exact' | 'subspace',
        }),
        flags,
      );
    });

  for (const which of ['block', 'entity'] as const) {
    withCommon(group.command(`${which}-holdout`))
      .description(
        which === 'block'
          ? 'block hold-out: fit without one country/state/borough/century/decade/year, score on it (fixed alpha)'
          : 'entity-type hold-out: fit without one entity type (or facility type, occupation, news desk), score on it',
      )
      .option('--layer <n>', "layer (default: the paper's layer)")
      .option('--column <name>', "group column (default: the dataset's paper column)")
      .option('--values <list>', "groups to hold out, comma-separated (default: the paper's exact list)")
      .option(
        '--alpha <value>',
        "fixed ridge alpha, or 'loo' to pick it by LOO on the default split (default: paper 3k/6k/18k, else 3000·d/4096)",
      )
      .action(async (flags: CommonFlags & Record<string, string | undefined>) => {
        const store = single(flags.store);
        await report(
          await holdoutExperiment(store, which, {
            ...common(flags, store),
            ...(flags['layer'] !== undefined && { layer: nonNegativeInt(flags['layer'], '--layer') }),
            ...(flags['column'] !== undefined && { column: flags['column'] }),
            ...(flags['values'] !== undefined && { values: flags['values'].split(',').map((s) => s.trim()) }),
            ...(flags['alpha'] !== undefined && { alpha: alphaFlag(flags['alpha']) }),
          }),
          flags,
        );
      });
  }

  registerFollowups(group);
  registerPaper(program);

  withCommon(group.command('prompts'))
    .description(
      'prompt sensitivity (R² by layer per prompt) and the prompt-transfer table, from one store per prompt',
    )
    .option('--layers <list>', 'layers for the sensitivity curves (default: every layer the stores share)')
    .option('--transfer-layer <n>', "layer of the transfer table (default: the paper's layer)")
    .option('--no-transfer', 'skip the transfer table')
    .option(
      '--probe-results <dirs...>',
      'probe output folders of these stores: layers already probed are not refitted',
    )
    .action(async (flags: CommonFlags & Record<string, string | string[] | boolean | undefined>) => {
      if (flags.store.length < 1) throw new UserError('give one --store per prompt');
      const parsed = parseLayers(flags['layers'] as string | undefined);
      const layers = parsed === 'all' ? undefined : parsed;
      await report(
        await promptsExperiment(flags.store, {
          ...common(flags, flags.store[0]!),
          ...(layers && { layers }),
          ...(flags['transferLayer'] !== undefined && {
            transferLayer: nonNegativeInt(String(flags['transferLayer']), '--transfer-layer'),
          }),
          transfer: flags['transfer'] !== false,
          ...(Array.isArray(flags['probeResults']) && { probeResults: flags['probeResults'] as string[] }),
        }),
        flags,
      );
    });
}

function registerPaper(program: Command): void {
  addSourceOptions(program.command('paper'))
    .description(
      "the paper's whole grid for a model: datasets × prompts (extract + probe), the experiments, one report",
    )
    .option('--model <id>', 'model: a Hugging Face id, a local checkpoint directory, or static:...')
    .option(
      '--datasets <list>',
      'datasets (names or paths), comma-separated (default: every paper dataset available)',
    )
    .option('--prompts <which>', "'paper' (the four per dataset), 'canonical', or a comma list", 'paper')
    .option('--experiments <list>', 'experiments to run', ALL_EXPERIMENTS.join(','))
    .option(
      '--config <file>',
      'a JSON or YAML file describing a larger grid ({ models: [...], datasets, prompts, ... })',
    )
    .option('--out <dir>', 'root directory of the runs', 'spacetime-lens-runs')
    .option('--layers <spec>', "layers to extract: 'all', '0,8,16' or 'a:b:step' (default all)")
    .option(
      '--limit <n>',
      "only the first N rows of each dataset, in file order (the paper's files are sorted by type: see --sample)",
    )
    .option(
      '--sample <n>',
      'N rows of each dataset stratified by entity type and train/test split, seeded by --seed (quick looks)',
    )
    .option('--batch-size <n>', 'sequences per forward call')
    .addOption(deviceOption(undefined))
    .addOption(gpuDtypeOption())
    .option(
      '--paper-compat',
      "the authors' quirks (8-bit activations, post-norm last layer, swapped haversine)",
    )
    .option('--seed <n>', 'seed of every random draw', '0')
    .option('--quiet', 'no progress lines')
    .option('--no-controls', 'skip the surface baselines and the control task (docs/controls.md)')
    .option('--random-init-control', 'also extract and probe the random-init twin on each canonical prompt')
    .action(async (flags: Record<string, string | boolean | undefined>) => {
      const str = (k: string) => (typeof flags[k] === 'string' ? (flags[k] as string) : undefined);
      const fromFlags: Omit<PaperOptions, 'model'> = {
        ...(str('datasets') && {
          datasets: str('datasets')!
            .split(',')
            .map((s) => s.trim()),
        }),
        prompts: promptsFlag(str('prompts') ?? 'paper'),
        experiments: str('experiments')!
          .split(',')
          .map((s) => s.trim()) as PaperExperiment[],
        out: str('out')!,
        ...(str('layers') && { layers: str('layers')! }),
        ...(str('limit') && { limit: positiveInt(str('limit')!, '--limit') }),
        ...(str('sample') && { sample: positiveInt(str('sample')!, '--sample') }),
        ...(str('batchSize') && { batchSize: positiveInt(str('batchSize')!, '--batch-size') }),
        ...(str('device') && { device: str('device') as DeviceRequest }),
        ...(str('gpuDtype') === 'f16' && { weightDtype: 'f16' as const }),
        ...(flags['paperCompat'] === true && { paperCompat: true }),
        ...sourceFromFlags(flags as SourceFlags),
        seed: nonNegativeInt(str('seed')!, '--seed'),
        ...(flags['controls'] === false && { controls: false }),
        ...(flags['randomInitControl'] === true && { randomInitControl: true }),
        ...(!flags['quiet'] && { log: (line: string) => console.error(line) }),
      };
      const config = str('config') ? await readPaperConfig(str('config')!) : undefined;
      const models = config ? config.models : str('model') ? [str('model')!] : [];
      if (!models.length) throw new UserError('give --model MODEL or --config FILE');
      if (config && str('model')) throw new UserError('give either --model or --config, not both');
      for (const model of models) {
        const { models: _m, ...rest } = config ?? { models: [] };
        const root = resolve(rest.out ?? fromFlags.out ?? 'spacetime-lens-runs', modelSlug(model));
        const res = await withInterruptNotice(
          () =>
            `finished stores, probes and experiments and ${keptChunks(root)} are kept under ${root}; ` +
            `run the same command again to continue: ${repeatCommand()}`,
          () => runPaper({ ...fromFlags, ...rest, model }),
        );
        console.log(`${model}: report ${res.report}`);
        console.log(`  ran: ${res.ran.join(', ') || 'nothing (all up to date)'}`);
        if (res.skipped.length) console.log(`  skipped: ${res.skipped.join(', ')}`);
      }
    });
}

function promptsFlag(s: string): PaperOptions['prompts'] {
  if (s === 'paper' || s === 'canonical') return s;
  return s.split(',').map((p) => p.trim());
}

export function withCommon(cmd: Command): Command {
  return cmd
    .requiredOption('--store <dir...>', 'activation store directory (prompts: one per prompt)')
    .option('--hook <name>', 'hook per layer', 'resid_post')
    .option(
      '--alphas <grid>',
      'ridge alpha grid: auto (default), a preset (7b, 13b, 70b, mlp-baseline, default), logspace:A:B:N, or a comma list',
    )
    .addOption(
      new Option(
        '--distance <kind>',
        'proximity-error distance (default: haversine for space, absolute for time)',
      ).choices(['haversine', 'haversine-swapped', 'absolute']),
    )
    .option('--paper-compat', "reproduce the authors' quirks (swapped-coordinate haversine)")
    .option('--seed <n>', 'seed of every random draw', '0')
    .option('--out <dir>', 'output directory (default: experiments/<store name>)')
    .option('--quiet', 'no progress lines');
}

export function common(flags: CommonFlags, store: string): CommonOptions {
  const alphas = flags.alphas;
  return {
    out: flags.out ?? join('experiments', basename(store.replace(/[/\\]+$/, ''))),
    hook: flags.hook,
    ...(alphas !== undefined && { alphas }),
    ...(flags.distance && { distance: flags.distance }),
    paperCompat: flags.paperCompat === true,
    seed: nonNegativeInt(flags.seed, '--seed'),
    ...(!flags.quiet && { log: (line: string) => console.error(line) }),
  };
}

export async function report(result: ExperimentResult, _flags: { quiet?: boolean }): Promise<void> {
  const header = `${result.title} — ${result.model} / ${result.dataset} / ${result.prompt}${
    result.layer === null ? '' : ` / layer ${result.layer}`
  }`;
  const lines = [header, formatTable({ columns: result.columns, rows: result.table })];
  const summary = Object.entries(result.summary).filter(([, v]) => v !== null);
  if (summary.length) {
    lines.push('', ...summary.map(([k, v]) => `${k}: ${typeof v === 'number' ? +v.toPrecision(4) : v}`));
  }
  console.log(lines.join('\n'));
  for (const w of result.warnings ?? []) console.error(`warning: ${w}`);
}

export function single(stores: string[]): string {
  if (stores.length !== 1) throw new UserError(`this experiment takes one --store, got ${stores.length}`);
  return stores[0]!;
}

/** Parses a layer list ('20', '16,20', 'a:b[:step]'); 'all' = undefined = every layer. The runner checks them. */
export function parseLayers(spec: string | undefined): number[] | 'all' | undefined {
  if (spec === undefined) return undefined;
  if (spec === 'all') return 'all';
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const range = /^(\d+):(\d+)(?::(\d+))?$/.exec(part.trim());
    if (range) {
      const [a, b, step] = [Number(range[1]), Number(range[2]), Number(range[3] ?? 1)];
      if (step < 1 || b < a) throw new UserError(`--layers: bad range '${part}'`);
      for (let l = a; l < b; l += step) out.push(l);
    } else {
      out.push(nonNegativeInt(part.trim(), '--layers'));
    }
  }
  return out;
}

export function numberList(s: string, flag: string): number[] {
  const values = s.split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new UserError(`${flag}: expected comma-separated numbers, got '${s}'`);
  }
  return values;
}

export function positiveInt(s: string, flag: string): number {
  return positiveIntValue(Number(s), flag);
}

export function positiveIntValue(v: number, flag: string): number {
  if (!Number.isSafeInteger(v) || v < 1)
    throw new UserError(`${flag}: expected a positive integer, got '${v}'`);
  return v;
}

export function nonNegativeInt(s: string, flag: string): number {
  const v = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(v))
    throw new UserError(`${flag}: expected a non-negative integer, got '${s}'`);
  return v;
}

function alphaFlag(s: string): number | 'loo' {
  if (s === 'loo') return 'loo';
  const v = Number(s);
  if (!(Number.isFinite(v) && v > 0))
    throw new UserError(`--alpha: expected a positive number or 'loo', got '${s}'`);
  return v;
}
