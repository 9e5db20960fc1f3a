/** `experiment pls|spatial|bias|negative-controls`: the follow-up methods (docs/experiments.md#pls ...). */
import type { Command } from 'commander';
import {
  biasExperiment,
  negativeControlsExperiment,
  plsExperiment,
  spatialExperiment,
} from '../../experiments/index.js';
import { UserError } from '../../util/errors.js';
import {
  type CommonFlags,
  common,
  nonNegativeInt,
  parseLayers,
  positiveInt,
  report,
  single,
  withCommon,
} from './experiment.js';

type Flags = CommonFlags & Record<string, string | boolean | string[] | undefined>;
const str = (flags: Flags, key: string) =>
  typeof flags[key] === 'string' ? (flags[key] as string) : undefined;

/** Parses '1..32', '1:33' (stop exclusive), '1,2,4,8' or a mix into sorted unique positive integers. */
export function parseComponents(spec: string): number[] {
  const out = new Set<number>();
  for (const part of spec.split(',').map((p) => p.trim())) {
    const dots = /^(\d+)\.\.(\d+)$/.exec(part);
    const colon = /^(\d+):(\d+)$/.exec(part);
    if (dots || colon) {
      const a = Number((dots ?? colon)![1]);
      const b = Number((dots ?? colon)![2]) - (colon ? 1 : 0);
      if (a < 1 || b < a) throw new UserError(`--components: bad range '${part}'`);
      for (let k = a; k <= b; k++) out.add(k);
    } else out.add(positiveInt(part, '--components'));
  }
  return [...out].sort((a, b) => a - b);
}

function layerOf(flags: Flags) {
  const layer = str(flags, 'layer');
  return layer === undefined ? {} : { layer: nonNegativeInt(layer, '--layer') };
}

export function registerFollowups(group: Command): void {
  withCommon(group.command('pls'))
    .description(
      'PLS probes (Heinzerling & Inui 2024): test R² against k PLS components, beside PCA-k and the full ridge',
    )
    .option('--layer <n>', "layer (default: the paper's PCA layer)")
    .option('--components <ks>', "numbers of components: '1..32', '1,2,4,8'", '1..32')
    .option('--no-pca', 'skip the PCA-k probes (the ridge on all dimensions is still fitted)')
    .option(
      '--no-scale',
      "centre X and Y only (sklearn scale=False); default: divide by the ddof-1 std as sklearn's default",
    )
    .action(async (flags: Flags) => {
      const store = single(flags.store);
      await report(
        await plsExperiment(store, {
          ...common(flags, store),
          ...layerOf(flags),
          components: parseComponents(str(flags, 'components')!),
          pca: flags['pca'] !== false,
          scale: flags['scale'] !== false,
        }),
        flags,
      );
    });

  withCommon(group.command('spatial'))
    .description(
      "spatial autocorrelation: Moran's I of every neuron / residual dimension / SAE feature over the places, the top units with permutation p-values and LISA maps",
    )
    .option('--layer <n>', "layer (default: the paper's PCA layer)")
    .option('--hooks <list>', 'hooks whose units to score (default: mlp_post and resid_post, those stored)')
    .option('--sae <dir>', "an SAE (SAELens layout): score its features too, at the SAE's hook")
    .option('--k <n>', 'nearest neighbours on the sphere', '8')
    .option('--permutations <n>', 'permutations of the global test for the top units', '999')
    .option('--lisa-permutations <n>', 'conditional permutations per place for the LISA maps', '199')
    .option('--top <n>', 'units per source with a permutation test', '20')
    .option('--maps <n>', 'units per source with a LISA map', '4')
    .action(async (flags: Flags) => {
      const store = single(flags.store);
      const hooks = str(flags, 'hooks');
      await report(
        await spatialExperiment(store, {
          ...common(flags, store),
          ...layerOf(flags),
          ...(hooks && { hooks: hooks.split(',').map((h) => h.trim()) }),
          ...(str(flags, 'sae') && { sae: str(flags, 'sae')! }),
          k: positiveInt(str(flags, 'k')!, '--k'),
          permutations: positiveInt(str(flags, 'permutations')!, '--permutations'),
          lisaPermutations: positiveInt(str(flags, 'lisaPermutations')!, '--lisa-permutations'),
          top: positiveInt(str(flags, 'top')!, '--top'),
          maps: nonNegativeInt(str(flags, 'maps')!, '--maps'),
        }),
        flags,
      );
    });

  withCommon(group.command('bias'))
    .description(
      "fame and region bias: the probe's test errors against log page views and population, and per continent / country / state",
    )
    .option('--layer <n>', "layer (default: the paper's PCA layer)")
    .option(
      '--group-columns <list>',
      "columns to average errors over (default: the dataset's block and entity-type columns)",
    )
    .action(async (flags: Flags) => {
      const store = single(flags.store);
      const groups = str(flags, 'groupColumns');
      await report(
        await biasExperiment(store, {
          ...common(flags, store),
          ...layerOf(flags),
          ...(groups && { groupColumns: groups.split(',').map((g) => g.trim()) }),
        }),
        flags,
      );
    });

  withCommon(group.command('negative-controls'))
    .description(
      'negative-control targets (permuted targets, random smooth fields) probed beside the real ones',
    )
    .option(
      '--layers <list>',
      "layers: '8,16', 'a:b[:step]' or 'all' (default: 5 evenly spaced stored layers)",
    )
    .option('--fields <n>', 'random smooth fields', '3')
    .action(async (flags: Flags) => {
      const store = single(flags.store);
      const layers = parseLayers(str(flags, 'layers'));
      await report(
        await negativeControlsExperiment(store, {
          ...common(flags, store),
          ...(layers && { layers }),
          fields: nonNegativeInt(str(flags, 'fields')!, '--fields'),
        }),
        flags,
      );
    });
}
