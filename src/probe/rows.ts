/** Row selection from row-major matrices: the one gather used by the ridge probe's chunks and the MLP probe's batches. */

/**
 * Rows `rows[from..to)` (default all) of a row-major matrix with `width` values per row, as one contiguous array:
 * copied into `into` when given; otherwise a view of `src` when those rows are consecutive (no copy), else a new
 * array of the same type.
 */
export function gatherRows<T extends Float32Array | Float64Array>(
  src: T,
  width: number,
  rows: ArrayLike<number>,
  options: { into?: T; from?: number; to?: number } = {},
): T {
  const { from = 0, to = rows.length } = options;
  let out = options.into;
  if (!out) {
    let consecutive = true;
    for (let i = from + 1; i < to && consecutive; i++) consecutive = rows[i] === rows[i - 1]! + 1;
    if (consecutive && to > from) return src.subarray(rows[from]! * width, (rows[to - 1]! + 1) * width) as T;
    out = (
      src instanceof Float32Array
        ? new Float32Array((to - from) * width)
        : new Float64Array((to - from) * width)
    ) as T;
  }
  for (let i = from; i < to; i++) {
    const r = rows[i]!;
    out.set(src.subarray(r * width, (r + 1) * width), (i - from) * width);
  }
  return out;
}
