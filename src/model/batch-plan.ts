/**
 * The run's sequences and micro-batches: input checks (token ids, lengths, kept positions) and the batch planner
 * that packs sequences sorted by length into right-padded micro-batches.
 */
import { UserError } from '../util/errors.js';
import type { ModelSpec } from './spec.js';

export function validateSequences(sequences: number[][], spec: ModelSpec): number[] {
  return sequences.map((ids, i) => {
    if (!Array.isArray(ids) || ids.length === 0) throw new UserError(`sequence ${i} is empty`);
    if (spec.maxPositions && !spec.rotary && ids.length > spec.maxPositions) {
      throw new UserError(
        `sequence ${i} has ${ids.length} tokens; the model takes at most ${spec.maxPositions}`,
      );
    }
    const rotaryMax = spec.rotary?.maxPositions;
    if (rotaryMax !== undefined && ids.length > rotaryMax) {
      throw new UserError(
        `sequence ${i} has ${ids.length} tokens; ${spec.modelType}'s longrope is supported up to ` +
          `original_max_position_embeddings = ${rotaryMax} tokens (longer inputs switch to its long factors)`,
      );
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= spec.vocabSize) {
        throw new UserError(`sequence ${i}: token id ${id} is outside the vocabulary [0, ${spec.vocabSize})`);
      }
    }
    return ids.length;
  });
}

export function keptPositions(positions: number[], lengths: number[]): number[] {
  if (positions.length !== lengths.length) {
    throw new UserError(`positions has ${positions.length} entries for ${lengths.length} sequences`);
  }
  return positions.map((p, i) => {
    const q = p < 0 ? lengths[i]! + p : p;
    if (!Number.isInteger(q) || q < 0 || q >= lengths[i]!) {
      throw new UserError(`position ${p} is outside sequence ${i} (length ${lengths[i]})`);
    }
    return q;
  });
}

/** Padded tokens per onnxruntime call when a run does not say (RunOptions.batchTokens). */
export const DEFAULT_BATCH_TOKENS = 4096;

/**
 * Sorts by length (longest first) and packs right-padded micro-batches of at most ~batchTokens padded tokens.
 * A micro-batch takes only rows of its own length once it holds `minTokens` padded tokens (default
 * batchTokens / 8): length buckets, so that padding is spent only where a bucket would be too small for an
 * efficient GEMM. Exported for bench/extract, which gives the PyTorch reference the same batches.
 */
export function planBatches(
  lengths: number[],
  batchTokens: number,
  heads: number,
  minTokens = Math.floor(batchTokens / 8),
): { seqs: number[]; T: number; tokens: number }[] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const out: { seqs: number[]; T: number; tokens: number }[] = [];
  const maxScoreFloats = 2 ** 27; // attention scores per call (512 MiB of f32)
  for (const i of order) {
    const last = out[out.length - 1];
    if (
      last &&
      (lengths[i] === last.T || last.tokens < minTokens) &&
      (last.seqs.length + 1) * last.T <= batchTokens &&
      (last.seqs.length + 1) * heads * last.T * last.T <= maxScoreFloats
    ) {
      last.seqs.push(i);
      last.tokens += last.T; // padded tokens
    } else {
      out.push({ seqs: [i], T: lengths[i]!, tokens: lengths[i]! });
    }
  }
  return out;
}
