/**
 * Report benchmark: a report with a 40,000-point world map (3 prediction layers) plus a time scatter.
 * Measures page size and build time, time until Chromium has drawn every figure, hover-to-tooltip and
 * layer-switch latency, and static export of the map (SVG via vega headless, PNG via resvg) against matplotlib
 * drawing the same 40k points (SVG, PNG) in the same run. The machine has 2 cores shared with other work: timings
 * are noisy; rerun when it is quiet.
 *
 *   npx tsx bench/report/bench.ts [--points 40000]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { renderSvg, staticSpec } from '../../src/report/export.js';
import { renderModel } from '../../src/report/html.js';
import { buildReportModel } from '../../src/report/model.js';
import { pointRows } from '../../src/report/points.js';
import { syntheticSpaceRun, syntheticTimeRun } from '../../src/report/test-data.js';
import { runPython } from '../lib/python.js';
import { BenchRun } from '../lib/run.js';

const require = createRequire(import.meta.url);
const arg = process.argv.indexOf('--points');
const n = arg > 0 ? Number(process.argv[arg + 1]) : 40000;
const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
const ms = (t0: number) => Math.round(performance.now() - t0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const run = new BenchRun('report');

const world = syntheticSpaceRun({
  n,
  layers: [0, 4, 8, 12, 16, 20, 24, 28, 31],
  predictionLayers: [8, 16, 24],
});
const time = syntheticTimeRun({ n: 5000, layers: [0, 4, 8, 12, 16, 20, 24, 28, 31], predictionLayers: [24] });
let t0 = performance.now();
const model = buildReportModel({ runs: [world, time] }, { layer: 24, split: 'all' });
const html = renderModel(model);
const buildMs = ms(t0);
const file = join(dir, 'report.html');
writeFileSync(file, html);
console.log(
  `report: ${n} map points x 3 layers + 5,000 dates; built in ${buildMs} ms, ${(statSync(file).size / 1e6).toFixed(1)} MB`,
);

const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'bench-chromium-')), {
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1300, height: 950 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
  ],
});
const page = await context.newPage();
const opens: number[] = [];
for (let i = 0; i < 3; i++) {
  t0 = performance.now();
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120000 });
  opens.push(ms(t0));
}
const mapId = model.figures.find((f) => f.section === 'maps')!.id;
const switches: number[] = [];
for (const layer of ['8', '16', '24']) {
  t0 = performance.now();
  await page.evaluate((l) => (globalThis as any).spacetimeReport.setLayer(l), layer);
  switches.push(ms(t0));
}
await page.locator(`#${mapId}`).scrollIntoViewIfNeeded();
const name = world.predictions!.names[world.predictions!.isTest.indexOf(1)];
const hovers: number[] = [];
for (let i = 0; i < 3; i++) {
  await page.mouse.move(5, 5);
  const at = await page.evaluate(
    ([f, nm]) => (globalThis as any).spacetimeReport.locate(f, nm),
    [mapId, name],
  );
  t0 = performance.now();
  await page.mouse.move(at.x, at.y);
  await page.waitForSelector('#vg-tooltip-element.visible', { timeout: 10000 });
  hovers.push(ms(t0));
}
await context.close();
console.log(`chromium: ready (every figure drawn) median ${median(opens)} ms of ${opens.join(', ')}`);
console.log(
  `          layer switch (all ${n} points re-drawn) median ${median(switches)} ms; hover -> tooltip median ${median(hovers)} ms`,
);

// Static export of the map: ours vs matplotlib on the same points.
const rows = pointRows(model.points[0], 24, 'all');
t0 = performance.now();
const svg = await renderSvg(staticSpec(model, mapId, 24, 'all'));
const svgMs = ms(t0);
writeFileSync(join(dir, 'map.svg'), svg);
t0 = performance.now();
const png = spawnSync(process.execPath, [
  '-e',
  `const {Resvg}=require(${JSON.stringify(require.resolve('@resvg/resvg-js'))});const fs=require('fs');fs.writeFileSync(process.argv[2],new Resvg(fs.readFileSync(process.argv[1],'utf8'),{fitTo:{mode:'zoom',value:2}}).render().asPng())`,
  join(dir, 'map.svg'),
  join(dir, 'map.png'),
]);
const pngMs = ms(t0);
if (png.status !== 0) console.log(png.stderr.toString());
const csv = ['plon,plat,group', ...rows.map((r) => `${r.plon},${r.plat},${r.group}`)].join('\n');
writeFileSync(join(dir, 'points.csv'), csv);
const py = runPython(join(import.meta.dirname, 'matplotlib_scatter.py'), [
  join(dir, 'points.csv'),
  join(dir, 'mpl'),
]);
const mpl = JSON.parse(py.stdout) as { svg: number; png: number };
console.log(`static map of ${rows.length} points (with country outlines, legend, tooltips as aria-labels):`);
console.log(
  `  SVG: ours ${svgMs} ms vs matplotlib ${Math.round(mpl.svg * 1000)} ms (ratio ours/matplotlib ${(svgMs / (mpl.svg * 1000)).toFixed(2)})`,
);
console.log(
  `  PNG: ours ${pngMs} ms (SVG -> resvg, incl. process start) vs matplotlib ${Math.round(mpl.png * 1000)} ms (ratio ${(pngMs / (mpl.png * 1000)).toFixed(2)})`,
);
for (const [fmt, oursMs] of [
  ['svg', svgMs],
  ['png', pngMs],
] as const) {
  run.result({
    benchmark: `static ${rows.length}-point map, ${fmt.toUpperCase()}${fmt === 'png' ? ' (incl. a process start)' : ''}`,
    unit: 's',
    ours: oursMs / 1000,
    reference: mpl[fmt],
    referenceName: 'matplotlib scatter (points only)',
    ratio: mpl[fmt] / (oursMs / 1000),
  });
}
rmSync(dir, { recursive: true, force: true });
run.finish();
