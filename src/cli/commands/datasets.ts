import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  buildWorldCities,
  type ColumnMapping,
  canonicalPrompt,
  type EntityDataset,
  type FetchResult,
  fetchDatasets,
  isPaperDataset,
  listDatasets,
  listPrompts,
  loadDataset,
  planFetchAll,
  renderPrompt,
  summarizeDataset,
} from '../../data/index.js';
import { UserError } from '../../util/errors.js';

/** The column-mapping flags are ColumnMapping's fields; the dataset's own name comes from --dataset-name. */
interface MappingFlags extends Omit<ColumnMapping, 'name'> {
  datasetName?: string;
  dropInvalid?: boolean;
  as?: string;
  dir?: string;
}

function fraction(value: string): number {
  const v = Number(value);
  if (!(v > 0 && v < 1)) throw new InvalidArgumentError('must be a number between 0 and 1');
  return v;
}

function integer(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v)) throw new InvalidArgumentError('must be an integer');
  return v;
}

/** The custom-dataset flags shared by `show` and `validate`. */
function withDatasetFlags(cmd: Command): Command {
  return cmd
    .option('--name-col <col>', 'custom file: entity name column (default: name, entity or title)')
    .option('--lat-col <col>', 'custom file: latitude column (default: latitude or lat)')
    .option('--lon-col <col>', 'custom file: longitude column (default: longitude, lon, lng or long)')
    .option('--date-col <col>', 'custom file: ISO date column -> years since 1970 (default: date)')
    .option('--year-col <col>', 'custom file: numeric year column, used as is (default: year)')
    .option(
      '--test-col <col>',
      'custom file: True/False split column (default: is_test; none = name-hash split)',
    )
    .option('--block-col <col>', 'custom file: block column for hold-out experiments')
    .option('--type-col <col>', 'custom file: entity-type column')
    .option(
      '--test-fraction <f>',
      'custom file without a split column: test fraction (default 0.2)',
      fraction,
    )
    .option('--seed <n>', 'custom file without a split column: seed of the name hash (default 0)', integer)
    .option('--dataset-name <name>', 'custom file: dataset name (default: the file name)')
    .option('--as <paper-name>', 'read the file with a paper dataset schema (e.g. a mirror of art.csv)')
    .option('--drop-invalid', 'drop invalid rows and report counts per reason, instead of failing')
    .option('--dir <dir>', 'dataset cache directory (default: $SPACETIME_LENS_CACHE/datasets)');
}

function mappingFrom(o: MappingFlags): ColumnMapping | undefined {
  // Picked field by field: commander's options object also holds the subcommand's other flags.
  const m: ColumnMapping = {
    name: o.datasetName,
    nameCol: o.nameCol,
    latCol: o.latCol,
    lonCol: o.lonCol,
    dateCol: o.dateCol,
    yearCol: o.yearCol,
    testCol: o.testCol,
    blockCol: o.blockCol,
    typeCol: o.typeCol,
    testFraction: o.testFraction,
    seed: o.seed,
  };
  const set = Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as ColumnMapping;
  return Object.keys(set).length ? set : undefined;
}

async function load(nameOrPath: string, o: MappingFlags): Promise<EntityDataset> {
  return loadDataset(nameOrPath, {
    mapping: mappingFrom(o),
    dropInvalid: o.dropInvalid,
    as: o.as,
    dir: o.dir,
  });
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(Math.abs(x) >= 100 ? 1 : 3));
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function printDropped(ds: EntityDataset): void {
  const entries = Object.entries(ds.dropped);
  if (!entries.length) return;
  const total = entries.reduce((a, [, c]) => a + c, 0);
  console.log(`dropped ${total} invalid rows: ${entries.map(([r, c]) => `${r} ${c}`).join(', ')}`);
}

function showDataset(ds: EntityDataset, rows: number): void {
  const s = summarizeDataset(ds);
  console.log(`${s.name} (${s.kind})  ${s.source.path}`);
  console.log(`sha256   ${s.source.sha256}`);
  console.log(`columns  ${s.columns.join(', ')}`);
  console.log(`rows     ${s.n}: train ${s.nTrain}, test ${s.nTest} (test fraction ${pct(s.testFraction)})`);
  printDropped(ds);
  console.log('target');
  console.log(
    table([
      ['  name', 'min', 'max', 'mean', 'std'],
      ...s.targets.map((t) => [`  ${t.name}`, fmt(t.min), fmt(t.max), fmt(t.mean), fmt(t.std)]),
    ]),
  );
  const groups = (label: string, col: string | undefined, cs: [string, number][], limit: number) => {
    if (!col) return;
    const shown = cs.slice(0, limit).map(([v, c]) => `${v === '' ? '(blank)' : v} ${c}`);
    const more = cs.length > limit ? `, ... (${cs.length} values)` : '';
    console.log(`${label} (${col}): ${shown.join(', ')}${more}`);
  };
  groups('entity types', s.entityTypeColumn, s.entityTypeCounts, 15);
  groups('blocks', s.blockColumn, s.blockCounts, 12);
  for (const w of s.warnings) console.log(`note: ${w}`);
  if (rows > 0) {
    const prompt = canonicalPrompt(ds);
    console.log(`first ${Math.min(rows, ds.n)} rows (prompt ${prompt}):`);
    const header = ['  row', ds.nameColumn, ...ds.targetNames, 'test', 'prompt text'];
    const body: string[][] = [];
    for (let r = 0; r < Math.min(rows, ds.n); r++) {
      const k = ds.targetNames.length;
      body.push([
        `  ${r}`,
        ds.names[r],
        ...ds.targetNames.map((_, j) => fmt(ds.targets[r * k + j])),
        ds.isTest[r] ? 'yes' : 'no',
        JSON.stringify(renderPrompt(ds, r, prompt).text),
      ]);
    }
    console.log(table([header, ...body]));
  }
}

/** Registers `datasets list|fetch|show|validate|prompts`. */
export function registerDatasets(program: Command): void {
  const datasets = program
    .command('datasets')
    .description(
      "the paper's six entity datasets, custom CSV/JSONL datasets, the offline world_cities, prompts",
    );

  datasets
    .command('list')
    .description('list known datasets: kind, target, rows, entity types, whether cached')
    .option('--dir <dir>', 'dataset cache directory (default: $SPACETIME_LENS_CACHE/datasets)')
    .option('--json', 'print JSON')
    .action((o: { dir?: string; json?: boolean }) => {
      const entries = listDatasets(o.dir);
      // world_cities is built in about a second; its size depends only on the pinned package and the threshold.
      for (const e of entries) if (e.name === 'world_cities') e.rows = buildWorldCities().n;
      if (o.json) return console.log(JSON.stringify(entries, null, 2));
      console.log(
        table([
          ['name', 'kind', 'target', 'rows', 'entity types', 'cached'],
          ...entries.map((e) => [
            e.name,
            e.kind,
            e.target,
            e.rows === undefined ? '-' : String(e.rows),
            e.entityTypes.length > 48 ? `${e.entityTypes.slice(0, 45)}...` : e.entityTypes,
            e.verified === 'built offline' ? 'built offline' : e.cached ? `yes (${e.verified})` : 'no',
          ]),
        ]),
      );
    });

  datasets
    .command('fetch')
    .description(
      "download paper datasets into the cache, verifying SHA-256 (default source: the authors' repository)",
    )
    .argument(
      '<names...>',
      'dataset names (world_place us_place nyc_place historical_figure art headline), or all',
    )
    .option('--source <dir-or-url>', 'a folder holding NAME.csv, or a base URL to append NAME.csv to')
    .option('--force', 're-download even when a verified copy is cached')
    .option('--dir <dir>', 'dataset cache directory (default: $SPACETIME_LENS_CACHE/datasets)')
    .addHelpText(
      'after',
      "\nhistorical_figure and headline are not in the authors' repository and have no known checksum:\n" +
        'pass --source with your own copy; they are reported "unverified". `all` fetches what has a source\n' +
        '(without --source: the four published CSVs) and lists what it skipped and why.',
    )
    .action(async (names: string[], o: { source?: string; force?: boolean; dir?: string }) => {
      const plan = names.includes('all')
        ? planFetchAll(o.source)
        : { names, skipped: [] as { name: string; reason: string }[] };
      const results: FetchResult[] = plan.names.length
        ? await fetchDatasets(plan.names, { ...o, log: (line) => console.log(line) })
        : [];
      for (const s of plan.skipped) console.log(`${s.name}: skipped: ${s.reason}`);
      const fresh = results.filter((r) => r.status !== 'cached').length;
      const skipped = plan.skipped.length
        ? `, ${plan.skipped.length} skipped (${plan.skipped.map((s) => s.name).join(', ')})`
        : '';
      console.log(`${fresh} fetched, ${results.length - fresh} already cached${skipped}`);
    });

  withDatasetFlags(
    datasets
      .command('show')
      .description('schema, target summary, entity-type and block counts, train/test sizes, a few rows')
      .argument('<name-or-path>', 'a dataset name, a CSV/JSONL file, or a JSON spec file')
      .option('--rows <n>', 'rows to print', integer, 5),
  ).action(async (nameOrPath: string, o: MappingFlags & { rows: number }) => {
    showDataset(await load(nameOrPath, o), o.rows);
  });

  withDatasetFlags(
    datasets
      .command('validate')
      .description('check a dataset file: every invalid row with its line (exit 1 if any)')
      .argument('<name-or-path>', 'a dataset name, a CSV/JSONL file, or a JSON spec file'),
  ).action(async (nameOrPath: string, o: MappingFlags) => {
    const ds = await load(nameOrPath, o);
    printDropped(ds);
    for (const w of ds.warnings) console.log(`note: ${w}`);
    console.log(`${ds.source.path}: ${ds.n} valid rows (${ds.kind}, target ${ds.targetNames.join(', ')})`);
  });

  datasets
    .command('prompts')
    .description('prompt variants of a dataset (docs/method.md#prompts), with an example rendering')
    .argument('<name-or-path>', 'a dataset name or file (for custom files: custom_space / custom_time)')
    .addOption(
      new Option('--example <row>', 'render this row of the dataset as the example').argParser(integer),
    )
    .option('--dir <dir>', 'dataset cache directory (default: $SPACETIME_LENS_CACHE/datasets)')
    .action(async (nameOrPath: string, o: { example?: number; dir?: string }) => {
      let ds: EntityDataset | undefined;
      let family = nameOrPath;
      if (
        o.example !== undefined ||
        !(isPaperDataset(nameOrPath) || nameOrPath.startsWith('custom_') || nameOrPath === 'world_cities')
      ) {
        ds = await loadDataset(nameOrPath, { dir: o.dir });
        family = ds.promptFamily;
        if (o.example !== undefined && (o.example < 0 || o.example >= ds.n)) {
          throw new UserError(`--example ${o.example}: ${ds.name} has rows 0..${ds.n - 1}`);
        }
      }
      const canonical = canonicalPrompt(family);
      const rows = listPrompts(family).map((p) => {
        const flags = [
          p.allCaps ? 'entity upper-cased' : '',
          p.stripPeriod ? 'final period removed' : '',
          p.randomTokens ? `${p.randomTokens} random token ids first` : '',
          p.paper ? '' : 'not in the paper',
          p.name === canonical ? 'canonical' : '',
        ].filter(Boolean);
        const example = ds ? JSON.stringify(renderPrompt(ds, o.example ?? 0, p.name).text) : '';
        return [p.name, JSON.stringify(p.prefix), flags.join('; '), example];
      });
      console.log(table([['prompt', 'prefix', 'notes', ds ? `row ${o.example ?? 0}` : ''], ...rows]));
    });
}
