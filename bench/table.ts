/**
 * Writes the benchmark table of bench/README.md from a sweep's JSON lines (bench/run-all.ts --write-readme does
 * the same at the end of a sweep).
 *
 *   npx tsx bench/table.ts SUMMARY.jsonl [--write bench/README.md]   (without --write: prints the table)
 */
import { readSummary, renderTable, writeReadmeTable } from './lib/summary.js';

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: bench/table.ts SUMMARY.jsonl [--write README.md]');
const at = process.argv.indexOf('--write');
if (at < 0) console.log(renderTable(readSummary(file)));
else {
  const readme = process.argv[at + 1]!;
  console.log(`wrote the table of ${writeReadmeTable(file, readme)} benchmarks into ${readme}`);
}
