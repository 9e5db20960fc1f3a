/** PCA-k section (docs/method.md#pca). */

import { modelDisplayName } from '../util/paths.js';
import {
  byExperiment,
  datasetOrder,
  type ExperimentDoc,
  type ExpSection,
  facetSpec,
  finite,
  lineLayer,
  pointLayer,
} from './experiment-common.js';

export function pcaSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'pca');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const multiModel = new Set(list.map((d) => d.model)).size > 1;
  const series = (doc: ExperimentDoc, m: 'r2' | 'spearman') =>
    `${multiModel ? `${modelDisplayName(doc.model)} · ` : ''}test ${m === 'r2' ? 'R²' : 'Spearman'}`;
  const values = list.flatMap((doc) =>
    doc.table
      .filter((r) => r['features'] !== 'raw' && finite(r['k']))
      .flatMap((r) =>
        (['r2', 'spearman'] as const)
          .filter((m) => finite(r[`test_${m}`]))
          .map((m) => ({
            dataset: doc.dataset,
            series: series(doc, m),
            k: r['k'],
            value: r[`test_${m}`],
          })),
      ),
  );
  const raw = list.flatMap((doc) =>
    doc.table
      .filter((r) => r['features'] === 'raw')
      .flatMap((r) =>
        (['r2', 'spearman'] as const)
          .filter((m) => finite(r[`test_${m}`]))
          .map((m) => ({
            dataset: doc.dataset,
            series: series(doc, m),
            value: r[`test_${m}`],
          })),
      ),
  );
  const color = { field: 'series', type: 'nominal', title: null };
  const enc = {
    x: { field: 'k', type: 'quantitative', title: 'principal components k', scale: { type: 'log' } },
    y: { field: 'value', type: 'quantitative', title: 'test score' },
    color,
    tooltip: [{ field: 'series' }, { field: 'k' }, { field: 'value', format: '.3f' }],
  };
  // Facet children can't take their own data with a filter on the facet field, so raw lines are joined in:
  const merged = [...values, ...raw.map((r) => ({ ...r, k: null, raw: true }))];
  return {
    id: 'pca',
    title: 'PCA-k probes',
    intro:
      'Probes on the top k principal components: the order of places and dates (Spearman) is recovered with few components.',
    tables: [],
    figures: [
      {
        slug: 'pca-k',
        title: 'Test R² and Spearman against k',
        caption:
          'Look for Spearman saturating at small k while R² keeps climbing; dashed lines: the probe on all d dimensions.',
        spec: facetSpec(merged, datasets, [
          { transform: [{ filter: 'datum.raw !== true' }], ...lineLayer(enc) },
          { transform: [{ filter: 'datum.raw !== true' }], ...pointLayer(enc, { size: 30 }) },
          {
            transform: [{ filter: 'datum.raw === true' }],
            mark: { type: 'rule', strokeDash: [4, 3], opacity: 0.8 },
            encoding: { y: { field: 'value', type: 'quantitative' }, color },
          },
        ]),
        marks: values.length,
      },
    ],
  };
}
