/** The self-contained HTML page: inlined vega builds, one JSON data block, escaped HTML for every data string. */
import { writeFileAtomic } from '../util/fsx.js';
import { VERSION } from '../version.js';
import { CLIENT_SCRIPT } from './client.js';
import { escapeHtml, jsonForScript, scriptSafe } from './escape.js';
import type { Cell, ExtraSection } from './extras.js';
import { groupControlsTable } from './group-controls.js';
import { buildReportModel, type FigureModel, type ReportModel, type RunSummary } from './model.js';
import { pack } from './pack.js';
import { OUTLINE_PREFIX } from './specs.js';
import type { ReportInputs, ReportOptions } from './types.js';
import { vendorScripts } from './vendor.js';

const CSS = `
:root { --fg:#1d232a; --muted:#5b6672; --line:#dde1e6; --bg:#fff; --accent:#2f6fb3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 24px; margin: 0 0 6px; } h2 { font-size: 19px; margin: 36px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 6px; }
h3 { font-size: 15px; margin: 22px 0 6px; }
.notes p { margin: 4px 0; padding: 8px 12px; background: #fff7e0; border-left: 4px solid #e0a800; }
.warnings { margin: 6px 0 12px; padding: 6px 12px 6px 28px; background: #fff4f2; border-left: 4px solid #d9534f; font-size: 12.5px; }
.meta { color: var(--muted); font-size: 12.5px; } .intro { margin: 2px 0 8px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0 14px; max-width: 100%; }
caption { text-align: left; font-weight: 600; padding: 2px 0 4px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; white-space: normal; overflow-wrap: break-word; }
th { white-space: nowrap; }
th { background: #f5f7f9; font-weight: 600; }
th.num, td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; overflow-wrap: normal; }
tr.run > td { border-bottom: none; padding-bottom: 1px; }
tr.run-details > td { font-size: 11.5px; color: var(--muted); padding-top: 0; padding-bottom: 6px; }
tr.run-details > td > span { display: inline-block; margin-right: 18px; } tr.run-details b { font-weight: 600; color: var(--fg); }
tr.run-details .source span { overflow-wrap: anywhere; }
tr.paper td { color: #6b7480; font-style: italic; background: #fafbfc; }
.table-wrap { max-width: 100%; overflow-x: auto; }
.side { display: flex; flex-wrap: wrap; gap: 0 28px; align-items: flex-start; }
.controls { position: sticky; top: 0; z-index: 5; background: rgba(255,255,255,.96); padding: 8px 0; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; gap: 8px 18px; align-items: center; }
.controls label, .prompt-pick label { font-weight: 600; } select, button { font: inherit; padding: 2px 8px; }
.prompt-pick { margin: 2px 0 4px; }
input[type=range] { width: 220px; vertical-align: middle; }
figure { margin: 14px 0 26px; max-width: 100%; } figcaption { font-weight: 600; margin-bottom: 4px; }
.vega { max-width: 100%; overflow-x: auto; }
.caption { color: var(--muted); margin: 2px 0; font-size: 12.5px; min-height: 1em; }
.error { color: #b00020; }
.warnings { padding: 2px 12px; background: #fff7e0; border-left: 4px solid #e0a800; } .warnings ul { margin: 4px 0 8px; padding-left: 18px; }
.more { color: var(--muted); font-size: 12px; }
details.raw > summary { cursor: pointer; font-weight: 600; font-size: 15px; }
details.raw table { display: block; overflow-x: auto; }
#vg-tooltip-element { font-size: 12px; }
`;

function num(v: number | undefined, digits = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/** Runs-table number: `n/a` when undefined (no best layer, or too few test rows for the metric). */
function na(v: number | undefined): string {
  return typeof v === 'number' && Number.isFinite(v) ? num(v) : 'n/a';
}

/** The runs' warnings as one list under the runs table; empty when there is none. */
function warningsHtml(runs: RunSummary[]): string {
  const items = runs.flatMap((r) => r.warnings.map((w) => `<li>${escapeHtml(`${r.label}: ${w}`)}</li>`));
  return items.length ? `<div class="warnings"><h3>Warnings</h3><ul>${items.join('')}</ul></div>` : '';
}

function cell(v: Cell): string {
  if (typeof v === 'number') {
    const text = Number.isInteger(v) ? String(v) : Math.abs(v) >= 1000 ? v.toFixed(1) : v.toPrecision(4);
    return `<td class="num">${escapeHtml(text)}</td>`;
  }
  if (v === null || v === '') return '<td class="meta">–</td>';
  return `<td>${escapeHtml(v)}</td>`;
}

/** The last two parts of a path: enough to tell runs apart without a 3,000 px cell. */
function shortPath(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length > 3 ? `…/${parts.slice(-3).join('/')}` : path;
}

/**
 * One row of numbers per run, then a full-width details row with its controls, settings and source: those are
 * phrases, not numbers, and squeezed into columns they broke one word per line at 1,280 px.
 */
function runsTable(runs: RunSummary[]): string {
  if (!runs.length) return '';
  const text = ['model', 'dataset', 'prompt', 'hook', 'kind'];
  const nums = ['train / test', 'd', 'best layer', 'test R²', 'Spearman', 'prox. error'];
  const head = [
    ...text.map((h) => `<th>${escapeHtml(h)}</th>`),
    ...nums.map((h) => `<th class="num">${escapeHtml(h)}</th>`),
  ].join('');
  const rows = runs.map((r) => {
    const cells = [
      `<td>${escapeHtml(r.model)}</td><td>${escapeHtml(r.dataset)}</td><td>${escapeHtml(r.prompt)}</td>`,
      `<td>${escapeHtml(r.hook || '–')}</td><td>${escapeHtml(r.kind)}</td>`,
      `<td class="num">${escapeHtml(`${r.nTrain ?? '?'} / ${r.nTest ?? '?'}`)}</td><td class="num">${escapeHtml(r.d ?? '–')}</td>`,
      `<td class="num">${escapeHtml(r.bestLayer ?? 'n/a')}</td><td class="num">${na(r.best?.r2)}</td>`,
      `<td class="num">${na(r.best?.spearman)}</td><td class="num">${na(r.best?.proxError)}</td>`,
    ].join('');
    const settings = r.settings.map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(v)}`).join(' · ') || '–';
    const source = r.source
      ? `<span title="${escapeHtml(r.source)}">${escapeHtml(shortPath(r.source))}</span>`
      : '–';
    const details = [
      ...(r.controls ? [`<span class="controls-cell"><b>controls</b> ${escapeHtml(r.controls)}</span>`] : []),
      `<span><b>settings</b> ${settings}</span>`,
      `<span class="source"><b>source</b> ${source}</span>`,
    ].join('');
    const n = text.length + nums.length;
    return `<tr class="run">${cells}</tr><tr class="run-details"><td colspan="${n}">${details}</td></tr>`;
  });
  return `<div class="table-wrap"><table class="runs"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** A map's or scatter's prompt selector (the other prompts show their best layer). */
function promptPicker(f: FigureModel): string {
  if (!f.prompts) return '';
  const options = f.prompts
    .map((p, i) => `<option value="${p.run}"${i === 0 ? ' selected' : ''}>${escapeHtml(p.prompt)}</option>`)
    .join('');
  return `<div class="prompt-pick"><label for="prompt-${f.id}">Prompt</label> <select id="prompt-${f.id}" class="prompt-select" data-fig="${f.id}">${options}</select> <span class="meta">other prompts: their best layer only</span></div>`;
}

function figureHtml(f: FigureModel): string {
  const marks = f.marks === undefined ? '' : ` data-marks="${f.marks}"`;
  return `<figure id="wrap-${f.id}" data-slug="${escapeHtml(f.slug)}"${marks}><figcaption>${escapeHtml(f.title)}</figcaption>${promptPicker(f)}<div id="${f.id}" class="vega"></div><p class="caption" id="cap-${f.id}">${escapeHtml(f.description ?? '')}</p></figure>`;
}

/** The generic view of one result file, tables only, for the raw-results appendix. */
function extraHtml(section: ExtraSection): string {
  const parts = [`<h3>${escapeHtml(section.title)}</h3>`];
  if (section.source) parts.push(`<p class="meta">from ${escapeHtml(section.source)}</p>`);
  if (section.scalars.length) {
    parts.push(
      `<table><tbody>${section.scalars.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th>${cell(v)}</tr>`).join('')}</tbody></table>`,
    );
  }
  for (const t of section.tables) {
    if (t.path) parts.push(`<p class="meta">${escapeHtml(t.path)}</p>`);
    const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
    const body = t.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('');
    parts.push(`<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`);
    if (t.total > t.rows.length)
      parts.push(`<p class="more">${t.total - t.rows.length} more rows not shown</p>`);
  }
  return parts.join('\n');
}

function rawAppendix(extras: ExtraSection[]): string {
  if (!extras.length) return '';
  return `<h2>Appendix</h2><details class="raw" id="raw-results"><summary>Raw results (${extras.length} file${extras.length > 1 ? 's' : ''}): every value of every result file, as tables</summary>${extras.map(extraHtml).join('\n')}</details>`;
}

function controlsHtml(model: ReportModel): string {
  if (!model.points.length) return '';
  const layerOptions = model.layers
    .map((l) => `<option value="${l}"${l === model.initialLayer ? ' selected' : ''}>${l}</option>`)
    .join('');
  const splitOptions = (['test', 'train', 'all'] as const)
    .map((s) => `<option value="${s}"${s === model.split ? ' selected' : ''}>${s} rows</option>`)
    .join('');
  const index = Math.max(0, model.layers.indexOf(model.initialLayer));
  // One layer (static embeddings, surface baselines): nothing to slide through or play.
  const stepping =
    model.layers.length > 1
      ? `<input type="range" id="layer-slider" min="0" max="${model.layers.length - 1}" step="1" value="${index}" aria-label="layer">
<button type="button" id="play-button" title="animate the maps from the first layer to the last">▶ Play</button>`
      : '';
  return `<div class="controls"><span><label for="layer-select">Layer</label> <select id="layer-select">${layerOptions}</select></span>
${stepping}
<span><label for="split-select">Rows</label> <select id="split-select">${splitOptions}</select></span>
<span class="meta">${model.layers.length} layer${model.layers.length === 1 ? '' : 's'} with predictions · hover a point for its name, true and predicted value.</span></div>`;
}

function experimentHtml(model: ReportModel): string[] {
  return model.experiments.map((e) => {
    const figs = e.figureIds.map((id) => figureHtml(model.figures.find((f) => f.id === id)!));
    const tables = e.tables.map((t) => `<div class="table-wrap">${t}</div>`);
    return `<h2 id="exp-${escapeHtml(e.id)}">${escapeHtml(e.title)}</h2><p class="intro">${escapeHtml(e.intro)}</p>${tables.join('')}${figs.join('\n')}`;
  });
}

/**
 * Map outlines (countries, states, boroughs) are stored once in the page: each figure's copy is replaced by null and
 * the page script puts the shared one back before drawing.
 */
function shareOutlines(figures: FigureModel[]) {
  const shared: Record<string, unknown> = {};
  const out = figures.map((f) => {
    let spec = f.spec;
    const datasets = spec['datasets'] as Record<string, unknown> | undefined;
    if (datasets && Object.keys(datasets).some((k) => k.startsWith(OUTLINE_PREFIX))) {
      const kept: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(datasets)) {
        if (k.startsWith(OUTLINE_PREFIX)) {
          shared[k] = v;
          kept[k] = null;
        } else kept[k] = v;
      }
      spec = { ...spec, datasets: kept };
    }
    return { id: f.id, spec, renderer: f.renderer, run: f.run, prompts: f.prompts };
  });
  return { figures: out, shared };
}

const ENTITY_FIELDS = ['names', 'group', 'groupNames', 'isTest', 'truth'] as const;

/** Equal arrays (nested: truth is one array per target), element by element; NaN equals NaN. */
function sameValues(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => sameValues(v, b[i]));
  return Object.is(a, b);
}

/**
 * Runs of one dataset with other prompts list the same entities: a later run's names, groups, split and truths are
 * stored once, as `entitiesOf` (the index of the earlier run), and the page's script copies them back.
 */
function shareEntities(points: ReportModel['points']) {
  return points.map((p, i) => {
    const j = points.findIndex(
      (q, k) =>
        k < i &&
        q.kind === p.kind &&
        q.datasetName === p.datasetName &&
        ENTITY_FIELDS.every((f) => sameValues(q[f], p[f])),
    );
    if (j < 0) return p;
    const { names, group, groupNames, isTest, truth, ...rest } = p;
    return { ...rest, entitiesOf: j };
  });
}

/** The page for an already-built model. */
export function renderModel(model: ReportModel): string {
  const bySection = (s: FigureModel['section']) =>
    model.figures
      .filter((f) => f.section === s)
      .map(figureHtml)
      .join('\n');
  const body: string[] = [
    `<h1>${escapeHtml(model.title)}</h1>`,
    `<p class="meta">spacetime-lens ${escapeHtml(VERSION)} · generated ${escapeHtml(model.generatedAt)} · after Gurnee &amp; Tegmark, “Language Models Represent Space and Time” (2023)</p>`,
  ];
  if (model.notes.length)
    body.push(`<div class="notes">${model.notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('')}</div>`);
  if (model.runs.length) {
    body.push('<h2>Probe runs</h2>', runsTable(model.runs), warningsHtml(model.runs));
    body.push(groupControlsTable(model.runs.flatMap((r) => (r.groups ? [r.groups] : []))));
    body.push('<h2>Accuracy by depth</h2>', bySection('layers'));
  }
  if (model.points.length) body.push(controlsHtml(model));
  const maps = bySection('maps');
  if (maps) body.push('<h2>Predicted positions</h2>', maps);
  const time = bySection('time');
  if (time) body.push('<h2>Predicted dates</h2>', time);
  const overview = bySection('overview');
  if (overview) body.push('<h2>The datasets and the errors by entity type</h2>', overview);
  body.push(...experimentHtml(model));
  body.push(rawAppendix(model.extras));
  const { figures, shared } = shareOutlines(model.figures);
  const data = {
    figures,
    shared,
    layers: model.layers,
    points: shareEntities(model.points),
    initialLayer: model.initialLayer,
    split: model.split,
  };
  const scripts = vendorScripts()
    .map((code) => `<script>${scriptSafe(code)}</script>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(model.title)}</title>
<style>${CSS}</style>
${scripts}
</head><body>
<main>
${body.join('\n')}
</main>
<script type="application/json" id="report-data">${jsonForScript(pack(data))}</script>
<script>${scriptSafe(CLIENT_SCRIPT)}</script>
</body></html>
`;
}

/** One self-contained HTML report (no network needed to open it). */
export function renderReport(inputs: ReportInputs, options: ReportOptions = {}): string {
  return renderModel(buildReportModel(inputs, options));
}

/** Renders and writes the report atomically. */
export async function writeReport(
  path: string,
  inputs: ReportInputs,
  options: ReportOptions = {},
): Promise<ReportModel> {
  const model = buildReportModel(inputs, options);
  await writeFileAtomic(path, renderModel(model));
  return model;
}
