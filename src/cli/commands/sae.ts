import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { analyseFeatures, loadSae, trainOnStore } from '../../sae/index.js';
import { UserError } from '../../util/errors.js';

function intFlag(text: string, flag: string, min: number): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < min)
    throw new UserError(`${flag} should be an integer ≥ ${min}, got '${text}'`);
  return v;
}

function numberFlag(text: string, flag: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v < 0)
    throw new UserError(`${flag} should be a non-negative number, got '${text}'`);
  return v;
}

interface TrainFlags {
  store: string;
  layer: string;
  hook: string;
  out: string;
  architecture: 'topk' | 'relu';
  dSae: string;
  k: string;
  l1: string;
  untied?: boolean;
  lr: string;
  batchSize: string;
  epochs: string;
  aux: string;
  deadAfter?: string;
  seed: string;
  checkpoint?: string;
  quiet?: boolean;
}

interface FeatureFlags {
  sae: string;
  store: string;
  layer?: string;
  hook: string;
  out?: string;
  top: string;
  probeK: string;
  alphas?: string;
  typeColumn?: string;
  quiet?: boolean;
}

const fmt = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits);

/** `spacetime-lens sae train|features|info` (docs/sae.md). */
export function registerSae(program: Command): void {
  const sae = program
    .command('sae')
    .summary(
      'sparse autoencoders on cached activations: train, load SAELens/Gemma Scope SAEs, find space/time features',
    )
    .description(
      'Sparse autoencoders in the SAELens layout (cfg.json + sae_weights.safetensors), see docs/sae.md.\n' +
        '  train     train a TopK or ReLU+L1 SAE on one hook of one layer of a store\n' +
        '  features  per-feature Spearman/R² against the targets, top features, probes, reconstruction metrics\n' +
        '  info      describe an SAE folder (ours or a pretrained release)',
    );

  sae
    .command('train')
    .summary('train an SAE on a store layer and save it in the SAELens layout')
    .requiredOption('--store <dir>', 'activation store')
    .requiredOption('--layer <n>', 'layer to read')
    .option('--hook <name>', 'hook (alias such as resid_post, or a suffix)', 'resid_post')
    .requiredOption(
      '--out <dir>',
      'output folder (cfg.json, sae_weights.safetensors, training.json, checkpoint)',
    )
    .addOption(new Option('--architecture <a>', 'activation').choices(['topk', 'relu']).default('topk'))
    .option('--d-sae <n>', 'dictionary size', '4096')
    .option('--k <n>', 'active features per row (topk)', '32')
    .option('--l1 <c>', 'L1 coefficient (relu)', '1')
    .option('--untied', 'do not subtract b_dec from the input (SAELens apply_b_dec_to_input = false)')
    .option('--lr <lr>', 'Adam learning rate', '3e-4')
    .option('--batch-size <n>', 'rows per step', '4096')
    .option('--epochs <n>', 'passes over the store', '10')
    .option('--aux <c>', 'AuxK coefficient for dead features (0 disables)', '0.03125')
    .option('--dead-after <rows>', 'rows without firing after which a feature is dead (default: one epoch)')
    .option('--seed <n>', 'seed (init and batch order)', '0')
    .option(
      '--checkpoint <file>',
      'checkpoint file (default <out>/checkpoint.safetensors); resumed when present',
    )
    .option('--quiet', 'no per-epoch lines')
    .action(async (f: TrainFlags) => {
      const { history, resumedEpochs, hookName } = await trainOnStore({
        store: f.store,
        layer: intFlag(f.layer, '--layer', 0),
        hook: f.hook,
        out: resolve(f.out),
        architecture: f.architecture === 'relu' ? 'standard' : 'topk',
        dSae: intFlag(f.dSae, '--d-sae', 1),
        k: intFlag(f.k, '--k', 1),
        l1Coefficient: numberFlag(f.l1, '--l1'),
        applyBDecToInput: !f.untied,
        lr: numberFlag(f.lr, '--lr'),
        batchSize: intFlag(f.batchSize, '--batch-size', 1),
        epochs: intFlag(f.epochs, '--epochs', 0),
        auxCoefficient: numberFlag(f.aux, '--aux'),
        ...(f.deadAfter ? { deadAfterRows: intFlag(f.deadAfter, '--dead-after', 1) } : {}),
        seed: intFlag(f.seed, '--seed', 0),
        ...(f.checkpoint ? { checkpoint: resolve(f.checkpoint) } : {}),
        onEpoch: (e) => {
          if (!f.quiet)
            console.error(
              `epoch ${e.epoch + 1}: mse ${e.mse.toPrecision(4)}  L0 ${e.l0.toFixed(1)}  dead ${(100 * e.deadFraction).toFixed(1)}%`,
            );
        },
      });
      if (resumedEpochs) console.error(`resumed ${resumedEpochs} epoch(s) from the checkpoint`);
      const last = history.at(-1);
      console.log(
        `saved ${resolve(f.out)} (${hookName}, ${history.length} epochs${last ? `, final mse ${last.mse.toPrecision(4)}, L0 ${last.l0.toFixed(1)}` : ''})`,
      );
    });

  sae
    .command('features')
    .summary('find space and time features of an SAE on a store')
    .requiredOption('--sae <dir>', 'SAE folder in the SAELens layout')
    .requiredOption('--store <dir>', 'activation store')
    .option('--layer <n>', "layer (default: the SAE's hook_name)")
    .option('--hook <name>', 'hook with --layer', 'resid_post')
    .option('--out <dir>', 'output folder for sae-features.json/.csv (default: the SAE folder)')
    .option('--top <n>', 'top features listed per group and target', '10')
    .option('--probe-k <n>', 'features per target in the sparse probe', '8')
    .option('--alphas <spec>', 'ridge alpha grid (as for `probe`)')
    .option('--type-column <col>', 'entity-type column for per-type statistics')
    .option('--quiet', 'no summary on stdout')
    .action(async (f: FeatureFlags) => {
      const report = await analyseFeatures({
        sae: f.sae,
        store: f.store,
        ...(f.layer !== undefined ? { layer: intFlag(f.layer, '--layer', 0) } : {}),
        hook: f.hook,
        out: resolve(f.out ?? f.sae),
        top: intFlag(f.top, '--top', 1),
        probeK: intFlag(f.probeK, '--probe-k', 1),
        ...(f.alphas ? { alphas: f.alphas } : {}),
        ...(f.typeColumn ? { typeColumn: f.typeColumn } : {}),
      });
      const p = report.probe;
      const fits = {
        full: p.full,
        refit: p.refitOnReconstruction,
        [`top-${p.topFeatures.k}`]: p.topFeatures,
      };
      for (const [name, fit] of Object.entries(fits))
        for (const w of fit.warnings ?? []) console.error(`warning: ${name} probe: ${w}`);
      if (f.quiet) return;
      const m = report.metrics;
      console.log(
        `${report.store.hookName}: explained variance ${fmt(m.explainedVariance)}, mse ${m.mse.toPrecision(4)}, ` +
          `L0 ${m.l0.toFixed(1)}, dead ${(100 * m.deadFraction).toFixed(1)}%`,
      );
      console.log(
        `probe test R²: full ${fmt(p.full.meanR2)}, on reconstruction ${fmt(p.onReconstruction.meanR2)} ` +
          `(keeps ${fmt(p.onReconstruction.keptFraction)}), top-${p.topFeatures.k} features ${fmt(p.topFeatures.meanR2)} ` +
          `(${p.topFeatures.features.length} features)`,
      );
      for (const [target, rows] of Object.entries(report.groups[0]!.top)) {
        const best = rows
          .slice(0, 5)
          .map((r) => `#${r.feature} ρ=${fmt(r.spearman, 2)}`)
          .join(', ');
        console.log(`  ${target}: ${best}`);
      }
    });

  sae
    .command('info')
    .summary('describe an SAE folder in the SAELens layout')
    .argument('<dir>', 'SAE folder')
    .action(async (dir: string) => {
      const { params: p, provenance } = await loadSae(dir);
      let minNorm = Infinity;
      let maxNorm = 0;
      for (let j = 0; j < p.dSae; j++) {
        let s = 0;
        for (let i = 0; i < p.dIn; i++) s += p.wDec[j * p.dIn + i]! ** 2;
        minNorm = Math.min(minNorm, Math.sqrt(s));
        maxNorm = Math.max(maxNorm, Math.sqrt(s));
      }
      console.log(`architecture ${p.architecture}${p.k !== undefined ? ` (k=${p.k})` : ''}`);
      console.log(`d_in ${p.dIn}, d_sae ${p.dSae}, apply_b_dec_to_input ${p.applyBDecToInput}`);
      console.log(`hook ${provenance.hookName ?? '-'}, model ${provenance.modelName ?? '-'}`);
      console.log(`decoder row norms ${minNorm.toFixed(4)} .. ${maxNorm.toFixed(4)}`);
    });
}
