/**
 * The benchmark table of bench/README.md, made from the JSON lines the benches append (bench/lib/run.ts): one row
 * per benchmark, columns ours, reference, ratio, the issue-24 goal it answers, roofline share, BLAS kernel, CPU,
 * load before/after, date, commit. Written between the BEGIN/END markers, so the rest of the README stays as
 * written. Rows measured at a 1-minute load of LOADED (3) or more are refused (left out and named under the
 * table) unless asked for, and then flagged.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { LOADED, type SummaryLine } from './run.js';

export const BEGIN = '<!-- bench-table:begin (bench/table.ts writes this table; do not edit by hand) -->';
export const END = '<!-- bench-table:end -->';

/** A target of issue 24: the row whose benchmark name matches `match` must reach a ratio of at least `min`. */
export interface Goal {
  what: string;
  /** The bench/run-all.ts step that measures it. */
  step: string;
  match: RegExp;
  min: number;
}

export const GOALS: Goal[] = [
  {
    what: 'extract end to end, SmolLM2 shape, 2,000 world_place rows, coords prompt',
    step: 'extract-smollm',
    match: /^extract: SmolLM2-135M shape, f32, 2000 world_place rows, prompt coords, same job$/,
    min: 1.5,
  },
  {
    what: 'extract end to end, Llama-2-7B 4-layer bf16 slice, 2,000 world_place rows, coords prompt',
    step: 'extract-7b',
    match: /^extract: Llama-2-7B shape, 4-layer slice, bf16, 2000 world_place rows, prompt coords, same job$/,
    min: 1.5,
  },
  {
    what: 'forward pass, Llama-2-7B shape slice',
    step: 'forward',
    match: /^forward: Llama-2-7B shape, /,
    min: 1.5,
  },
  {
    what: 'probe vs scikit-learn RidgeCV, n 30,000, d 2,048',
    step: 'probe',
    match: /^probe: LOO ridge sweep, n 30000, d 2048,/,
    min: 2,
  },
  {
    what: 'SAE training, 16,384 features x 2,048, TopK k 32',
    step: 'sae',
    match: /^sae: TopK SAE training, \d+ x 2048, 16384 features, k 32,/,
    min: 1,
  },
];

/** Every line of a summary file, in order. */
export function readSummary(file: string): SummaryLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as SummaryLine);
}

/** Measured at a 1-minute load of LOADED or more (older lines may lack the flag). */
export const isLoaded = (r: SummaryLine) => r.loaded || Math.max(r.loadBefore, r.loadAfter) >= LOADED;

/** One line per benchmark: the latest measured quietly, else the latest (a loaded re-run never hides a quiet one). */
export function latestRows(lines: SummaryLine[]): SummaryLine[] {
  const pick = new Map<string, SummaryLine>();
  for (const r of lines) {
    const had = pick.get(r.benchmark);
    if (!had || !isLoaded(r) || isLoaded(had)) pick.set(r.benchmark, r);
  }
  return [...pick.values()];
}

/** A number with about 3 significant digits and thousands separators. */
function num(x: number): string {
  if (Math.abs(x) < 1) return x.toPrecision(3);
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

export const goalOf = (r: SummaryLine) => GOALS.find((g) => g.match.test(r.benchmark));

function goalCell(r: SummaryLine): string {
  const g = goalOf(r);
  if (!g) return '-';
  return r.ratio !== null && r.ratio >= g.min ? `≥ ${g.min}x: met` : `≥ ${g.min}x: **not met**`;
}

function row(r: SummaryLine): string {
  const ratio =
    r.ratio === null
      ? '-'
      : r.ratio >= 1
        ? `**${r.ratio.toFixed(2)}x**`
        : `${r.ratio.toFixed(2)}x (ours slower)`;
  const reference =
    r.reference === null ? r.referenceName : `${num(r.reference)} ${r.unit} (${r.referenceName})`;
  const load = `${r.loadBefore.toFixed(2)} → ${r.loadAfter.toFixed(2)}${isLoaded(r) ? ' LOADED' : ''}`;
  return `| ${[
    r.benchmark,
    `${num(r.ours)} ${r.unit}`,
    reference,
    ratio,
    goalCell(r),
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
    '| benchmark | ours | reference | ratio (> 1: ours faster) | goal (issue 24) | roofline share | ' +
    'reference BLAS kernel | CPU | 1-min load before → after | date (UTC) | commit | notes |';
  const sep = `|${' --- |'.repeat(12)}`;
  return [head, sep, ...rows.map(row)].join('\n');
}

export interface GoalStatus {
  what: string;
  step: string;
  min: number;
  benchmark: string | null;
  ratio: number | null;
  met: boolean;
  loaded: boolean;
}

/** Each goal against the rows given (none: not measured). */
export function goalStatus(rows: SummaryLine[]): GoalStatus[] {
  return GOALS.map((g) => {
    const r = rows.find((x) => g.match.test(x.benchmark));
    return {
      what: g.what,
      step: g.step,
      min: g.min,
      benchmark: r?.benchmark ?? null,
      ratio: r?.ratio ?? null,
      met: r?.ratio != null && r.ratio >= g.min,
      loaded: r ? isLoaded(r) : false,
    };
  });
}

/** The goals as a markdown list: met, not met, or not measured (with the step that measures it). */
export function renderGoals(status: GoalStatus[]): string {
  const line = (s: GoalStatus) => {
    if (s.ratio === null) return `- ${s.what}: ≥ ${s.min}x, **not measured** (step \`${s.step}\`)`;
    const verdict = s.met ? 'met' : '**not met**';
    return `- ${s.what}: ≥ ${s.min}x, ${s.ratio.toFixed(2)}x, ${verdict}${s.loaded ? ' (LOADED)' : ''}`;
  };
  return ['Goals of issue 24 (ratio > 1: ours faster):', '', ...status.map(line)].join('\n');
}

export interface Tables {
  /** The rows shown. */
  rows: SummaryLine[];
  /** Loaded rows refused (empty with allowLoaded). */
  refused: SummaryLine[];
  goals: GoalStatus[];
  markdown: string;
}

/** The README block's content from a summary's lines: table, goals, and the refused rows by name. */
export function tables(lines: SummaryLine[], opts: { allowLoaded?: boolean } = {}): Tables {
  const latest = latestRows(lines);
  const rows = opts.allowLoaded ? latest : latest.filter((r) => !isLoaded(r));
  const refused = opts.allowLoaded ? [] : latest.filter(isLoaded);
  const goals = goalStatus(rows);
  const parts = [renderTable(rows), renderGoals(goals)];
  if (refused.length)
    parts.push(
      `Left out, measured at a 1-minute load of ${LOADED} or more (re-run their steps on a quiet machine: ` +
        `\`bench/run-all --out SWEEP_DIR --write-readme --only ${[...new Set(refused.map((r) => r.step ?? '?'))].join(',')}\`): ` +
        refused
          .map((r) => `${r.benchmark} (load ${r.loadBefore.toFixed(1)} → ${r.loadAfter.toFixed(1)})`)
          .join('; '),
    );
  return { rows, refused, goals, markdown: parts.join('\n\n') };
}

/** `text` with the block between the markers replaced (markers appended at the end when absent). */
export function replaceTable(text: string, table: string): string {
  const block = `${BEGIN}\n${table}\n${END}`;
  const i = text.indexOf(BEGIN);
  const j = text.indexOf(END);
  if (i < 0 || j < i) return `${text.trimEnd()}\n\n${block}\n`;
  return text.slice(0, i) + block + text.slice(j + END.length);
}

function writeAtomic(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

/**
 * Rewrites the table in `readme` from `summaryFile`, and writes the same rows and goals as JSON to `json` when
 * given (atomically: temp name + rename).
 */
export function writeReadmeTable(
  summaryFile: string,
  readme: string,
  opts: { allowLoaded?: boolean; json?: string } = {},
): Tables {
  const t = tables(readSummary(summaryFile), opts);
  writeAtomic(readme, replaceTable(readFileSync(readme, 'utf8'), t.markdown));
  if (opts.json) writeAtomic(opts.json, `${JSON.stringify(resultsJson(t, summaryFile), null, 1)}\n`);
  return t;
}

/** The machine-readable form of a table: its rows (every field), the refused rows and the goals. */
export function resultsJson(t: Tables, summaryFile: string) {
  return {
    written: new Date().toISOString(),
    from: summaryFile,
    loadedThreshold: LOADED,
    goals: t.goals,
    rows: t.rows,
    refused: t.refused.map((r) => ({
      benchmark: r.benchmark,
      step: r.step,
      loadBefore: r.loadBefore,
      loadAfter: r.loadAfter,
    })),
  };
}
