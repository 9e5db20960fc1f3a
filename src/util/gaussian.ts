/**
 * Seeded standard normal draws for controls (random-init weights, random projections): util/rng.ts's
 * splitmix32-seeded xoshiro128** stream, 53-bit uniforms in the open interval (0, 1), Box–Muller pairs. Named
 * streams keep unrelated draws independent (`new Gaussian(seed, 'layer.3.q')` does not shift when another tensor's
 * draw changes).
 */
import { Rng } from './rng.js';

export class Gaussian {
  private readonly rng: Rng;
  private spare: number | undefined;

  constructor(seed: number, stream = '') {
    this.rng = new Rng(seed, stream);
  }

  /** Uniform 32-bit unsigned integer (xoshiro128**). */
  uint32(): number {
    return this.rng.nextUint32();
  }

  /** Uniform in the open interval (0, 1), 53 bits. */
  uniform(): number {
    const hi = this.uint32() >>> 5;
    const lo = this.uint32() >>> 6;
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }

  /** A standard normal draw. */
  normal(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const theta = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `out` filled with normal(mean, std) draws. */
  fill<T extends Float32Array | Float64Array>(out: T, std = 1, mean = 0): T {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }
}
