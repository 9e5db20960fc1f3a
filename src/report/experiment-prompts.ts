/** Prompt experiments section: prompt sensitivity and transfer (docs/method.md#prompt-experiments). */

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
} from './experiment-common.js';
import { PAPER_DATASETS, PAPER_TRANSFER } from './paper-reference.js';

export function promptsSection(docs: ExperimentDoc[], depthOf: DepthOf): ExpSection | undefined {
  const list = byExperiment(docs, 'prompts');
  if (!list.length) return undefined;
  const datasets = datasetOrder(list.map((d) => d.dataset));
  const multiModel = new Set(list.map((d) => d.model)).size > 1;
  const values = list.flatMap((doc) =>
    doc.table
      .filter((r) => finite(r['test_r2']))
      .map((r) => ({
        dataset: doc.dataset,
        series: multiModel ? `${modelDisplayName(doc.model)} · ${r['prompt']}` : String(r['prompt']),
        layer: r['layer'],
        depth: (r['layer'] as number) / depthOf(doc.model, maxLayer(doc.table)),
        r2: r['test_r2'],
      })),
  );
  const enc = depthR2Encoding(multiModel ? 'model · prompt' : 'prompt');
  const head = [
    'model',
    ...datasets.flatMap((d) => [`${datasetTitle(d)} same`, `${datasetTitle(d)} different`]),
  ];
  const tables: string[] = [];
  for (const metric of ['spearman', 'r2'] as const) {
    const rows: { cells: (string | number | null)[]; reference?: boolean }[] = [];
    for (const model of new Set(list.map((d) => d.model))) {
      rows.push({
        cells: [
          modelDisplayName(model),
          ...datasets.flatMap((ds) => {
            const s = list.find((d) => d.model === model && d.dataset === ds)?.summary ?? {};
            const same = s[`same_test_${metric}`];
            const diff = s[`different_test_${metric}`];
            return [finite(same) ? same : null, finite(diff) ? diff : null];
          }),
        ],
      });
    }
    if (datasets.some((d) => PAPER_DATASETS.includes(d))) {
      for (const ref of PAPER_TRANSFER) {
        rows.push({
          cells: [
            `paper, ${ref.model}, layer ${ref.layer}`,
            ...datasets.flatMap((d) => ref[metric][d] ?? [null, null]),
          ],
          reference: true,
        });
      }
    }
    tables.push(
      htmlTable(
        head,
        rows,
        `Prompt transfer, test ${metric === 'r2' ? 'R²' : 'Spearman'}: probe trained on the same prompt vs a different one (mean)`,
      ),
    );
  }
  return {
    id: 'prompts',
    title: 'Prompts',
    intro: 'The representation should not depend much on the words around the entity.',
    tables,
    figures: [
      {
        slug: 'prompts-r2-by-layer',
        title: 'Prompt sensitivity: test R² by layer, one line per prompt',
        caption:
          'Look for the prompts to converge in the middle layers; the empty and random prompts lag at first.',
        spec: facetSpec(values, datasets, [lineLayer(enc), pointLayer(enc, { size: 25 })]),
        marks: values.length,
      },
    ],
  };
}
