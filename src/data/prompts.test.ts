import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  artEntityString,
  canonicalPrompt,
  getPrompt,
  listPrompts,
  nycEntityString,
  renderPrompt,
  renderWith,
  worldEntityString,
} from './prompts.js';
import type { EntityDataset } from './types.js';

/** A tiny in-memory dataset of one prompt family (only the fields prompts read). */
function ds(family: string, names: string[], columns: Record<string, string[]> = {}): EntityDataset {
  return {
    name: family,
    kind: 'space',
    targetNames: ['longitude', 'latitude'],
    n: names.length,
    names,
    targets: new Float64Array(names.length * 2),
    isTest: new Uint8Array(names.length),
    columns: { name: names, ...columns },
    source: { path: 'memory', sha256: '' },
    promptFamily: family,
    nameColumn: 'name',
    warnings: [],
    dropped: {},
  };
}

describe('world entity strings (docs/method.md#prompts)', () => {
  it('moves the first parenthetical to the front and keeps the trailing space', () => {
    assert.equal(worldEntityString('Watson Lake (Arizona)'), "Arizona's Watson Lake ");
  });
  it('moves the text after the last comma to the front', () => {
    assert.equal(worldEntityString('Kaya, Burkina Faso'), "Burkina Faso's Kaya");
    assert.equal(worldEntityString('A, B, C'), "C's A, B");
  });
  it('uses only the first parenthetical but removes every group', () => {
    assert.equal(worldEntityString('Foo (Bar) Baz (Qux)'), "Bar's Foo  Baz ");
  });
  it('prefers the parenthetical rule over the comma rule', () => {
    assert.equal(worldEntityString('Kaya, Sanmatenga (Burkina Faso)'), "Burkina Faso's Kaya, Sanmatenga ");
  });
  it('leaves other names alone, and an unclosed parenthesis falls to the comma rule', () => {
    assert.equal(worldEntityString('Paris'), 'Paris');
    assert.equal(worldEntityString('Foo (bar, baz'), "baz's Foo (bar");
  });
  it('empty_all_caps upper-cases the reordered string, not the prefix', () => {
    const d = ds('world_place', ['Watson Lake (Arizona)']);
    assert.deepEqual(renderPrompt(d, 0, 'empty_all_caps'), {
      text: "ARIZONA'S WATSON LAKE ",
      entityStart: 0,
      entityEnd: 22,
      randomTokens: 0,
    });
    const coords = renderPrompt(d, 0, 'coords');
    assert.equal(coords.text, "What are the lat/lon coordinates of Arizona's Watson Lake ");
    assert.equal(coords.text.slice(coords.entityStart, coords.entityEnd), "Arizona's Watson Lake ");
  });
});

describe('nyc entity strings', () => {
  it('re-cases words, keeps abbreviations, lower-cases stop-words', () => {
    assert.equal(nycEntityString('WHITESTONE'), 'Whitestone');
    assert.equal(nycEntityString('PS 123 SCHOOL OF THE ARTS'), 'PS 123 School of the Arts');
    assert.equal(nycEntityString('FDNY ENGINE 7 & LADDER 1'), 'FDNY Engine 7 & Ladder 1');
    assert.equal(nycEntityString('NYU  LANGONE   AT NYC'), 'NYU Langone at NYC');
  });
  it('capitalizes like Python (first code point only, rest lower-cased)', () => {
    assert.equal(nycEntityString("O'NEILL (BRONX) 3RD"), "O'neill (bronx) 3rd");
    assert.equal(nycEntityString('and'), 'And'); // only the upper-case stop-words are in the list
  });
  it('renders where_nyc with the entity span after the prefix', () => {
    const r = renderPrompt(ds('nyc_place', ['WHITESTONE']), 0, 'where_nyc');
    assert.equal(r.text, 'Where in New York City is Whitestone');
    assert.equal(r.entityStart, 'Where in New York City is '.length);
    assert.equal(r.entityEnd, r.text.length);
  });
});

describe('art, historical and headline strings', () => {
  it("uses <creator>'s <title>, or <creator>' <title> after an s", () => {
    assert.equal(artEntityString('Stephen King', 'It'), "Stephen King's It");
    assert.equal(artEntityString('The Beatles', 'Help!'), "The Beatles' Help!");
    const d = ds('art', ['It'], { creator: ['Stephen King'] });
    assert.equal(renderPrompt(d, 0, 'release').text, "When was the release date of Stephen King's It");
    assert.equal(renderPrompt(d, 0, 'empty_all_caps').text, "STEPHEN KING'S IT");
  });
  it('historical when_all_caps upper-cases the name but not the prefix', () => {
    const d = ds('historical_figure', ['Ada Lovelace']);
    const r = renderPrompt(d, 0, 'when_all_caps');
    assert.equal(r.text, 'When did ADA LOVELACE');
    assert.equal(r.entityStart, 9);
  });
  it('headline keeps or strips the final period', () => {
    const d = ds('headline', ['Obama Wins Second Term.']);
    assert.equal(renderPrompt(d, 0, 'empty').text, 'Obama Wins Second Term.');
    assert.equal(renderPrompt(d, 0, 'empty_wo_period').text, 'Obama Wins Second Term');
    assert.equal(renderPrompt(d, 0, 'when_w_period').text, 'Publication date of: Obama Wins Second Term.');
    const wo = renderPrompt(d, 0, 'when_wo_period');
    assert.equal(wo.text, 'Publication date of: Obama Wins Second Term');
    assert.equal(wo.text.slice(wo.entityStart, wo.entityEnd), 'Obama Wins Second Term');
  });
  it('random asks for 10 token ids and leaves the text bare', () => {
    const r = renderPrompt(ds('us_place', ['01536']), 0, 'random');
    assert.deepEqual(r, { text: '01536', entityStart: 0, entityEnd: 5, randomTokens: 10 });
  });
});

describe('prompt tables', () => {
  it('lists the paper prompts per dataset and the canonical one', () => {
    const names = (d: string) => listPrompts(d).map((p) => p.name);
    assert.deepEqual(names('world_place'), ['empty', 'empty_all_caps', 'random', 'coords']);
    assert.deepEqual(names('us_place'), ['empty', 'random', 'coords', 'where_us']);
    assert.deepEqual(names('nyc_place'), ['empty', 'random', 'where_is', 'where_nyc']);
    assert.deepEqual(names('historical_figure'), ['empty', 'random', 'when', 'when_all_caps']);
    assert.deepEqual(names('art'), ['empty', 'random', 'release', 'empty_all_caps']);
    assert.deepEqual(names('headline'), ['empty', 'empty_wo_period', 'when_w_period', 'when_wo_period']);
    const canon = ['world_place', 'us_place', 'nyc_place', 'historical_figure', 'art', 'headline'].map(
      canonicalPrompt,
    );
    assert.deepEqual(canon, ['coords', 'coords', 'where_nyc', 'when', 'release', 'when_w_period']);
    assert.equal(canonicalPrompt('world_cities'), 'coords');
  });
  it('has exact prefixes', () => {
    assert.equal(getPrompt('us_place', 'where_us').prefix, 'Where in the United States is ');
    assert.equal(getPrompt('nyc_place', 'where_is').prefix, 'Where is ');
    assert.equal(getPrompt('art', 'release').prefix, 'When was the release date of ');
  });
  it('rejects unknown prompts and families with the valid names', () => {
    assert.throws(
      () => getPrompt('art', 'nope'),
      /unknown prompt "nope" for art \(choose from: empty, random/,
    );
    assert.throws(() => listPrompts('zzz'), /no prompts for "zzz"/);
    assert.throws(() => renderPrompt(ds('us_place', ['x']), 1, 'empty'), RangeError);
  });
  it('renderWith strips only a final period', () => {
    const p = getPrompt('headline', 'empty_wo_period');
    assert.equal(renderWith(p, 'No period here').text, 'No period here');
  });
});
