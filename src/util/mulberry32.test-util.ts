/**
 * mulberry32: a tiny, fast seeded 32-bit generator for test data and benchmarks only (random test checkpoints,
 * synthetic report runs). The library draws from util/rng.ts.
 */

/** Uniform doubles x/2³² in [0, 1), x a 32-bit mulberry32 output. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
