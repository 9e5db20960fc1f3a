import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadGolden } from './fixtures.js';
import { centroidAngle, distinctByFrequency, sphericalCentroid } from './holdout.js';
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

test('centroidAngle on the sphere: hand-computed bearings; time stays 1-D; degenerate directions are null', () => {
  const near = (a: number | null, b: number) =>
    assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${a} vs ${b}`);
  // From (0°, 0°): due east to (90°, 0°) is bearing 90°, due north to (0°, 10°) is 0°.
  const east = centroidAngle('space', [90, 0], [0, 10], [0, 0]);
  near(east.trueBearingDeg, 90);
  near(east.predictedBearingDeg, 0);
  near(east.angleDeg, 90);
  near(centroidAngle('space', [0, 5], [0, -1], [0, 0]).angleDeg, 180);
  // From (0°, 60°N) the shortest way to (180°, 60°N) is over the pole (bearing 0°), not "east" as on a flat map;
  // (90°, 0°) lies at bearing 90°.
  const polar = centroidAngle('space', [180, 60], [90, 0], [0, 60]);
  near(polar.trueBearingDeg, 0);
  near(polar.angleDeg, 90);
  assert.equal(centroidAngle('space', [1, 1], [1, 1], [1, 1]).angleDeg, null);
  assert.equal(centroidAngle('time', [1900], [1950], [1800]).angleDeg, 0);
  assert.equal(centroidAngle('time', [1900], [1700], [1800]).angleDeg, 180);
  assert.equal(centroidAngle('time', [1800], [1850], [1800]).angleDeg, null);
});

test('sphericalCentroid: the mean direction, across the 180° meridian and for cancelling points', () => {
  const c = sphericalCentroid(Float64Array.from([179, 0, -179, 0]), 2, [0, 1]);
  assert.ok(Math.abs(Math.abs(c[0]!) - 180) < 1e-9 && Math.abs(c[1]!) < 1e-9, `${c}`);
  // Targets stored as [latitude, longitude] (lon at index 1) come back in the same places.
  // The midpoint of two points on 15°N lies on the great circle through them, north of the parallel:
  // tan(lat) = tan(15°) / cos(10°).
  const swapped = sphericalCentroid(Float64Array.from([15, 170, 15, -170]), 2, [0, 1], 1, 0);
  assert.ok(Math.abs(Math.abs(swapped[1]!) - 180) < 1e-9, `${swapped}`);
  assert.ok(
    Math.abs(swapped[0]! - Math.atan(Math.tan(Math.PI / 12) / Math.cos(Math.PI / 18)) * (180 / Math.PI)) <
      1e-9,
  );
  assert.ok(sphericalCentroid(Float64Array.from([0, 0, 180, 0]), 2, [0, 1]).every(Number.isNaN));
});

test('centroid geometry of blocks straddling 180° (Fiji, Kiribati, Aleutians) matches NumPy (golden)', () => {
  const cases = loadGolden<{
    sphereCases: {
      name: string;
      train: number[][];
      truth: number[][];
      pred: number[][];
      trainCentroid: number[];
      trueCentroid: number[];
      predictedCentroid: number[];
      trueBearingDeg: number;
      predictedBearingDeg: number;
      angleDeg: number;
    }[];
  }>('holdout_golden').meta.sphereCases;
  assert.equal(cases.length, 3);
  const close = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
  for (const c of cases) {
    const mean = (pts: number[][]) => sphericalCentroid(Float64Array.from(pts.flat()), 2, [...pts.keys()]);
    const g = centroidAngle('space', mean(c.truth), mean(c.pred), mean(c.train));
    for (const [got, want, what] of [
      [g.trainCentroid, c.trainCentroid, 'train'],
      [g.trueCentroid, c.trueCentroid, 'true'],
      [g.predictedCentroid, c.predictedCentroid, 'predicted'],
    ] as const) {
      close(got[1]!, want[1]!, `${c.name} ${what} latitude`);
      // ±180° is one meridian
      close(((got[0]! - want[0]! + 540) % 360) - 180, 0, `${c.name} ${what} longitude`);
    }
    close(g.trueBearingDeg!, c.trueBearingDeg, `${c.name} true bearing`);
    close(g.predictedBearingDeg!, c.predictedBearingDeg, `${c.name} predicted bearing`);
    close(g.angleDeg!, c.angleDeg, `${c.name} angle`);
  }
  // The flat-plane angles of the same blocks (NumPy: arccos of the (lon, lat) difference vectors) were 174.5°,
  // 14.8° and 144.9°; on the sphere the block is placed in nearly the right direction: 3.2°, 1.9° and 28.0°.
  assert.ok(cases.every((c) => c.angleDeg < 30));
});

test('distinctByFrequency orders by count, then name', () => {
  assert.deepEqual(distinctByFrequency(['b', 'a', 'c', 'a', 'b', 'd']), ['a', 'b', 'c', 'd']);
});

test("paper settings: the paper's layers, nearest stored layer, fixed alphas (sizes: src/model/paper-models.ts)", async () => {
  const all = Array.from({ length: 80 }, (_, i) => i);
  assert.equal(paperExperimentLayer('70b', 80, all, 'holdout'), 50);
  assert.equal(paperExperimentLayer('7b', 32, all.slice(0, 32), 'mlp'), 20);
  assert.equal(paperExperimentLayer('7b', 32, [0, 8, 17, 24], 'mlp'), 17);
  // other models: the 7B depth fraction (20/32 of 30 layers = 18.75 -> 19)
  assert.equal(paperExperimentLayer(undefined, 30, all.slice(0, 30), 'pca'), 19);
  const data = { d: 5120 } as Parameters<typeof paperFixedAlpha>[2];
  assert.deepEqual(await paperFixedAlpha(undefined, { id: 'Llama-2-13b-hf' }, data), {
    value: 6000,
    source: 'paper-13b',
  });
  const small = { d: 2048 } as Parameters<typeof paperFixedAlpha>[2];
  assert.equal((await paperFixedAlpha(undefined, { id: 'tiny' }, small)).value, 1500);
  // A 2048-wide store under a Llama-2 name is not the paper's 13B (the old regex said it was).
  assert.equal((await paperFixedAlpha(undefined, { id: 'Llama-2-13b-hf' }, small)).value, 1500);
  assert.equal((await paperFixedAlpha(42, { id: 'Llama-2-13b-hf' }, data)).value, 42);
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
