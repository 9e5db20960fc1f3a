/**
 * Dedicated figures and tables for the result files of `experiment`, `neurons`, `experts`, `intervene` and `familiarity`
 * (schema `spacetime-lens/experiment@1`), drawn the way the paper draws them (docs/method.md#mlp, #pca,
 * #block-holdout, #entity-holdout, #prompt-experiments, #neurons, #interventions, #familiarity). Results of the same
 * experiment for several datasets and models share one figure: one panel per dataset, one colour per model.
 */

import { ablateSection, patchSection } from './experiment-causal.js';
import type { DepthOf, ExperimentDoc, ExpSection } from './experiment-common.js';
import { expertsSection } from './experiment-experts.js';
import { familiaritySection } from './experiment-familiarity.js';
import { holdoutSection } from './experiment-holdout.js';
import { interveneSection } from './experiment-intervene.js';
import { mlpSection } from './experiment-mlp.js';
import { neuronsSection } from './experiment-neurons.js';
import { pcaSection } from './experiment-pca.js';
import { promptsSection } from './experiment-prompts.js';
import type { GeoJsonCollection } from './types.js';

export {
  type DepthOf,
  EXPERIMENT_SCHEMA,
  type ExperimentDoc,
  type ExpFigure,
  type ExpSection,
  htmlTable,
  isExperimentDoc,
} from './experiment-common.js';
export { paperPromptMatches } from './paper-reference.js';

/** Every dedicated section for the given experiment documents, in the paper's order. */
export function experimentSections(
  docs: ExperimentDoc[],
  depthOf: DepthOf,
  nycOutlines?: GeoJsonCollection,
): ExpSection[] {
  return [
    mlpSection(docs, depthOf),
    promptsSection(docs, depthOf),
    holdoutSection(docs, 'block', nycOutlines),
    holdoutSection(docs, 'entity'),
    pcaSection(docs),
    neuronsSection(docs),
    expertsSection(docs),
    interveneSection(docs),
    patchSection(docs),
    ablateSection(docs),
    familiaritySection(docs),
  ].filter((s): s is ExpSection => s !== undefined);
}

/** Known experiment names (others fall back to the raw-results appendix only). */
export const KNOWN_EXPERIMENTS = new Set([
  'mlp',
  'prompts',
  'block-holdout',
  'entity-holdout',
  'pca',
  'neurons',
  'experts',
  'intervene',
  'patch',
  'ablate',
  'familiarity',
]);
