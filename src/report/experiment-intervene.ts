/** Interventions section (docs/method.md#interventions). */

import { modelDisplayName } from '../util/paths.js';
import {
  byExperiment,
  type ExperimentDoc,
  type ExpFigure,
  type ExpSection,
  finite,
  lineLayer,
  pointLayer,
} from './experiment-common.js';
import { BASE_CONFIG, SCHEMA } from './specs.js';

export function interveneSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'intervene');
  if (!list.length) return undefined;
  const figures: ExpFigure[] = [];
  for (const doc of list) {
    const candidates = doc.columns?.filter((c) => c.startsWith('logp_')).map((c) => c.slice(5)) ?? [];
    const values = doc.table.flatMap((r) =>
      candidates
        .filter((c) => finite(r[`logp_${c}`]))
        .map((c) => ({
          prompt: String(r['prompt']),
          candidate: c,
          alpha: r['alpha'],
          logp: r[`logp_${c}`],
          p: r[`p_first_${c}`],
        })),
    );
    const shift = doc.table
      .filter((r) => finite(r['probe_shift']))
      .map((r) => ({
        prompt: String(r['prompt']),
        alpha: r['alpha'],
        shift: r['probe_shift'],
        completion: String(r['completion'] ?? ''),
      }));
    const target = String(doc.settings?.['target'] ?? doc.targetNames?.[0] ?? 'target');
    const prompts = [...new Set(values.map((v) => v.prompt))];
    if (values.length) {
      figures.push({
        slug: `intervene-dose-response-${doc.dataset}`,
        title: `Steering along the ${target} probe: answer log-probability against strength (${modelDisplayName(doc.model)})`,
        caption:
          'Look for the candidate answers’ log-probabilities to rise and fall monotonically as the edit pushes the probe’s reading.',
        spec: {
          $schema: SCHEMA,
          data: { values },
          facet: {
            field: 'prompt',
            type: 'nominal',
            title: null,
            sort: prompts,
            header: { labelFontSize: 12, labelLimit: 380 },
          },
          columns: Math.min(3, prompts.length),
          spec: {
            width: 300,
            height: 180,
            layer: [
              lineLayer({
                x: { field: 'alpha', type: 'quantitative', title: 'steering strength α' },
                y: { field: 'logp', type: 'quantitative', title: 'log P(answer)' },
                color: { field: 'candidate', type: 'nominal' },
              }),
              pointLayer({
                x: { field: 'alpha', type: 'quantitative' },
                y: { field: 'logp', type: 'quantitative' },
                color: { field: 'candidate', type: 'nominal' },
                tooltip: [
                  { field: 'prompt' },
                  { field: 'candidate' },
                  { field: 'alpha' },
                  { field: 'logp', format: '.3f', title: 'log P' },
                  { field: 'p', format: '.2e', title: 'P(first token)' },
                ],
              }),
            ],
          },
          config: BASE_CONFIG,
        },
        marks: values.length,
      });
    }
    if (shift.length) {
      figures.push({
        slug: `intervene-probe-shift-${doc.dataset}`,
        title: `Decoded ${target} after the edit against strength (${modelDisplayName(doc.model)})`,
        caption: `The probe’s reading moves by this much ${target} at each α (the edit’s size in target units); hover for the greedy completion.`,
        spec: {
          $schema: SCHEMA,
          data: { values: shift },
          width: 520,
          height: 200,
          layer: [
            lineLayer({
              x: { field: 'alpha', type: 'quantitative', title: 'steering strength α' },
              y: { field: 'shift', type: 'quantitative', title: `change of decoded ${target}` },
              color: { field: 'prompt', type: 'nominal', legend: { labelLimit: 320 } },
            }),
            pointLayer({
              x: { field: 'alpha', type: 'quantitative' },
              y: { field: 'shift', type: 'quantitative' },
              color: { field: 'prompt', type: 'nominal' },
              tooltip: [
                { field: 'prompt' },
                { field: 'alpha' },
                { field: 'shift', format: '.2f' },
                { field: 'completion' },
              ],
            }),
          ],
          config: BASE_CONFIG,
        },
        marks: shift.length,
      });
    }
  }
  return {
    id: 'intervene',
    title: 'Interventions',
    intro:
      'Adding the probe direction to the residual stream tests whether the model uses the feature, not just whether it is decodable.',
    tables: [],
    figures,
  };
}
