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
import { BASE_CONFIG, SCHEMA, type VlSpec } from './specs.js';

/** Candidate names: settings.candidates, else the logp_<c> columns that are not band columns. */
function candidatesOf(doc: ExperimentDoc): string[] {
  const listed = doc.settings?.['candidates'];
  if (Array.isArray(listed)) return listed.map(String);
  return (doc.columns ?? [])
    .filter((c) => c.startsWith('logp_') && !/_random_(min|mean|max)$/.test(c))
    .map((c) => c.slice(5));
}

/** The random-direction band (lo..hi) behind a curve, one shade per colour. */
function bandLayer(colorField: string): VlSpec {
  return {
    mark: { type: 'area', opacity: 0.18 },
    encoding: {
      x: { field: 'alpha', type: 'quantitative' },
      y: { field: 'lo', type: 'quantitative' },
      y2: { field: 'hi' },
      color: { field: colorField, type: 'nominal' },
    },
  };
}

function dashedMean(colorField: string): VlSpec {
  return {
    mark: { type: 'line', strokeDash: [4, 3], strokeWidth: 1, opacity: 0.7 },
    encoding: {
      x: { field: 'alpha', type: 'quantitative' },
      y: { field: 'mid', type: 'quantitative' },
      color: { field: colorField, type: 'nominal' },
    },
  };
}

export function interveneSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'intervene');
  if (!list.length) return undefined;
  const figures: ExpFigure[] = [];
  for (const doc of list) {
    const candidates = candidatesOf(doc);
    const nRandom = Number(doc.settings?.['randomDirections'] ?? 0);
    const values = doc.table.flatMap((r) =>
      candidates
        .filter((c) => finite(r[`logp_${c}`]))
        .map((c) => ({
          prompt: String(r['prompt']),
          candidate: c,
          alpha: r['alpha'],
          logp: r[`logp_${c}`],
          p: r[`p_first_${c}`],
          lo: finite(r[`logp_${c}_random_min`]) ? r[`logp_${c}_random_min`] : null,
          hi: finite(r[`logp_${c}_random_max`]) ? r[`logp_${c}_random_max`] : null,
          mid: finite(r[`logp_${c}_random_mean`]) ? r[`logp_${c}_random_mean`] : null,
        })),
    );
    const banded = values.some((v) => v.lo !== null);
    const shift = doc.table
      .filter((r) => finite(r['probe_shift']))
      .map((r) => ({
        prompt: String(r['prompt']),
        alpha: r['alpha'],
        shift: r['probe_shift'],
        lo: finite(r['probe_shift_random_min']) ? r['probe_shift_random_min'] : null,
        hi: finite(r['probe_shift_random_max']) ? r['probe_shift_random_max'] : null,
        mid:
          finite(r['probe_shift_random_min']) && finite(r['probe_shift_random_max'])
            ? ((r['probe_shift_random_min'] as number) + (r['probe_shift_random_max'] as number)) / 2
            : null,
        completion: String(r['completion'] ?? ''),
      }));
    const target = String(doc.settings?.['target'] ?? doc.targetNames?.[0] ?? 'target');
    const prompts = [...new Set(values.map((v) => v.prompt))];
    if (values.length) {
      figures.push({
        slug: `intervene-dose-response-${doc.dataset}`,
        title: `Steering along the ${target} probe: answer log-probability against strength (${modelDisplayName(doc.model)})`,
        caption: banded
          ? `Lines: the probe direction; shaded band: the min–max of the same α along ${nRandom} random directions of equal norm with the probe direction removed. Look for the lines to leave their band: an answer that moves no more than under random edits of the same size is not evidence that the model reads the probe’s direction.`
          : 'Look for the candidate answers’ log-probabilities to rise and fall monotonically as the edit pushes the probe’s reading (no random-direction control in this result: rerun with --random-directions).',
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
              ...(banded ? [bandLayer('candidate'), dashedMean('candidate')] : []),
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
                  ...(banded
                    ? [
                        { field: 'lo', format: '.3f', title: 'random min' },
                        { field: 'hi', format: '.3f', title: 'random max' },
                      ]
                    : []),
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
        caption: `The probe’s reading of ${target}, re-read from the edited residual stream, minus its unedited reading at each α (hover for the greedy completion).${shift.some((v) => v.lo !== null) ? ' Dashed, with its shaded min–max: the same re-reading along the random directions of equal norm, which the probe should not see (a line at 0).' : ''}`,
        spec: {
          $schema: SCHEMA,
          data: { values: shift },
          width: 520,
          height: 200,
          layer: [
            ...(shift.some((v) => v.lo !== null) ? [bandLayer('prompt'), dashedMean('prompt')] : []),
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
                ...(shift.some((v) => v.lo !== null)
                  ? [
                      { field: 'lo', format: '.3g', title: 'random min' },
                      { field: 'hi', format: '.3g', title: 'random max' },
                    ]
                  : []),
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
