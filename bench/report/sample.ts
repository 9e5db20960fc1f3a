/**
 * Writes a real sample of every result type the report reads (src/report/sample-runs.ts) and its report, to look
 * at by eye. Usage: npx tsx bench/report/sample.ts OUT
 */
import { join, resolve } from 'node:path';
import { loadReportInputs, writeReport } from '../../src/report/index.js';
import { buildSampleRuns } from '../../src/report/testing.js';

const out = resolve(process.argv[2] ?? 'bench/out/report-sample');
const t0 = Date.now();
const sample = await buildSampleRuns(out);
console.log(
  `${sample.paths.length} result files in ${((Date.now() - t0) / 1000).toFixed(1)} s under ${sample.runDir}`,
);
const inputs = await loadReportInputs(sample.paths);
await writeReport(join(out, 'report.html'), inputs);
console.log(`wrote ${join(out, 'report.html')}`);
