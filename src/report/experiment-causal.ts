/**
 * Directed patching and probe ablation sections (docs/neurons.md#patch, #ablate): the side-effect matrix of
 * moving an entity along each attribute's direction, its dose-response beside the random-direction band, and the
 * probe-subspace ablation beside random subspaces of the same dimension, with the result's verdict.
 */

import { modelDisplayName } from '../util/paths.js';
import {
  byExperiment,
  datasetTitle,
  type ExperimentDoc,
  type ExpFigure,
  type ExpSection,
  finite,
  htmlTable,
  MAIN,
  type Row,
} from './experiment-common.js';
import { BASE_CONFIG, SCHEMA } from './specs.js';

const num = (v: unknown) => (finite(v) ? v : null);
const label = (doc: ExperimentDoc) =>
  `${datasetTitle(doc.dataset)}, ${modelDisplayName(doc.model)}, layer ${doc.layer}`;

/** The measure's display name: Δ log P(true country) for logp_true_country, else the attribute. */
function measureLabel(m: string): string {
  const t = /^logp_true_(.+)$/.exec(m);
  return t ? `log P(true ${t[1]})` : m;
}

function matrixFigure(doc: ExperimentDoc, slug: string): ExpFigure {
  const n = Number(doc.settings?.['randomDirections'] ?? 0);
  const values = doc.table.map((r: Row) => {
    const z = num(r['z']);
    return {
      direction: String(r['direction']),
      measure: measureLabel(String(r['measure'])),
      slope: num(r['slope']),
      scaled: num(r['slope_scaled']),
      lo: num(r['random_min']),
      hi: num(r['random_max']),
      z,
      zc: z === null ? 0 : Math.max(-6, Math.min(6, z)),
      p: num(r['p']),
      text: `${finite(r['slope']) ? (r['slope'] as number).toPrecision(2) : '–'}${r['outside'] ? ' ●' : ''}`,
    };
  });
  const directions = [...new Set(values.map((v) => v.direction))];
  const measures = [...new Set(values.map((v) => v.measure))];
  return {
    slug,
    title: `Side effects of moving an entity along each probe direction (${label(doc)})`,
    caption:
      `Rows: the direction moved along; columns: what the model's own answers say (expected value over the readout's candidates, or log P of the true answer). ` +
      `Cell text: slope of the answer's change per unit of the move, pooled over entities and amounts; ● marks a slope outside the min–max of ${n} random directions of the same norm. ` +
      'Colour: (slope − random mean) / random sd, clipped at ±6. Look for the diagonal (moving latitude moves the answered latitude) to stand out and for off-diagonal cells to stay pale: a pale diagonal says the model does not read the probe direction.',
    spec: {
      $schema: SCHEMA,
      data: { values },
      width: Math.min(880, 150 * measures.length),
      height: 46 * directions.length,
      encoding: {
        x: {
          field: 'measure',
          type: 'nominal',
          sort: measures,
          title: 'answer measured',
          axis: { labelAngle: 0, labelLimit: 160 },
        },
        y: { field: 'direction', type: 'nominal', sort: directions, title: 'direction moved along' },
      },
      layer: [
        {
          name: MAIN,
          mark: { type: 'rect', stroke: '#fff', strokeWidth: 2 },
          encoding: {
            color: {
              field: 'zc',
              type: 'quantitative',
              title: 'z vs random',
              scale: { scheme: 'redblue', reverse: true, domain: [-6, 6] },
            },
            tooltip: [
              { field: 'direction' },
              { field: 'measure' },
              { field: 'slope', format: '.4g', title: 'slope' },
              { field: 'scaled', format: '.3g', title: 'slope / std of the answer' },
              { field: 'lo', format: '.4g', title: 'random min' },
              { field: 'hi', format: '.4g', title: 'random max' },
              { field: 'z', format: '.2f' },
              { field: 'p', format: '.2f', title: 'rank p' },
            ],
          },
        },
        { mark: { type: 'text', fontSize: 12 }, encoding: { text: { field: 'text' } } },
      ],
      config: BASE_CONFIG,
    },
    marks: values.length,
  };
}

function doseFigure(doc: ExperimentDoc, slug: string): ExpFigure | undefined {
  const points = (doc.figures?.['doseResponse'] ?? []) as Row[];
  const values = points
    .filter((p) => finite(p['probe']))
    .map((p) => ({
      direction: String(p['direction']),
      measure: measureLabel(String(p['measure'])),
      amount: p['amount'],
      probe: p['probe'],
      lo: num(p['randomMin']),
      hi: num(p['randomMax']),
      mid: num(p['randomMean']),
    }));
  if (!values.length) return undefined;
  const directions = [...new Set(values.map((v) => v.direction))];
  const measures = [...new Set(values.map((v) => v.measure))];
  // The unedited run is the origin of every curve (Δ = 0 exactly), drawn so the lines pass through it.
  for (const direction of directions)
    for (const measure of measures)
      if (values.some((v) => v.direction === direction && v.measure === measure))
        values.push({ direction, measure, amount: 0, probe: 0, lo: 0, hi: 0, mid: 0 });
  values.sort((a, b) => Number(a.amount) - Number(b.amount));
  const unit =
    doc.settings?.['unit'] === 'rms' ? 'per-coordinate RMS units' : 'train std of the direction’s own probe';
  const x = { field: 'amount', type: 'quantitative', title: 'amount' };
  return {
    slug,
    title: `Dose-response of the model's answers, probe direction vs random directions (${label(doc)})`,
    caption:
      `Each panel: one direction moved along (row) and one answer measured (column); amount in ${unit}. Red line: mean change of the answer over the entities along the probe direction; ` +
      'grey band and dashed line: the min–max and the mean of the same mean along each random direction of equal norm (0 at amount 0, the unedited run). Look for red lines that leave the band.',
    spec: {
      $schema: SCHEMA,
      data: { values },
      facet: {
        row: {
          field: 'direction',
          type: 'nominal',
          sort: directions,
          title: 'direction moved along',
          header: { labelFontSize: 12, labelAngle: 0, labelAlign: 'left' },
        },
        column: {
          field: 'measure',
          type: 'nominal',
          sort: measures,
          title: 'answer measured',
          header: { labelFontSize: 12 },
        },
      },
      spec: {
        width: Math.min(300, Math.max(110, Math.floor(860 / measures.length) - 50)),
        height: 90,
        layer: [
          {
            mark: { type: 'area', color: '#9aa0a6', opacity: 0.35 },
            encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
          },
          {
            mark: { type: 'line', color: '#9aa0a6', strokeDash: [4, 3], strokeWidth: 1 },
            encoding: { x, y: { field: 'mid', type: 'quantitative' } },
          },
          {
            mark: { type: 'line', color: '#c0392b', strokeWidth: 1.8 },
            encoding: { x, y: { field: 'probe', type: 'quantitative', title: 'Δ answer' } },
          },
          {
            name: MAIN,
            mark: { type: 'point', filled: true, size: 30, color: '#c0392b' },
            encoding: {
              x,
              y: { field: 'probe', type: 'quantitative' },
              tooltip: [
                { field: 'direction' },
                { field: 'measure' },
                { field: 'amount' },
                { field: 'probe', format: '.4g', title: 'Δ (probe direction)' },
                { field: 'lo', format: '.4g', title: 'random min' },
                { field: 'hi', format: '.4g', title: 'random max' },
              ],
            },
          },
        ],
      },
      resolve: { scale: { y: 'independent' } },
      config: BASE_CONFIG,
    },
    marks: values.length,
  };
}

function ablationFigure(doc: ExperimentDoc, slug: string): ExpFigure | undefined {
  const values = doc.table
    .filter(
      (r) =>
        r['metric'] !== 'removed' &&
        finite(r['probe']) &&
        finite(r['random_median']) &&
        (r['random_median'] as number) > 0,
    )
    .map((r) => {
      const med = r['random_median'] as number;
      const metric = String(r['metric']);
      const name =
        metric === 'kl'
          ? 'KL(clean ‖ ablated)'
          : metric === 'abs_dlogp_true'
            ? '|Δ log P(true answer)|'
            : `|Δ ${metric.replace(/^abs_d_/, '')}| (std)`;
      return {
        row: `${r['readout']}: ${name}`,
        probe: (r['probe'] as number) / med,
        lo: (r['random_min'] as number) / med,
        hi: (r['random_max'] as number) / med,
        one: 1,
        raw: r['probe'],
        rawMed: med,
        exceeds: r['exceeds'] ? 'yes' : 'no',
      };
    });
  if (!values.length) return undefined;
  const n = Number(doc.settings?.['randomDirections'] ?? 0);
  const k = Number(doc.settings?.['k'] ?? 1);
  const x = {
    type: 'quantitative',
    scale: { type: 'log' },
    title: `effect ÷ median effect of ${n} random ${k}-D subspaces (log scale)`,
  };
  const rows = values.map((v) => v.row);
  return {
    slug,
    title: `Projecting the probe direction out vs random directions (${label(doc)})`,
    caption:
      `Grey: the range of ${n} random ${k}-dimensional subspaces orthogonal to the probe's, each projected out at the same layer (the tick at 1 is their median); red: the probe's own subspace. ` +
      'Red right of the grey range: the answers depend on the probe direction more than on random ones. Red inside it: the probe decodes something the model’s answers do not use at this layer.',
    spec: {
      $schema: SCHEMA,
      data: { values },
      width: 620,
      height: 34 * rows.length,
      encoding: { y: { field: 'row', type: 'nominal', sort: rows, title: null, axis: { labelLimit: 320 } } },
      layer: [
        {
          mark: { type: 'rule', color: '#9aa0a6', strokeWidth: 6, opacity: 0.6 },
          encoding: { x: { field: 'lo', ...x }, x2: { field: 'hi' } },
        },
        {
          mark: { type: 'tick', color: '#5f6368', thickness: 2, size: 16 },
          encoding: { x: { field: 'one', ...x } },
        },
        {
          name: MAIN,
          mark: { type: 'point', shape: 'diamond', filled: true, size: 110, color: '#c0392b' },
          encoding: {
            x: { field: 'probe', ...x },
            tooltip: [
              { field: 'row', title: 'metric' },
              { field: 'raw', format: '.4g', title: 'probe subspace' },
              { field: 'rawMed', format: '.4g', title: 'random median' },
              { field: 'exceeds', title: 'beyond every random subspace' },
            ],
          },
        },
      ],
      config: BASE_CONFIG,
    },
    marks: values.length,
  };
}

/** A figure slug's tag: the dataset, with the result's index only when two results share a dataset. */
function tagOf(list: ExperimentDoc[], doc: ExperimentDoc, i: number): string {
  return list.filter((d) => d.dataset === doc.dataset).length > 1 ? `${doc.dataset}-${i}` : doc.dataset;
}

export function patchSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'patch');
  if (!list.length) return undefined;
  const figures: ExpFigure[] = [];
  list.forEach((doc, i) => {
    const tag = tagOf(list, doc, i);
    figures.push(matrixFigure(doc, `patch-matrix-${tag}`));
    const dose = doseFigure(doc, `patch-dose-${tag}`);
    if (dose) figures.push(dose);
  });
  return {
    id: 'patch',
    title: 'Directed patching: side effects on the model’s answers',
    intro:
      'One entity at a time, the residual stream at the probe’s layer moves along an attribute’s direction, and the model answers factual prompts about it; random directions of the same norm are the control.',
    tables: [],
    figures,
  };
}

export function ablateSection(docs: ExperimentDoc[]): ExpSection | undefined {
  const list = byExperiment(docs, 'ablate');
  if (!list.length) return undefined;
  const figures: ExpFigure[] = [];
  list.forEach((doc, i) => {
    const fig = ablationFigure(doc, `ablate-${tagOf(list, doc, i)}`);
    if (fig) figures.push(fig);
  });
  const table = htmlTable(
    // The verdict goes in the first column, the only one that wraps.
    ['result and verdict', 'uses the direction?'],
    list.map((doc) => ({
      cells: [
        `${label(doc)}. ${String(doc.summary?.['verdict'] ?? '')}`,
        doc.summary?.['used'] === true ? 'yes' : 'no',
      ],
    })),
    'Probe direction vs causal use: projecting the probe’s directions out of its layer',
  );
  return {
    id: 'ablate',
    title: 'Probe direction vs causal subspace',
    intro:
      'A probe can decode a feature from a direction the model never reads. Projecting that direction out and comparing with random directions of the same dimension separates the two.',
    tables: [table],
    figures,
  };
}
