// Hugging Face fast tokenizers (tokenizer.json) in JS, with per-token character offsets and an explicit BOS rule.
//
// Token ids come from @lenml/tokenizers (a fork of transformers.js' tokenizers) run on the model's own
// tokenizer.json, i.e. the same pipeline as HF's fast tokenizer with add_special_tokens=False. That library does
// not report offsets, so `encode` aligns the tokens' bytes back onto the input text itself (see alignOffsets).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { tokenizers } from '@lenml/tokenizers';
import { UserError } from '../util/errors.js';

/** Token ids plus, per token, the [start, end) span of the input string (UTF-16 units) it came from. */
export interface TokenEncoding {
  ids: number[];
  /** Half-open char span per token. Tokens the tokenizer inserted (a prefix space) are empty spans [p, p]. */
  offsets: [number, number][];
  /** True when the tokens could not be aligned with the text exactly (offsets after that point are widened). */
  approximate?: boolean;
}

/** Which token, if any, is prepended to every row (docs/method.md#prompts step 3), and where that choice came from. */
export interface BosRule {
  id: number | null;
  token: string | null;
  source: 'tokenizer_config' | 'special_tokens_map' | 'class_default' | 'override' | 'none';
}

export interface ModelTokenizer {
  bosId?: number;
  eosId?: number;
  padId: number;
  /** Number of ids the tokenizer can produce (largest id + 1); the model's embedding may be larger (padded). */
  vocabSize: number;
  name: string;
  /** tokenizer_class from tokenizer_config.json, without the "Fast" suffix (e.g. LlamaTokenizer, GPT2Tokenizer). */
  tokenizerClass: string;
  bosRule: BosRule;
  /** Encodes with add_special_tokens=False, as the paper does. */
  encode(text: string): TokenEncoding;
  decode(ids: number[]): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
}

export interface LoadTokenizerOptions {
  /** 'auto' (default): the tokenizer's bos_token; 'none': no BOS; or a token string / id to use instead. */
  bos?: 'auto' | 'none' | string | number;
}

/** The paper's encoding of one row: BOS, optional prefix ids (the `random` prompt), then the text's tokens. */
export interface ProbeEncoding {
  ids: number[];
  /** Char span per id; BOS and prefix ids get the empty span [0, 0]. */
  offsets: [number, number][];
  /** [first, endExclusive) indices into `ids` of the tokens that overlap the entity's characters. */
  entityTokens: [number, number];
  /** Index into `ids` of the entity's last token: the position whose activation the paper keeps. */
  lastEntityToken: number;
  /** [first, endExclusive) indices of the prefix ids (empty range when there are none). */
  prefixTokens: [number, number];
  bos: boolean;
  approximate?: boolean;
}

interface LibTokenizer {
  tokenize(text: string, o: { add_special_tokens: boolean }): string[];
  decode(ids: number[], o?: { skip_special_tokens?: boolean }): string;
  model: {
    convert_tokens_to_ids(tokens: string[]): number[];
    tokens_to_ids: Map<string, number>;
    vocab: string[];
  };
  added_tokens_map: Map<string, unknown>;
}

type Json = Record<string, unknown>;

// Defaults that HF's tokenizer classes apply when the config names no token (e.g. gpt2's tokenizer_config.json is
// just {"model_max_length": 1024}).
const CLASS_DEFAULTS: Record<string, { bos?: string; eos?: string; pad?: string }> = {
  GPT2Tokenizer: { bos: '<|endoftext|>', eos: '<|endoftext|>' },
  GPTNeoXTokenizer: { bos: '<|endoftext|>', eos: '<|endoftext|>' },
  CodeGenTokenizer: { bos: '<|endoftext|>', eos: '<|endoftext|>' },
  LlamaTokenizer: { bos: '<s>', eos: '</s>' },
  Qwen2Tokenizer: { eos: '<|endoftext|>', pad: '<|endoftext|>' },
};

// config.json model_type -> tokenizer class, for tokenizer_config.json files that name none.
const MODEL_TYPE_CLASS: Record<string, string> = {
  gpt2: 'GPT2Tokenizer',
  gpt_neox: 'GPTNeoXTokenizer',
  llama: 'LlamaTokenizer',
  mistral: 'LlamaTokenizer',
  qwen2: 'Qwen2Tokenizer',
};

async function readJson(path: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const value = JSON.parse(text);
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('not a JSON object');
    return value as Json;
  } catch (err) {
    throw new UserError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

async function readJsonIfExists(path: string): Promise<Json> {
  return existsSync(path) ? readJson(path) : {};
}

/** A special-token entry of a config: a string, or an AddedToken-like object with `content`. */
function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json)['content'] === 'string') {
    return (value as Json)['content'] as string;
  }
  return undefined;
}

/** Loads `tokenizer.json` (+ `tokenizer_config.json`, `special_tokens_map.json`, `config.json`) from a model dir. */
export async function loadTokenizer(
  dir: string,
  options: LoadTokenizerOptions = {},
): Promise<ModelTokenizer> {
  const tokenizerPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) {
    throw new UserError(
      `no tokenizer.json in ${dir}: spacetime-lens needs the fast-tokenizer file. ` +
        'Save one with transformers: AutoTokenizer.from_pretrained(...).save_pretrained(dir)',
    );
  }
  const tokenizerJson = await readJson(tokenizerPath);
  for (const key of ['model', 'added_tokens'] as const) {
    if (!(key in tokenizerJson))
      throw new UserError(`${tokenizerPath}: missing "${key}" (not a tokenizers file?)`);
  }
  const config = await readJsonIfExists(join(dir, 'tokenizer_config.json'));
  const specialMap = await readJsonIfExists(join(dir, 'special_tokens_map.json'));
  const modelConfig = await readJsonIfExists(join(dir, 'config.json'));

  const modelType =
    typeof modelConfig['model_type'] === 'string' ? (modelConfig['model_type'] as string) : '';
  const className =
    (typeof config['tokenizer_class'] === 'string' ? (config['tokenizer_class'] as string) : '').replace(
      /Fast$/,
      '',
    ) ||
    MODEL_TYPE_CLASS[modelType] ||
    'PreTrainedTokenizer';

  // Special tokens: tokenizer_config.json, then special_tokens_map.json, then the class's defaults.
  const special = (key: 'bos' | 'eos' | 'pad' | 'unk') => {
    const k = `${key}_token`;
    if (k in config && config[k] !== undefined) {
      const v = tokenString(config[k]);
      return { token: v ?? null, source: 'tokenizer_config' as const };
    }
    const fromMap = tokenString(specialMap[k]);
    if (fromMap) return { token: fromMap, source: 'special_tokens_map' as const };
    const fromClass = key === 'unk' ? undefined : CLASS_DEFAULTS[className]?.[key];
    if (fromClass) return { token: fromClass, source: 'class_default' as const };
    return { token: null, source: 'none' as const };
  };
  const bos = special('bos');
  const eos = special('eos');
  const pad = special('pad');
  const unk = special('unk');

  applyAddPrefixSpace(tokenizerJson, className, config);

  // Use the pipeline exactly as tokenizer.json describes it, as HF's fast tokenizer does. (transformers.js rewrites
  // Llama's pre-tokenizer when legacy=false; HF's LlamaTokenizerFast does not, so force legacy here.)
  const libConfig: Json = { ...config, tokenizer_class: className, legacy: true };
  for (const [key, value] of [
    ['bos_token', bos.token],
    ['eos_token', eos.token],
    ['pad_token', pad.token],
    ['unk_token', unk.token],
  ] as const) {
    libConfig[key] = value;
  }
  const mapping = (
    tokenizers.AutoTokenizer as unknown as { TOKENIZER_CLASS_MAPPING: Record<string, unknown> }
  ).TOKENIZER_CLASS_MAPPING;
  const Ctor = (mapping[className] ?? tokenizers.PreTrainedTokenizer) as new (
    j: Json,
    c: Json,
  ) => LibTokenizer;
  let lib: LibTokenizer;
  try {
    lib = new Ctor(tokenizerJson, libConfig);
  } catch (err) {
    throw new UserError(`cannot build the tokenizer from ${tokenizerPath}: ${(err as Error).message}`);
  }

  const tokenToId = (token: string | null) =>
    token == null ? undefined : lib.model.tokens_to_ids.get(token);
  let vocabSize = 0;
  for (const id of lib.model.tokens_to_ids.values()) vocabSize = Math.max(vocabSize, id + 1);

  const bosRule = resolveBos(options.bos ?? 'auto', bos, tokenToId, lib, dir);
  const eosId = tokenToId(eos.token);
  const padId = tokenToId(pad.token) ?? eosId ?? bosRule.id ?? 0;
  const aligner = new OffsetAligner(tokenizerJson, lib);

  return {
    bosId: bosRule.id ?? undefined,
    eosId,
    padId,
    vocabSize,
    name: tokenizerName(dir, config),
    tokenizerClass: className,
    bosRule,
    encode(text: string): TokenEncoding {
      const tokens = text.length ? lib.tokenize(text, { add_special_tokens: false }) : [];
      const ids = lib.model.convert_tokens_to_ids(tokens);
      const unknown = ids.findIndex((id) => id === undefined || id === null);
      if (unknown >= 0)
        throw new Error(`tokenizer produced a token with no id: ${JSON.stringify(tokens[unknown])}`);
      return { ids, ...aligner.align(text, tokens) };
    },
    decode(ids: number[]): string {
      return ids.length ? lib.decode(ids, { skip_special_tokens: false }) : '';
    },
    idToToken: (id: number) => lib.model.vocab[id],
    tokenToId: (token: string) => lib.model.tokens_to_ids.get(token),
  };
}

// HF's GPT2TokenizerFast and GPTNeoXTokenizerFast take add_prefix_space from their arguments (default False) and
// write it into a top-level ByteLevel pre-tokenizer, whatever tokenizer.json says.
const PREFIX_SPACE_CLASSES = new Set(['GPT2Tokenizer', 'GPTNeoXTokenizer']);

function applyAddPrefixSpace(tokenizerJson: Json, className: string, config: Json): void {
  const pre = tokenizerJson['pre_tokenizer'] as Json | null;
  if (!PREFIX_SPACE_CLASSES.has(className) || !pre || pre['type'] !== 'ByteLevel') return;
  const wanted = config['add_prefix_space'] === true;
  if (pre['add_prefix_space'] !== wanted)
    tokenizerJson['pre_tokenizer'] = { ...pre, add_prefix_space: wanted };
}

/** A readable name: owner/name@commit for Hub-cache snapshots, the config's name_or_path, or the directory name. */
function tokenizerName(dir: string, config: Json): string {
  const abs = resolve(dir);
  const hub = /models--([^/\\]+)[/\\]snapshots[/\\]([0-9a-f]{40})$/.exec(abs);
  if (hub) return `${hub[1].replaceAll('--', '/')}@${hub[2].slice(0, 12)}`;
  if (typeof config['name_or_path'] === 'string' && config['name_or_path'])
    return config['name_or_path'] as string;
  return basename(abs);
}

function resolveBos(
  choice: NonNullable<LoadTokenizerOptions['bos']>,
  configured: { token: string | null; source: BosRule['source'] },
  tokenToId: (t: string | null) => number | undefined,
  lib: LibTokenizer,
  dir: string,
): BosRule {
  if (choice === 'none') return { id: null, token: null, source: 'override' };
  if (choice === 'auto') {
    const id = tokenToId(configured.token);
    if (configured.token == null || id === undefined) return { id: null, token: null, source: 'none' };
    return { id, token: configured.token, source: configured.source };
  }
  if (typeof choice === 'number') {
    const token = lib.model.vocab[choice];
    if (!Number.isInteger(choice) || token === undefined)
      throw new UserError(`BOS id ${choice} is not in the vocabulary of ${dir}`);
    return { id: choice, token, source: 'override' };
  }
  const id = tokenToId(choice);
  if (id === undefined)
    throw new UserError(`BOS token ${JSON.stringify(choice)} is not in the vocabulary of ${dir}`);
  return { id, token: choice, source: 'override' };
}

// ---------------------------------------------------------------------------------------------------------------
// Offsets. The tokens' bytes (byte-level: through GPT-2's byte<->unicode table; SentencePiece-style: "▁" -> " " and
// <0xNN> byte-fallback tokens) are walked against the input's UTF-8 bytes. The only differences allowed are the ones
// tokenizers make: inserted prefix spaces (Prepend / add_prefix_space / Metaspace), dropped whitespace, and local
// normalisation (NFC..., lowercase), which is applied per base character + combining marks so every normalised
// byte still knows its source characters.

const METASPACE = '\u2581';

// Units that Unicode normalisation can merge: a base character with its combining marks, and Hangul syllables
// written as conjoining jamo (L+ V+ T*, or a precomposed LV syllable + T), which NFC composes across letters.
const NORMALIZATION_CLUSTER =
  /(?:[\u1100-\u115F]+[\u1160-\u11A7]+[\u11A8-\u11FF]*|[\uAC00-\uD7A3][\u11A8-\u11FF]+|\P{M})\p{M}*|\p{M}+/gsu;

function gpt2ByteDecoder(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = bytes.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i]), b]));
}

function hasType(node: unknown, type: string): boolean {
  if (!node || typeof node !== 'object') return false;
  if (Array.isArray(node)) return node.some((n) => hasType(n, type));
  const obj = node as Json;
  if (obj['type'] === type) return true;
  return ['normalizers', 'pretokenizers', 'decoders', 'processors'].some((k) => hasType(obj[k], type));
}

type ChunkTransform = (s: string) => string;

/** The character-local steps of a tokenizer.json normalizer (Prepend/Strip are handled by the aligner). */
function localNormalizer(node: unknown): ChunkTransform[] {
  if (!node || typeof node !== 'object') return [];
  const n = node as Json;
  switch (n['type']) {
    case 'Sequence':
      return ((n['normalizers'] as unknown[]) ?? []).flatMap(localNormalizer);
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = n['type'] as string;
      return [(s) => s.normalize(form)];
    }
    case 'Lowercase':
      return [(s) => s.toLowerCase()];
    case 'StripAccents':
      return [(s) => s.normalize('NFD').replace(/\p{Mn}/gu, '')];
    case 'Replace': {
      const pattern = n['pattern'] as Json | undefined;
      const content = String(n['content'] ?? '');
      if (typeof pattern?.['String'] === 'string') {
        const from = pattern['String'] as string;
        return [(s) => s.replaceAll(from, content)];
      }
      if (typeof pattern?.['Regex'] === 'string') {
        const re = new RegExp(pattern['Regex'] as string, 'gu');
        return [(s) => s.replace(re, content)];
      }
      return [];
    }
    default:
      return []; // Prepend, Strip and unknown kinds: the aligner tolerates what they do, or falls back.
  }
}

class OffsetAligner {
  private readonly byteLevel: boolean;
  private readonly byteDecoder = gpt2ByteDecoder();
  private readonly local: ChunkTransform[];
  private readonly alwaysPrefix: boolean;
  private readonly encoder = new TextEncoder();

  constructor(
    json: Json,
    private readonly lib: LibTokenizer,
  ) {
    this.byteLevel = hasType(json['pre_tokenizer'], 'ByteLevel') || hasType(json['decoder'], 'ByteLevel');
    this.local = localNormalizer(json['normalizer']);
    // A Prepend normalizer always adds its prefix, even where the text starts with a space.
    this.alwaysPrefix = hasType(json['normalizer'], 'Prepend');
  }

  private readonly tokenCache = new Map<string, number[]>();

  /** Bytes of one token as they stand in the normalised text; spaces for SentencePiece's "▁". Cached per token. */
  private tokenBytes(token: string): number[] {
    let bytes = this.tokenCache.get(token);
    if (!bytes) {
      bytes = this.computeTokenBytes(token);
      this.tokenCache.set(token, bytes);
    }
    return bytes;
  }

  private computeTokenBytes(token: string): number[] {
    if (this.lib.added_tokens_map.has(token)) {
      // Added tokens can stand for normalised text too (Gemma's "▁▁" whitespace runs).
      return [...this.encoder.encode(this.byteLevel ? token : token.replaceAll(METASPACE, ' '))];
    }
    if (this.byteLevel) {
      const out: number[] = [];
      for (const ch of token) {
        const b = this.byteDecoder.get(ch);
        if (b === undefined) out.push(...this.encoder.encode(ch));
        else out.push(b);
      }
      return out;
    }
    const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
    if (m) return [Number.parseInt(m[1], 16)];
    return [...this.encoder.encode(token.replaceAll(METASPACE, ' '))];
  }

  /** The text's normalised bytes, each with the [start, end) char span of the source it came from. */
  private sourceBytes(text: string): { bytes: number[]; from: number[]; to: number[] } {
    const bytes: number[] = [];
    const from: number[] = [];
    const to: number[] = [];
    // UTF-8 of s, every byte attributed to [start, end) (or, with perChar, to its own code point).
    const push = (s: string, start: number, end: number, perChar: boolean) => {
      for (let i = 0; i < s.length; i++) {
        let c = s.charCodeAt(i);
        let units = 1;
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
          const lo = s.charCodeAt(i + 1);
          if (lo >= 0xdc00 && lo < 0xe000) {
            c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
            units = 2;
          }
        }
        if (units === 1 && c >= 0xd800 && c < 0xe000) c = 0xfffd; // lone surrogate: TextEncoder writes U+FFFD
        const f = perChar ? start + i : start;
        const t = perChar ? start + i + units : end;
        if (c < 0x80) {
          bytes.push(c);
        } else if (c < 0x800) {
          bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63));
        } else if (c < 0x10000) {
          bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        } else {
          bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        }
        while (from.length < bytes.length) {
          from.push(f);
          to.push(t);
        }
        i += units - 1;
      }
    };
    const canon = (s: string) => (this.byteLevel ? s : s.replaceAll(METASPACE, ' '));
    const transform = (s: string) => {
      let out = s;
      for (const f of this.local) out = f(out);
      return canon(out);
    };
    const raw = canon(text);
    if (transform(text) === raw) {
      push(raw, 0, text.length, true); // normalisation changes nothing: every code point maps to itself
      return { bytes, from, to };
    }
    for (const m of text.matchAll(NORMALIZATION_CLUSTER)) {
      const chunk = m[0];
      const start = m.index ?? 0;
      const normal = transform(chunk);
      if (normal === canon(chunk)) push(normal, start, start + chunk.length, true);
      else push(normal, start, start + chunk.length, false); // changed: all bytes come from the whole chunk
    }
    return { bytes, from, to };
  }

  align(text: string, tokens: string[]): { offsets: [number, number][]; approximate?: boolean } {
    const src = this.sourceBytes(text);
    const offsets: [number, number][] = [];
    let j = 0; // position in src
    let approximate = false;
    const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
    const here = () => (j < src.bytes.length ? src.from[j] : text.length);
    for (let t = 0; t < tokens.length; t++) {
      if (approximate) {
        offsets.push([Math.min(here(), text.length), text.length]);
        continue;
      }
      const tb = this.tokenBytes(tokens[t]);
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < tb.length; i++) {
        const inserted = t === 0 && i === 0 && this.alwaysPrefix && tb[0] === 0x20;
        // Skip source whitespace that the tokenizer dropped (Strip, WhitespaceSplit...).
        while (!inserted && j < src.bytes.length && src.bytes[j] !== tb[i] && isSpace(src.bytes[j])) j++;
        if (!inserted && j < src.bytes.length && src.bytes[j] === tb[i]) {
          lo = Math.min(lo, src.from[j]);
          hi = Math.max(hi, src.to[j]);
          j++;
        } else if (tb[i] === 0x20) {
          // A space the tokenizer inserted (prefix space): it has no source characters.
        } else {
          approximate = true;
          break;
        }
      }
      if (approximate) {
        offsets.push([Math.min(lo, here()), text.length]);
      } else if (lo === Number.POSITIVE_INFINITY) {
        const p = here();
        offsets.push([p, p]);
      } else {
        offsets.push([lo, hi]);
      }
    }
    return approximate ? { offsets, approximate } : { offsets };
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * [first, endExclusive) token indices whose spans overlap the characters [charStart, charEnd). An empty-span token
 * (an inserted prefix space) counts when its position lies inside the entity.
 */
export function entityTokenSpan(enc: TokenEncoding, charStart: number, charEnd: number): [number, number] {
  if (!(Number.isInteger(charStart) && Number.isInteger(charEnd) && 0 <= charStart && charStart < charEnd)) {
    throw new UserError(`entity span [${charStart}, ${charEnd}) is empty or invalid`);
  }
  let first = -1;
  let last = -1;
  enc.offsets.forEach(([s, e], i) => {
    const overlaps = s === e ? charStart <= s && s < charEnd : s < charEnd && e > charStart;
    if (overlaps) {
      if (first < 0) first = i;
      last = i;
    }
  });
  if (first < 0) throw new UserError(`no token covers the entity characters [${charStart}, ${charEnd})`);
  return [first, last + 1];
}

/**
 * Encodes one row as the paper does (docs/method.md#prompts): text tokens without special tokens, `prefixIds` (the `random`
 * prompt's token ids) in front of them, and the BOS rule's token in front of everything.
 */
export function encodeForProbe(
  tokenizer: ModelTokenizer,
  text: string,
  entityStart: number,
  entityEnd: number,
  options: { prefixIds?: number[] } = {},
): ProbeEncoding {
  if (entityEnd > text.length) {
    throw new UserError(
      `entity span [${entityStart}, ${entityEnd}) runs past the end of ${JSON.stringify(text)}`,
    );
  }
  const enc = tokenizer.encode(text);
  const head: number[] = [];
  const bos = tokenizer.bosRule.id !== null;
  if (bos) head.push(tokenizer.bosRule.id as number);
  const prefix = options.prefixIds ?? [];
  for (const id of prefix) {
    if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize)
      throw new UserError(`prefix token id ${id} is out of range`);
  }
  const shift = head.length + prefix.length;
  const [first, end] = entityTokenSpan(enc, entityStart, entityEnd);
  const out: ProbeEncoding = {
    ids: [...head, ...prefix, ...enc.ids],
    offsets: [...Array.from({ length: shift }, (): [number, number] => [0, 0]), ...enc.offsets],
    entityTokens: [first + shift, end + shift],
    lastEntityToken: end + shift - 1,
    prefixTokens: [head.length, shift],
    bos,
  };
  if (enc.approximate) out.approximate = true;
  return out;
}
