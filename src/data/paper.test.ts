import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { packageRoot } from '../util/paths.js';
import { sharedForTests, skipWithoutShared } from '../util/shared.test-util.js';
import { loadDataset } from './load.js';
import { artEntityString, nycEntityString, renderPrompt, worldEntityString } from './prompts.js';
import type { EntityDataset } from './types.js';

const FIXTURES = join(packageRoot(), 'test', 'fixtures', 'data');
const shared = sharedForTests();
const PAPER = shared ? join(shared, 'data', 'paper') : '';
const skip = skipWithoutShared();

const shortHash = (text: string): string =>
  createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
const fixture = <T>(name: string): T => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;

function testCount(ds: EntityDataset): number {
  return ds.isTest.reduce((a, b) => a + b, 0);
}

/** Neumaier-compensated sum, to compare with Python's math.fsum. */
function fsum(values: ArrayLike<number>, stride = 1, offset = 0): number {
  let sum = 0;
  let c = 0;
  for (let i = offset; i < values.length; i += stride) {
    const x = values[i];
    const t = sum + x;
    c += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return sum + c;
}

describe('the paper CSVs (docs/method.md#datasets)', { skip }, () => {
  const loaded: Record<string, EntityDataset> = {};
  before(async () => {
    for (const name of ['world_place', 'us_place', 'nyc_place', 'art']) {
      loaded[name] = await loadDataset(join(PAPER, `${name}.csv`));
    }
  });

  it('has the published row counts and test sizes', () => {
    const expected: Record<string, [number, number]> = {
      world_place: [39585, 7917],
      us_place: [29997, 5999],
      nyc_place: [19838, 3967],
      art: [31321, 6437],
    };
    const golden = fixture<Record<string, { n: number; test: number }>>('paper_targets.json');
    for (const [name, [n, test]] of Object.entries(expected)) {
      assert.equal(loaded[name].n, n, name);
      assert.equal(testCount(loaded[name]), test, name);
      assert.equal(golden[name].n, n);
      assert.equal(golden[name].test, test);
      assert.deepEqual(loaded[name].dropped, {});
    }
    assert.equal((testCount(loaded['art']) / loaded['art'].n).toFixed(4), '0.2055');
  });

  it('reads coordinates as [longitude, latitude] like Python float()', () => {
    const golden = fixture<Record<string, Record<string, number | number[]>>>('paper_targets.json');
    for (const name of ['world_place', 'us_place', 'nyc_place']) {
      const ds = loaded[name];
      const g = golden[name];
      assert.deepEqual(ds.targetNames, ['longitude', 'latitude']);
      assert.deepEqual([ds.targets[0], ds.targets[1]], g['first']);
      assert.deepEqual([ds.targets[2 * ds.n - 2], ds.targets[2 * ds.n - 1]], g['last']);
      const close = (a: number, b: number) =>
        assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${a} ${b}`);
      close(fsum(ds.targets, 2, 0), g['lonSum'] as number);
      close(fsum(ds.targets, 2, 1), g['latSum'] as number);
      close(
        fsum(
          Array.from(ds.targets, (x) => x * x),
          2,
          0,
        ),
        g['lonSq'] as number,
      );
      close(
        fsum(
          Array.from(ds.targets, (x) => x * x),
          2,
          1,
        ),
        g['latSq'] as number,
      );
    }
  });

  it('turns art release dates into years since 1970 exactly like NumPy', () => {
    const golden = fixture<{ n: number; sha256: string; head: number[] }>('art_years.json');
    const years = loaded['art'].targets;
    assert.deepEqual(Array.from(years.subarray(0, golden.head.length)), golden.head);
    assert.equal(years.length, golden.n);
    const digest = createHash('sha256').update(
      new Uint8Array(years.buffer, years.byteOffset, years.byteLength),
    );
    assert.equal(digest.digest('hex'), golden.sha256, "the f64 bytes of every art year equal NumPy's");
    assert.deepEqual(loaded['art'].targetNames, ['year']);
  });

  it('sets blocks and entity types (docs/method.md#datasets, #block-holdout)', () => {
    assert.equal(loaded['world_place'].blockColumn, 'country');
    assert.equal(loaded['us_place'].blockColumn, 'state_id');
    assert.equal(loaded['nyc_place'].blockColumn, 'borough_name');
    assert.equal(loaded['art'].blockColumn, 'decade');
    assert.equal(loaded['nyc_place'].entityTypeColumn, 'facility_t_name');
    const types = new Map<string, number>();
    for (const t of loaded['world_place'].columns['entity_type']) types.set(t, (types.get(t) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(types), {
      structure: 6453,
      populated_place: 30783,
      natural_place: 2349,
    });
    assert.equal(new Set(loaded['us_place'].columns['state_id']).size, 49);
    assert.equal(loaded['us_place'].names.includes('01536'), true, 'zip names keep their leading zeros');
  });

  it('warns (does not fail) on the repeated names the paper kept', () => {
    assert.match(loaded['world_place'].warnings[0], /^5 rows repeat an earlier name, kept as published/);
    assert.match(loaded['art'].warnings[0], /^14 rows repeat an earlier creator \+ title/);
  });

  it('renders entity strings like the Python reference on the real names', () => {
    // The golden holds row indices and SHA-256 prefixes of the strings Python made; the rows stay in ../shared.
    const golden = fixture<Record<string, [number, string][]>>('entity_string_hashes.json');
    const render: Record<string, (ds: EntityDataset, i: number) => string> = {
      world_place: (ds, i) => worldEntityString(ds.names[i]!),
      nyc_place: (ds, i) => nycEntityString(ds.names[i]!),
      art: (ds, i) => artEntityString(ds.columns['creator']![i]!, ds.columns['title']![i]!),
    };
    for (const [name, cases] of Object.entries(golden)) {
      assert.ok(cases.length > 1000, `${name}: golden too small`);
      for (const [row, hash] of cases) {
        const ours = render[name]!(loaded[name]!, row);
        assert.equal(shortHash(ours), hash, `${name} row ${row}: ours ${JSON.stringify(ours)}`);
      }
    }
    const world = loaded['world_place'];
    const row = world.names.indexOf('Watson Lake (Arizona)');
    if (row >= 0) assert.equal(renderPrompt(world, row, 'empty').text, "Arizona's Watson Lake ");
  });
});

describe('historical_figure and headline (CSVs not published: small hand-made files)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stl-data-'));

  it('derives death_century = floor(death_year / 100) * 100 and keeps the file value (docs/method.md#paper-compat)', async () => {
    const path = join(dir, 'historical_figure.csv');
    writeFileSync(
      path,
      'wiki_id,name,occupation,death_year,death_century,is_test\n' +
        'Q1,Ada Lovelace,researcher,1852,18,False\n' +
        'Q2,Julius Caesar,politician,-44,-1,True\n' +
        'Q3,Someone,,-100,-1,False\n' +
        'Q4,Other,monk,1999.0,19,False\n',
    );
    const ds = await loadDataset(path);
    assert.equal(ds.name, 'historical_figure');
    assert.deepEqual(Array.from(ds.targets), [1852, -44, -100, 1999]);
    assert.deepEqual(ds.columns['death_century'], ['1800', '-100', '-100', '1900']);
    assert.deepEqual(ds.columns['death_century_file'], ['18', '-1', '-1', '19']);
    assert.equal(ds.blockColumn, 'death_century');
    assert.equal(renderPrompt(ds, 0, 'when').text, 'When did Ada Lovelace');
  });

  it('reads headline timestamps with +0000 zones and keeps the final period', async () => {
    const path = join(dir, 'headline.csv');
    writeFileSync(
      path,
      'Unnamed: 0,headline,pub_date,news_desk,year,is_test\n' +
        '0,"Obama, in Cairo, Calls for a New Beginning.",2009-06-04T05:00:00+0000,Foreign,2009,False\n' +
        '1,A Second Headline.,2020-03-01T00:00:00+0000,National,2020,True\n',
    );
    const ds = await loadDataset(path);
    assert.equal(ds.kind, 'time');
    assert.equal(ds.targets[1], (Date.UTC(2020, 2, 1) * 1e6) / (1e9 * 60 * 60 * 24 * 365.25));
    assert.equal(
      renderPrompt(ds, 0, 'when_wo_period').text,
      'Publication date of: Obama, in Cairo, Calls for a New Beginning',
    );
    assert.equal(ds.blockColumn, 'year');
  });
});
