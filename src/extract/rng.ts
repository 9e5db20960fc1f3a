/**
 * Counter-based random token ids for the paper's `random` prompt (docs/method.md#prompts: 10 ids drawn uniformly from
 * [100, max_id) per row). The draw for row r depends only on (seed, r), never on batch size, shard or chunk.
 *
 * Algorithm (reproducible in any language with 64-bit integers):
 *   state = (seed << 32) | row   (as an unsigned 64-bit integer)
 *   repeat: state = state + 0x9E3779B97F4A7C15 (mod 2^64); z = splitmix64_mix(state)
 *           accept z if z < 2^64 - (2^64 mod range), giving lo + (z mod range)   (unbiased rejection)
 * where splitmix64_mix(z): z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
 * return z ^ (z >> 31) (all mod 2^64), i.e. Steele, Lea & Flood's SplitMix64.
 */
const MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;

function mix(z0: bigint): bigint {
  let z = z0;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}

/** `count` ids uniform in [lo, hi) for one row. */
export function randomTokenIds(seed: number, row: number, count: number, lo: number, hi: number): number[] {
  if (!(hi > lo)) throw new Error(`randomTokenIds: empty range [${lo}, ${hi})`);
  const range = BigInt(hi - lo);
  const limit = (1n << 64n) - ((1n << 64n) % range);
  let state = ((BigInt(seed) << 32n) | BigInt(row)) & MASK;
  const out: number[] = [];
  while (out.length < count) {
    state = (state + GOLDEN) & MASK;
    const z = mix(state);
    if (z < limit) out.push(lo + Number(z % range));
  }
  return out;
}
