/**
 * Average ranks (scipy.stats.rankdata 'average'): the one implementation behind every Spearman correlation in the
 * package (probe metrics, the neuron searches, the SAE feature search).
 */

const INDEX_BITS = 2 ** 21;
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * 1-based ranks of `values`, ties given their average rank; equal values (−0 and +0 included) tie, as in SciPy.
 * An f32 array (below 2^21 values) is packed with its indices into one float64 per value (an order-preserving
 * 32-bit key of the value times 2^21, plus the index) and sorted natively, so no comparator runs (the neuron
 * searches rank millions of columns); anything else is sorted with a comparator.
 */
export function averageRanks(values: ArrayLike<number>, out = new Float64Array(values.length)): Float64Array {
  const n = values.length;
  if (n >= INDEX_BITS || !(values instanceof Float32Array)) return comparatorRanks(values, out);
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = sortKey(values[i]!) * INDEX_BITS + i;
  packed.sort();
  assignAverageRanks(
    packed,
    out,
    (p) => Math.floor(p / INDEX_BITS),
    (p) => p % INDEX_BITS,
  );
  return out;
}

/** Order-preserving unsigned key of an f32 value (−0 maps to +0's key; NaN sorts last). */
function sortKey(v: number): number {
  f32Scratch[0] = v + 0;
  const bits = u32Scratch[0]!;
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

function assignAverageRanks(
  sorted: Float64Array,
  out: Float64Array,
  key: (p: number) => number,
  index: (p: number) => number,
): void {
  const n = sorted.length;
  let i = 0;
  while (i < n) {
    const k = key(sorted[i]!);
    let j = i;
    while (j + 1 < n && key(sorted[j + 1]!) === k) j++;
    const avg = (i + j) / 2 + 1;
    for (let t = i; t <= j; t++) out[index(sorted[t]!)] = avg;
    i = j + 1;
  }
}

function comparatorRanks(values: ArrayLike<number>, out: Float64Array): Float64Array {
  const n = values.length;
  const order = new Float64Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const sorted = Float64Array.from(Array.from(order).sort((a, b) => values[a]! - values[b]!));
  assignAverageRanks(
    sorted,
    out,
    (p) => values[p]! + 0,
    (p) => p,
  );
  return out;
}
