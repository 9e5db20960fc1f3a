/**
 * The group controls in the report (docs/controls.md#group-baseline-and-within-group-r): beside every probe, its
 * group baseline (each test row predicted by its group's training mean) and its within-group R² (the probe refitted
 * with the group means removed). In the R² by-layer figure the baseline is a flat grey dashed line per dataset and
 * the within-group R² a grey dotted curve per run; the runs table gets both, with the within-group km or MAE, at the
 * run's best layer.
 */
import { modelDisplayName } from '../util/paths.js';
import { type CurvePoint, curvePoints } from './specs.js';
import type { ReportRun } from './types.js';

/** Prefixes of the series names: the curve spec styles the two kinds of line by them. */
export const BASELINE_SERIES = 'group baseline';
export const WITHIN_SERIES = 'within-group';

interface GroupScores {
  r2?: number | null;
  mae?: number | null;
  haversineMaeKm?: number | null;
}

/** The parts of results.json these read (absent in results written before the group controls). */
interface GroupBaseline {
  column: string;
  groups: number;
  test: GroupScores;
}

function baselineOf(run: ReportRun): GroupBaseline | undefined {
  const b = run.results['groupBaseline'] as GroupBaseline | null | undefined;
  return b && typeof b.column === 'string' ? b : undefined;
}

function withinOf(run: ReportRun, layer: number): GroupScores | undefined {
  const l = run.results.layers.find((x) => x.layer === layer) as { withinGroup?: { test?: GroupScores } };
  return l?.withinGroup?.test;
}

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Grey reference points for the R² figure: per run its within-group R² by layer; per (dataset, group column) one
 * flat baseline across the dataset's x range. None for the proximity error (the controls report R², MAE and km).
 */
export function groupControlPoints(runs: ReportRun[], metric: 'r2' | 'proxError'): CurvePoint[] {
  if (metric !== 'r2') return [];
  const out: CurvePoint[] = [];
  const seen = new Set<string>();
  const several = new Set(runs.map((r) => r.results.model)).size > 1;
  for (const run of runs) {
    const mine = curvePoints([run], 'r2');
    if (!mine.length) continue;
    const owner = several ? ` (${modelDisplayName(run.results.model)})` : '';
    const series = `${WITHIN_SERIES} R² · ${run.results.prompt}${owner}`;
    for (const p of mine) {
      const v = withinOf(run, p.layer)?.r2;
      if (finite(v)) out.push({ ...p, series, value: v, train: null, best: false });
    }
    const base = baselineOf(run);
    const key = `${run.results.dataset}/${base?.column}/${base?.test.r2}`;
    if (!base || !finite(base.test.r2) || seen.has(key)) continue;
    seen.add(key);
    const xs = mine.map((p) => p.x);
    for (const x of [Math.min(...xs), Math.max(...xs)]) {
      out.push({
        ...mine[0]!,
        series: `${BASELINE_SERIES} (by ${base.column})`,
        x,
        layer: 0,
        value: base.test.r2,
        train: null,
        best: false,
      });
    }
  }
  return out;
}

/** "by country: baseline R² 0.962, 412 km · within-group R² 0.310, 215 km" at `layer` (n/a where undefined). */
export function groupControlsCell(run: ReportRun, layer: number | undefined): string {
  const base = baselineOf(run);
  if (!base) return '';
  const space = run.results.kind === 'space';
  const err = (s: GroupScores | undefined) => {
    const v = space ? s?.haversineMaeKm : s?.mae;
    if (!finite(v)) return '';
    return space ? `, ${Math.round(v)} km` : `, MAE ${v.toFixed(2)}`;
  };
  const r2 = (v: number | null | undefined) => (finite(v) ? v.toFixed(3) : 'n/a');
  const within = layer === undefined ? undefined : withinOf(run, layer);
  const parts = [`by ${base.column} (${base.groups} groups): baseline R² ${r2(base.test.r2)}${err(base.test)}`];
  if (within) parts.push(`within-group R² ${r2(within.r2)}${err(within)}`);
  return parts.join(' · ');
}
