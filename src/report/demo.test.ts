import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UserError } from '../util/errors.js';
import { DEMO_MARKER, LLM_COMMAND, runDemo } from './demo.js';
import { DEMO_SURFACE_RANK } from './demo-controls.js';

test('the demo builds the GloVe baseline, probes it and writes a report that says what it is', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'demo-')), 'demo');
  const lines: string[] = [];
  const result = await runDemo({ out, limit: 1500, log: (l) => lines.push(l) });
  const text = lines.join('\n');
  assert.match(text, /STATIC WORD-EMBEDDING BASELINE/);
  assert.ok(text.includes(LLM_COMMAND));
  assert.match(text, /world_cities: 1500 cities/);
  assert.equal(result.embedding.n, 1500);
  assert.equal(result.embedding.covered + result.embedding.uncovered, 1500);
  // Word vectors of city names do carry some geography (the paper's point is how much more an LLM has).
  assert.ok(result.testR2 > 0.1 && result.testR2 < 0.9, `test R² ${result.testR2}`);
  for (const f of [
    'report.html',
    DEMO_MARKER,
    'probe/results.json',
    'probe/predictions.csv',
    'store/manifest.json',
  ]) {
    assert.ok(existsSync(join(out, f)), f);
  }
  const html = readFileSync(result.report, 'utf8');
  assert.match(html, /static word-embedding baseline/);
  // GloVe beside the surface-form baselines of the same names (docs/controls.md).
  assert.match(text, /surface:char-ngrams:1024: test R² -?\d/);
  for (const kind of ['tfidf', 'bag-of-tokens', 'char-ngrams']) {
    const r = JSON.parse(readFileSync(join(out, 'controls', kind, 'probe/results.json'), 'utf8'));
    assert.equal(r.model, `surface:${kind}:${DEMO_SURFACE_RANK}`);
    assert.equal(r.nTrain + r.nTest, 1500);
    assert.ok(html.includes(`surface:${kind}`), kind);
  }
  assert.ok(html.includes('spacetime-lens run --model &lt;hf-id-or-dir&gt; --dataset world_place'));
  const results = JSON.parse(readFileSync(join(out, 'probe/results.json'), 'utf8'));
  assert.equal(results.model, 'static:glove-100d');
  assert.equal(results.dataset, 'world_cities');
  // A second run replaces the demo's own folder; a folder it did not make is refused.
  await runDemo({ out, limit: 300, log: () => {} });
  assert.equal(
    JSON.parse(readFileSync(join(out, 'probe/results.json'), 'utf8')).nTrain +
      JSON.parse(readFileSync(join(out, 'probe/results.json'), 'utf8')).nTest,
    300,
  );
  const foreign = mkdtempSync(join(tmpdir(), 'not-demo-'));
  mkdirSync(join(foreign, 'x'));
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  await assert.rejects(
    runDemo({ out: foreign, limit: 100, log: () => {} }),
    (e) => e instanceof UserError && /not made by the demo/.test(e.message),
  );
});
