/**
 * A newcomer reads a file whole: no TypeScript file under src/ (library, test or helper) runs past 600 lines unless
 * its opening comment says why, with the words "over 600 lines" and the reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from './util/paths.js';
import { tsFiles } from './util/source-files.test-util.js';

const LIMIT = 600;

test(`no file under src/ is over ${LIMIT} lines without a reason at its top`, () => {
  const src = join(packageRoot(), 'src');
  const long = tsFiles(src)
    .map((f) => ({ file: relative(src, f), lines: readFileSync(f, 'utf8').split('\n') }))
    .filter(({ lines }) => lines.length > LIMIT + 1) // a final newline leaves one empty last element
    .filter(({ lines }) => !/over 600 lines/i.test(lines.slice(0, 20).join('\n')))
    .map(({ file, lines }) => `${file} (${lines.length - 1} lines)`);
  assert.deepEqual(long, [], 'split these by concern, or say at the top why one file must hold it all');
});
