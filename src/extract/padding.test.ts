import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadDataset } from '../data/index.js';
import { entityString, getPrompt, renderWith } from '../data/prompts.js';
import { DEFAULT_BATCH_TOKENS, planBatches } from '../model/hooked-model.js';
import { writeTestTokenizer } from '../model/testing-tokenizers.js';
import { encodeForProbe, loadTokenizer } from '../model/tokenizer.js';
import { sharedForTests, skipWithoutShared } from '../util/shared.test-util.js';
import { DEFAULT_BATCH_SIZE } from './extract.js';

/** Padded tokens of the engine's micro-batches when extract hands it chunks of `chunk` rows. */
function paddedTokens(lengths: number[], chunk: number): number {
  let padded = 0;
  for (let s = 0; s < lengths.length; s += chunk) {
    for (const b of planBatches(lengths.slice(s, s + chunk), DEFAULT_BATCH_TOKENS, 9)) padded += b.tokens;
  }
  return padded;
}

test('padding: 2,000 world_place rows, coords prompt, Llama-2 ids: default chunks pad under 2% (64-row chunks: 17%)', {
  skip: skipWithoutShared(),
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stl-padding-'));
  try {
    await writeTestTokenizer(dir, 'llama2');
    const tokenizer = await loadTokenizer(dir);
    const dataset = await loadDataset(join(sharedForTests()!, 'data/paper/world_place.csv'));
    const prompt = getPrompt(dataset, 'coords');
    const lengths = Array.from({ length: 2000 }, (_, r) => {
      const p = renderWith(prompt, entityString(dataset, r));
      return encodeForProbe(tokenizer, p.text, p.entityStart, p.entityEnd).ids.length;
    });
    const real = lengths.reduce((a, b) => a + b, 0);
    assert.equal(real, 30023); // the ids the bench feeds both sides
    const ratio = paddedTokens(lengths, DEFAULT_BATCH_SIZE) / real;
    assert.ok(ratio > 1 && ratio < 1.02, `default chunks pad to ${ratio}x`);
    assert.ok(paddedTokens(lengths, 64) / real > 1.1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
