/** Static figure export: every figure of the report as SVG (vega's headless view) and PNG (resvg, prebuilt). */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { tempSibling, writeFileAtomic } from '../util/fsx.js';
import { buildReportModel, type ReportModel } from './model.js';
import { nearestLayer, pointRows, statsRows } from './points.js';
import type { VlSpec } from './specs.js';
import type { ReportInputs, ReportOptions } from './types.js';

export interface ExportOptions {
  /** Also write PNGs (default true). */
  png?: boolean;
  /** PNG pixel density relative to the SVG size (default 2). */
  pngScale?: number;
  /** Layer of the maps and time scatters (default: the report's initial layer). */
  layer?: number;
  split?: 'test' | 'train' | 'all';
}

export interface ExportedFigure {
  id: string;
  title: string;
  svg: string;
  png?: string;
  /** Why the PNG could not be made (the SVG is still written). */
  pngError?: string;
}

/** The figure's Vega-Lite spec with its data filled in and its title set, ready for a static renderer. */
export function staticSpec(
  model: ReportModel,
  figureId: string,
  layer: number,
  split: 'test' | 'train' | 'all',
): VlSpec {
  const fig = model.figures.find((f) => f.id === figureId);
  if (!fig) throw new Error(`no figure ${figureId}`);
  const spec: VlSpec = { ...fig.spec, title: { text: fig.title, subtitle: fig.description ?? '' } };
  if (fig.run !== undefined) {
    const points = model.points[fig.run];
    const rows = pointRows(points, layer, split);
    spec['datasets'] = { ...fig.spec['datasets'], points: rows, stats: statsRows(points, layer) };
    // The page's caption: the layer's test R², Spearman ρ and proximity error (the paper prints ρ in the corner).
    const used = nearestLayer(points.layers, layer);
    const m = points.metrics[used];
    const metric = (name: string, v: number | undefined) =>
      typeof v === 'number' && Number.isFinite(v) ? ` · ${name} ${v.toFixed(3)}` : '';
    const stats = `${metric('test R²', m?.r2)}${metric('Spearman ρ', m?.spearman)}${metric('proximity error', m?.proxError)}`;
    spec['title'] = { text: fig.title, subtitle: `layer ${used}${stats} · ${rows.length} ${split} points` };
  }
  return spec;
}

/** Renders one Vega-Lite spec to SVG text without a browser. */
export async function renderSvg(spec: VlSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * SVG -> PNG with resvg in a child process: a Rust panic inside the native module aborts its whole process, so it
 * must not take the caller down with it. Returns an error message instead of throwing.
 */
async function svgFileToPng(svgPath: string, pngPath: string, scale: number): Promise<string | undefined> {
  const resvgPath = createRequire(import.meta.url).resolve('@resvg/resvg-js');
  const code = `
    const { Resvg } = require(${JSON.stringify(resvgPath)});
    const fs = require('node:fs');
    const [svgPath, pngPath, scale] = process.argv.slice(1);
    const png = new Resvg(fs.readFileSync(svgPath, 'utf8'), {
      fitTo: { mode: 'zoom', value: Number(scale) }, background: 'white',
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    }).render().asPng();
    fs.writeFileSync(pngPath, png);`;
  const tmp = tempSibling(pngPath);
  const result = await new Promise<{ code: number | null; stderr: string }>((done) => {
    execFile(process.execPath, ['-e', code, svgPath, tmp, String(scale)], (err, _out, stderr) =>
      done({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
  });
  if (result.code !== 0 || !existsSync(tmp)) {
    await rm(tmp, { force: true });
    return result.stderr.trim().split('\n').slice(-2).join(' ') || `resvg exited with ${result.code}`;
  }
  await rename(tmp, pngPath);
  return undefined;
}

function uniqueNames(model: ReportModel): Map<string, string> {
  const used = new Map<string, number>();
  const names = new Map<string, string>();
  for (const f of model.figures) {
    const k = (used.get(f.slug) ?? 0) + 1;
    used.set(f.slug, k);
    names.set(f.id, k === 1 ? f.slug : `${f.slug}-${k}`);
  }
  return names;
}

/** Writes every figure of the report to `dir` as `<name>.svg` (and `<name>.png`). */
export async function exportFigures(
  source: ReportModel | ReportInputs,
  dir: string,
  options: ExportOptions & ReportOptions = {},
): Promise<ExportedFigure[]> {
  const model = 'figures' in source ? source : buildReportModel(source, options);
  const layer = options.layer ?? model.initialLayer;
  const split = options.split ?? model.split;
  const png = options.png ?? true;
  await mkdir(dir, { recursive: true });
  const names = uniqueNames(model);
  const written: ExportedFigure[] = [];
  for (const fig of model.figures) {
    const svg = await renderSvg(staticSpec(model, fig.id, layer, split));
    const base = join(dir, names.get(fig.id)!);
    await writeFileAtomic(`${base}.svg`, svg);
    const entry: ExportedFigure = { id: fig.id, title: fig.title, svg: `${base}.svg` };
    if (png) {
      const error = await svgFileToPng(`${base}.svg`, `${base}.png`, options.pngScale ?? 2);
      if (error) entry.pngError = error;
      else entry.png = `${base}.png`;
    }
    written.push(entry);
  }
  return written;
}
