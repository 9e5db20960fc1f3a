import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../util/paths.js';
import { sharedForTests, skipWithoutShared } from '../util/shared.test-util.js';
import { loadDataset } from './load.js';
import { rowSelection, selectRows, stratifiedSample, subsetDataset } from './sample.js';
import type { EntityDataset } from './types.js';

const shared = sharedForTests();
const skip = skipWithoutShared();
const paperCsv = (name: string) => join(shared ?? '', 'data', 'paper', `${name}.csv`);

/** Ten rows: type A (4 train, 2 test), then type B (3 train, 1 test); targets = row index. */
function tiny(): EntityDataset {
  const types = ['A', 'A', 'A', 'A', 'A', 'A', 'B', 'B', 'B', 'B'];
  const test = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0];
  return {
    name: 'tiny',
    kind: 'time',
    targetNames: ['year'],
    n: 10,
    names: types.map((t, i) => `${t}${i}`),
    targets: Float64Array.from(types, (_, i) => 1900 + i),
    isTest: Uint8Array.from(test),
    columns: { type: types },
    entityTypeColumn: 'type',
    source: { path: 'tiny.csv', sha256: 'x' },
    promptFamily: 'custom_time',
    nameColumn: 'name',
    warnings: [],
    dropped: {},
  };
}

describe('--sample: stratified, seeded row selection', () => {
  it('allocates by largest remainder over (type, split) strata (hand-computed)', () => {
    // strata A/train 4, A/test 2, B/train 3, B/test 1 of 10; N = 5 -> floors 2,1,1,0, one row left over:
    // remainders 0,0,5,5 (x/10) -> the earlier tie, B/train, gets it: 2,1,2,0
    const rows = stratifiedSample(tiny(), 5, 0);
    const ds = tiny();
    const count = (type: string, test: number) =>
      rows.filter((r) => ds.columns['type']![r] === type && ds.isTest[r] === test).length;
    assert.deepEqual([count('A', 0), count('A', 1), count('B', 0), count('B', 1)], [2, 1, 2, 0]);
    assert.deepEqual(
      rows,
      [...rows].sort((a, b) => a - b),
      'dataset order',
    );
    assert.deepEqual(stratifiedSample(tiny(), 20, 0), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'N >= n keeps all');
  });

  it('subsetDataset keeps names, targets, split and columns aligned', () => {
    const sub = subsetDataset(tiny(), [1, 7, 8]);
    assert.equal(sub.n, 3);
    assert.deepEqual(sub.names, ['A1', 'B7', 'B8']);
    assert.deepEqual(Array.from(sub.targets), [1901, 1907, 1908]);
    assert.deepEqual(Array.from(sub.isTest), [1, 0, 1]);
    assert.deepEqual(sub.columns['type'], ['A', 'B', 'B']);
  });

  it('rejects --limit with --sample and non-positive sizes', () => {
    assert.throws(() => rowSelection({ limit: 5, sample: 5 }), /--limit and --sample both choose rows/);
    assert.throws(() => rowSelection({ sample: 0 }), UserError);
    assert.deepEqual(rowSelection({ sample: 7, seed: 3 }), { mode: 'sample', size: 7, seed: 3 });
  });
});

describe('--sample and --limit on the paper CSVs', { skip }, () => {
  let world: EntityDataset;
  let art: EntityDataset;
  before(async () => {
    world = await loadDataset(paperCsv('world_place'));
    art = await loadDataset(paperCsv('art'));
  });

  it('matches the rows the Python reference draws (reference/data_sample_golden.py)', () => {
    const golden = JSON.parse(
      readFileSync(join(packageRoot(), 'test', 'fixtures', 'data', 'sample_rows.json'), 'utf8'),
    ) as Record<string, number[]>;
    assert.deepEqual(stratifiedSample(world, 60, 7), golden['world_place:60:7']);
    assert.deepEqual(stratifiedSample(world, 60, 8), golden['world_place:60:8']);
    assert.deepEqual(stratifiedSample(art, 45, 0), golden['art:45:0']);
  });

  it('keeps each entity type its share and the test fraction; same seed, same rows', () => {
    const types = world.columns['entity_type']!;
    const rows = selectRows(world, rowSelection({ sample: 400, seed: 0 })).rows;
    assert.equal(rows.length, 400);
    assert.equal(new Set(rows).size, 400);
    for (const type of new Set(types)) {
      const share = types.filter((t) => t === type).length / world.n;
      const got = rows.filter((r) => types[r] === type).length;
      assert.ok(Math.abs(got - 400 * share) < 2, `${type}: ${got} rows, expected about ${400 * share}`);
    }
    const testShare = world.isTest.reduce((a, b) => a + b, 0) / world.n;
    const tests = rows.filter((r) => world.isTest[r] === 1).length;
    assert.ok(Math.abs(tests - 400 * testShare) < 2, `${tests} test rows, expected about ${400 * testShare}`);
    assert.deepEqual(selectRows(world, rowSelection({ sample: 400, seed: 0 })).rows, rows, 'same seed');
    const other = selectRows(world, rowSelection({ sample: 400, seed: 1 }));
    assert.notDeepEqual(other.rows, rows, 'another seed draws other rows');
    assert.notEqual(other.rowsSha256, selectRows(world, rowSelection({ sample: 400, seed: 0 })).rowsSha256);
  });

  it('--limit keeps the first rows and warns when they are a single entity type', () => {
    const first = selectRows(world, rowSelection({ limit: 100 }));
    assert.deepEqual(
      first.rows,
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(first.warnings.length, 1);
    assert.match(first.warnings[0]!, /all of entity type 'structure' .*use --sample 100/);
    assert.deepEqual(selectRows(world, rowSelection({ sample: 100 })).warnings, []);
    assert.deepEqual(selectRows(world, rowSelection({ limit: 7000 })).warnings, [], 'two types kept');
  });
});
