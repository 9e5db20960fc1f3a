/** Linear vs MLP probe section (docs/method.md#mlp). */

import { modelDisplayName } from '../util/paths.js';
import {
  byExperiment,
  type DepthOf,
  datasetOrder,
  datasetTitle,
  depthR2Encoding,
  type ExperimentDoc,
  type ExpSection,
  facetSpec,
  finite,
  htmlTable,
  lineLayer,
  maxLayer,
  pointLayer,
  type Row,
} from './experiment-common.js';
import { PAPER_LINEAR_MLP, paperPromptMatches } from './paper-reference.js';

export function mlpSection(docs: ExperimentDoc[], depthOf: DepthOf): ExpSection | undefined {
  const mlp = byExperiment(docs, 'mlp');
  if (!mlp.length) return undefined;
  const datasets = datasetOrder(mlp.map((d) => d.dataset));
  const models = [...new Set(mlp.map((d) => d.model))];
  const rows: { cells: (string | number | null)[]; reference?: boolean }[] = [];
  for (const model of models) {
    for (const probe of ['linear', 'mlp']) {
      const cells = datasets.map((ds) => {
        const doc = mlp.find((d) => d.model === model && d.dataset === ds);
        const r = doc
          ? atPaperLayer(
              doc.table.filter((t) => t['probe'] === probe),
              doc.layer,
            )
          : undefined;
        return finite(r?.['test_r2']) ? (r!['test_r2'] as number) : null;
      });
      rows.push({ cells: [`${modelDisplayName(model)} · ${probe === 'mlp' ? 'MLP' : 'Linear'}`, ...cells] });
    }
  }
  // The paper ran these on its canonical prompts: its rows only where a run used the same prompt.
  const matched = new Set(mlp.filter((d) => paperPromptMatches(d.dataset, d.prompt)).map((d) => d.dataset));
  if (matched.size) {
    for (const ref of PAPER_LINEAR_MLP) {
      for (const probe of ['linear', 'mlp'] as const) {
        rows.push({
          cells: [
            `paper, ${ref.model}, layer ${ref.layer} · ${probe === 'mlp' ? 'MLP' : 'Linear'}`,
            ...datasets.map((d) => (matched.has(d) ? (ref[probe][d] ?? null) : null)),
          ],
          reference: true,
        });
      }
    }
  }
  const table = htmlTable(
    ['model · probe', ...datasets.map(datasetTitle)],
    rows,
    'Test R², linear ridge vs MLP probe',
  );
  const values = mlp.flatMap((doc) =>
    doc.table
      .filter((r) => finite(r['test_r2']) && finite(r['layer']))
      .map((r) => ({
        dataset: doc.dataset,
        series: `${modelDisplayName(doc.model)} · ${r['probe'] === 'mlp' ? 'MLP' : 'linear'}`,
        layer: r['layer'],
        depth: (r['layer'] as number) / depthOf(doc.model, maxLayer(doc.table)),
        r2: r['test_r2'],
      })),
  );
  const enc = depthR2Encoding('model · probe');
  return {
    id: 'mlp',
    title: 'Linear vs MLP probe',
    intro:
      'If the representation is linear, a nonlinear MLP probe should do little better than the ridge probe.',
    tables: [table],
    figures: [
      {
        slug: 'linear-vs-mlp-by-layer',
        title: 'Linear vs MLP probe: test R² by layer',
        caption:
          'Look for the MLP line close to the linear one: a small gap means the features are linearly decodable.',
        spec: facetSpec(values, datasets, [lineLayer(enc), pointLayer(enc)]),
        marks: values.length,
      },
    ],
  };
}

function atPaperLayer(rows: Row[], layer: number | null): Row | undefined {
  if (!rows.length) return undefined;
  if (layer === null) return rows[rows.length - 1];
  return rows.find((r) => r['layer'] === layer) ?? rows[rows.length - 1];
}
