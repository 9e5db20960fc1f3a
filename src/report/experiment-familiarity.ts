/** Familiarity section (docs/method.md#familiarity). */

import { modelDisplayName } from '../util/paths.js';
import {
  byExperiment,
  datasetOrder,
  type ExperimentDoc,
  type ExpSection,
  facetSpec,
  finite,
  pointLayer,
} from './experiment-common.js';

export function familiaritySection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'familiarity');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const values = list.flatMap((doc) =>
    doc.table
      .filter((r) => finite(r['test_r2']))
      .map((r) => ({
        dataset: doc.dataset,
        analysis:
          r['analysis'] === 'bucket'
            ? 'one probe, test R² per familiarity bucket'
            : 'probe refitted on rows above the quantile',
        bucket: `${Math.round((r['quantile_low'] as number) * 100)}–${Math.round((r['quantile_high'] as number) * 100)}%`,
        from: r['quantile_low'],
        r2: r['test_r2'],
        n: r['n_test'],
        model: modelDisplayName(doc.model),
      })),
  );
  const enc = {
    // Both analyses start at the same quantile: a bucket [q, next q) and a filter (rows at or above q).
    x: {
      field: 'from',
      type: 'quantitative',
      title: 'familiarity quantile q (log P of the true answer): bucket from q, or rows ≥ q',
      axis: { format: '.0%', values: [0, 0.25, 0.5, 0.75] },
      scale: { domain: [0, 0.75], nice: false },
    },
    y: { field: 'r2', type: 'quantitative', title: 'test R²' },
    color: { field: 'analysis', type: 'nominal', title: null, legend: { orient: 'bottom', labelLimit: 400 } },
    tooltip: [
      { field: 'analysis' },
      { field: 'bucket', title: 'quantiles' },
      { field: 'r2', format: '.3f' },
      { field: 'n', title: 'test rows' },
    ],
  };
  return {
    id: 'familiarity',
    title: 'Familiarity',
    intro:
      'Entities the model knows better (higher log-probability of the true country, state or year) should be placed better.',
    tables: [],
    figures: [
      {
        slug: 'familiarity-buckets',
        title: 'Probe accuracy by familiarity',
        caption: 'Look for R² rising from the least to the most familiar bucket.',
        spec: facetSpec(values, datasets, [
          { mark: { type: 'line', strokeWidth: 1.5 }, encoding: { ...enc, tooltip: undefined } },
          pointLayer(enc, { size: 60 }),
        ]),
        marks: values.length,
      },
    ],
  };
}
