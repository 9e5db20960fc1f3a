/**
 * The benchmark table of bench/README.md, made from the JSON lines the benches append (bench/lib/run.ts): one row
 * per benchmark (the latest line of each), columns ours, reference, ratio, roofline share, BLAS kernel, CPU, load
 * before/after, date, commit. Written between the BEGIN/END markers, so the rest of the README stays as written.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { SummaryLine } from './run.js';

export const BEGIN = '<!-- bench-table:begin (bench/table.ts writes this table; do not edit by hand) -->';
export const END = '<!-- bench-table:end -->';

export function readSummary(file: string): SummaryLine[] {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  const latest = new Map<string, SummaryLine>();
  for (const l of lines) {
    const r = JSON.parse(l) as SummaryLine;
    latest.set(r.benchmark, r);
  }
  return [...latest.values()];
}

/** A number with about 3 significant digits and thousands separators. */
function num(x: number): string {
  if (Math.abs(x) < 1) return x.toPrecision(3);
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

function row(r: SummaryLine): string {
  const ratio =
    r.ratio === null
      ? '-'
      : r.ratio >= 1
        ? `**${r.ratio.toFixed(2)}x**`
        : `${r.ratio.toFixed(2)}x (ours slower)`;
  const reference =
    r.reference === null ? r.referenceName : `${num(r.reference)} ${r.unit} (${r.referenceName})`;
  const load = `${r.loadBefore.toFixed(2)} → ${r.loadAfter.toFixed(2)}${r.loaded ? ' LOADED' : ''}`;
  return `| ${[
    r.benchmark,
    `${num(r.ours)} ${r.unit}`,
    reference,
    ratio,
    r.roofline === undefined ? '-' : `${Math.round(100 * r.roofline)}%`,
    r.kernel,
    `${r.cpu}, ${r.cores} cores`,
    load,
    r.date.slice(0, 16).replace('T', ' '),
    r.commit,
    r.note ?? '',
  ]
    .map(cell)
    .join(' | ')} |`;
}

/** The markdown table, each row's note in the last column. */
export function renderTable(rows: SummaryLine[]): string {
  const head =
    '| benchmark | ours | reference | ratio (> 1: ours faster) | roofline share | reference BLAS kernel | CPU | ' +
    '1-min load before → after | date (UTC) | commit | notes |';
  const sep = `|${' --- |'.repeat(11)}`;
  return [head, sep, ...rows.map(row)].join('\n');
}

/** `text` with the table between the markers replaced (markers appended at the end when absent). */
export function replaceTable(text: string, table: string): string {
  const block = `${BEGIN}\n${table}\n${END}`;
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  if (i < 0 || j < i) return `${text.trimEnd()}\n\n${block}\n`;
  return text.slice(0, i) + block + text.slice(j + END.length);
}

/** Rewrites the table in `readme` from `summaryFile` (atomically: temp name + rename); returns the row count. */
export function writeReadmeTable(summaryFile: string, readme: string): number {
  const rows = readSummary(summaryFile);
  writeFileSync(`${readme}.tmp`, replaceTable(readFileSync(readme, 'utf8'), renderTable(rows)));
  renameSync(`${readme}.tmp`, readme);
  return rows.length;
}
