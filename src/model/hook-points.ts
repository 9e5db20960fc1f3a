/**
 * Hook points: where a run captures a hook's value (copied into the run's output) and applies edits to it
 * (RunOptions.edits), on the host arrays of a micro-batch.
 */
import { UserError } from '../util/errors.js';
import type { Batch } from './engine-context.js';
import { hookWidth, type ParsedHook, parseHook } from './hooks.js';
import type { ModelSpec } from './spec.js';

/** What an edit function sees besides the value. */
export interface EditInfo {
  hook: string;
  layer?: number;
  /** Indices (into the run's `sequences`) of the sequences in this micro-batch, in row order. */
  sequences: number[];
  /** Their lengths, counted from `offset`. */
  lengths: number[];
  /** Rows per sequence in `value`: the padded length T, or 1 for final hooks reduced to the kept position. */
  rowsPerSequence: number;
  /** Values per row (d, d_mlp or vocab). */
  width: number;
  /** The kept position of each sequence, when the run keeps one, counted from `offset` (a row index). */
  keptPositions?: number[];
  /** Row t of a sequence holds token position offset + t: the run's sharedPrefix, else 0. */
  offset: number;
}

/**
 * A causal intervention: a function that edits a hook's value in place (or returns a replacement of the same
 * size), or a vector added to the value at some token positions (negative counts from each sequence's end;
 * omitted = every position).
 */
export type HookEdit =
  // biome-ignore lint/suspicious/noConfusingVoidType: an in-place edit function returns nothing
  | { hook: string; apply(value: Float32Array, info: EditInfo): void | Float32Array }
  | { hook: string; add: Float32Array; positions?: number[] };

export interface Capture {
  hook: ParsedHook;
  width: number;
  /** Rows per sequence in `out`: 1 with kept positions, else the longest sequence's length. */
  rows: number;
  out: Float32Array;
}

export const NO_EDITS = new Map<string, HookEdit[]>();
export const NO_CAPTURES = new Map<string, Capture>();

/** Applies the edits at a hook point, records the (edited) value if captured, returns it. */
export function hookPoint(
  name: string,
  layer: number | undefined,
  value: Float32Array,
  batch: Batch,
  captures: Map<string, Capture>,
  edits: Map<string, HookEdit[]>,
  kept: number[] | undefined,
  width: number,
  reduced = false,
): Float32Array {
  const rowsPerSequence = reduced ? 1 : batch.T;
  const list = edits.get(name);
  if (list) {
    const info: EditInfo = {
      hook: name,
      layer,
      sequences: batch.seqs,
      lengths: batch.lens,
      rowsPerSequence,
      width,
      keptPositions: kept,
      offset: batch.offset,
    };
    for (const edit of list) value = applyEdit(edit, value, info, kept);
  }
  const capture = captures.get(name);
  if (capture) {
    const { out } = capture;
    for (let b = 0; b < batch.B; b++) {
      const s = batch.seqs[b]!;
      if (kept) {
        const row = reduced ? b : b * batch.T + kept[s]!;
        out.set(value.subarray(row * width, row * width + width), s * width);
      } else {
        // A sequence's real rows are contiguous on both sides: one copy per sequence.
        const from = b * batch.T * width;
        out.set(value.subarray(from, from + batch.lens[b]! * width), s * capture.rows * width);
      }
    }
  }
  return value;
}

export function groupEdits(edits: HookEdit[], spec: ModelSpec): Map<string, HookEdit[]> {
  const out = new Map<string, HookEdit[]>();
  for (const edit of edits) {
    const hook = parseHook(edit.hook, spec);
    if ('add' in edit && edit.add.length !== hookWidth(hook, spec)) {
      throw new UserError(
        `edit at '${edit.hook}': vector has ${edit.add.length} values, the hook has ${hookWidth(hook, spec)}`,
      );
    }
    out.set(edit.hook, [...(out.get(edit.hook) ?? []), edit]);
  }
  return out;
}

function applyEdit(
  edit: HookEdit,
  value: Float32Array,
  info: EditInfo,
  kept: number[] | undefined,
): Float32Array {
  if ('apply' in edit) {
    const replaced = edit.apply(value, info);
    if (replaced && replaced !== value) {
      if (replaced.length !== value.length) {
        throw new UserError(
          `edit at '${info.hook}' returned ${replaced.length} values instead of ${value.length}`,
        );
      }
      return replaced;
    }
    return value;
  }
  const { width, rowsPerSequence, offset } = info;
  info.sequences.forEach((s, b) => {
    const len = info.lengths[b]!;
    // Positions count from the sequence's start (negative: from its end); rows start at `offset`.
    const wanted = edit.positions
      ? edit.positions.map((p) => (p < 0 ? len + p : p - offset))
      : [...Array(len).keys()];
    for (const t of wanted) {
      if (t < 0 || t >= len) continue;
      let row: number;
      if (rowsPerSequence === 1) {
        if (kept?.[s] !== t) continue;
        row = b;
      } else {
        row = b * rowsPerSequence + t;
      }
      for (let j = 0; j < width; j++) value[row * width + j]! += edit.add[j]!;
    }
  });
  return value;
}
