import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { ALPHA_PRESETS } from '../../probe/alphas.js';
import { MIN_TEST_ROWS } from '../../probe/metrics.js';
import { fixed, formatResultsTable, writeProbeResults } from '../../probe/probe-output.js';
import { probeStore } from '../../probe/probe-store.js';
import { DEFAULT_REFERENCE_YEAR, TARGET_VARIANTS, type TargetVariant } from '../../probe/targets.js';
import { UserError } from '../../util/errors.js';

interface ProbeFlags {
  store: string;
  layers: string;
  hook: string;
  alphas: string;
  cv: 'loo' | 'none';
  paperCompat?: boolean;
  predictions: 'compact' | 'best' | 'all';
  out?: string;
  quiet?: boolean;
  groupBy?: string;
  controlTask?: boolean;
  target: TargetVariant;
  referenceYear?: string;
}

/** Registers `probe`: ridge probes on every layer of an activation store. */
export function registerProbe(program: Command): void {
  const presets = Object.entries(ALPHA_PRESETS)
    .map(([name, p]) => `  ${name}: ${p.describe}`)
    .join('\n');
  program
    .command('probe')
    .summary('fit linear probes on every layer of an activation store')
    .description(
      'For every layer, fits a ridge probe from the activations to the targets (longitude+latitude jointly, or ' +
        "the year), standardised on the store's train rows, with an unpenalised intercept and the penalty chosen by " +
        'exact leave-one-out cross-validation (as scikit-learn RidgeCV: one alpha for all targets). Scores train ' +
        'and test: R², Spearman, Kendall, Pearson, MAE, RMSE, proximity error, and haversine km for places. Beside ' +
        "every probe: the group baseline (each test row predicted by its group's training mean: country / state / " +
        'borough, or the entity type for time) and the within-group probe (refitted with the group means removed ' +
        'from activations and targets: its test R², MAE and km; docs/controls.md).\n\n' +
        'Writes to --out: results.json (schema spacetime-lens/probe-results@1), results.csv (the same table), ' +
        'predictions.csv (per-entity predictions of every layer, the best one in full and the others compact: 6 ' +
        'significant digits, test rows only above 1,000,000 entity-layer rows; --predictions best|all) and ' +
        `probes.safetensors (coefficients and intercepts per layer).\n\nAlpha presets:\n${presets}\n` +
        '  auto: the paper grid for Llama-2 7b/13b/70b stores, otherwise default',
    )
    .requiredOption('--store <dir>', 'activation store directory (from `extract` or `import`)')
    .option('--layers <spec>', 'layers: all | 0,8,16 | 0:32:4 (Python-style, negatives from the end)', 'all')
    .option(
      '--hook <name>',
      'hook: resid_post | resid_pre | resid_mid | mlp_post | attn_out | mlp_out',
      'resid_post',
    )
    .option(
      '--alphas <grid>',
      'preset name, auto, logspace:START:STOP:NUM, or a list like 10,100,1000',
      'auto',
    )
    .addOption(
      new Option('--cv <how>', 'loo = exact leave-one-out over the grid; none = one fixed alpha (give one)')
        .choices(['loo', 'none'])
        .default('loo'),
    )
    .option(
      '--paper-compat',
      "the authors' metric quirk: haversine distances with latitude and longitude swapped (docs/method.md#metrics)",
    )
    .addOption(
      new Option('--predictions <which>', 'per-entity predictions to write')
        .choices(['compact', 'best', 'all'])
        .default('compact'),
    )
    .addOption(
      new Option(
        '--target <what>',
        'fit on the targets (native), on 3-D unit vectors mapped back to lon/lat (globe, places), or on ' +
          'ln(reference year − year) mapped back to years (log-time, dates); docs/method.md#target-variants',
      )
        .choices([...TARGET_VARIANTS])
        .default('native'),
    )
    .option('--reference-year <year>', `log-time: the reference year R (default ${DEFAULT_REFERENCE_YEAR})`)
    .option('--out <dir>', 'output directory (default: <store>.probe)')
    .option('--quiet', 'no per-layer progress lines')
    .option(
      '--group-by <column>',
      'entity column of the group baseline and the within-group probe (default: country / state_id / ' +
        'borough_name for places, the entity type for time; none = off; docs/controls.md)',
    )
    .addOption(new Option('--control-task').hideHelp())
    .action(async (flags: ProbeFlags) => {
      if (flags.controlTask) {
        throw new UserError(
          '--control-task was removed: every probe now reports the group baseline and the within-group R² ' +
            '(docs/controls.md#why-no-control-task)',
        );
      }
      const out = resolve(flags.out ?? `${flags.store.replace(/\/+$/, '')}.probe`);
      if (resolve(out) === resolve(flags.store)) throw new UserError('--out must not be the store directory');
      const started = Date.now();
      const run = await probeStore(flags.store, {
        layers: flags.layers,
        hook: flags.hook,
        alphas: flags.alphas,
        cv: flags.cv,
        paperCompat: !!flags.paperCompat,
        predictions: flags.predictions,
        ...(flags.groupBy !== undefined ? { groupBy: flags.groupBy } : {}),
        target: flags.target,
        ...(flags.referenceYear !== undefined && { referenceYear: yearFlag(flags.referenceYear) }),
        onLayer: (r, done, total) => {
          if (!flags.quiet) {
            console.error(
              `[${done}/${total}] layer ${r.layer}: alpha ${r.alpha.toPrecision(4)}, test R² ${fixed(r.test.r2, 4)} ` +
                `(${((Date.now() - started) / 1000).toFixed(1)} s)`,
            );
          }
          for (const w of r.warnings ?? []) console.error(`warning: layer ${r.layer}: ${w}`);
        },
        onSkip: (s, done, total) => {
          if (!flags.quiet) console.error(`[${done}/${total}] layer ${s.layer}: skipped`);
        },
      });
      await writeProbeResults(out, run);
      const r = run.results;
      console.log(
        `${r.model} · ${r.dataset} · prompt ${r.prompt} · ${r.hook} · ${r.nTrain} train / ${r.nTest} test · ` +
          `d ${r.d} · cv ${r.settings.cv} · alphas ${r.settings.alphaPreset} · distance ${r.settings.distance}` +
          (r.settings.target
            ? ` · target ${r.settings.target} (fitted on ${r.settings.fitTargetNames?.join(', ')})`
            : ''),
      );
      console.log(formatResultsTable(r));
      if (r.skippedLayers.length) {
        console.log(
          `skipped layers (not probed, see results.json skippedLayers): ${r.skippedLayers.map((s) => s.layer).join(', ')}`,
        );
      }
      // After the table, so that they are the last thing read; per-layer ones were also shown as the layers ran.
      for (const w of r.warnings) console.error(`warning: ${w}`);
      console.log(
        r.bestLayer === null
          ? `no best layer named (${r.nTest} test rows, fewer than ${MIN_TEST_ROWS}); results in ${out}`
          : `best layer ${r.bestLayer} (by test R²); results in ${out}`,
      );
    });
}

function yearFlag(s: string): number {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v))
    throw new UserError(`--reference-year: expected a year, got '${s}'`);
  return v;
}
