/**
 * Controls in the report (docs/controls.md): runs of control models (surface:…, static:…, random-init:…) are drawn
 * as grey reference lines in the by-layer figures of the real models on the same dataset (one-layer baselines as a
 * horizontal line, the random-init twin by layer), with each run's group baseline (dashed) and within-group R²
 * (dotted, src/report/group-controls.ts), and the runs table gets a "controls" column: the controls' best test R².
 */
import { BASELINE_SERIES, groupControlPoints, WITHIN_SERIES } from './group-controls.js';
import { type CurvePoint, curvePoints, type VlSpec } from './specs.js';
import type { ReportRun } from './types.js';

const CONTROL_PREFIXES = ['surface:', 'static:', 'random-init:'];
const GREY = '#8a9099';

export function isControlRun(run: ReportRun): boolean {
  return CONTROL_PREFIXES.some((p) => run.results.model.startsWith(p));
}

/** A short name for legends: `surface:tfidf@/long/path` -> `surface:tfidf`, `random-init:/m/x` -> `random-init`. */
export function controlLabel(model: string): string {
  if (model.startsWith('random-init:')) return 'random-init';
  return model.replace(/@.*$/, '');
}

/** The real model a control was made for (the twin's model, a surface baseline's tokenizer), if any. */
function controlOwner(model: string): string | undefined {
  if (model.startsWith('random-init:')) return model.slice('random-init:'.length);
  const at = model.startsWith('surface:') ? model.indexOf('@') : -1;
  return at >= 0 ? model.slice(at + 1) : undefined;
}

/** A control belongs to a real run unless it was made for another real model of the report. */
export function controlBelongsTo(control: ReportRun, run: ReportRun, mainModels: Set<string>): boolean {
  const owner = controlOwner(control.results.model);
  return (
    control.results.dataset === run.results.dataset &&
    (owner === undefined || owner === run.results.model || !mainModels.has(owner))
  );
}

/** The real runs and the control runs; when every run is a control (the demo), all are drawn as real runs. */
export function splitControls(runs: ReportRun[]): { main: ReportRun[]; controls: ReportRun[] } {
  const controls = runs.filter(isControlRun);
  const main = runs.filter((r) => !isControlRun(r));
  return main.length ? { main, controls } : { main: runs, controls: [] };
}

function bestTest(run: ReportRun): number {
  return Math.max(...run.results.layers.map((l) => l.test.r2).filter(Number.isFinite));
}

/** Grey points: per control, a flat line over the dataset panel's x range, or its own curve when it has layers. */
function controlPoints(main: ReportRun[], controls: ReportRun[], metric: 'r2' | 'proxError'): CurvePoint[] {
  const points = curvePoints(main, metric);
  const owners = new Set(main.map((m) => m.results.model));
  const out: CurvePoint[] = [];
  for (const c of controls) {
    const dataset = c.results.dataset;
    const xs = points.filter((p) => p.dataset === dataset).map((p) => p.x);
    if (!xs.length) continue;
    const owner = controlOwner(c.results.model);
    const series =
      owners.size > 1 && owner && owners.has(owner)
        ? `${controlLabel(c.results.model)} (${owner.split(/[\\/]/).pop()})`
        : controlLabel(c.results.model);
    if (c.results.layers.length > 1) {
      out.push(...curvePoints([c], metric).map((p) => ({ ...p, series })));
      continue;
    }
    const value = c.results.layers[0]?.test[metric];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    for (const x of [Math.min(...xs), Math.max(...xs)])
      out.push({ dataset, model: series, series, layer: 0, x, value, train: null, best: false });
  }
  out.push(...groupControlPoints(main, metric));
  return out.map((p) => ({ ...p, control: true }) as CurvePoint);
}

/**
 * Adds the controls of `controls` (and the runs' group controls) to a by-layer curve spec built from the real runs:
 * their points join the spec's data flagged `control`, the existing layers skip them, and grey lines draw them.
 */
export function withControlReferences(
  spec: VlSpec,
  main: ReportRun[],
  controls: ReportRun[],
  metric: 'r2' | 'proxError',
): VlSpec {
  const layers = spec['spec']?.['layer'];
  const extra = controlPoints(main, controls, metric);
  if (!Array.isArray(layers) || !Array.isArray(spec['data']?.['values']) || !extra.length) return spec;
  const x = layers[0]?.encoding?.x;
  const y = layers[0]?.encoding?.y;
  const notControl = { filter: '!datum.control' };
  const grey = (dash: number[], filter: string) => ({
    mark: { type: 'line', strokeWidth: 1.5, color: GREY, strokeDash: dash, opacity: 0.9 },
    transform: [{ filter }],
    encoding: {
      x,
      y,
      detail: { field: 'series' },
      tooltip: [
        { field: 'series', title: 'control' },
        { field: 'value', format: '.4f' },
      ],
    },
  });
  const label = {
    // Right-aligned above the line's last point: inside the panel, so no label widens the figure.
    mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, fontSize: 10, color: GREY },
    transform: [
      { filter: 'datum.control' },
      {
        window: [{ op: 'rank', as: 'k' }],
        groupby: ['series', 'dataset'],
        sort: [{ field: 'x', order: 'descending' }],
      },
      { filter: 'datum.k === 1' },
    ],
    encoding: { x, y, text: { field: 'series' } },
  };
  return {
    ...spec,
    data: { values: [...spec['data']['values'], ...extra] },
    spec: {
      ...spec['spec'],
      layer: [
        grey([], `datum.control && !test(/^(${WITHIN_SERIES}|${BASELINE_SERIES})/, datum.series)`),
        grey([2, 3], `datum.control && test(/^${WITHIN_SERIES}/, datum.series)`),
        grey([7, 4], `datum.control && test(/^${BASELINE_SERIES}/, datum.series)`),
        label,
        ...layers.map((l: VlSpec) => ({ ...l, transform: [notControl, ...(l['transform'] ?? [])] })),
      ],
    },
  };
}

/** The "controls" cell of a real run: its controls' best test R². */
export function controlsSummary(run: ReportRun, controls: ReportRun[], mainModels: Set<string>): string {
  if (isControlRun(run)) return '';
  return controls
    .filter((c) => controlBelongsTo(c, run, mainModels))
    .map((c) => `${controlLabel(c.results.model)} ${fixed3(bestTest(c))}`)
    .join(' · ');
}

/** Three decimals, or n/a for a metric that is undefined (null in results.json: too few test rows). */
function fixed3(v: number | null | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(3) : 'n/a';
}

/** The runs table's "controls" cell of `run` among all runs. */
export function runControlsCell(run: ReportRun, runs: ReportRun[]): string {
  const mainModels = new Set(runs.filter((r) => !isControlRun(r)).map((r) => r.results.model));
  return controlsSummary(run, runs.filter(isControlRun), mainModels);
}
