/**
 * The by-depth figure when no run has depth: static embeddings and surface baselines (the demo) have one layer
 * each, so "test R² against normalized depth" would be a column of dots at x = 0 on an empty axis. Instead: one
 * bar per model with its value printed at the bar's end, one panel per dataset.
 */
import { controlLabel } from './controls.js';
import { groupR2 } from './group-controls.js';
import {
  BASE_CONFIG,
  type CurvePoint,
  curvePoints,
  datasetFacet,
  PALETTE,
  SCHEMA,
  type VlSpec,
} from './specs.js';
import type { ReportRun } from './types.js';

const GREY = '#8a9099';

/** True when every run has at most one layer with a finite value of the metric (nothing to draw against depth). */
export function oneLayerEach(runs: ReportRun[], metric: 'r2' | 'proxError'): boolean {
  const perLine = new Map<string, number>();
  for (const p of curvePoints(runs, metric)) {
    const key = `${p.series}\u0000${p.dataset}`;
    perLine.set(key, (perLine.get(key) ?? 0) + 1);
  }
  return perLine.size > 0 && [...perLine.values()].every((n) => n === 1);
}

/** A run's bars, with its within-group and group-baseline R² (src/report/group-controls.ts) for the R² figure. */
function barsOf(runs: ReportRun[], metric: 'r2' | 'proxError') {
  return runs.flatMap((run) =>
    curvePoints([run], metric).map((p) => ({ ...p, ...(metric === 'r2' ? groupR2(run, p.layer) : {}) })),
  );
}

/**
 * One bar per run (its only layer), controls in grey, sorted best first, the value written beside each bar; for R²
 * a dark tick on each bar at its within-group R² and a dashed rule at the group baseline.
 */
export function oneLayerSpec(main: ReportRun[], controls: ReportRun[], metric: 'r2' | 'proxError'): VlSpec {
  const ownBars = barsOf(main, metric).map((p) => ({ ...p, control: false }));
  const greyBars = barsOf(
    controls.filter((c) => c.results.layers.length === 1),
    metric,
  ).map((p) => ({ ...p, series: controlLabel(p.series), model: controlLabel(p.model), control: true }));
  const better = metric === 'r2' ? -1 : 1;
  // Best first; the bars keep this order (a sort by field is not kept across the layers of a faceted chart).
  const values: (CurvePoint & { control: boolean })[] = [...ownBars, ...greyBars].sort(
    (a, b) => better * (a.value - b.value),
  );
  const title = metric === 'r2' ? 'test R²' : 'test proximity error';
  const datasets = [...new Set(values.map((v) => v.dataset))].sort();
  const columns = Math.min(2, datasets.length);
  const models = [...new Set(ownBars.map((b) => b.model))];
  // A model with several prompts gets a bar per prompt.
  const perModel = new Set(values.map((v) => `${v.model}\u0000${v.dataset}`)).size === values.length;
  const y = {
    field: perModel ? 'model' : 'series',
    type: 'nominal',
    title: null,
    sort: null,
    axis: { labelLimit: 220, labelFontSize: 12 },
  };
  const x = {
    field: 'value',
    type: 'quantitative',
    title: `${title} (${metric === 'r2' ? 'higher' : 'lower'} is better)`,
    scale: {
      domain:
        metric === 'r2'
          ? [Math.min(0, ...values.map((v) => v.value)), 1]
          : [0, Math.max(0.5, ...values.map((v) => v.value))],
    },
  };
  const tooltip = [
    { field: 'dataset' },
    { field: 'series', title: 'model · prompt' },
    { field: 'layer', title: 'its one layer' },
    { field: 'value', title, format: '.4f' },
  ];
  return {
    $schema: SCHEMA,
    data: { values },
    facet: datasetFacet(),
    columns,
    spec: {
      width: columns === 1 ? 520 : 380,
      height: { step: 30 },
      layer: [
        {
          name: 'main',
          mark: { type: 'bar', height: { band: 0.7 } },
          encoding: {
            y,
            x,
            color: {
              condition: { test: 'datum.control', value: GREY },
              field: 'model',
              type: 'nominal',
              scale: { domain: models, scheme: PALETTE(models.length) },
              legend: null,
            },
            tooltip,
          },
        },
        {
          // The value at the bar's end (at 0 for a negative R², so it never sits on the bar).
          transform: [{ calculate: 'max(datum.value, 0)', as: 'end' }],
          mark: { type: 'text', align: 'left', baseline: 'middle', dx: 4, fontSize: 12, fontWeight: 600 },
          encoding: {
            y,
            x: { field: 'end', type: 'quantitative' },
            text: { field: 'value', format: '.3f' },
            tooltip,
          },
        },
        ...(metric === 'proxError' ? [chanceRule()] : groupMarks(y)),
      ],
    },
    resolve: { scale: { y: 'independent' } },
    config: BASE_CONFIG,
  };
}

/** The within-group R² as a tick on each bar, the group baseline as a dashed rule (docs/controls.md). */
function groupMarks(y: object): VlSpec[] {
  return [
    {
      transform: [{ filter: 'isValid(datum.within)' }],
      mark: { type: 'tick', orient: 'vertical', color: '#222', thickness: 3, bandSize: 22 },
      encoding: {
        y,
        x: { field: 'within', type: 'quantitative' },
        tooltip: [
          { field: 'series', title: 'model · prompt' },
          { field: 'within', title: 'within-group R²', format: '.4f' },
        ],
      },
    },
    {
      transform: [{ filter: 'isValid(datum.baseline)' }],
      mark: { type: 'rule', color: GREY, strokeDash: [7, 4], strokeWidth: 1.5 },
      encoding: {
        x: { field: 'baseline', type: 'quantitative' },
        tooltip: [{ field: 'baseline', title: 'group baseline R²', format: '.4f' }],
      },
    },
  ];
}

/** Proximity error 0.5: a prediction no better than a random entity's true position. */
function chanceRule(): VlSpec {
  return {
    transform: [{ aggregate: [{ op: 'count', as: 'n' }] }, { calculate: '0.5', as: 'chance' }],
    mark: { type: 'rule', color: GREY, strokeDash: [4, 3] },
    encoding: { x: { field: 'chance', type: 'quantitative' }, tooltip: { value: 'chance: 0.5' } },
  };
}
