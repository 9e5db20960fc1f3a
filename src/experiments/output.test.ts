import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { centroidAngle, distinctByFrequency } from './holdout.js';
import { paperModelSize } from './models.js';
import { newResult, toCsv, writeExperimentResult } from './output.js';
import { paperExperimentLayer, paperFixedAlpha } from './settings.js';

test('toCsv quotes commas, quotes and newlines and leaves non-finite numbers empty', () => {
  const csv = toCsv({
    columns: ['a', 'b', 'c'],
    rows: [
      { a: 'x,y', b: 'say "hi"', c: Number.NaN },
      { a: 1.5, b: null, c: true },
    ],
  });
  assert.equal(csv, 'a,b,c\n"x,y","say ""hi""",\n1.5,,true\n');
});

test('writeExperimentResult writes JSON (NaN as null, typed arrays as lists) and one CSV per table', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'exp-out-'));
  try {
    const result = newResult({
      experiment: 'pca',
      title: 't',
      model: 'm',
      dataset: 'ds',
      prompt: 'p',
      layer: 3,
      hook: 'hook_resid_post',
      kind: 'time',
      targetNames: ['year'],
      settings: { v: Float64Array.of(1, Number.NaN) },
      columns: ['k', 'r2'],
      table: [{ k: 2, r2: Number.NaN }],
      tables: { spectrum: { columns: ['i'], rows: [{ i: 1 }] } },
    });
    const paths = await writeExperimentResult(dir, result);
    assert.deepEqual(
      paths.map((p) => p.slice(dir.length + 1)),
      ['pca.json', 'pca.csv', 'pca.spectrum.csv'],
    );
    const json = JSON.parse(await readFile(join(dir, 'pca.json'), 'utf8'));
    assert.equal(json.schema, 'spacetime-lens/experiment@1');
    assert.deepEqual(json.settings.v, [1, null]);
    assert.equal(json.table[0].r2, null);
    assert.equal(await readFile(join(dir, 'pca.csv'), 'utf8'), 'k,r2\n2,\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('centroidAngle: hand-computed angles, 1-D sign, degenerate vectors', () => {
  // true direction (1, 0) from the training centroid, predicted (1, 1): 45°
  assert.ok(Math.abs(centroidAngle([3, 2], [3, 3], [2, 2]).angleDeg! - 45) < 1e-12);
  assert.ok(Math.abs(centroidAngle([0, 5], [0, -1], [0, 0]).angleDeg! - 180) < 1e-12);
  assert.equal(centroidAngle([1900], [1950], [1800]).angleDeg, 0);
  assert.equal(centroidAngle([1900], [1700], [1800]).angleDeg, 180);
  assert.equal(centroidAngle([1, 1], [1, 1], [1, 1]).angleDeg, null);
});

test('distinctByFrequency orders by count, then name', () => {
  assert.deepEqual(distinctByFrequency(['b', 'a', 'c', 'a', 'b', 'd']), ['a', 'b', 'c', 'd']);
});

test("paper settings: Llama-2 sizes, the paper's layers, nearest stored layer, fixed alphas", async () => {
  assert.equal(paperModelSize('meta-llama/Llama-2-13b-hf'), '13b');
  assert.equal(paperModelSize('llama2_70b'), '70b');
  assert.equal(paperModelSize('HuggingFaceTB/SmolLM2-135M'), undefined);
  const all = Array.from({ length: 80 }, (_, i) => i);
  assert.equal(paperExperimentLayer('meta-llama/Llama-2-70b-hf', 80, all, 'holdout'), 50);
  assert.equal(paperExperimentLayer('meta-llama/Llama-2-7b-hf', 32, all.slice(0, 32), 'mlp'), 20);
  assert.equal(paperExperimentLayer('meta-llama/Llama-2-7b-hf', 32, [0, 8, 17, 24], 'mlp'), 17);
  // other models: the 7B depth fraction (20/32 of 30 layers = 18.75 -> 19)
  assert.equal(paperExperimentLayer('SmolLM2-135M', 30, all.slice(0, 30), 'pca'), 19);
  const data = { d: 2048 } as Parameters<typeof paperFixedAlpha>[2];
  assert.deepEqual(await paperFixedAlpha(undefined, 'Llama-2-13b-hf', data), {
    value: 6000,
    source: 'paper-13b',
  });
  assert.equal((await paperFixedAlpha(undefined, 'tiny', data)).value, 1500);
  assert.equal((await paperFixedAlpha(42, 'Llama-2-13b-hf', data)).value, 42);
});

test('newResult warns about LOO alphas at an edge of the grid, naming the row; fixed alphas and mlp rows get none', () => {
  const base = {
    experiment: 'mlp' as const,
    title: 't',
    model: 'm',
    dataset: 'ds',
    prompt: 'p',
    layer: null,
    hook: 'hook_resid_post',
    kind: 'time' as const,
    targetNames: ['year'],
    columns: ['layer', 'probe', 'regularization'],
  };
  const grid = [10, 100, 1000];
  const result = newResult({
    ...base,
    settings: { alphas: grid },
    table: [
      { layer: 4, probe: 'linear', regularization: 1000 },
      { layer: 4, probe: 'mlp', regularization: 0.01 },
      { layer: 8, probe: 'linear', regularization: 100 },
      { layer: 12, probe: 'linear', regularization: 10 },
    ],
  });
  assert.equal(result.warnings?.length, 2);
  assert.match(
    result.warnings![0]!,
    /^layer 4: alpha 1000 is the largest value of the grid \(high edge\).*logspace:1:5:9$/,
  );
  assert.match(result.warnings![1]!, /^layer 12: alpha 10 is the smallest value of the grid \(low edge\)/);
  const fixed = newResult({ ...base, settings: { alpha: 3000 }, table: [{ layer: 4, alpha: 3000 }] });
  assert.equal(fixed.warnings, undefined);
});
