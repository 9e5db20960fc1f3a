/** The self-contained HTML page: inlined vega builds, one JSON data block, escaped HTML for every data string. */
import { writeFileAtomic } from '../util/fsx.js';
import { VERSION } from '../version.js';
import { CLIENT_SCRIPT } from './client.js';
import { escapeHtml, jsonForScript, scriptSafe } from './escape.js';
import type { Cell, ExtraSection } from './extras.js';
import { buildReportModel, type FigureModel, type ReportModel, type RunSummary } from './model.js';
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
.meta { color: var(--muted); font-size: 12.5px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 8px 0 14px; display: block; overflow-x: auto; max-width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 9px; text-align: left; white-space: nowrap; }
th { background: #f5f7f9; font-weight: 600; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.controls { position: sticky; top: 0; z-index: 5; background: rgba(255,255,255,.96); padding: 8px 0; border-bottom: 1px solid var(--line); display: flex; gap: 18px; align-items: center; }
.controls label { font-weight: 600; } select { font: inherit; padding: 2px 6px; }
figure { margin: 14px 0 26px; } figcaption { font-weight: 600; margin-bottom: 4px; }
.caption { color: var(--muted); margin: 2px 0; font-size: 12.5px; min-height: 1em; }
.error { color: #b00020; }
.more { color: var(--muted); font-size: 12px; }
#vg-tooltip-element { font-size: 12px; }
`;

function num(v: number | undefined, digits = 3): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '';
}

function cell(v: Cell): string {
  if (typeof v === 'number') {
    const text = Number.isInteger(v) ? String(v) : Math.abs(v) >= 1000 ? v.toFixed(1) : v.toPrecision(4);
    return `<td class="num">${escapeHtml(text)}</td>`;
  }
  return `<td>${escapeHtml(v ?? '')}</td>`;
}

function runsTable(runs: RunSummary[]): string {
  if (!runs.length) return '';
  const head = [
    'model',
    'dataset',
    'prompt',
    'hook',
    'kind',
    'train / test',
    'd',
    'best layer',
    'test R²',
    'Spearman',
    'prox. error',
    'controls',
    'settings',
    'source',
  ];
  const rows = runs.map((r) =>
    [
      `<td>${escapeHtml(r.model)}</td><td>${escapeHtml(r.dataset)}</td><td>${escapeHtml(r.prompt)}</td>`,
      `<td>${escapeHtml(r.hook)}</td><td>${escapeHtml(r.kind)}</td>`,
      `<td class="num">${escapeHtml(`${r.nTrain ?? '?'} / ${r.nTest ?? '?'}`)}</td><td class="num">${escapeHtml(r.d ?? '')}</td>`,
      `<td class="num">${escapeHtml(r.bestLayer ?? '')}</td><td class="num">${num(r.best?.r2)}</td>`,
      `<td class="num">${num(r.best?.spearman)}</td><td class="num">${num(r.best?.proxError)}</td>`,
      `<td>${escapeHtml(r.controls ?? '')}</td>`,
      `<td>${escapeHtml(r.settings)}</td><td>${escapeHtml(r.source ?? '')}</td>`,
    ].join(''),
  );
  return `<table class="runs"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join('')}</tbody></table>`;
}

function figureHtml(f: FigureModel): string {
  return `<figure id="wrap-${f.id}"><figcaption>${escapeHtml(f.title)}</figcaption><div id="${f.id}" class="vega"></div><p class="caption" id="cap-${f.id}">${escapeHtml(f.description ?? '')}</p></figure>`;
}

function extraHtml(section: ExtraSection, index: number, figures: FigureModel[]): string {
  const parts = [`<h3>${escapeHtml(section.title)}</h3>`];
  if (section.source) parts.push(`<p class="meta">from ${escapeHtml(section.source)}</p>`);
  if (section.scalars.length) {
    parts.push(
      `<table><tbody>${section.scalars.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th>${cell(v)}</tr>`).join('')}</tbody></table>`,
    );
  }
  section.tables.forEach((t, ti) => {
    const fig = figures.find((f) => f.extra?.section === index && f.extra.table === ti);
    if (fig) parts.push(figureHtml(fig));
    if (t.path) parts.push(`<p class="meta">${escapeHtml(t.path)}</p>`);
    const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
    const body = t.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('');
    parts.push(`<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`);
    if (t.total > t.rows.length)
      parts.push(`<p class="more">${t.total - t.rows.length} more rows not shown</p>`);
  });
  return parts.join('\n');
}

function controlsHtml(model: ReportModel): string {
  if (!model.points.length) return '';
  const layerOptions = model.layers
    .map((l) => `<option value="${l}"${l === model.initialLayer ? ' selected' : ''}>${l}</option>`)
    .join('');
  const splitOptions = (['test', 'train', 'all'] as const)
    .map((s) => `<option value="${s}"${s === model.split ? ' selected' : ''}>${s} rows</option>`)
    .join('');
  return `<div class="controls"><span><label for="layer-select">Layer</label> <select id="layer-select">${layerOptions}</select></span>
<span><label for="split-select">Rows</label> <select id="split-select">${splitOptions}</select></span>
<span class="meta">Hover a point for its name, true and predicted value.</span></div>`;
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
    body.push('<h2>Probe runs</h2>', runsTable(model.runs));
    body.push('<h2>Accuracy by layer</h2>', bySection('layers'));
  }
  if (model.points.length) body.push(controlsHtml(model));
  const maps = bySection('maps');
  if (maps) body.push('<h2>Predicted positions</h2>', maps);
  const time = bySection('time');
  if (time) body.push('<h2>Predicted dates</h2>', time);
  if (model.extras.length) {
    body.push('<h2>Further results</h2>', ...model.extras.map((s, i) => extraHtml(s, i, model.figures)));
  }
  const data = {
    figures: model.figures.map((f) => ({ id: f.id, spec: f.spec, renderer: f.renderer, run: f.run })),
    points: model.points,
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
<script type="application/json" id="report-data">${jsonForScript(data)}</script>
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
