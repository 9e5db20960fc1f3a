/**
 * One implementation of each shared statistic (README "Layout", docs/method.md#metrics): each is defined in one
 * library file, its home, which docs/method.md names; every other stage imports it. A second copy (they once were
 * written three or four times, with opposite argument orders) fails here, naming the file. Tests and test helpers
 * are not library code and are not scanned.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from './util/paths.js';
import { libraryFiles } from './util/source-files.test-util.js';

/** What marks an implementation, and the files allowed to hold one. */
const HOMES: { what: string; marks: RegExp; homes: string[] }[] = [
  {
    what: 'average ranks',
    marks: /function \w*(Ranks|ranks|rankdata)\w*\s*[<(]/,
    homes: ['src/probe/ranks.ts'],
  },
  {
    what: 'haversine distance',
    marks: /Math\.asin\(Math\.sqrt|Math\.atan2\(Math\.sqrt|function \w*haversine\w*\s*\(/i,
    homes: ['src/probe/metrics.ts'],
  },
  {
    what: 'quantile',
    marks: /function \w*(quantile|percentile)\w*\s*[<(]/i,
    homes: ['src/neurons/familiarity.ts'],
  },
  { what: 'row gather', marks: /function gatherRows\b/, homes: ['src/probe/rows.ts'] },
  { what: 'processAlive', marks: /process\.kill\([^)]*,\s*0\s*\)/, homes: ['src/util/lock.ts'] },
  { what: 'the stream-name hash (FNV-1a)', marks: /0x811c9dc5|0x01000193/i, homes: ['src/util/rng.ts'] },
  { what: 'the seeded generator (splitmix32 seeding)', marks: /0x9e3779b9\b/i, homes: ['src/util/rng.ts'] },
  {
    what: 'Box–Muller normal draws',
    marks: /Math\.sqrt\(-2 \* Math\.log\(/,
    homes: ['src/util/rng.ts', 'src/util/gaussian.ts'],
  },
];

const root = packageRoot();
const sources = libraryFiles(join(root, 'src')).map((f) => ({
  file: relative(root, f).replaceAll('\\', '/'),
  text: readFileSync(f, 'utf8'),
}));
const method = readFileSync(join(root, 'docs/method.md'), 'utf8');

for (const { what, marks, homes } of HOMES) {
  test(`${what}: one implementation, in ${homes.join(' and ')}, named in docs/method.md`, () => {
    const found = sources.filter((s) => marks.test(s.text)).map((s) => s.file);
    assert.deepEqual(
      found.sort(),
      [...homes].sort(),
      `${what} is implemented outside its home: import it instead`,
    );
    for (const home of homes)
      assert.ok(method.includes(`\`${home}\``), `docs/method.md does not name ${home}`);
  });
}
