// The seeded PRNG moved to src/util/rng.ts so stages beside experiments (src/sae) can share it.
export { Rng } from '../util/rng.js';
