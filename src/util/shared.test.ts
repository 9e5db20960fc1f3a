import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { packageRoot, sharedDir } from './paths.js';
import { checkShared, SHARED_MISSING, skipWithoutShared } from './shared.test-util.js';
import { testFiles } from './source-files.test-util.js';

test('a missing ../shared fails under CI=true and skips with a one-line reason otherwise', () => {
  assert.throws(() => checkShared(undefined, true), /CI=true but \.\.\/shared .* is missing/);
  assert.equal(checkShared(undefined, false), undefined);
  assert.equal(checkShared('/some/shared', true), '/some/shared');
  assert.ok(!SHARED_MISSING.includes('\n'));
  if (sharedDir()) assert.equal(skipWithoutShared(), false);
});

/** Calls that read the paper CSVs from ../shared (util/paths.ts sharedDir and the test helpers built on it). */
const READS_SHARED = /\b(sharedDir|writePaperSlice|writeSpreadSlice|buildSampleRuns)\(/;

test('every test file that reads the paper CSVs decides through shared.test-util (skip, or fail under CI)', () => {
  const src = join(packageRoot(), 'src');
  const unguarded = testFiles(src)
    .filter((f) => !f.endsWith('shared.test.ts'))
    .filter((f) => {
      const text = readFileSync(f, 'utf8');
      return READS_SHARED.test(text) && !text.includes('shared.test-util.js');
    })
    .map((f) => relative(src, f));
  assert.deepEqual(unguarded, [], 'use skipWithoutShared() from util/shared.test-util.ts in these');
});
