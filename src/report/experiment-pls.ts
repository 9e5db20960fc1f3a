/** PLS-k probes beside PCA-k and the ridge (docs/experiments.md#pls). */
import { modelDisplayName } from '../util/paths.js';
import {
  datasetOrder,
  datasetTitle,
  type ExperimentDoc,
  type ExpSection,
  finite,
  htmlTable,
  lineLayer,
  pointLayer,
} from './experiment-common.js';
import { facet, num, ofExperiment } from './followup-common.js';

export function plsSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = ofExperiment(docs, 'pls');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset)).map(datasetTitle);
  const multi = new Set(list.map((d) => d.model)).size > 1;
  const prefix = (doc: ExperimentDoc) => (multi ? `${modelDisplayName(doc.model)} · ` : '');
  const curves = list.flatMap((doc) =>
    doc.table
      .filter((r) => (r['method'] === 'pls' || r['method'] === 'pca') && finite(r['test_r2']))
      .map((r) => ({
        dataset: datasetTitle(doc.dataset),
        series: `${prefix(doc)}${r['method'] === 'pls' ? 'PLS' : 'PCA'}-k`,
        k: r['k'],
        r2: r['test_r2'],
      })),
  );
  const ridge = list.flatMap((doc) =>
    doc.table
      .filter((r) => r['method'] === 'ridge' && finite(r['test_r2']))
      .map((r) => ({
        dataset: datasetTitle(doc.dataset),
        series: `${prefix(doc)}ridge, all d`,
        r2: r['test_r2'],
        ridge: true,
      })),
  );
  const color = { field: 'series', type: 'nominal', title: null };
  const enc = {
    x: {
      field: 'k',
      type: 'quantitative',
      title: 'components k',
      scale: { type: 'log', domain: [1, Math.max(2, ...curves.map((c) => c.k as number))], nice: false },
      axis: {
        values: [1, 2, 4, 8, 16, 32, 64, 128].filter(
          (v) => v <= Math.max(...curves.map((c) => c.k as number)),
        ),
      },
    },
    y: { field: 'r2', type: 'quantitative', title: 'test R²' },
    color,
    tooltip: [{ field: 'series' }, { field: 'k' }, { field: 'r2', format: '.3f', title: 'test R²' }],
  };
  const notRidge = { filter: 'datum.ridge !== true' };
  const table = htmlTable(
    ['model · dataset · layer', 'ridge R²', 'best PLS R²', 'at k', 'k for 90% of ridge', 'k for 95%'],
    list.map((doc) => ({
      cells: [
        `${modelDisplayName(doc.model)} · ${datasetTitle(doc.dataset)} · ${doc.layer}`,
        num(doc.summary?.['ridge_test_r2']),
        num(doc.summary?.['best_pls_test_r2']),
        finite(doc.summary?.['best_pls_k']) ? String(doc.summary!['best_pls_k']) : '–',
        finite(doc.summary?.['pls_k_for_90pct_ridge']) ? String(doc.summary!['pls_k_for_90pct_ridge']) : '–',
        finite(doc.summary?.['pls_k_for_95pct_ridge']) ? String(doc.summary!['pls_k_for_95pct_ridge']) : '–',
      ],
    })),
    'PLS components needed to reach the full ridge probe (test R²)',
  );
  return {
    id: 'pls',
    title: 'PLS probes (Heinzerling & Inui 2024)',
    intro:
      'Partial least squares picks, one at a time, the directions of the activations that covary most with the target. If a handful of them reach the full ridge probe, the attribute lives in a low-dimensional subspace.',
    tables: [table],
    figures: [
      {
        slug: 'pls-k',
        title: 'Test R² against the number of components: PLS-k, PCA-k and the ridge',
        caption:
          'Look for the PLS curve meeting the dashed ridge line within a few components while PCA-k is still far below it: the target is carried by a few directions that are not the directions of largest variance.',
        spec: facet(
          [...curves, ...ridge],
          datasets,
          [
            { transform: [notRidge], ...lineLayer(enc) },
            { transform: [notRidge], ...pointLayer(enc, { size: 30 }) },
            {
              transform: [{ filter: 'datum.ridge === true' }],
              mark: { type: 'rule', strokeDash: [5, 3], strokeWidth: 1.5 },
              encoding: { y: { field: 'r2', type: 'quantitative' }, color },
            },
          ],
          true,
        ),
        marks: curves.length,
      },
    ],
  };
}
