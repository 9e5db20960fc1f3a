import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { DatasetValidationError, hashSplitIsTest } from './build.js';
import { loadDataset, validateDataset } from './load.js';
import { renderPrompt } from './prompts.js';

const dir = mkdtempSync(join(tmpdir(), 'stl-validate-'));
let counter = 0;

/** Writes `text` to a fresh temp file with the given extension and returns its path. */
function file(text: string, ext = '.csv'): string {
  const path = join(dir, `f${counter++}${ext}`);
  writeFileSync(path, text);
  return path;
}

/** Loads `path` expecting a validation failure; returns its issues as [line, reason]. */
async function issuesOf(path: string, options = {}): Promise<[number, string][]> {
  try {
    await loadDataset(path, options);
  } catch (err) {
    assert.ok(err instanceof DatasetValidationError, String(err));
    assert.ok(err instanceof UserError);
    assert.ok(err.message.includes(`${path}:`), err.message);
    return err.issues.map((i) => [i.line, i.reason]);
  }
  assert.fail('expected a validation error');
}

const PLACES = 'name,latitude,longitude,is_test\n';

describe('validation errors name the file and line', () => {
  it('missing columns (header line 1)', async () => {
    const path = file('name,latitude,is_test\nParis,48.85,False\n');
    await assert.rejects(
      loadDataset(path, { mapping: { latCol: 'latitude', lonCol: 'longitude' } }),
      (err: Error) => {
        assert.ok(err instanceof UserError);
        assert.match(err.message, new RegExp(`^${path}:1: missing column "longitude"`));
        return true;
      },
    );
    await assert.rejects(
      loadDataset(file('title,when\nX,2001-01-01\n')),
      /:1: no name column|:1: no target column/,
    );
  });
  it('non-numeric coordinates', async () => {
    const path = file(`${PLACES}Paris,48.85,2.35,False\nLyon,north,4.83,False\nNice,43.7,,True\n`);
    assert.deepEqual(await issuesOf(path), [
      [3, 'non-numeric coordinate'],
      [4, 'non-numeric coordinate'],
    ]);
  });
  it('out-of-range coordinates', async () => {
    const path = file(`${PLACES}Paris,48.85,2.35,False\nA,90.5,0,False\nB,0,-180.01,False\nC,-90,180,True\n`);
    assert.deepEqual(await issuesOf(path), [
      [3, 'latitude out of range'],
      [4, 'longitude out of range'],
    ]);
  });
  it('unparseable dates', async () => {
    const path = file('name,date\nA,2001-02-03\nB,2001-02-30\nC,03/02/2001\nD,2001-02-03T10:00:00+0000\n');
    assert.deepEqual(await issuesOf(path), [
      [3, 'unparseable date'],
      [4, 'unparseable date'],
    ]);
  });
  it('non-numeric years', async () => {
    const path = file('name,year\nA,1850\nB,about 1900\n');
    assert.deepEqual(await issuesOf(path), [[3, 'non-numeric year']]);
  });
  it('empty names', async () => {
    const path = file(`${PLACES}Paris,48.85,2.35,False\n  ,1,1,False\n`);
    assert.deepEqual(await issuesOf(path), [[3, 'empty name']]);
  });
  it('duplicate names report both lines', async () => {
    const path = file(`${PLACES}Paris,48.85,2.35,False\nLyon,45.76,4.83,False\nParis,33.66,-95.55,True\n`);
    await assert.rejects(loadDataset(path), (err: DatasetValidationError) => {
      assert.deepEqual(
        err.issues.map((i) => [i.line, i.reason]),
        [[4, 'duplicate name']],
      );
      assert.match(err.message, new RegExp(`${path}:4: duplicate name "Paris" \\(first on line 2\\)`));
      return true;
    });
  });
  it('bad is_test values', async () => {
    const path = file(`${PLACES}Paris,48.85,2.35,False\nLyon,45.76,4.83,maybe\n`);
    assert.deepEqual(await issuesOf(path), [[3, 'bad is_test value']]);
  });
  it('wrong field counts', async () => {
    const path = file(`${PLACES}Paris,48.85,2.35,False\nLyon,45.76,4.83\n`);
    assert.deepEqual(await issuesOf(path), [[3, 'wrong field count']]);
  });
  it('counts lines across quoted newlines and blank lines', async () => {
    const path = file(`${PLACES}"Paris\nFrance",48.85,2.35,False\n\nLyon,95,4.83,False\n`);
    assert.deepEqual(await issuesOf(path), [[5, 'latitude out of range']]);
  });
  it('malformed CSV quoting names the line', async () => {
    const path = file(`${PLACES}Paris,48.85,2.35,False\n"Ly"on,45,4,False\n`);
    await assert.rejects(loadDataset(path), new RegExp(`^UserError: ${path}:3: malformed CSV`));
  });
  it('JSONL lines are numbered by file line', async () => {
    const path = file(
      '{"name":"Paris","lat":48.85,"lon":2.35}\n\n{"name":"Lyon","lat":"x","lon":4.83}\n{"name":"Nice","lat":43.7,"lon":7.26}\n',
      '.jsonl',
    );
    assert.deepEqual(await issuesOf(path), [[3, 'non-numeric coordinate']]);
    await assert.rejects(loadDataset(file('{"name":"A"}\nnot json\n', '.jsonl')), /:2: invalid JSON/);
  });
  it('collects every problem, shows the first 10 and the count', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => `P${i},${i < 13 ? 100 : 1},1,False`).join('\n');
    const path = file(`${PLACES}${rows}\n`);
    await assert.rejects(loadDataset(path), (err: DatasetValidationError) => {
      assert.equal(err.issues.length, 13);
      assert.match(err.message, /^.*: 13 invalid rows of 25 \(13 problems\):/);
      assert.match(err.message, /\.\.\. and 3 more/);
      assert.match(err.message, /--drop-invalid/);
      assert.equal(err.message.split('\n').filter((l) => l.startsWith(`  ${path}:`)).length, 10);
      return true;
    });
  });
});

describe('validateDataset', () => {
  it('returns every issue instead of throwing', async () => {
    const path = file(`${PLACES}Paris,48.85,2.35,False\nA,91,0,False\nB,0,0,x\n`);
    const report = await validateDataset(path);
    assert.equal(report.ok, false);
    assert.equal(report.rows, 3);
    assert.deepEqual(
      report.issues.map((i) => [i.line, i.reason]),
      [
        [3, 'latitude out of range'],
        [4, 'bad is_test value'],
      ],
    );
    const good = await validateDataset(file(`${PLACES}Paris,48.85,2.35,False\n`));
    assert.deepEqual(good, { ok: true, rows: 1, issues: [], warnings: [] });
  });
});

describe('--drop-invalid', () => {
  it('drops invalid rows and counts them per reason', async () => {
    const path = file(
      `${PLACES}Paris,48.85,2.35,False\nBad,95,1,False\nLyon,45.76,4.83,True\nParis,1,1,False\n,1,1,False\nX,1,1,perhaps\nY,z,1,True\n`,
    );
    const ds = await loadDataset(path, { dropInvalid: true });
    assert.deepEqual(ds.names, ['Paris', 'Lyon']);
    assert.deepEqual(Array.from(ds.targets), [2.35, 48.85, 4.83, 45.76]);
    assert.deepEqual(Array.from(ds.isTest), [0, 1]);
    assert.deepEqual(ds.columns['is_test'], ['False', 'True']);
    assert.deepEqual(ds.dropped, {
      'latitude out of range': 1,
      'duplicate name': 1,
      'empty name': 1,
      'bad is_test value': 1,
      'non-numeric coordinate': 1,
    });
  });
  it('still fails when nothing valid is left', async () => {
    await assert.rejects(
      loadDataset(file(`${PLACES}A,99,1,False\n`), { dropInvalid: true }),
      /no valid rows left/,
    );
  });
});

describe('custom datasets', () => {
  it('maps columns by flags, and splits by a seeded name hash when there is no split column', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `Place ${i}`);
    const path = file(
      `city;y;x\n${names.map((n, i) => `${n};${(i % 170) - 85};${i - 100}`).join('\n')}\n`.replace(/;/g, ','),
    );
    const ds = await loadDataset(path, {
      mapping: { nameCol: 'city', latCol: 'y', lonCol: 'x', name: 'mine', seed: 3 },
    });
    assert.equal(ds.name, 'mine');
    assert.equal(ds.kind, 'space');
    assert.equal(ds.promptFamily, 'custom_space');
    assert.deepEqual([ds.targets[0], ds.targets[1]], [-100, -85]);
    const expected = names.map((n) => (hashSplitIsTest(n, 3, 0.2) ? 1 : 0));
    assert.deepEqual(Array.from(ds.isTest), expected);
    const frac = expected.reduce((a: number, b) => a + b, 0) / 200;
    assert.ok(frac > 0.1 && frac < 0.3, String(frac));
    assert.equal(renderPrompt(ds, 0, 'coords').text, 'What are the lat/lon coordinates of Place 0');
  });
  it('the name-hash split matches Python hashlib', () => {
    const golden = JSON.parse(
      readFileSync(join(packageRoot(), 'test/fixtures/data/split_hash.json'), 'utf8'),
    ) as {
      names: string[];
      cases: Record<string, number[]>;
    };
    for (const [key, flags] of Object.entries(golden.cases)) {
      const [seed, frac] = key.split('/').map(Number);
      assert.deepEqual(
        golden.names.map((n) => (hashSplitIsTest(n, seed, frac) ? 1 : 0)),
        flags,
        key,
      );
    }
  });
  it('reads time datasets from a year or a date column', async () => {
    const years = await loadDataset(file('name,year,is_test\nA,1850,True\nB,-44,False\n'));
    assert.equal(years.kind, 'time');
    assert.deepEqual(Array.from(years.targets), [1850, -44]);
    assert.deepEqual(Array.from(years.isTest), [1, 0]);
    const dates = await loadDataset(file('event,when\nMoon landing,1969-07-20\n'), {
      mapping: { nameCol: 'event', dateCol: 'when' },
    });
    assert.equal(dates.targets[0], (Date.UTC(1969, 6, 20) * 1e6) / (1e9 * 60 * 60 * 24 * 365.25));
    assert.equal(renderPrompt(dates, 0, 'when_was').text, 'When was Moon landing');
  });
  it('reads a JSON spec file (paths relative to the spec), with block and type columns', async () => {
    const data = file('n,la,lo,grp,kind,split\nA,1,2,g1,t1,1\nB,3,4,g2,t2,0\n');
    const spec = file(
      JSON.stringify({
        file: data.split('/').pop(),
        name: 'spec_ds',
        nameCol: 'n',
        latCol: 'la',
        lonCol: 'lo',
        testCol: 'split',
        blockCol: 'grp',
        typeCol: 'kind',
      }),
      '.json',
    );
    const ds = await loadDataset(spec);
    assert.equal(ds.name, 'spec_ds');
    assert.equal(ds.blockColumn, 'grp');
    assert.equal(ds.entityTypeColumn, 'kind');
    assert.deepEqual(Array.from(ds.isTest), [1, 0]);
    assert.deepEqual(Array.from(ds.targets), [2, 1, 4, 3]);
  });
  it('rejects bad specs and mappings clearly', async () => {
    await assert.rejects(
      loadDataset(file('{"file": "x.csv", "nameColumn": "a"}', '.json')),
      /unknown key "nameColumn"/,
    );
    await assert.rejects(loadDataset(file('{"nameCol": "a"}', '.json')), /missing "file"/);
    await assert.rejects(loadDataset(file('{"file": 3}', '.json')), /"file" must be a string/);
    await assert.rejects(
      loadDataset(file(`${PLACES}A,1,1,False\n`), { mapping: { latCol: 'latitude', yearCol: 'x' } }),
      /not both/,
    );
    await assert.rejects(
      loadDataset(file(`${PLACES}A,1,1,False\n`), { mapping: { typeCol: 'kind' } }),
      /missing column "kind"/,
    );
    await assert.rejects(loadDataset('no_such_dataset'), /unknown dataset "no_such_dataset"/);
  });
  it('a custom file named like a paper dataset is custom unless it has its columns (or --as)', async () => {
    const sub = mkdtempSync(join(dir, 'named-'));
    const path = join(sub, 'art.csv');
    writeFileSync(path, 'name,year\nA,1999\n');
    const ds = await loadDataset(path);
    assert.equal(ds.name, 'art');
    assert.equal(ds.promptFamily, 'custom_time');
    await assert.rejects(loadDataset(path, { as: 'art' }), /missing columns "title", "creator"/);
  });
  it('a cached paper dataset that is not fetched yet says how to fetch it', async () => {
    await assert.rejects(loadDataset('art', { dir: dir }), /dataset art is not cached .*datasets fetch art/);
  });
});
