import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { exportFigures, loadReportInputs, readGeoJson, writeReport } from '../../report/index.js';
import type { MapKind } from '../../report/types.js';
import { UserError } from '../../util/errors.js';

interface ReportFlags {
  out: string;
  layer?: string;
  split: 'test' | 'train' | 'all';
  store?: string[];
  nycOutlines?: string;
  map?: MapKind;
  yearOffset?: string;
  title?: string;
  maxLayers?: string;
  figures?: string;
  png: boolean;
}

function integer(flag: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min)
    throw new UserError(`${flag}: expected an integer >= ${min}, got '${value}'`);
  return n;
}

/** Registers `report`. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .summary('render probe results as one self-contained HTML report (and static figures)')
    .description(
      'Reads probe output folders (results.json + predictions.csv from `spacetime-lens probe`), folders of them, ' +
        'or result JSON files (experiment, neurons, intervene, familiarity) and writes ONE HTML file that opens ' +
        'without a network, figure for figure as the paper: test R² and proximity error against normalized depth ' +
        "(one panel per dataset, one line per model, the paper's Llama-2 numbers as markers), maps of the " +
        'predicted positions (world, US states, NYC boroughs) with a layer slider and a play button, predicted vs ' +
        'true year, the dataset overview and errors by entity type, then linear vs MLP, prompts, block and ' +
        'entity hold-outs, PCA-k, neurons, interventions and familiarity, each beside the paper where it matches, ' +
        'and every raw value in a closed appendix. See docs/report.md.\n\nExample:\n  spacetime-lens report ' +
        'runs/llama-7b/world_place runs/llama-7b/experiments --out report.html --figures figures/',
    )
    .argument('<results...>', 'probe output folders, folders of them, or result JSON files')
    .option('-o, --out <file>', 'HTML file to write', 'report.html')
    .option('--layer <n>', 'layer shown first in the maps and exported figures (default: best layer)')
    .addOption(
      new Option('--split <rows>', 'rows plotted first').choices(['test', 'train', 'all']).default('test'),
    )
    .option(
      '--store <dir...>',
      'activation store(s) whose entities.jsonl supply extra columns for colouring (state, entity type...)',
    )
    .option(
      '--nyc-outlines <geojson>',
      'borough outlines (GeoJSON) for NYC maps (default: the verified copy `datasets fetch nyc_place` stored)',
    )
    .addOption(
      new Option('--map <kind>', 'map for every space run (default: from the dataset)').choices([
        'world',
        'us',
        'nyc',
      ]),
    )
    .option(
      '--year-offset <years>',
      'added to time targets for display (default 1970 for art/headline, stored as years since 1970; else 0)',
    )
    .option('--title <text>', 'report title')
    .option(
      '--max-layers <n>',
      'keep predictions of at most N layers per run (default all; best layer always kept)',
    )
    .option('--figures <dir>', 'also write every figure as SVG and PNG into this folder')
    .option('--no-png', 'with --figures: SVG only')
    .action(async (paths: string[], flags: ReportFlags) => {
      const layer = flags.layer === undefined ? undefined : integer('--layer', flags.layer, 0);
      const yearOffset = flags.yearOffset === undefined ? undefined : Number(flags.yearOffset);
      if (yearOffset !== undefined && !Number.isFinite(yearOffset)) {
        throw new UserError(`--year-offset: expected a number, got '${flags.yearOffset}'`);
      }
      const inputs = await loadReportInputs(paths, {
        stores: flags.store,
        maxLayers: flags.maxLayers === undefined ? undefined : integer('--max-layers', flags.maxLayers, 1),
        layer,
      });
      const options = {
        layer,
        split: flags.split,
        mapKind: flags.map,
        yearOffset,
        title: flags.title,
        nycOutlines: flags.nycOutlines ? await readGeoJson(flags.nycOutlines) : undefined,
      };
      const out = resolve(flags.out);
      const model = await writeReport(out, inputs, options);
      console.log(
        `wrote ${out}: ${inputs.runs.length} probe run(s), ${inputs.extras.length} other result(s), ` +
          `${model.figures.length} figure(s)`,
      );
      if (flags.figures) {
        const figures = await exportFigures(model, resolve(flags.figures), { png: flags.png });
        for (const f of figures) {
          console.log(`  ${f.svg}${f.png ? ` + .png` : ''}${f.pngError ? ` (no PNG: ${f.pngError})` : ''}`);
        }
      }
    });
}
