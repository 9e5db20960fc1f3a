import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { sharedForTests, skipWithoutShared } from '../util/shared.test-util.js';
import { parseCsvFast } from './csv-fast.js';

const shared = sharedForTests();
const OPTIONS = { bom: true, relax_column_count: true, skip_empty_lines: true } as const;

function reference(text: string): string[][] {
  return parse(text, OPTIONS) as string[][];
}

describe('fast CSV reader agrees with csv-parse', () => {
  // [label, text, line on which each record starts (counted by hand: physical \n lines)]
  const cases: [string, string, number[]][] = [
    ['simple', 'a,b\n1,2\n3,4\n', [1, 2, 3]],
    ['no final newline', 'a,b\n1,2\n3,4', [1, 2, 3]],
    ['CRLF', 'a,b\r\n1,2\r\n3,4\r\n', [1, 2, 3]],
    ['BOM', '\ufeffa,b\n1,2\n', [1, 2]],
    ['quoted commas, escaped quotes', 'a,b\n"x, y","say ""hi"""\n"",z\n', [1, 2, 3]],
    ['quoted newlines', 'a,b\n"line1\nline2",2\n"p\r\nq",3\n4,"\n"\n', [1, 2, 4, 6]],
    ['blank lines', '\na,b\n\n1,2\n\n\n3,4\n\n', [2, 4, 7]],
    ['CRLF blank lines', 'a,b\r\n\r\n1,2\r\n', [1, 3]],
    ['empty fields and trailing comma', 'a,b,c\n,,\n1,,\n,2,\n', [1, 2, 3, 4]],
    ['ragged rows', 'a,b,c\n1,2\n1,2,3,4\n', [1, 2, 3]],
    ['unicode', 'name,v\nZürich,1\n東京,2\n"Ångström, Å",3\n', [1, 2, 3, 4]],
    ['only header', 'a,b\n', [1]],
  ];
  for (const [label, text, lines] of cases) {
    it(label, () => {
      const fast = parseCsvFast(text);
      assert.ok(fast, 'fast path should accept this');
      assert.deepEqual(fast.records, reference(text));
      assert.deepEqual(Array.from(fast.lines), lines);
    });
  }

  it('hands irregular input to csv-parse (returns undefined)', () => {
    for (const text of [
      'a,b\n"unterminated,2\n',
      'a,b\nx"y,2\n',
      'a,b\n"x"y,2\n',
      'a,b\r1,2\r',
      'a,b\n   \n1,2\n',
      'a,b\r\n1,2\n3,4\r\n',
      'a,b\n1,2\r\n',
    ]) {
      assert.equal(parseCsvFast(text), undefined, JSON.stringify(text));
    }
  });

  it('reads the four paper CSVs exactly like csv-parse', { skip: skipWithoutShared() }, () => {
    for (const name of ['world_place', 'us_place', 'nyc_place', 'art']) {
      const buf = readFileSync(join(shared!, 'data', 'paper', `${name}.csv`));
      const fast = parseCsvFast(buf.toString('utf8'));
      assert.ok(fast, name);
      const ref = parse(buf, { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
      assert.equal(fast.records.length, ref.length, name);
      assert.deepEqual(fast.records, ref, name);
    }
  });
});
