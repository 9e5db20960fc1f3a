/**
 * Which experts places (or dated entities) route to: the `experts` result of a mixture-of-experts model
 * (src/neurons/experts.ts). One figure per target, one heat-map panel per layer: rows are equal-count bins of the
 * target (west to east, south to north, early to late), columns the experts, colour the share of the bin's entities
 * whose most probable expert it is; plus the experts whose router probability tracks each target best (Spearman ρ).
 */

import { modelDisplayName } from '../util/paths.js';
import {
  byExperiment,
  datasetTitle,
  type ExperimentDoc,
  type ExpFigure,
  type ExpSection,
  finite,
  fmt,
  htmlTable,
  MAIN,
} from './experiment-common.js';
import { BASE_CONFIG, SCHEMA } from './specs.js';

interface ExpertFigures {
  experts: number;
  layers: number[];
  bins: Record<string, [number, number][]>;
  top1Shares: Record<string, number[][][]>;
}

const unit = (target: string) => (target === 'year' ? '' : '°');

/** "−120° to −80°": a bin's range of the target. */
function binLabel(target: string, [lo, hi]: [number, number]): string {
  const f = (v: number) =>
    `${v < 0 ? '−' : ''}${Math.abs(v).toFixed(target === 'year' ? 0 : 1)}${unit(target)}`;
  return `${f(lo)} to ${f(hi)}`;
}

export function expertsSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'experts');
  if (!list.length) return undefined;
  const figures: ExpFigure[] = [];
  const tables: string[] = [];
  for (const doc of list) {
    const f = doc.figures as ExpertFigures | undefined;
    if (!f?.top1Shares) continue;
    for (const [target, byLayer] of Object.entries(f.top1Shares)) {
      const labels = (f.bins[target] ?? []).map((r) => binLabel(target, r));
      const values: object[] = [];
      byLayer.forEach((bins, li) => {
        bins.forEach((row, b) => {
          row.forEach((share, expert) => {
            values.push({ layer: `layer ${f.layers[li]}`, bin: labels[b] ?? `${b}`, expert, share });
          });
        });
      });
      const columns = Math.min(4, f.layers.length);
      figures.push({
        slug: `experts-${doc.dataset}-${target}`,
        title: `Which experts ${doc.kind === 'time' ? 'entities' : 'places'} route to, by ${target}: ${datasetTitle(doc.dataset)} (${modelDisplayName(doc.model)})`,
        caption:
          `One panel per layer: rows are equal-count bins of the true ${target}, columns the experts; colour = share ` +
          'of the bin whose most probable expert (top-1 of the router softmax) it is. A column that lights up in ' +
          `some rows only is an expert that specialises by ${target}.`,
        spec: {
          $schema: SCHEMA,
          data: { values },
          facet: {
            field: 'layer',
            type: 'nominal',
            title: null,
            sort: f.layers.map((l) => `layer ${l}`),
            header: { labelFontSize: 12, labelFontWeight: 'bold' },
          },
          columns,
          spec: {
            // Each panel carries its own bin labels (~120 px): the row of panels stays inside the 1,240 px page.
            width: Math.max(100, Math.floor((1080 - 130 * columns) / columns)),
            height: 16 * labels.length,
            layer: [
              {
                name: MAIN,
                mark: { type: 'rect' },
                encoding: {
                  x: {
                    field: 'expert',
                    type: 'ordinal',
                    title: 'expert',
                    axis: { labelAngle: 0, labelOverlap: true },
                  },
                  y: { field: 'bin', type: 'ordinal', title: target, sort: labels },
                  color: {
                    field: 'share',
                    type: 'quantitative',
                    title: 'top-1 share',
                    // From 0 to the largest share, so 128-expert models are not all dark.
                    scale: {
                      scheme: 'viridis',
                      domain: [0, Math.max(1e-9, ...values.map((v) => (v as { share: number }).share))],
                    },
                  },
                  tooltip: [
                    { field: 'layer' },
                    { field: 'bin', title: target },
                    { field: 'expert' },
                    { field: 'share', format: '.2f', title: 'top-1 share' },
                  ],
                },
              },
            ],
          },
          resolve: { axis: { y: 'independent' } },
          config: { ...BASE_CONFIG, legend: { ...BASE_CONFIG.legend, orient: 'bottom' } },
        },
        marks: values.length,
      });
    }
    tables.push(expertsTable(doc));
  }
  return {
    id: 'experts',
    title: 'Mixture-of-experts routing',
    intro:
      'For mixture-of-experts models: the router’s probabilities over experts at each entity’s last token, layer by layer, and whether some experts take the places of one region or the entities of one period.',
    tables,
    figures,
  };
}

/** Per target, the experts whose router probability correlates most with it. */
function expertsTable(doc: ExperimentDoc): string {
  const targets = doc.targetNames ?? [];
  const rows = targets.flatMap((t) =>
    [...doc.table]
      .filter((r) => finite(r[`spearman_${t}`]))
      .sort((a, b) => Math.abs(b[`spearman_${t}`] as number) - Math.abs(a[`spearman_${t}`] as number))
      .slice(0, 5)
      .map((r) => ({
        cells: [
          t,
          `${r['layer']}`,
          `${r['expert']}`,
          r[`spearman_${t}`] as number,
          r['mean_weight'] as number,
          r['top1_share'] as number,
        ],
      })),
  );
  return htmlTable(
    ['target', 'layer', 'expert', 'Spearman ρ', 'mean probability', 'top-1 share'],
    rows,
    `Experts whose routing tracks the target: ${datasetTitle(doc.dataset)} (${fmt(doc.table.length, 0)} layer × expert rows)`,
  );
}
