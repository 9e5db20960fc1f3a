import { join, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { formatTable } from '../../experiments/output.js';
import { loadModel, modelIdentity } from '../../model/index.js';
import {
  type CausalExperimentResult,
  type EditPositions,
  expertRouting,
  FAMILIARITY_FILE,
  familiarityProbe,
  familiarityTemplate,
  type NeuronProcedure,
  probeDirection,
  readFamiliarity,
  readProbeDirections,
  runIntervene,
  runNeurons,
  type SteeringUnit,
  scoreFamiliarity,
  writeCausalResult,
  writeFamiliarity,
} from '../../neurons/index.js';
import { openStore, parseLayers } from '../../store/index.js';
import { UserError } from '../../util/errors.js';
import { VERSION } from '../../version.js';
import { type DeviceFlags, deviceOption, engineDevice, gpuDtypeOption } from '../device.js';
import { addSourceOptions, type SourceFlags, sourceFromFlags } from '../source.js';

function numberList(text: string, flag: string): number[] {
  const out = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (!out.length || out.some((v) => !Number.isFinite(v)))
    throw new UserError(`${flag} should be a comma-separated list of numbers, got '${text}'`);
  return out;
}

function intFlag(text: string, flag: string, min = 0): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min)
    throw new UserError(`${flag} should be an integer ≥ ${min}, got '${text}'`);
  return v;
}

async function finish(result: CausalExperimentResult, out: string, quiet?: boolean): Promise<void> {
  const files = await writeCausalResult(out, result);
  if (!quiet) console.log(formatTable({ columns: result.columns, rows: result.table }, 40));
  console.error(`wrote ${files.join(', ')}`);
}

/** Registers `neurons`, `intervene` and `familiarity` (docs/method.md#neurons and the paper's proposed follow-ups). */
export function registerNeurons(program: Command): void {
  registerNeuronsCommand(program);
  registerExperts(program);
  registerIntervene(program);
  registerFamiliarity(program);
}

interface NeuronFlags extends DeviceFlags, SourceFlags {
  model: string;
  store: string;
  probe?: string;
  procedure: string;
  top: string;
  layers?: string;
  probeLayers?: string;
  mlpStore?: string;
  out?: string;
  quiet?: boolean;
}

/** One past the highest layer of a probe run (for Python-style layer specs with negatives). */
async function probeLayerCount(dir: string): Promise<number> {
  const probes = await readProbeDirections(dir);
  await probes.close();
  return Math.max(...probes.layers) + 1;
}

function registerNeuronsCommand(program: Command): void {
  addSourceOptions(program.command('neurons'))
    .summary('find space and time neurons (both procedures of docs/method.md#neurons)')
    .description(
      'Two procedures, named as such:\n' +
        '  correlation  (the code procedure, model_composition.py): every neuron of every layer; its input (up, ' +
        'gate) and output (down) weights applied to the gain-free RMS-normalised resid_post of the store; Spearman ' +
        'with each target (lon, lat, + abs_lat, abs_lon for world; or the year) over all entities; top N per target ' +
        'and weight type.\n' +
        '  probe-cosine (the paper text procedure): cosine between the probe direction (--probe) and each ' +
        "neuron's input/output weights; then each top neuron's own activation (mlp.hook_post, from --mlp-store or " +
        'the engine) alone predicts the target: Spearman and R² of a 1-D fit, overall and per entity type.\n\n' +
        'Writes <out>/neurons.json (schema spacetime-lens/experiment@1: tables, plus figure data: per-layer best ' +
        "|ρ|, top neurons' activations per entity) and one CSV per table.",
    )
    .requiredOption('--model <dir|id>', 'the model the store was extracted from (local directory or Hub id)')
    .requiredOption('--store <dir>', 'activation store with hook_resid_post layers')
    .option('--probe <dir>', 'probe output directory (probes.safetensors): enables probe-cosine')
    .addOption(
      new Option('--procedure <which>', 'which procedure(s) to run')
        .choices(['correlation', 'probe-cosine', 'both', 'auto'])
        .default('auto'),
    )
    .option('--top <n>', 'neurons kept per (target, weight type)', '50')
    .option('--layers <spec>', 'store layers for the correlation search (default: all stored ≤ L−2)')
    .option('--probe-layers <spec>', 'probe layers for the cosine search (default: all in the probe)')
    .option(
      '--mlp-store <dir>',
      'a store extracted with --hooks mlp_post (default: run the model on the store ids)',
    )
    .option('--out <dir>', 'output directory (default: <store>.neurons)')
    .addOption(deviceOption())
    .addOption(gpuDtypeOption())
    .option('--quiet', 'no table on stdout')
    .action(async (flags: NeuronFlags) => {
      const procedures: NeuronProcedure[] | undefined =
        flags.procedure === 'auto'
          ? undefined
          : flags.procedure === 'both'
            ? ['correlation', 'probe-cosine']
            : [flags.procedure as NeuronProcedure];
      const store = await openStore(flags.store);
      const top = Math.max(...store.manifest.layers) + 1;
      const model = await loadModel(flags.model, {
        ...sourceFromFlags(flags),
        ...(await engineDevice(flags)),
      });
      const result = await runNeurons({
        model,
        store,
        ...(flags.probe ? { probe: flags.probe } : {}),
        ...(procedures ? { procedures } : {}),
        topK: intFlag(flags.top, '--top', 1),
        ...(flags.layers ? { layers: parseLayers(flags.layers, top) } : {}),
        ...(flags.probeLayers && flags.probe
          ? { probeLayers: parseLayers(flags.probeLayers, await probeLayerCount(flags.probe)) }
          : {}),
        ...(flags.mlpStore ? { mlpStore: flags.mlpStore } : {}),
        onProgress: (m) => {
          if (!flags.quiet) console.error(m);
        },
      }).finally(() => model.dispose());
      await finish(result, resolve(flags.out ?? `${flags.store.replace(/\/+$/, '')}.neurons`), flags.quiet);
    });
}

interface ExpertsFlags {
  store: string;
  layers?: string;
  bins: string;
  out?: string;
  quiet?: boolean;
}

function registerExperts(program: Command): void {
  program
    .command('experts')
    .summary('which experts of a mixture-of-experts model the entities route to, layer by layer')
    .description(
      'From a store of blocks.{l}.mlp.hook_expert_weights (extract --hooks expert_weights from Mixtral, Qwen-MoE, ' +
        'OLMoE): per layer and expert, the mean router probability, the share of entities whose top-1 expert it is ' +
        '(exact ties: the lower index), and Spearman ρ of its probability with each target; plus the top-1 shares ' +
        'within equal-count bins of each target (the report draws them per layer).\n\n' +
        'Writes <out>/experts.json (experiment@1) and experts.csv.',
    )
    .requiredOption('--store <dir>', 'activation store with mlp.hook_expert_weights layers')
    .option('--layers <spec>', 'layers to analyse (default: every layer with expert weights)')
    .option('--bins <n>', 'equal-count bins per target for the figure', '8')
    .option('--out <dir>', 'output directory (default: <store>.experts)')
    .option('--quiet', 'no table on stdout')
    .action(async (flags: ExpertsFlags) => {
      const store = await openStore(flags.store);
      const top = Math.max(...store.manifest.layers) + 1;
      const result = await expertRouting({
        store,
        bins: intFlag(flags.bins, '--bins', 1),
        ...(flags.layers ? { layers: parseLayers(flags.layers, top) } : {}),
      });
      await finish(result, resolve(flags.out ?? `${flags.store.replace(/\/+$/, '')}.experts`), flags.quiet);
    });
}

interface InterveneFlags extends DeviceFlags, SourceFlags {
  model: string;
  probe: string;
  layer: string;
  prompt: string[];
  target?: string;
  alphas: string;
  unit: SteeringUnit;
  positions: EditPositions;
  norm?: string;
  candidates?: string;
  maxNewTokens: string;
  randomDirections: string;
  seed: string;
  out: string;
  quiet?: boolean;
}

function registerIntervene(program: Command): void {
  addSourceOptions(program.command('intervene'))
    .summary('steer the model along a probe direction and measure how its answers move')
    .description(
      "Adds alpha · v to blocks.L.hook_resid_post (every position, or only the prompt's last token) while the " +
        'model completes each prompt greedily, for every alpha; reports the completion, the top next token and, ' +
        'for each candidate answer, its first-token probability and full (teacher-forced) log-probability: a ' +
        'dose-response table.\n\n' +
        'v is the probe direction w (coef_standardized of --target at --layer; the probe is fitted on standardised ' +
        'targets, so w is the direction in activation space along which its prediction grows) unit-normalised and ' +
        'scaled by --unit:\n' +
        '  rms    (default) v = alpha · (typical ‖x‖ / √d) · w/‖w‖: alpha in typical per-coordinate RMS units\n' +
        '  norm   v = alpha · typical ‖x‖ · w/‖w‖: alpha as a fraction of the residual norm\n' +
        "  target v = alpha · w/‖w‖²: moves the probe's prediction by alpha train standard deviations\n" +
        "typical ‖x‖ = mean residual norm at layer L over the prompt's positions after the first (or --norm).\n" +
        'probe_shift is measured: the probe re-reads the edited resid_post at the last prompt position. With ' +
        '--random-directions N (default 8) every alpha is also applied along N seeded random directions of the same ' +
        "norm with the probe direction's component removed: the band (min/mean/max of each candidate's log P) a " +
        'direction the probe does not read produces.\n\n' +
        'Writes <out>/intervene.json (experiment@1), intervene.csv and intervene.random.csv.',
    )
    .requiredOption('--model <dir|id>', 'model (local directory or Hub id) with a tokenizer')
    .requiredOption('--probe <dir>', 'probe output directory (probes.safetensors, results.json)')
    .requiredOption('--layer <l>', 'layer whose resid_post is edited (the probe must have this layer)')
    .requiredOption(
      '--prompt <text>',
      'a factual prompt, e.g. "Paris is in the country of" (repeat for several)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--target <name>', 'probe target to steer (longitude, latitude, year; default the first)')
    .option('--alphas <list>', 'alphas to sweep', '-8,-4,0,4,8')
    .addOption(
      new Option('--unit <unit>', 'what alpha measures').choices(['rms', 'norm', 'target']).default('rms'),
    )
    .addOption(
      new Option('--positions <which>', 'edit every position, or the last prompt token only')
        .choices(['all', 'last'])
        .default('all'),
    )
    .option('--norm <value>', 'typical residual norm to scale by (default: measured on each prompt)')
    .option('--candidates <list>', 'candidate answers to score, comma-separated, e.g. "France,Germany"')
    .option('--max-new-tokens <n>', 'greedy completion length', '8')
    .option(
      '--random-directions <n>',
      'matched control: the same alphas along N random directions of equal norm, orthogonal to the probe direction (0: none)',
      '8',
    )
    .option('--seed <n>', 'seed of the random directions', '0')
    .option('--out <dir>', 'output directory', 'intervene-out')
    .addOption(deviceOption())
    .addOption(gpuDtypeOption())
    .option('--quiet', 'no table on stdout')
    .action(async (flags: InterveneFlags) => {
      const layer = intFlag(flags.layer, '--layer');
      const alphas = numberList(flags.alphas, '--alphas');
      const candidates = flags.candidates
        ? flags.candidates
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [];
      const norm = flags.norm === undefined ? undefined : Number(flags.norm);
      if (norm !== undefined && !(norm > 0))
        throw new UserError(`--norm should be a positive number, got '${flags.norm}'`);
      const probes = await readProbeDirections(flags.probe);
      const dir = await probeDirection(probes, layer, flags.target ?? 0).finally(() => probes.close());
      const model = await loadModel(flags.model, {
        ...sourceFromFlags(flags),
        ...(await engineDevice(flags)),
      });
      try {
        const result = await runIntervene(model, {
          prompts: flags.prompt,
          modelId: modelIdentity(flags.model),
          probeDir: flags.probe,
          dataset: probes.dataset ?? '',
          targetNames: probes.targetNames,
          layer,
          direction: dir,
          alphas,
          unit: flags.unit,
          positions: flags.positions,
          ...(norm !== undefined ? { norm } : {}),
          maxNewTokens: intFlag(flags.maxNewTokens, '--max-new-tokens'),
          candidates,
          randomDirections: intFlag(flags.randomDirections, '--random-directions'),
          seed: intFlag(flags.seed, '--seed'),
          onRow: (alpha, completion) => {
            if (!flags.quiet) console.error(`alpha ${alpha}: ${JSON.stringify(completion)}`);
          },
        });
        await finish(result, resolve(flags.out), flags.quiet);
      } finally {
        await model.dispose();
      }
    });
}

interface FamiliarityFlags extends DeviceFlags, SourceFlags {
  model: string;
  store: string;
  template?: string;
  answerColumn?: string;
  layer?: string;
  alphas: string;
  buckets: string;
  batchSize: string;
  scores?: string;
  out?: string;
  quiet?: boolean;
}

function registerFamiliarity(program: Command): void {
  addSourceOptions(program.command('familiarity'))
    .summary('score how well the model knows each entity; probe R² by familiarity')
    .description(
      'Familiarity score of an entity = log P(true answer | factual prompt) under the model, e.g. "<place> is in ' +
        'the country of" -> country, "<person> died in the year" -> year (defaults per paper dataset; --template ' +
        'and --answer-column for others). Scores go beside the activations in <store>/familiarity.csv (+ ' +
        'familiarity.json). Then, at --layer (default: the middle stored layer), a probe report: test R² when the ' +
        'least familiar entities are filtered out (refit on train rows above the 0/25/50/75% quantile), and test ' +
        'R² per familiarity quartile of one probe fitted on all train rows. Writes <out>/familiarity.json + CSV.',
    )
    .requiredOption('--model <dir|id>', 'the model (with a tokenizer)')
    .requiredOption('--store <dir>', 'activation store (its entities are scored, its layers probed)')
    .option('--template <text>', 'prompt with {name}, e.g. "{name} is in the country of"')
    .option(
      '--answer-column <col>',
      'entity column holding the true answer (default per dataset; years for time)',
    )
    .option('--scores <file>', 'reuse a familiarity.csv instead of scoring (skips the model)')
    .option('--layer <l>', 'layer to probe')
    .option('--alphas <grid>', 'ridge alpha grid (as `probe --alphas`)', 'auto')
    .option('--buckets <k>', 'familiarity buckets of the test rows', '4')
    .option('--batch-size <n>', 'sequences per model call', '64')
    .option('--out <dir>', 'output directory (default: <store>.familiarity)')
    .addOption(deviceOption())
    .addOption(gpuDtypeOption())
    .option('--quiet', 'no table on stdout')
    .action(async (flags: FamiliarityFlags) => {
      const store = await openStore(flags.store);
      const man = store.manifest;
      const spec = familiarityTemplate(man.dataset.name, man.dataset.kind, {
        ...(flags.template ? { template: flags.template } : {}),
        ...(flags.answerColumn ? { answerColumn: flags.answerColumn } : {}),
      });
      let scores: Float64Array;
      if (flags.scores) {
        scores = await readFamiliarity(flags.scores, man.n);
      } else {
        const model = await loadModel(flags.model, {
          ...sourceFromFlags(flags),
          ...(await engineDevice(flags)),
        });
        try {
          const list = await scoreFamiliarity(model, await store.entities(), spec, {
            batchSize: intFlag(flags.batchSize, '--batch-size', 1),
            onProgress: (done, total) => {
              if (!flags.quiet) console.error(`scored ${done}/${total}`);
            },
          });
          await writeFamiliarity(store.dir, list, {
            model: modelIdentity(flags.model),
            template: spec.template,
            answer: spec.answer,
            toolVersion: VERSION,
            createdAt: new Date().toISOString(),
          });
          scores = Float64Array.from(list, (s) => s.logProb);
        } finally {
          await model.dispose();
        }
      }
      const layers = [...man.layers].sort((a, b) => a - b);
      const layer =
        flags.layer === undefined ? layers[Math.floor(layers.length / 2)]! : intFlag(flags.layer, '--layer');
      const rows = await familiarityProbe(store, scores, {
        layer,
        alphas: flags.alphas,
        buckets: intFlag(flags.buckets, '--buckets', 1),
      });
      const t = man.dataset.targetNames;
      const table = rows.map((r) => ({
        analysis: r.analysis,
        quantile_low: r.quantileLow,
        quantile_high: r.quantileHigh,
        threshold: r.threshold,
        n_train: r.nTrain,
        n_test: r.nTest,
        alpha: r.alpha,
        test_r2: r.testR2,
        ...Object.fromEntries(t.map((name, j) => [`test_r2_${name}`, r.testR2PerTarget[j]!])),
      }));
      const result: CausalExperimentResult = {
        schema: 'spacetime-lens/experiment@1',
        experiment: 'familiarity',
        title: 'Probe accuracy by entity familiarity',
        model: man.model.id,
        dataset: man.dataset.name,
        prompt: man.prompt.name,
        layer,
        hook: 'hook_resid_post',
        kind: man.dataset.kind,
        targetNames: t,
        settings: {
          template: spec.template,
          answer: spec.answer,
          scores: flags.scores ?? join(store.dir, FAMILIARITY_FILE),
          alphas: flags.alphas,
        },
        columns: [
          'analysis',
          'quantile_low',
          'quantile_high',
          'threshold',
          'n_train',
          'n_test',
          'alpha',
          'test_r2',
          ...t.map((name) => `test_r2_${name}`),
        ],
        table,
        summary: {},
        tables: {},
        figures: { scores: Array.from(scores) },
        notes: [
          'filtered: refit on the train rows whose familiarity ≥ the quantile, tested on the test rows above it; ' +
            'bucket: one probe on all train rows, test R² per familiarity quantile bucket of the test rows.',
        ],
        toolVersion: VERSION,
        createdAt: new Date().toISOString(),
      };
      await finish(
        result,
        resolve(flags.out ?? `${flags.store.replace(/\/+$/, '')}.familiarity`),
        flags.quiet,
      );
    });
}
