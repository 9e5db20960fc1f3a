// Public surface of the pipeline stage: the one-command paths (`run`: extract + probe + report; `paper`: the
// paper's grid for one model) that sit above every other stage and own caching and resume.
export {
  ALL_EXPERIMENTS,
  type PaperConfig,
  type PaperExperiment,
  type PaperOptions,
  type PaperResult,
  type PaperStep,
  readPaperConfig,
  runPaper,
} from './paper.js';
export { modelSlug, type RunPipelineOptions, type RunResult, runPipeline } from './run.js';
