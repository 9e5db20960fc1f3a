import assert from 'node:assert/strict';
import { test } from 'node:test';
import { continentOf, detectMapKind, usStates } from './geo.js';

test('continentOf finds the true continent of well-known places, including off-shore ones', () => {
  const cases: [string, number, number, string][] = [
    ['Paris', 2.35, 48.86, 'Europe'],
    ['Tokyo', 139.69, 35.69, 'Asia'],
    ['Nairobi', 36.82, -1.29, 'Africa'],
    ['Sydney', 151.21, -33.87, 'Oceania'],
    ['Lima', -77.04, -12.05, 'South America'],
    ['Chicago', -87.63, 41.88, 'North America'],
    ['Moscow', 37.62, 55.76, 'Europe'],
    ['Cairo', 31.24, 30.04, 'Africa'],
    ['Singapore (not in the 110m outlines)', 103.82, 1.35, 'Asia'],
    ['Valletta, Malta (not in the 110m outlines)', 14.51, 35.9, 'Europe'],
  ];
  for (const [name, lon, lat, continent] of cases) assert.equal(continentOf(lon, lat), continent, name);
});

test('US states are found by point in polygon', () => {
  const states = usStates();
  assert.equal(states.locate(-104.99, 39.74), 'Colorado');
  assert.equal(states.locate(-73.94, 40.67), 'New York');
  assert.equal(states.locate(-122.42, 37.77), 'California');
});

test('detectMapKind uses the dataset name, else the extent of the truth', () => {
  const f = (xs: number[]) => Float64Array.from(xs);
  assert.equal(detectMapKind('nyc_place', f([0]), f([0])), 'nyc');
  assert.equal(detectMapKind('us_place', f([0]), f([0])), 'us');
  assert.equal(detectMapKind('world_place', f([-74]), f([40.7])), 'world');
  assert.equal(detectMapKind('my_pois', f([-74.0, -73.9, -73.95]), f([40.7, 40.75, 40.8])), 'nyc');
  assert.equal(detectMapKind('my_towns', f([-100, -80, -120]), f([35, 40, 45])), 'us');
  assert.equal(detectMapKind('my_places', f([-100, 10, 120]), f([35, 40, -30])), 'world');
});
