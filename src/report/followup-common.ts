/** Helpers shared by the follow-up sections (experiment-pls, -spatial, -bias, -negative-controls, -target-variants). */
import {
  byExperiment,
  type Cell,
  datasetOrder,
  type ExperimentDoc,
  facetSpec,
  finite,
} from './experiment-common.js';
import type { VlSpec } from './specs.js';
import type { MapKind } from './types.js';

/** The docs of one experiment, in the paper's dataset order. */
export function ofExperiment(docs: ExperimentDoc[], name: string): ExperimentDoc[] {
  const order = datasetOrder(docs.map((d) => d.dataset));
  return byExperiment(docs, name).sort((a, b) => order.indexOf(a.dataset) - order.indexOf(b.dataset));
}

/** One panel per dataset (facetSpec), every axis independent; `independentY` also gives each panel its own y scale. */
export function facet(values: unknown[], panels: string[], layers: VlSpec[], independentY = false): VlSpec {
  return facetSpec(values, panels, layers, {
    resolve: {
      axis: { x: 'independent', y: 'independent' },
      ...(independentY && { scale: { y: 'independent' } }),
    },
  });
}

/** A finite number for htmlTable, else null (shown as –). */
export const num = (v: Cell | undefined) => (finite(v) ? v : null);

export const mapKindOf = (dataset: string): MapKind =>
  dataset.startsWith('us') ? 'us' : dataset.startsWith('nyc') ? 'nyc' : 'world';
