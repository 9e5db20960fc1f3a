/**
 * spacetime-lens public API. Each stage exposes a small surface from its folder's index.ts;
 * this file re-exports them so users can `import { ... } from 'spacetime-lens'`.
 */

export { main as runCli } from './cli/main.js';
export * from './data/index.js';
export * from './experiments/index.js';
export * from './extract/index.js';
export * from './formats/index.js';
export * from './model/index.js';
export * from './native/index.js';
export * from './neurons/index.js';
export * from './pipeline/index.js';
export * from './probe/index.js';
export * from './report/index.js';
export * from './sae/index.js';
export * from './store/index.js';
export { UserError } from './util/errors.js';
export { cacheDir } from './util/paths.js';
export { VERSION } from './version.js';
