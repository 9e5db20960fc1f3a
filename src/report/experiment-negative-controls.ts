/** Negative-control targets beside the real ones, by layer (docs/experiments.md#negative-controls). */
import { modelDisplayName } from '../util/paths.js';
import {
  type DepthOf,
  datasetOrder,
  datasetTitle,
  depthR2Encoding,
  type ExperimentDoc,
  type ExpSection,
  finite,
  htmlTable,
  lineLayer,
  maxLayer,
  pointLayer,
} from './experiment-common.js';
import { facet, num, ofExperiment } from './followup-common.js';

export function negativeControlsSection(docs: ExperimentDoc[], depthOf: DepthOf): ExpSection | undefined {
  const list = ofExperiment(docs, 'negative-controls');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset)).map(datasetTitle);
  const multi = new Set(list.map((d) => d.model)).size > 1;
  const values = list.flatMap((doc) => {
    const last = maxLayer(doc.table);
    return doc.table
      .filter((r) => finite(r['test_r2']) && finite(r['layer']))
      .map((r) => ({
        dataset: datasetTitle(doc.dataset),
        series: `${multi ? `${modelDisplayName(doc.model)} · ` : ''}${r['target']}`,
        kind:
          r['kind'] === 'real'
            ? 'real targets'
            : r['kind'] === 'permuted'
              ? 'permuted targets'
              : 'random smooth fields',
        depth: (r['layer'] as number) / depthOf(doc.model, last),
        layer: r['layer'],
        r2: r['test_r2'],
      }));
  });
  const enc = {
    ...depthR2Encoding('series'),
    color: {
      field: 'kind',
      type: 'nominal',
      title: null,
      scale: {
        domain: ['real targets', 'random smooth fields', 'permuted targets'],
        range: ['#1f77b4', '#9aa3ad', '#e45756'],
      },
    },
    detail: { field: 'series' },
  };
  const table = htmlTable(
    ['model · dataset', 'best real R²', 'best permuted R²', 'best field R²'],
    list.map((doc) => ({
      cells: [
        `${modelDisplayName(doc.model)} · ${datasetTitle(doc.dataset)}`,
        num(doc.summary?.['max_real_test_r2']),
        num(doc.summary?.['max_permuted_test_r2']),
        num(doc.summary?.['max_field_test_r2']),
      ],
    })),
    'Negative-control targets through the same probe (test R², best layer)',
  );
  return {
    id: 'negative-controls',
    title: 'Negative-control targets',
    intro:
      'The same probe on attributes the model has no reason to encode linearly: the real targets permuted among entities, and random smooth fields of position (or date) with every linear function of the true position removed.',
    tables: [table],
    figures: [
      {
        slug: 'negative-controls-by-layer',
        title: 'Real targets beside permuted targets and random smooth fields: test R² by layer',
        caption:
          "Look for a wide gap between the blue line and every control: permuted targets (red) sit at or below 0, and the grey fields show how much of an arbitrary smooth function of place or date a probe picks up. A real target's R² means something only above the grey lines.",
        spec: facet(values, datasets, [lineLayer(enc), pointLayer(enc, { size: 25 })]),
        marks: values.length,
      },
    ],
  };
}
