import type { RenderedPrompt } from '../data/types.js';
import type { ModelTokenizer } from '../model/tokenizer.js';
import { encodeForProbe } from '../model/tokenizer.js';
import { UserError } from '../util/errors.js';
import { randomTokenIds } from './rng.js';

/** The model input of one dataset row and the token(s) whose activation is kept. */
export interface PreparedRow {
  /** Input ids: BOS (per the tokenizer's BOS rule), the random-prompt ids if any, then prefix + entity tokens. */
  ids: number[];
  /** Index into `ids` of the entity's last token (the paper's `last` aggregation). */
  position: number;
  /** [first, endExclusive) indices of the entity's tokens (the `mean` aggregation averages over them). */
  span: [number, number];
}

/** docs/method.md#prompts: random-prompt ids are drawn from [RANDOM_TOKEN_LOW, max_id). */
export const RANDOM_TOKEN_LOW = 100;

/**
 * the max_id of docs/method.md#prompts: the largest token id in the encoded dataset (prefix + entity, without special tokens), over
 * every row of the job's dataset, so every shard computes the same value.
 */
export function maxTokenId(tokenizer: ModelTokenizer, prompts: RenderedPrompt[]): number {
  let max = -1;
  for (const p of prompts) for (const id of tokenizer.encode(p.text).ids) if (id > max) max = id;
  return max;
}

export interface PrepareOptions {
  seed: number;
  /** the max_id of docs/method.md#prompts (only needed when the prompt asks for random tokens). */
  maxId?: number;
  /** The model's longest supported sequence (a clear error, not garbage, when a row is longer). */
  maxPositions?: number;
  /** For messages. */
  datasetName: string;
  promptName: string;
}

/** Encodes rows [start, end) of a rendered dataset. Row r's random ids depend only on (seed, r). */
export function prepareRows(
  tokenizer: ModelTokenizer,
  prompts: RenderedPrompt[],
  start: number,
  end: number,
  options: PrepareOptions,
): PreparedRow[] {
  const out: PreparedRow[] = [];
  for (let r = start; r < end; r++) {
    const p = prompts[r]!;
    let prefixIds: number[] | undefined;
    if (p.randomTokens > 0) {
      const maxId = options.maxId;
      if (maxId === undefined || maxId <= RANDOM_TOKEN_LOW) {
        throw new UserError(
          `prompt '${options.promptName}' draws random token ids from [${RANDOM_TOKEN_LOW}, max_id) but the largest ` +
            `token id in ${options.datasetName} is ${maxId ?? 'unknown'}; this tokenizer cannot serve that prompt`,
        );
      }
      prefixIds = randomTokenIds(options.seed, r, p.randomTokens, RANDOM_TOKEN_LOW, maxId);
    }
    let enc: ReturnType<typeof encodeForProbe>;
    try {
      enc = encodeForProbe(tokenizer, p.text, p.entityStart, p.entityEnd, prefixIds ? { prefixIds } : {});
    } catch (err) {
      if (err instanceof UserError) {
        throw new UserError(`${options.datasetName} row ${r} (${JSON.stringify(p.text)}): ${err.message}`);
      }
      throw err;
    }
    if (options.maxPositions !== undefined && enc.ids.length > options.maxPositions) {
      throw new UserError(
        `${options.datasetName} row ${r} needs ${enc.ids.length} tokens but the model supports at most ` +
          `${options.maxPositions}: this model cannot be paired with this dataset/prompt`,
      );
    }
    out.push({ ids: enc.ids, position: enc.lastEntityToken, span: enc.entityTokens });
  }
  return out;
}
