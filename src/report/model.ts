/** Turns report inputs into the figures, tables and point data that the HTML page and the figure export share. */

import { basename, dirname } from 'node:path';
import { ensure } from '../util/errors.js';
import { curveWithControls, runControlsCell } from './controls.js';
import { describeExtra, type ExtraSection } from './extras.js';
import { buildRunPoints, type RunPoints, runLabel } from './points.js';
import { mapSpec, timeSpec, type VlSpec } from './specs.js';
import type { ReportInputs, ReportOptions, ReportRun } from './types.js';

const MAP_NAMES = { world: 'world map', us: 'US map', nyc: 'NYC map' } as const;

export type Section = 'layers' | 'maps' | 'time' | 'extras';

export interface FigureModel {
  id: string;
  /** Base name for exported files. */
  slug: string;
  title: string;
  /** Static caption under the figure (layer-switchable figures get theirs from the page script). */
  description?: string;
  section: Section;
  spec: VlSpec;
  renderer: 'canvas' | 'svg';
  /** Index into `points` for figures whose data follow the layer / split selectors. */
  run?: number;
  /** For extras: index into `extras` and table. */
  extra?: { section: number; table: number };
}

export interface RunSummary {
  label: string;
  model: string;
  dataset: string;
  prompt: string;
  hook: string;
  kind: string;
  nTrain?: number;
  nTest?: number;
  d?: number;
  bestLayer?: number;
  best?: { r2: number; proxError?: number; spearman?: number };
  settings: string;
  source?: string;
  /** Its controls' best test R² and its selectivity (docs/controls.md); empty for control runs. */
  controls?: string;
}

export interface ReportModel {
  title: string;
  notes: string[];
  generatedAt: string;
  runs: RunSummary[];
  points: RunPoints[];
  figures: FigureModel[];
  extras: ExtraSection[];
  layers: number[];
  initialLayer: number;
  split: 'test' | 'train' | 'all';
}

function slugify(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 80) || 'figure'
  );
}

function summarize(run: ReportRun): RunSummary {
  const r = run.results;
  const bestLayer = r.bestLayer ?? [...r.layers].sort((a, b) => b.test.r2 - a.test.r2)[0]?.layer;
  const best = r.layers.find((l) => l.layer === bestLayer)?.test;
  const sp = best?.spearman;
  const settings = Object.entries(r.settings ?? {})
    .filter(([k, v]) => k !== 'alphas' && (typeof v === 'string' || typeof v === 'number'))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return {
    label: runLabel(run),
    model: r.model,
    dataset: r.dataset,
    prompt: r.prompt,
    hook: r.hook ?? '',
    kind: r.kind,
    nTrain: r.nTrain,
    nTest: r.nTest,
    d: r.d,
    bestLayer,
    best: best && {
      r2: best.r2,
      proxError: best.proxError,
      spearman: sp?.length ? sp.reduce((a, b) => a + b, 0) / sp.length : undefined,
    },
    settings,
    source: run.source,
  };
}

function validateRun(run: ReportRun, index: number): void {
  const r = run.results;
  const where = run.source ?? `run ${index + 1}`;
  ensure(r && Array.isArray(r.layers), `${where}: not a probe results object (no "layers" array)`);
  ensure(
    r.kind === 'space' || r.kind === 'time',
    `${where}: "kind" must be "space" or "time", got ${JSON.stringify(r.kind)}`,
  );
  for (const l of r.layers) {
    ensure(
      Number.isInteger(l.layer) && typeof l.test === 'object' && l.test !== null,
      `${where}: layer entries need "layer" and "test" metrics`,
    );
    if (typeof l.test.r2 !== 'number') l.test.r2 = Number.NaN; // the probe writes NaN as null
  }
  const p = run.predictions;
  if (p) {
    const need = r.kind === 'space' ? 2 : 1;
    ensure(p.truth.length >= need, `${where}: predictions need ${need} target column(s)`);
    ensure(p.pred.size > 0, `${where}: predictions hold no layer`);
  }
}

/** Everything the page and the exporter draw, computed once. */
export function buildReportModel(inputs: ReportInputs, options: ReportOptions = {}): ReportModel {
  ensure(
    inputs.runs.length > 0 || (inputs.extras?.length ?? 0) > 0,
    'nothing to report: no probe results and no other results given',
  );
  inputs.runs.forEach(validateRun);
  inputs = { ...inputs, runs: disambiguate(inputs.runs) };
  const figures: FigureModel[] = [];
  const add = (f: Omit<FigureModel, 'id'>) => figures.push({ id: `fig-${figures.length + 1}`, ...f });
  const runs = inputs.runs;
  if (runs.length) {
    const description =
      "One line per model · prompt, one panel per dataset; ◆ marks each run's best layer (by test R²).";
    add({
      slug: 'r2-by-layer',
      title: 'Test R² by layer',
      description,
      section: 'layers',
      spec: curveWithControls(runs, 'r2'),
      renderer: 'svg',
    });
    if (runs.some((r) => r.results.layers.some((l) => typeof l.test.proxError === 'number'))) {
      add({
        slug: 'prox-error-by-layer',
        title: 'Test proximity error by layer (lower is better)',
        description,
        section: 'layers',
        spec: curveWithControls(runs, 'proxError'),
        renderer: 'svg',
      });
    }
  }
  const points: RunPoints[] = [];
  for (const run of runs) {
    if (!run.predictions) continue;
    const p = buildRunPoints(run, options);
    const index = points.push(p) - 1;
    const space = p.kind === 'space';
    add({
      slug: slugify(`${space ? 'map' : 'time'}-${p.label}`),
      title: space
        ? `Predicted positions (${MAP_NAMES[p.mapKind ?? 'world']}): ${p.label}`
        : `Predicted vs true year: ${p.label}`,
      section: space ? 'maps' : 'time',
      spec: space ? mapSpec(p, options.nycOutlines) : timeSpec(p),
      renderer: 'canvas',
      run: index,
    });
  }
  const extras = (inputs.extras ?? []).map(describeExtra);
  extras.forEach((section, s) => {
    section.tables.forEach((table, t) => {
      if (table.chart) {
        add({
          slug: slugify(`${section.title}-${table.path || 'chart'}`),
          title: `${section.title}${table.path ? `: ${table.path}` : ''}`,
          section: 'extras',
          spec: table.chart,
          renderer: 'svg',
          extra: { section: s, table: t },
        });
      }
    });
  });
  const layers = [...new Set(points.flatMap((p) => p.layers))].sort((a, b) => a - b);
  const firstBest = runs.find((r) => r.predictions)?.results.bestLayer;
  const initialLayer =
    options.layer ?? (firstBest !== undefined && layers.includes(firstBest) ? firstBest : (layers[0] ?? 0));
  if (options.layer !== undefined && points.length) {
    ensure(
      layers.includes(options.layer),
      `layer ${options.layer} has no predictions; layers with predictions: ${layers.join(', ')}`,
    );
  }
  return {
    title: options.title ?? defaultTitle(runs),
    notes: options.notes ?? [],
    generatedAt: options.generatedAt ?? new Date().toISOString(),
    runs: runs.map((r) => ({ ...summarize(r), controls: runControlsCell(r, runs) })),
    points,
    figures,
    extras,
    layers,
    initialLayer,
    split: options.split ?? 'test',
  };
}

/** Runs that share model, dataset and prompt get a suffix: their folder name, else their position. */
function disambiguate(runs: ReportRun[]): ReportRun[] {
  const key = (r: ReportRun) => `${r.results.model}\u0000${r.results.dataset}\u0000${r.results.prompt}`;
  const groups = new Map<string, number[]>();
  runs.forEach((r, i) => {
    groups.set(key(r), [...(groups.get(key(r)) ?? []), i]);
  });
  const out = runs.map((r) => ({ ...r, labelSuffix: undefined as string | undefined }));
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const folders = members.map((i) => (runs[i].source ? basename(dirname(runs[i].source!)) : ''));
    const distinct = new Set(folders).size === members.length && folders.every(Boolean);
    members.forEach((i, k) => {
      out[i].labelSuffix = distinct ? ` [${folders[k]}]` : ` #${k + 1}`;
    });
  }
  return out;
}

function defaultTitle(runs: ReportRun[]): string {
  const models = [...new Set(runs.map((r) => r.results.model))];
  return models.length === 1 ? `Space and time probes: ${models[0]}` : 'Space and time probes';
}
