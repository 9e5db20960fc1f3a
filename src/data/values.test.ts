import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../util/paths.js';
import { calendarYear, calendarYearOffset, timeTargetUnit } from './registry.js';
import { daysFromCivil, NS_PER_YEAR, parseDateToYears, parseFlag, parseNumber } from './values.js';

const FIXTURES = join(packageRoot(), 'test', 'fixtures', 'data');

describe('dates -> years since 1970 (docs/method.md#datasets)', () => {
  it('matches NumPy datetime64[ns] -> int64 -> float64 / 1e9*60*60*24*365.25 exactly', () => {
    const cases = JSON.parse(readFileSync(join(FIXTURES, 'date_cases.json'), 'utf8')) as [string, number][];
    assert.ok(cases.length >= 15);
    for (const [text, years] of cases) assert.equal(parseDateToYears(text), years, text);
  });
  it('calendarYear reads each NumPy-computed target back as the calendar year of its date (UTC)', () => {
    const cases = JSON.parse(readFileSync(join(FIXTURES, 'date_cases.json'), 'utf8')) as [string, number][];
    for (const [text, years] of cases) {
      // 1 ns before 2000 rounds to the same float64 as 2000-01-01: no reader can tell them apart.
      if (text.startsWith('1999-12-31T23:59:59.9')) continue;
      assert.equal(calendarYear('years since 1970', years), Number(text.slice(0, 4)), text);
    }
    // Whole years of 365.25 days are not calendar years: 1971-01-01 is 0.9993 "years", still 1971.
    assert.equal(calendarYear('years since 1970', parseDateToYears('1971-01-01')!), 1971);
    assert.equal(calendarYear('years since 1970', parseDateToYears('0044-03-15')!), 44);
    assert.equal(calendarYear('year', -44), -44);
    assert.equal(calendarYear('year', 1986.5), 1986);
    assert.equal(timeTargetUnit('art'), 'years since 1970');
    assert.equal(timeTargetUnit('headline'), 'years since 1970');
    assert.equal(timeTargetUnit('historical_figure'), 'year');
    assert.equal(timeTargetUnit('my_events'), 'year');
    assert.equal(timeTargetUnit('my_events', 'Years since 1970'), 'years since 1970');
    assert.equal(calendarYearOffset('years since 1970'), 1970);
  });
  it('accepts the zone forms of the headline file (+0000, Z, +HH)', () => {
    const ref = parseDateToYears('2010-01-01T05:00:00+00:00');
    assert.equal(parseDateToYears('2010-01-01T05:00:00+0000'), ref);
    assert.equal(parseDateToYears('2010-01-01T05:00:00Z'), ref);
    assert.equal(parseDateToYears('2010-01-01 06:00:00+01'), ref);
    assert.equal(parseDateToYears('2010-01-01T00:00:00-05:00'), ref);
  });
  it('rejects impossible or malformed dates', () => {
    for (const bad of [
      '',
      'yesterday',
      '2021-02-29',
      '2020-13-01',
      '2020-00-10',
      '2020-04-31',
      '2020-01-01T24:00',
      '2020-01-01T10:60',
      '2020-1-1',
      '2020-01-01T10:00+2500',
      '20200101',
    ]) {
      assert.equal(parseDateToYears(bad), undefined, bad);
    }
  });
  it('uses the proleptic Gregorian calendar', () => {
    assert.equal(daysFromCivil(1970, 1, 1), 0);
    assert.equal(daysFromCivil(2000, 3, 1), 11017);
    assert.equal(daysFromCivil(1969, 12, 31), -1);
    assert.equal(daysFromCivil(0, 3, 1), -719468);
    assert.equal(NS_PER_YEAR, 31557600000000000);
  });
});

describe('numbers and flags', () => {
  it('parses decimal numbers only', () => {
    assert.equal(parseNumber(' 40.797182526598505 '), 40.797182526598505);
    assert.equal(parseNumber('-1e3'), -1000);
    assert.equal(parseNumber('.5'), 0.5);
    assert.equal(parseNumber('5.'), 5);
    for (const bad of ['', ' ', 'NaN', 'inf', '0x10', '1,5', '12abc', '--1', '1e400']) {
      assert.equal(parseNumber(bad), undefined, bad);
    }
  });
  it('reads split flags as pandas writes them, and common spellings', () => {
    assert.equal(parseFlag('True'), true);
    assert.equal(parseFlag('False'), false);
    assert.equal(parseFlag(' 1 '), true);
    assert.equal(parseFlag('no'), false);
    assert.equal(parseFlag('maybe'), undefined);
    assert.equal(parseFlag(''), undefined);
  });
});
