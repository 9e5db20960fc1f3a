/**
 * Writes the benchmark table of bench/README.md (and bench/results.json) from a sweep's JSON lines; bench/run-all
 * --write-readme does the same at the end of a sweep. Rows measured at a 1-minute load >= 3 are refused (named
 * under the table) unless --allow-loaded, which shows them flagged.
 *
 *   npx tsx bench/table.ts SUMMARY.jsonl [--write bench/README.md] [--allow-loaded]   (without --write: prints)
 */
import { join } from 'node:path';
import { readSummary, tables, writeReadmeTable } from './lib/summary.js';

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: bench/table.ts SUMMARY.jsonl [--write README.md] [--allow-loaded]');
const allowLoaded = process.argv.includes('--allow-loaded');
const at = process.argv.indexOf('--write');
if (at < 0) console.log(tables(readSummary(file), { allowLoaded }).markdown);
else {
  const readme = process.argv[at + 1]!;
  const json = join(import.meta.dirname, 'results.json');
  const t = writeReadmeTable(file, readme, { allowLoaded, json });
  console.log(
    `wrote ${t.rows.length} rows into ${readme} and ${json} (${t.refused.length} refused as loaded)`,
  );
}
