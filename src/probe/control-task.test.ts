import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createStore } from '../store/index.js';
import { Gaussian } from '../util/gaussian.js';
import { controlTask, defaultGroupColumns, shuffleWithinGroups } from './control-task.js';
import { probeStore } from './probe-store.js';

const scratch = mkdtempSync(join(tmpdir(), 'stl-control-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const N = 600;
const COUNTRIES = ['A', 'B', 'C', 'D', 'E', 'F'];
const TYPES = ['city', 'structure'];

/**
 * A generated space store: each entity has a country and a type; its (lon, lat) = the country's centre + an
 * entity-specific offset `within`× the centres' spread. `features(i, target, country)` gives its d activations.
 */
async function plantedStore(
  name: string,
  d: number,
  features: (i: number, y: number[], c: number) => number[],
  within = 3,
) {
  const rng = new Gaussian(7, name);
  const centres = COUNTRIES.map(() => [rng.normal() * 20, rng.normal() * 10]);
  const entities = [];
  const data = new Float32Array(N * d);
  for (let i = 0; i < N; i++) {
    const c = i % COUNTRIES.length;
    const y = [centres[c]![0]! + within * 20 * rng.normal(), centres[c]![1]! + within * 10 * rng.normal()];
    entities.push({
      name: `e${i}`,
      is_test: i % 5 === 0,
      target: y,
      country: COUNTRIES[c],
      entity_type: TYPES[Math.floor(i / 7) % 2],
    });
    data.set(features(i, y, c), i * d);
  }
  const dir = join(scratch, name);
  const writer = createStore(
    dir,
    {
      formatVersion: 1,
      model: { id: `test:${name}` },
      dataset: {
        name: 'world_place',
        sha256: '0'.repeat(64),
        kind: 'space',
        targetNames: ['longitude', 'latitude'],
      },
      prompt: { name: 'empty' },
      hooks: ['hook_resid_post'],
      layers: [0],
      dtype: 'f32',
      n: N,
      d,
      aggregation: 'mean',
      toolVersion: 'test',
      createdAt: new Date(0).toISOString(),
    },
    entities,
  );
  await writer.write('blocks.0.hook_resid_post', data, N, d);
  return writer.finish();
}

describe('control tasks: targets shuffled within groups, selectivity = real R² − control R²', () => {
  test('shuffleWithinGroups permutes whole target rows inside each group, seeded', () => {
    const groups = ['a', 'b', 'a', 'a', 'b', 'c', 'a'];
    const t = 2;
    const y = Float64Array.from(groups.flatMap((_, i) => [i, 100 + i]));
    const s = shuffleWithinGroups(y, t, groups, 3);
    for (let i = 0; i < groups.length; i++) {
      const from = s[i * t]!;
      assert.equal(s[i * t + 1], 100 + from, 'rows move whole');
      assert.equal(groups[from], groups[i], 'within the group');
    }
    assert.deepEqual([...s.filter((_, k) => k % 2 === 0)].sort(), [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(s[5 * t], 5, 'a one-member group keeps its target');
    assert.deepEqual(shuffleWithinGroups(y, t, groups, 3), s, 'same seed, same control');
    const many = Array.from({ length: 200 }, (_, i) => String(i % 2));
    const yy = Float64Array.from({ length: 200 }, (_, i) => i);
    assert.notDeepEqual(shuffleWithinGroups(yy, 1, many, 1), shuffleWithinGroups(yy, 1, many, 2));
    assert.ok(
      shuffleWithinGroups(yy, 1, many, 1).some((v, i) => v !== i),
      'it does move rows',
    );
  });

  test('default groups: entity type, plus the block for places', () => {
    assert.deepEqual(defaultGroupColumns('world_place', 'space', ['country', 'entity_type', 'x']), [
      'entity_type',
      'country',
    ]);
    assert.deepEqual(defaultGroupColumns('art', 'time', ['entity_type', 'decade']), ['entity_type']);
    assert.deepEqual(defaultGroupColumns('custom', 'space', ['name']), []);
  });

  test('planted entity-level signal: high real R², low control R², high selectivity', async () => {
    const rng = new Gaussian(1, 'noise');
    const store = await plantedStore('planted', 12, (_i, y) => [
      y[0]! / 60,
      y[1]! / 30,
      ...Array.from({ length: 10 }, () => rng.normal()),
    ]);
    const r = await controlTask(store, { seed: 0 });
    assert.deepEqual(r.groupColumns, ['entity_type', 'country']);
    assert.equal(r.groups, 12);
    const l = r.layers[0]!;
    assert.ok(l.real > 0.99, `real ${l.real}`);
    assert.ok(l.control < 0.1, `control ${l.control}`);
    assert.ok(l.selectivity > 0.85, `selectivity ${l.selectivity}`);
    // The control number is the probe's test R² on the shuffled targets, computed here independently.
    const { openStore } = await import('../store/index.js');
    const opened = await openStore(store);
    const keys = (await opened.entities()).map((e) =>
      JSON.stringify([String(e['entity_type']), String(e['country'])]),
    );
    const control = shuffleWithinGroups(opened.targets(), 2, keys, 0);
    const direct = await probeStore(store, { targets: control });
    assert.equal(l.control, direct.results.layers[0]!.test.r2);
    assert.equal(l.selectivity, l.real - l.control);
    const reused = await controlTask(store, { seed: 0, real: (await probeStore(store)).results });
    assert.deepEqual(reused.layers, r.layers, 'given real results are reused, not refitted differently');
  });

  test('activations that know only the country: the control keeps that, selectivity ≈ 0', async () => {
    const rng = new Gaussian(2, 'noise');
    const store = await plantedStore(
      'country-only',
      10,
      (_i, _y, c) => [
        ...COUNTRIES.map((_, k) => (k === c ? 1 : 0)),
        ...Array.from({ length: 4 }, () => rng.normal()),
      ],
      0.5,
    );
    const l = (await controlTask(store, { seed: 1 })).layers[0]!;
    assert.ok(l.real > 0.5, `real ${l.real}: the country centres explain most of the variance`);
    assert.ok(Math.abs(l.selectivity) < 0.05, `selectivity ${l.selectivity}`);
  });

  test('no signal at all: real and control R² ≤ ~0, selectivity ≈ 0', async () => {
    const rng = new Gaussian(3, 'noise');
    const store = await plantedStore('noise', 10, () => Array.from({ length: 10 }, () => rng.normal()));
    const l = (await controlTask(store, { seed: 2 })).layers[0]!;
    assert.ok(l.real < 0.03 && l.control < 0.03, `real ${l.real}, control ${l.control}`);
    assert.ok(Math.abs(l.selectivity) < 0.05, `selectivity ${l.selectivity}`);
  });

  test('a group column the store lacks is a clear error', async () => {
    const store = join(scratch, 'planted');
    await assert.rejects(controlTask(store, { groupColumns: ['state_id'] }), /no column state_id/);
  });
});
