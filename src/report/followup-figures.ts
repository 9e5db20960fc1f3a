/**
 * Report sections of the follow-up methods (docs/experiments.md#follow-ups, docs/method.md#target-variants), one
 * file each: the globe / log-time probes beside the plain ones, PLS-k, negative controls, fame and region bias, and
 * spatial autocorrelation.
 */
import { biasSection } from './experiment-bias.js';
import type { DepthOf, ExperimentDoc, ExpSection } from './experiment-common.js';
import { negativeControlsSection } from './experiment-negative-controls.js';
import { plsSection } from './experiment-pls.js';
import { spatialSection } from './experiment-spatial.js';
import { targetVariantsSection } from './experiment-target-variants.js';
import type { GeoJsonCollection, ReportRun } from './types.js';

export { targetVariantSuffix } from './experiment-target-variants.js';

export const FOLLOWUP_EXPERIMENTS = new Set(['pls', 'spatial', 'bias', 'negative-controls']);

/** The follow-up sections present in these inputs, in reading order. */
export function followupSections(
  docs: ExperimentDoc[],
  runs: ReportRun[],
  depthOf: DepthOf,
  nycOutlines?: GeoJsonCollection,
): ExpSection[] {
  return [
    targetVariantsSection(runs),
    plsSection(docs),
    negativeControlsSection(docs, depthOf),
    biasSection(docs, nycOutlines),
    spatialSection(docs, nycOutlines),
  ].filter((s): s is ExpSection => s !== undefined);
}
