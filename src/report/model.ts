/** Turns report inputs into the figures, tables and point data that the HTML page and the figure export share. */

import { basename, dirname } from 'node:path';
import { CANONICAL_PROMPTS } from '../data/prompts.js';
import { ensure } from '../util/errors.js';
import { modelDisplayName } from '../util/paths.js';
import { runControlsCell, splitControls, withControlReferences } from './controls.js';
import {
  type DepthOf,
  type ExperimentDoc,
  type ExpSection,
  experimentSections,
  isExperimentDoc,
  KNOWN_EXPERIMENTS,
} from './experiment-figures.js';
import { describeExtra, type ExtraSection } from './extras.js';
import { FOLLOWUP_EXPERIMENTS, followupSections, targetVariantSuffix } from './followup-figures.js';
import { oneLayerEach, oneLayerSpec } from './one-layer.js';
import { entityBoxSpec, overviewSpecs } from './overview.js';
import { buildRunPoints, nearestLayer, type RunPoints, runLabel } from './points.js';
import { saeFeatureFigures } from './sae.js';
import { curvePoints, lastLayer, layerCurveSpec, mapSpec, timeSpec, type VlSpec } from './specs.js';
import type { ReportInputs, ReportOptions, ReportRun } from './types.js';

const MAP_NAMES = { world: 'world map', us: 'US map', nyc: 'NYC map' } as const;

export type Section = 'layers' | 'maps' | 'time' | 'overview' | 'experiments';

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
  /** For experiment figures: the id of their experiment section. */
  experiment?: string;
  /** Rows of the figure's counted layer (named "main"); layer-switchable figures count their points instead. */
  marks?: number;
  /**
   * The figure's prompt selector: the shown run's prompt (`run`) first, then the other prompts of the same model and
   * dataset, each with the points of its best layer only (a page with every layer of every prompt would be 4x).
   */
  prompts?: { prompt: string; run: number }[];
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
  settings: [string, string][];
  /** The run's warnings, then each layer's (one line per distinct message, with the layers it applies to). */
  warnings: string[];
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
  /** Dedicated experiment sections (tables + ids of their figures), in the paper's order. */
  experiments: (Omit<ExpSection, 'figures'> & { figureIds: string[] })[];
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
  // null = the probe declined to name one (too few test rows); older results without the field get the highest R².
  const bestLayer =
    r.bestLayer === null
      ? undefined
      : (r.bestLayer ??
        [...r.layers].sort((a, b) => (b.test.r2 || -Infinity) - (a.test.r2 || -Infinity))[0]?.layer);
  const best = r.layers.find((l) => l.layer === bestLayer)?.test;
  const sp = best?.spearman;
  const settings = Object.entries(r.settings ?? {})
    .filter(
      ([k, v]) =>
        k !== 'alphas' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'),
    )
    .map(([k, v]): [string, string] => [k, String(v)]);
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
    warnings: runWarnings(r),
  };
}

/** One note per layer the probe skipped, so a gap in the layer curve is explained. */
function skippedLayerNotes(run: ReportRun): string[] {
  const skipped = Array.isArray(run.results.skippedLayers) ? run.results.skippedLayers : [];
  return skipped.map((s) => `${runLabel(run)}: layer ${s.layer} was not probed (${s.reason})`);
}

/** Run-level warnings, then per-layer ones grouped: the same message on many layers is listed once. */
function runWarnings(r: ReportRun['results']): string[] {
  const byMessage = new Map<string, number[]>();
  for (const l of r.layers) {
    for (const w of Array.isArray(l.warnings) ? l.warnings : [])
      byMessage.set(w, [...(byMessage.get(w) ?? []), l.layer]);
  }
  const layerLines = [...byMessage].map(
    ([w, ls]) => `layer${ls.length > 1 ? 's' : ''} ${ls.join(', ')}: ${w}`,
  );
  return [...(Array.isArray(r.warnings) ? r.warnings.map(String) : []), ...layerLines];
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
    ensure(Number.isInteger(l.layer), `${where}: layer entries need an integer "layer"`);
    if (typeof l.test !== 'object' || l.test === null) l.test = { r2: Number.NaN }; // tolerated: no test rows
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
  if (!options.nycOutlines && inputs.nycOutlines) options = { ...options, nycOutlines: inputs.nycOutlines };
  const figures: FigureModel[] = [];
  const add = (f: Omit<FigureModel, 'id'>) => {
    const id = `fig-${figures.length + 1}`;
    figures.push({ id, ...f });
    return id;
  };
  const runs = inputs.runs;
  if (runs.length) addLayerCurves(runs, add);
  const points: RunPoints[] = [];
  const pointRuns = representativeRuns(splitControls(runs).main, true); // no maps of the controls
  for (const run of pointRuns) {
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
  for (const fig of overviewSpecs(points, options.nycOutlines))
    add({ ...fig, section: 'overview', renderer: fig.canvas ? 'canvas' : 'svg' });
  const box = entityBoxSpec(points, pointRuns);
  if (box) add({ ...box, section: 'overview', renderer: 'svg' });
  // The layer selector offers the layers of the shown runs; the other prompts' single layers come after.
  const layers = [...new Set(points.flatMap((p) => p.layers))].sort((a, b) => a - b);
  for (const fig of figures) {
    if (fig.run === undefined) continue;
    const others = otherPrompts(splitControls(runs).main, pointRuns[fig.run]!);
    if (!others.length) continue;
    fig.prompts = [
      { prompt: pointRuns[fig.run]!.results.prompt, run: fig.run },
      ...others.map((r) => ({
        prompt: r.results.prompt,
        run: points.push(buildRunPoints(bestLayerOnly(r), options)) - 1,
      })),
    ];
  }
  const depthOf = depthLookup(runs);
  const docs: ExperimentDoc[] = (inputs.extras ?? []).flatMap((e) =>
    isExperimentDoc(e.data) &&
    (KNOWN_EXPERIMENTS.has(e.data.experiment) || FOLLOWUP_EXPERIMENTS.has(e.data.experiment))
      ? [{ ...e.data, ...(e.source !== undefined && { source: e.source }) }]
      : [],
  );
  const experiments = [
    ...experimentSections(docs, depthOf, options.nycOutlines),
    ...followupSections(docs, runs, depthOf, options.nycOutlines),
  ].map((section) => ({
    id: section.id,
    title: section.title,
    intro: section.intro,
    tables: section.tables,
    figureIds: section.figures.map((f) =>
      add({
        slug: f.slug,
        title: f.title,
        description: f.caption,
        section: 'experiments',
        spec: f.spec,
        renderer: f.marks > 3000 ? 'canvas' : 'svg',
        experiment: section.id,
        marks: f.marks,
      }),
    ),
  }));
  const extras = (inputs.extras ?? []).map(describeExtra);
  for (const figure of saeFeatureFigures(inputs.extras ?? [])) add(figure);
  const firstBest = runs.find((r) => r.predictions)?.results.bestLayer;
  const initialLayer =
    options.layer ??
    (typeof firstBest === 'number' && layers.includes(firstBest) ? firstBest : (layers[0] ?? 0));
  if (options.layer !== undefined && points.length) {
    ensure(
      layers.includes(options.layer),
      `layer ${options.layer} has no predictions; layers with predictions: ${layers.join(', ')}`,
    );
  }
  return {
    title: options.title ?? defaultTitle(runs),
    notes: [...(options.notes ?? []), ...runs.flatMap(skippedLayerNotes)],
    generatedAt: options.generatedAt ?? new Date().toISOString(),
    runs: runs.map((r) => ({ ...summarize(r), controls: runControlsCell(r, runs) })),
    points,
    figures,
    extras,
    experiments,
    layers,
    initialLayer,
    split: options.split ?? 'test',
  };
}

function addLayerCurves(all: ReportRun[], add: (f: Omit<FigureModel, 'id'>) => string): void {
  // Control runs (surface:, static:, random-init:) are drawn as grey references beside the real models' lines.
  const { main: runs, controls } = splitControls(all);
  const main = representativeRuns(runs, false);
  // The spec and the rows of its counted ("main") layer: the real runs' points, or every bar when one layer each.
  const curve = (of: ReportRun[], metric: 'r2' | 'proxError') => {
    if (!oneLayerEach(of, metric))
      return {
        spec: withControlReferences(layerCurveSpec(of, metric), of, controls, metric),
        marks: curvePoints(of, metric).length,
      };
    const spec = oneLayerSpec(of, controls, metric);
    return { spec, marks: (spec['data']['values'] as unknown[]).length };
  };
  const flat = oneLayerEach(main, 'r2');
  add({
    slug: 'main-r2-by-depth',
    title: flat
      ? 'Test R² of each model (one layer each: no depth to plot)'
      : 'Test R² against normalized depth',
    description: flat
      ? 'Every run here has a single layer (a static embedding or a surface-form baseline has no depth), so instead of R² against depth each model gets a bar with its test R². An LLM run adds the paper’s main figure: R² layer by layer.'
      : "The paper's main figure: one panel per dataset, one line per model (its canonical prompt, else its best); ◆ best layer; grey ▲ ■ ✚: the paper's Llama-2 7B / 13B / 70B where dataset and prompt match. Look for the rise through the first half of the model and a plateau after it.",
    section: 'layers',
    ...curve(main, 'r2'),
    renderer: 'svg',
  });
  if (main.some((r) => r.results.layers.some((l) => typeof l.test.proxError === 'number'))) {
    const flatProx = oneLayerEach(main, 'proxError');
    add({
      slug: 'main-prox-error-by-depth',
      title: flatProx
        ? 'Test proximity error of each model (one layer each; lower is better)'
        : 'Test proximity error against normalized depth (lower is better)',
      description: `The fraction of entities whose true position is closer to an entity’s true position than its prediction is; 0.5 is chance.${flatProx ? '' : ' Look for the fall mirroring the R² rise.'}`,
      section: 'layers',
      ...curve(main, 'proxError'),
      renderer: 'svg',
    });
  }
  if (main.length < runs.length) {
    add({
      slug: 'r2-by-depth-every-run',
      title: 'Test R² against normalized depth, every probe run (all prompts)',
      description: 'Every run of the table above, one line per model · prompt.',
      section: 'layers',
      ...curve(runs, 'r2'),
      renderer: 'svg',
    });
  }
}

/**
 * One run per (model, dataset, hook): the one with the dataset's canonical prompt, else the best by test R². The
 * main figure and the maps show these; the other prompts get their own curves (near-identical maps would repeat).
 */
function representativeRuns(runs: ReportRun[], withPredictions: boolean): ReportRun[] {
  const chosen = new Map<string, ReportRun>();
  const score = (r: ReportRun) =>
    (CANONICAL_PROMPTS[r.results.dataset] === r.results.prompt ? 10 : 0) +
    Math.max(-1, ...r.results.layers.map((l) => (Number.isFinite(l.test.r2) ? l.test.r2 : -1)));
  for (const run of runs) {
    if (withPredictions && !run.predictions) continue;
    const key = `${run.results.model}\u0000${run.results.dataset}\u0000${run.results.hook ?? ''}${run.labelSuffix ?? ''}`;
    const current = chosen.get(key);
    if (!current || score(run) > score(current)) chosen.set(key, run);
  }
  const kept = new Set(chosen.values());
  return runs.filter((r) => kept.has(r));
}

/** Runs with predictions of the same model, dataset and hook as `shown`, with another prompt, by prompt name. */
function otherPrompts(main: ReportRun[], shown: ReportRun): ReportRun[] {
  const key = (r: ReportRun) =>
    `${r.results.model}\u0000${r.results.dataset}\u0000${r.results.hook ?? ''}${r.labelSuffix ?? ''}`;
  return main
    .filter(
      (r) =>
        r !== shown && r.predictions && key(r) === key(shown) && r.results.prompt !== shown.results.prompt,
    )
    .sort((a, b) => a.results.prompt.localeCompare(b.results.prompt));
}

/** The run with the predictions of its best layer only (the probe keeps that layer's every row). */
function bestLayerOnly(run: ReportRun): ReportRun {
  const table = run.predictions!;
  const available = [...table.pred.keys()];
  const layer = nearestLayer(available, run.results.bestLayer ?? Math.max(...available));
  return { ...run, predictions: { ...table, pred: new Map([[layer, table.pred.get(layer)!]]) } };
}

/** layer / last layer: a model's last layer is the deepest layer any of its runs probed or skipped. */
function depthLookup(runs: ReportRun[]): DepthOf {
  const last = new Map<string, number>();
  for (const r of runs) last.set(r.results.model, Math.max(last.get(r.results.model) ?? 1, lastLayer(r)));
  return (model, fallback) => last.get(model) ?? Math.max(1, fallback);
}

/**
 * A globe or log-time probe is named for its target (' · globe probe'); other runs that share model, dataset, prompt
 * and target get a suffix: their folder name, else their position.
 */
function disambiguate(runs: ReportRun[]): ReportRun[] {
  const key = (r: ReportRun) =>
    `${r.results.model}\u0000${r.results.dataset}\u0000${r.results.prompt}\u0000${targetVariantSuffix(r)}`;
  const groups = new Map<string, number[]>();
  runs.forEach((r, i) => {
    groups.set(key(r), [...(groups.get(key(r)) ?? []), i]);
  });
  const out = runs.map((r) => ({
    ...r,
    labelSuffix: (targetVariantSuffix(r) || undefined) as string | undefined,
  }));
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const folders = members.map((i) => (runs[i].source ? basename(dirname(runs[i].source!)) : ''));
    const distinct = new Set(folders).size === members.length && folders.every(Boolean);
    members.forEach((i, k) => {
      out[i].labelSuffix = `${targetVariantSuffix(runs[i])}${distinct ? ` [${folders[k]}]` : ` #${k + 1}`}`;
    });
  }
  return out;
}

function defaultTitle(runs: ReportRun[]): string {
  const main = splitControls(runs).main; // a model's controls do not make the report a multi-model one
  const models = [...new Set(main.map((r) => modelDisplayName(r.results.model)))];
  return models.length === 1 ? `Space and time probes: ${models[0]}` : 'Space and time probes';
}
