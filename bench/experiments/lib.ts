// The bench imports the library through this file so its import paths stay in one place.
export { initMlp, MlpTrainer } from '../../src/experiments/mlp.js';
export { pca } from '../../src/experiments/pca.js';
export { gatherRows as gatherRowsForBench } from '../../src/probe/rows.js';
export { Rng } from '../../src/util/rng.js';
