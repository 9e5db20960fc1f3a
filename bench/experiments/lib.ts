// The bench imports the library through this file so its import paths stay in one place.
export { gatherRows as gatherRowsForBench, initMlp, MlpTrainer } from '../../src/experiments/mlp.js';
export { pca } from '../../src/experiments/pca.js';
export { Rng } from '../../src/experiments/rng.js';
