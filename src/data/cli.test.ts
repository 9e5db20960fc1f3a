import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { sharedForTests, skipWithoutShared } from '../util/shared.test-util.js';

const shared = sharedForTests();
const PAPER = shared ? join(shared, 'data', 'paper') : '';
const skip = skipWithoutShared();

const cli = (...argv: string[]) => runCliCaptured(argv);

describe('spacetime-lens datasets', { skip }, () => {
  const cache = mkdtempSync(join(tmpdir(), 'stl-cli-'));

  it('fetch --source then show reports the paper counts and test fractions', async () => {
    const fetched = await cli('datasets', 'fetch', 'all', '--source', PAPER, '--dir', cache);
    assert.equal(fetched.code, 0, fetched.err);
    assert.match(fetched.out, /4 fetched, 0 already cached/);
    const expected: [string, string][] = [
      ['world_place', 'rows     39585: train 31668, test 7917 (test fraction 20.00%)'],
      ['us_place', 'rows     29997: train 23998, test 5999 (test fraction 20.00%)'],
      ['nyc_place', 'rows     19838: train 15871, test 3967 (test fraction 20.00%)'],
      ['art', 'rows     31321: train 24884, test 6437 (test fraction 20.55%)'],
    ];
    for (const [name, line] of expected) {
      const shown = await cli('datasets', 'show', name, '--dir', cache, '--rows', '2');
      assert.equal(shown.code, 0, shown.err);
      assert.ok(shown.out.includes(line), shown.out);
    }
    const list = await cli('datasets', 'list', '--dir', cache, '--json');
    const entries = JSON.parse(list.out) as { name: string; cached: boolean }[];
    assert.deepEqual(
      entries.filter((e) => e.cached).map((e) => e.name),
      ['world_place', 'us_place', 'nyc_place', 'art', 'world_cities'],
    );
  });

  it('show prints schema, target summary, groups and prompt-rendered rows', async () => {
    const shown = await cli('datasets', 'show', join(PAPER, 'nyc_place.csv'), '--rows', '1');
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /^nyc_place \(space\)/);
    assert.match(
      shown.out,
      /entity types \(facility_t_name\): Recreational Facility 4035, Education Facility 3737/,
    );
    assert.match(shown.out, /blocks \(borough_name\): Manhattan 5743, Brooklyn 5451/);
    assert.match(shown.out, /"Where in New York City is Whitestone"/);
  });

  it('a corrupted file fails its checksum with exit 1 and a one-line reason', async () => {
    const src = mkdtempSync(join(tmpdir(), 'stl-bad-'));
    const text = readFileSync(join(PAPER, 'us_place.csv'), 'utf8').replace('New York', 'New Yark');
    writeFileSync(join(src, 'us_place.csv'), text);
    const r = await cli(
      'datasets',
      'fetch',
      'us_place',
      '--source',
      src,
      '--dir',
      mkdtempSync(join(tmpdir(), 'c-')),
    );
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /^spacetime-lens: checksum mismatch for us_place from .*us_place\.csv: expected sha256 95af51d5/,
    );
  });

  it('validate lists bad rows with lines (exit 1) and --drop-invalid reports counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stl-val-'));
    const path = join(dir, 'mine.csv');
    writeFileSync(path, 'name,latitude,longitude\nParis,48.85,2.35\nNowhere,123,4\nLyon,45.76,4.83\n');
    const bad = await cli('datasets', 'validate', path);
    assert.equal(bad.code, 1);
    assert.ok(bad.err.includes(`${path}:3: latitude 123 is outside [-90, 90]`), bad.err);
    const dropped = await cli('datasets', 'validate', path, '--drop-invalid');
    assert.equal(dropped.code, 0, dropped.err);
    assert.match(dropped.out, /dropped 1 invalid rows: latitude out of range 1/);
    assert.match(dropped.out, /2 valid rows \(space/);
    const mapped = await cli('datasets', 'show', path, '--lat-col', 'nope', '--lon-col', 'longitude');
    assert.equal(mapped.code, 1);
    assert.match(mapped.err, /missing column "nope"/);
  });

  it('prompts lists every variant with the canonical one marked', async () => {
    const r = await cli('datasets', 'prompts', 'art');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /release\s+"When was the release date of "\s+canonical/);
    assert.match(r.out, /empty_all_caps\s+""\s+entity upper-cased/);
    const ex = await cli('datasets', 'prompts', join(PAPER, 'world_place.csv'), '--example', '1');
    assert.match(
      ex.out,
      /coords\s+"What are the lat\/lon coordinates of "\s+canonical\s+"What are the lat\/lon coordinates of Sembuwatta Lake"/,
    );
    const unknown = await cli('datasets', 'fetch', 'nope', '--dir', cache);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /unknown dataset "nope"/);
  });
});
