/**
 * A probe run as files (docs/method.md#probes): results.json, results.csv, predictions.csv (or its compact form)
 * and probes.safetensors, each written atomically, and the CLI's per-layer table.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSafetensors } from '../formats/index.js';
import { writeFileAtomic } from '../util/fsx.js';
import type { GroupBaseline } from './group-control.js';
import type { ProbeResults, ProbeRun } from './probe-store.js';

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Non-finite numbers become empty CSV fields and JSON nulls. */
function num(v: number): string {
  return Number.isFinite(v) ? String(v) : '';
}

/** The per-layer table as CSV (one row per layer, train and test metrics side by side). */
export function resultsCsv(results: ProbeResults): string {
  const names = results.targetNames;
  const space = results.kind === 'space';
  const cols = ['layer', 'alpha', 'best'];
  for (const split of ['train', 'test']) {
    cols.push(`${split}_r2`, ...names.map((n) => `${split}_r2_${n}`));
    cols.push(...names.map((n) => `${split}_spearman_${n}`), ...names.map((n) => `${split}_kendall_${n}`));
    cols.push(...names.map((n) => `${split}_pearson_${n}`));
    cols.push(`${split}_mae`, `${split}_rmse`, `${split}_prox_error`);
    if (space) cols.push(`${split}_haversine_mae_km`);
  }
  const base = results.groupBaseline;
  if (base) {
    cols.push(
      'within_alpha',
      'within_test_r2',
      ...names.map((n) => `within_test_r2_${n}`),
      'within_test_mae',
    );
    if (space) cols.push('within_test_haversine_mae_km');
    cols.push('group_baseline_test_r2', 'group_baseline_test_mae');
    if (space) cols.push('group_baseline_test_haversine_mae_km');
  }
  const lines = [cols.join(',')];
  for (const r of results.layers) {
    const row: string[] = [String(r.layer), num(r.alpha), r.layer === results.bestLayer ? '1' : '0'];
    for (const m of [r.train, r.test]) {
      row.push(num(m.r2), ...names.map((_, j) => num(m.r2PerTarget[j] ?? Number.NaN)));
      row.push(...names.map((_, j) => num(m.spearman[j] ?? Number.NaN)));
      row.push(...names.map((_, j) => num(m.kendall[j] ?? Number.NaN)));
      row.push(...names.map((_, j) => num(m.pearson[j] ?? Number.NaN)));
      row.push(num(m.mae), num(m.rmse), num(m.proxError));
      if (space) row.push(num(m.haversineMaeKm ?? Number.NaN));
    }
    if (base) {
      const w = r.withinGroup;
      row.push(num(w?.alpha ?? Number.NaN), num(w?.test.r2 ?? Number.NaN));
      row.push(
        ...names.map((_, j) => num(w?.test.r2PerTarget[j] ?? Number.NaN)),
        num(w?.test.mae ?? Number.NaN),
      );
      if (space) row.push(num(w?.test.haversineMaeKm ?? Number.NaN));
      row.push(num(base.test.r2), num(base.test.mae));
      if (space) row.push(num(base.test.haversineMaeKm ?? Number.NaN));
    }
    lines.push(row.join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** predictions.csv in long format: row,name,is_test,layer,true_<t>...,pred_<t>...,prox_error. */
function predictionsCsv(run: ProbeRun): Uint8Array[] {
  const { results, names, targets, isTest } = run;
  const t = results.targetNames.length;
  const header = [
    'row',
    'name',
    'is_test',
    'layer',
    ...results.targetNames.map((n) => `true_${n}`),
    ...results.targetNames.map((n) => `pred_${n}`),
    'prox_error',
  ].join(',');
  const chunks: Uint8Array[] = [Buffer.from(`${header}\n`)];
  const quoted = names.map(csvField);
  const { mode, testRowsOnly } = results.predictions;
  for (const layer of results.predictions.layers) {
    const p = run.predictions.get(layer)!;
    const compact = mode === 'compact' && layer !== results.bestLayer;
    const value = compact ? (v: number) => (Number.isFinite(v) ? String(Number(v.toPrecision(6))) : '') : num;
    let buf: string[] = [];
    for (let i = 0; i < names.length; i++) {
      if (compact && testRowsOnly && !isTest[i]) continue;
      const cells = [String(i), quoted[i]!, isTest[i] ? 'true' : 'false', String(layer)];
      for (let j = 0; j < t; j++) cells.push(num(targets[i * t + j]!));
      for (let j = 0; j < t; j++) cells.push(value(p.pred[i * t + j]!));
      cells.push(num(p.proxErrorPerPoint[i]!));
      buf.push(cells.join(','));
      if (buf.length === 4096) {
        chunks.push(Buffer.from(`${buf.join('\n')}\n`));
        buf = [];
      }
    }
    if (buf.length) chunks.push(Buffer.from(`${buf.join('\n')}\n`));
  }
  return chunks;
}

/**
 * Writes results.json, results.csv, predictions.csv and probes.safetensors (coef in target and standardised units,
 * intercept, train means and scales per layer) into `dir`, each file atomically.
 */
export async function writeProbeResults(dir: string, run: ProbeRun): Promise<void> {
  const r = run.results;
  await mkdir(dir, { recursive: true });
  const json = JSON.stringify(r, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
  const tensors = [];
  for (const [layer, model] of run.models) {
    const shape = [model.d, model.t];
    tensors.push(
      { name: `layer.${layer}.coef`, dtype: 'F64' as const, shape, data: model.coef },
      {
        name: `layer.${layer}.coef_standardized`,
        dtype: 'F64' as const,
        shape,
        data: model.coefStandardized,
      },
      { name: `layer.${layer}.intercept`, dtype: 'F64' as const, shape: [model.t], data: model.intercept },
      { name: `layer.${layer}.x_mean`, dtype: 'F64' as const, shape: [model.d], data: model.xMean },
      { name: `layer.${layer}.y_mean`, dtype: 'F64' as const, shape: [model.t], data: model.yMean },
      { name: `layer.${layer}.y_scale`, dtype: 'F64' as const, shape: [model.t], data: model.yScale },
    );
  }
  await writeSafetensors(join(dir, r.probes.file), tensors, {
    schema: 'spacetime-lens/probes@1',
    hook: r.hook,
    targetNames: JSON.stringify(r.settings.fitTargetNames ?? r.targetNames),
    alphas: JSON.stringify(r.layers.map((l) => [l.layer, l.alpha])),
  });
  await writeFileAtomic(join(dir, r.predictions.file), predictionsCsv(run));
  await writeFileAtomic(join(dir, 'results.csv'), resultsCsv(r));
  await writeFileAtomic(join(dir, 'results.json'), `${json}\n`);
}

/** A number for a table: `n/a` where it is undefined (NaN, e.g. R² on too few test rows). */
export function fixed(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : 'n/a';
}

/**
 * The per-layer table for a terminal, the best layer marked with '*': the probe's scores, then its within-group
 * scores, under a line with the group baseline (docs/controls.md#group-baseline-and-within-group-r).
 */
export function formatResultsTable(results: ProbeResults): string {
  const space = results.kind === 'space';
  const base = results.groupBaseline;
  const err = (m: { haversineMaeKm?: number; mae: number }) =>
    space ? fixed(m.haversineMaeKm ?? Number.NaN, 0) : fixed(m.mae, 2);
  const head = [
    '',
    'layer',
    'alpha',
    'train R²',
    'test R²',
    'test Spearman',
    'test prox',
    ...(space ? ['test km'] : []),
    ...(base ? ['within R²', space ? 'within km' : 'within MAE'] : []),
    ...(results.settings.target ? [`test R² ${results.settings.target}`] : []),
  ];
  const rows = results.layers.map((r) => {
    const sp = r.test.spearman.length
      ? r.test.spearman.reduce((s, v) => s + v, 0) / r.test.spearman.length
      : NaN;
    return [
      r.layer === results.bestLayer ? '*' : '',
      String(r.layer),
      r.alpha.toPrecision(4),
      fixed(r.train.r2, 4),
      fixed(r.test.r2, 4),
      fixed(sp, 4),
      fixed(r.test.proxError, 4),
      ...(space ? [fixed(r.test.haversineMaeKm ?? Number.NaN, 0)] : []),
      ...(base
        ? [fixed(r.withinGroup?.test.r2 ?? Number.NaN, 4), r.withinGroup ? err(r.withinGroup.test) : 'n/a']
        : []),
      ...(results.settings.target ? [fixed(r.fitR2?.test ?? Number.NaN, 4)] : []),
    ];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) => cells.map((s, c) => s.padStart(widths[c]!)).join('  ');
  const lines = [line(head), ...rows.map(line)];
  if (base) {
    lines.unshift(
      `group baseline (each test row = its ${base.column}'s training mean; ${base.groups} groups): ` +
        `test R² ${fixed(base.test.r2, 4)}, ${space ? `${err(base.test)} km` : `MAE ${err(base.test)}`}; ` +
        `within = the probe refitted with the ${base.column} means removed (${rowsNote(base)})`,
    );
  }
  return lines.join('\n');
}

function rowsNote(base: GroupBaseline): string {
  return base.unseenTestRows
    ? `${base.unseenTestRows} test rows of groups without training rows left out`
    : 'every test row scored';
}
