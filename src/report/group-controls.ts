/**
 * The group controls in the report (docs/controls.md#group-baseline-and-within-group-r): beside every probe, its
 * group baseline (each test row predicted by its group's training mean) and its within-group R² (the probe refitted
 * with the group means removed). In the R² by-layer figure the baseline is a flat grey dashed line per dataset and
 * the within-group R² a grey dotted curve per run; the runs table gets both, with the within-group km or MAE, at the
 * run's best layer.
 */
import { modelDisplayName } from '../util/paths.js';
import { escapeHtml } from './escape.js';
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

/** The within-group R² at `layer` and the group baseline R² of a run (for the one-layer bars); undefined = none. */
export function groupR2(run: ReportRun, layer: number): { within?: number; baseline?: number } {
  const w = withinOf(run, layer)?.r2;
  const b = baselineOf(run)?.test.r2;
  return { ...(finite(w) ? { within: w } : {}), ...(finite(b) ? { baseline: b } : {}) };
}

/** One row of the report's group-controls table (numbers undefined where the results have none). */
export interface GroupRow {
  label: string;
  kind: 'space' | 'time';
  column: string;
  groups: number;
  layer?: number;
  testR2?: number;
  baselineR2?: number;
  baselineError?: number;
  withinR2?: number;
  withinError?: number;
  /** Test rows the within-group probe scored, and those left out (their group has no training rows). */
  scored?: number;
  unseen: number;
}

/** The run's group controls at `layer` (its best layer), or undefined when its results have none. */
export function groupRow(run: ReportRun, label: string, layer: number | undefined): GroupRow | undefined {
  const base = baselineOf(run);
  if (!base) return undefined;
  const space = run.results.kind === 'space';
  const err = (s: GroupScores | undefined) => {
    const v = space ? s?.haversineMaeKm : s?.mae;
    return finite(v) ? v : undefined;
  };
  const val = (v: number | null | undefined) => (finite(v) ? v : undefined);
  const within = layer === undefined ? undefined : withinOf(run, layer);
  const test = run.results.layers.find((l) => l.layer === layer)?.test.r2;
  const n = (within as { n?: number } | undefined)?.n;
  return {
    label,
    kind: run.results.kind,
    column: base.column,
    groups: base.groups,
    ...(layer !== undefined ? { layer } : {}),
    ...(val(test) !== undefined ? { testR2: val(test)! } : {}),
    ...(val(base.test.r2) !== undefined ? { baselineR2: val(base.test.r2)! } : {}),
    ...(err(base.test) !== undefined ? { baselineError: err(base.test)! } : {}),
    ...(val(within?.r2) !== undefined ? { withinR2: val(within?.r2)! } : {}),
    ...(err(within) !== undefined ? { withinError: err(within)! } : {}),
    ...(typeof n === 'number' ? { scored: n } : {}),
    unseen: Number((run.results['groupBaseline'] as { unseenTestRows?: number }).unseenTestRows ?? 0),
  };
}

/** The group-controls table under the runs table (every cell escaped); empty when no run has group controls. */
export function groupControlsTable(rows: GroupRow[]): string {
  if (!rows.length) return '';
  const f3 = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(3));
  const e = (r: GroupRow, v: number | undefined) =>
    v === undefined ? 'n/a' : r.kind === 'space' ? `${Math.round(v)} km` : `${v.toFixed(2)} y`;
  const head = [
    'probe run',
    'groups',
    'best layer',
    'test R²',
    'group baseline R²',
    'baseline error',
    'within-group R²',
    'within-group error',
    'test rows scored',
  ];
  const body = rows.map((r) =>
    [
      `<td>${escapeHtml(r.label)}</td>`,
      `<td>${escapeHtml(`${r.column} (${r.groups})`)}</td>`,
      `<td class="num">${escapeHtml(r.layer ?? 'n/a')}</td>`,
      `<td class="num">${f3(r.testR2)}</td>`,
      `<td class="num">${f3(r.baselineR2)}</td><td class="num">${escapeHtml(e(r, r.baselineError))}</td>`,
      `<td class="num">${f3(r.withinR2)}</td><td class="num">${escapeHtml(e(r, r.withinError))}</td>`,
      `<td class="num">${escapeHtml(r.scored === undefined ? 'n/a' : `${r.scored}${r.unseen ? ` (${r.unseen} left out)` : ''}`)}</td>`,
    ].join(''),
  );
  const caption =
    'Group baseline: each test row predicted by its group’s training mean, the score a probe needs to beat to show ' +
    'more than “which group”. Within-group: the same probe refitted with each group’s training mean removed from ' +
    'the activations and the targets, scored on the residuals of the test rows whose group has training rows (error: ' +
    'mean km, or MAE in years, of group mean + predicted residual). See docs/controls.md.';
  return `<h3>Group baseline and within-group R²</h3><div class="table-wrap"><table class="runs groups"><thead><tr>${head.map((h, i) => `<th${i > 1 ? ' class="num"' : ''}>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r}</tr>`).join('')}</tbody></table></div><p class="meta">${escapeHtml(caption)}</p>`;
}
