/** Space and time neurons section (docs/method.md#neurons). */

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
  pointLayer,
} from './experiment-common.js';
import { BASE_CONFIG, SCHEMA } from './specs.js';

interface NeuronActivations {
  target: string;
  layer: number;
  neuron: number;
  r2: number;
  spearman: number;
  values: number[];
}

const MAX_NEURON_POINTS = 4000;

export function neuronsSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'neurons');
  if (!list.length) return undefined;
  const figures: ExpFigure[] = [];
  const tables: string[] = [];
  for (const doc of list) {
    const acts = (doc.figures?.['neuronActivations'] as NeuronActivations[] | undefined) ?? [];
    const targets = (doc.figures?.['targets'] as Record<string, number[]> | undefined) ?? {};
    const types = doc.figures?.['entityTypes'] as string[] | undefined;
    const names = (doc.figures?.['names'] as string[] | undefined) ?? [];
    const offset = doc.kind === 'time' && /^(art|headline)/.test(doc.dataset) ? 1970 : 0;
    const top = pickNeurons(acts);
    const values: object[] = [];
    for (const a of top) {
      const truth = targets[a.target] ?? [];
      const stride = Math.max(1, Math.ceil(a.values.length / MAX_NEURON_POINTS));
      const panelTitle = `${a.target} · L${a.layer} N${a.neuron} · ρ ${fmt(a.spearman, 2)}`;
      for (let i = 0; i < a.values.length; i += stride) {
        if (!finite(a.values[i]) || !finite(truth[i])) continue;
        values.push({
          panel: panelTitle,
          activation: a.values[i],
          truth: truth[i]! + (a.target === 'year' ? offset : 0),
          type: types?.[i] ?? doc.dataset,
          name: names[i] ?? '',
        });
      }
    }
    if (values.length) {
      const panels = [...new Set(values.map((v) => (v as { panel: string }).panel))];
      figures.push({
        slug: `neurons-${doc.dataset}`,
        title: `Top single neurons: ${datasetTitle(doc.dataset)} (${modelDisplayName(doc.model)})`,
        caption:
          'Each panel: one MLP neuron’s activation against the true coordinate or year, coloured by entity type; a monotone cloud means the neuron alone tracks the variable.',
        spec: {
          $schema: SCHEMA,
          data: { values },
          facet: {
            field: 'panel',
            type: 'nominal',
            title: null,
            sort: panels,
            header: { labelFontSize: 11, labelLimit: 300 },
          },
          columns: Math.min(4, panels.length),
          spec: {
            width: 200,
            height: 150,
            layer: [
              pointLayer(
                {
                  x: {
                    field: 'truth',
                    type: 'quantitative',
                    title: doc.kind === 'time' ? 'true year' : 'true coordinate (degrees)',
                    scale: { zero: false },
                  },
                  y: {
                    field: 'activation',
                    type: 'quantitative',
                    title: 'activation',
                    scale: { zero: false },
                  },
                  color: { field: 'type', type: 'nominal', title: 'entity type' },
                  tooltip: [
                    { field: 'name' },
                    { field: 'type' },
                    { field: 'truth', format: '.2f' },
                    { field: 'activation', format: '.3f' },
                  ],
                },
                { size: 9, opacity: 0.6, type: 'circle' },
              ),
            ],
          },
          resolve: { scale: { x: 'independent', y: 'independent' } },
          config: BASE_CONFIG,
        },
        marks: values.length,
      });
    }
    tables.push(neuronTables(doc));
  }
  return {
    id: 'neurons',
    title: 'Space and time neurons',
    intro:
      'Individual MLP neurons whose input or output weights align with the probe, or whose activation correlates with the coordinate or year.',
    tables,
    figures,
  };
}

/** The best neuron per target plus the next best overall, at most 8. */
function pickNeurons(acts: NeuronActivations[]): NeuronActivations[] {
  const byTarget = new Map<string, NeuronActivations[]>();
  for (const a of acts) byTarget.set(a.target, [...(byTarget.get(a.target) ?? []), a]);
  const chosen: NeuronActivations[] = [];
  for (let k = 0; chosen.length < 8 && k < 4; k++)
    for (const list of byTarget.values()) if (list[k] && chosen.length < 8) chosen.push(list[k]!);
  return chosen;
}

/** The two searches side by side: correlation (the code's) and probe-cosine (the text's). */
function neuronTables(doc: ExperimentDoc): string {
  const corr = doc.columns?.includes('corr') ? doc.table : undefined;
  const cos = doc.tables?.['probe_cosine']?.rows ?? (doc.columns?.includes('cos') ? doc.table : undefined);
  const parts: string[] = [];
  if (corr?.length) {
    const top = [...corr].sort((a, b) => (b['abs_corr'] as number) - (a['abs_corr'] as number)).slice(0, 10);
    parts.push(
      htmlTable(
        ['feature', 'weight', 'layer', 'neuron', 'Spearman ρ'],
        top.map((r) => ({
          cells: [
            String(r['feature']),
            String(r['weight']),
            `${r['layer']}`,
            `${r['neuron']}`,
            r['corr'] as number,
          ],
        })),
        `Correlation search (the authors' code): top |ρ|, ${datasetTitle(doc.dataset)}`,
      ),
    );
  }
  if (cos?.length) {
    const top = [...cos].sort((a, b) => (b['abs_cos'] as number) - (a['abs_cos'] as number)).slice(0, 10);
    parts.push(
      htmlTable(
        ['target', 'weight', 'layer', 'neuron', 'cos', 'alone ρ', 'alone R²'],
        top.map((r) => ({
          cells: [
            String(r['target']),
            String(r['weight']),
            `${r['layer']}`,
            `${r['neuron']}`,
            r['cos'] as number,
            r['spearman'] as number,
            r['r2'] as number,
          ],
        })),
        `Probe-cosine search (the paper's text): top |cos|, ${datasetTitle(doc.dataset)}`,
      ),
    );
  }
  return `<div class="side">${parts.join('')}</div>`;
}
