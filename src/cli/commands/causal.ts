import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { formatTable } from '../../experiments/output.js';
import { loadModel } from '../../model/index.js';
import {
  type CausalExperimentResult,
  runAblation,
  runPatching,
  writeCausalResult,
} from '../../neurons/index.js';
import { openStore } from '../../store/index.js';
import { UserError } from '../../util/errors.js';
import { type DeviceFlags, deviceOption, engineDevice, gpuDtypeOption } from '../device.js';
import { addSourceOptions, type SourceFlags, sourceFromFlags } from '../source.js';

interface CommonFlags extends DeviceFlags, SourceFlags {
  model: string;
  store: string;
  probe: string;
  layer?: string;
  entities?: string;
  randomDirections: string;
  seed: string;
  maxCandidates: string;
  positions?: 'entity' | 'all';
  out?: string;
  quiet?: boolean;
}

function count(text: string, flag: string, min: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min)
    throw new UserError(`${flag} should be an integer ≥ ${min}, got '${text}'`);
  return v;
}

function list(text: string | undefined): string[] | undefined {
  const out = text
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return out?.length ? out : undefined;
}

function commonOptions(cmd: Command, positions: 'entity' | 'all', entities: number): Command {
  return addSourceOptions(cmd)
    .requiredOption('--model <dir|id>', 'the model the store was extracted from (with a tokenizer)')
    .requiredOption('--store <dir>', 'activation store (entities, targets, split)')
    .requiredOption('--probe <dir>', "output directory of 'spacetime-lens probe' on that store")
    .option('--layer <l>', "layer to edit (default: the probe's best layer)")
    .option('--entities <n>', `entities edited, seeded from the test split (default ${entities})`)
    .option(
      '--random-directions <n>',
      'random controls of equal norm / dimension, orthogonal to the probe',
      '8',
    )
    .option('--seed <n>', 'seed of the entity draw and the random directions', '0')
    .option('--max-candidates <n>', 'candidate answers per categorical readout (most frequent first)', '30')
    .addOption(
      new Option('--positions <which>', "edit the name's last token, or every position")
        .choices(['entity', 'all'])
        .default(positions),
    )
    .option('--out <dir>', 'output directory')
    .addOption(deviceOption())
    .addOption(gpuDtypeOption())
    .option('--quiet', 'no table on stdout');
}

async function withModel(
  flags: CommonFlags,
  name: string,
  run: (common: Parameters<typeof runAblation>[0]) => Promise<CausalExperimentResult>,
): Promise<void> {
  const store = await openStore(flags.store);
  const model = await loadModel(flags.model, { ...sourceFromFlags(flags), ...(await engineDevice(flags)) });
  let result: CausalExperimentResult;
  try {
    result = await run({
      model,
      store,
      probe: flags.probe,
      ...(flags.layer !== undefined && { layer: count(flags.layer, '--layer', 0) }),
      ...(flags.entities !== undefined && { entities: count(flags.entities, '--entities', 1) }),
      randomDirections: count(flags.randomDirections, '--random-directions', 0),
      seed: count(flags.seed, '--seed', 0),
      maxCandidates: count(flags.maxCandidates, '--max-candidates', 2),
      ...(flags.positions && { positions: flags.positions }),
      onProgress: (m) => {
        if (!flags.quiet) console.error(m);
      },
    });
  } finally {
    await model.dispose();
  }
  const out = resolve(flags.out ?? `${flags.store.replace(/\/+$/, '')}.${name}`);
  const files = await writeCausalResult(out, result);
  if (!flags.quiet) {
    console.log(formatTable({ columns: result.columns, rows: result.table }, 40));
    for (const note of result.notes.slice(0, name === 'ablate' ? 1 : 0)) console.log(`\n${note}`);
  }
  console.error(`wrote ${files.join(', ')}`);
}

/** Registers `patch` (directed patching with a side-effect matrix) and `ablate` (probe direction vs causal use). */
export function registerCausal(program: Command): void {
  const patch = program
    .command('patch')
    .summary(
      "move an entity along a probe direction; side effects on the model's answers vs random directions",
    )
    .description(
      "Directed patching (docs/neurons.md#patch): each entity's resid_post at --layer moves along the direction of " +
        "attribute A (the probe's coef_standardized column; log10_population / log10_page_views: a ridge direction " +
        'fitted here on the train rows) by --amounts; unit target: amount·w/‖w‖², the probe of A re-reads amount ' +
        "train std more. The model's answers to the dataset's readout prompts (country/state/borough valued at " +
        "their places' centroid, population magnitude, year) give E[value] under the renormalised candidate " +
        'distribution; Δ against the unedited run, per measured attribute and for log P(true answer). Matrix cell = ' +
        'Σ amount·Δ / Σ amount² (pooled over entities), beside the band of N random directions of the same norm ' +
        'orthogonal to w. Writes <out>/patch.json (experiment@1) and CSVs.',
    );
  commonOptions(patch, 'entity', 12)
    .option(
      '--steer <names>',
      'directions to move along: probe targets, log10_<column>, pls<k>_<target> (the target in a k-component PLS fit) ' +
        '(default: every probe target + log10_population,log10_page_views where the data has them)',
    )
    .option('--amounts <list>', 'non-zero amounts', '-2,-1,1,2')
    .addOption(
      new Option('--unit <unit>', 'what an amount measures').choices(['target', 'rms']).default('target'),
    )
    .action(async (flags: CommonFlags & { steer?: string; amounts: string; unit: 'target' | 'rms' }) => {
      const amounts = flags.amounts.split(',').map((s) => Number(s.trim()));
      if (amounts.some((a) => !Number.isFinite(a) || a === 0))
        throw new UserError(`--amounts should be non-zero numbers, got '${flags.amounts}'`);
      const steer = list(flags.steer);
      await withModel(flags, 'patch', (common) =>
        runPatching({ ...common, amounts, unit: flags.unit, ...(steer && { steer }) }),
      );
    });
  const ablate = program
    .command('ablate')
    .summary(
      "project the probe direction out; does the model's answer change more than for random directions?",
    )
    .description(
      'Probe direction vs causal subspace (docs/neurons.md#ablate): x ← x − QQᵀx at blocks.L.hook_resid_post ' +
        "(every position by default), Q an orthonormal basis of the probe's target directions; N random subspaces " +
        'of the same dimension, orthogonal to Q, are the control. Per readout: mean KL(clean ‖ ablated) of the ' +
        'answer distribution, |Δ log P(true answer)|, |ΔE[value]| in std of the attribute; the verdict says whether ' +
        'the probe direction matters more than random ones or decodes something the model does not use. Writes ' +
        '<out>/ablate.json (experiment@1) and CSVs.',
    );
  commonOptions(ablate, 'all', 24)
    .option('--targets <names>', 'probe targets spanning the ablated subspace (default: all)')
    .action(async (flags: CommonFlags & { targets?: string }) => {
      const targets = list(flags.targets);
      await withModel(flags, 'ablate', (common) => runAblation({ ...common, ...(targets && { targets }) }));
    });
}
