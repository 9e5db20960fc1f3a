/**
 * RunOptions.sharedPrefix: the first P tokens every sequence shares run once per chunk as their own batch whose
 * attention also returns its keys and values (attn_kv); the other rows attend to them (attn_past) instead of
 * recomputing them.
 */
import { UserError } from '../util/errors.js';
import type { Batch, Feeds } from './engine-context.js';
import type { SessionKind } from './sessions.js';

/** The prefix batch's extra attention outputs. */
export const PRESENT = ['present_k', 'present_v'];

/** Which attention graph a batch runs: the prefix returns its keys/values, the rows after it take them. */
export function attentionKind(batch: Batch, past: Feeds | undefined): SessionKind {
  if (batch.isPrefix) return 'attn_kv';
  return past ? 'attn_past' : 'attn';
}

/**
 * Checks that every sequence starts with the same `P` tokens and keeps a position after them, and splits the
 * prefix off (RunOptions.sharedPrefix).
 */
export function splitSharedPrefix(
  sequences: number[][],
  P: number,
  kept: number[] | undefined,
): { prefix: number[]; suffixes: number[][] } {
  if (!Number.isInteger(P) || P < 0) throw new UserError(`sharedPrefix must be a whole number, got ${P}`);
  if (!kept) throw new UserError('sharedPrefix needs kept positions (RunOptions.positions)');
  const prefix = sequences[0]!.slice(0, P);
  sequences.forEach((ids, i) => {
    if (ids.length <= P)
      throw new UserError(`sequence ${i} has ${ids.length} tokens, not more than sharedPrefix ${P}`);
    for (let t = 0; t < P; t++) {
      if (ids[t] !== prefix[t])
        throw new UserError(`sequence ${i} differs from sequence 0 at token ${t}, inside sharedPrefix ${P}`);
    }
    if (kept[i]! < P)
      throw new UserError(`sequence ${i} keeps position ${kept[i]}, inside sharedPrefix ${P}`);
  });
  return { prefix, suffixes: sequences.map((ids) => ids.slice(P)) };
}

/** Frees the prefix's keys and values of the layer just finished (device memory in resident mode). */
export function releasePresent(prefix: Batch | undefined, resident: boolean): void {
  if (!prefix?.present) return;
  if (resident) for (const t of Object.values(prefix.present)) t.dispose();
  prefix.present = undefined;
}
