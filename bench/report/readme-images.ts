/**
 * The two README images: the main figure (synthetic probe results of two model depths, clearly labelled as such, with
 * the paper's markers) and the world map of the GloVe demo (`spacetime-lens demo`, a real static-embedding
 * baseline). Usage: npx tsx bench/report/readme-images.ts DEMO_DIR  (run `spacetime-lens demo --out DEMO_DIR` first)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { renderReport } from '../../src/report/html.js';
import { loadReportInputs } from '../../src/report/load.js';
import { syntheticSpaceRun, syntheticTimeRun } from '../../src/report/test-data.js';

const demo = resolve(process.argv[2] ?? 'spacetime-lens-demo');
const out = resolve('docs/img');
mkdirSync(out, { recursive: true });
const depth = (n: number) => Array.from({ length: n }, (_, i) => i);
const runs = [32, 40].flatMap((layers, k) => {
  const model = `synthetic-${layers}-layers`;
  const made = [
    syntheticSpaceRun({ n: 300, layers: depth(layers), model, seed: 1 + k }),
    syntheticSpaceRun({
      n: 300,
      layers: depth(layers),
      model,
      dataset: 'us_place',
      country: 'US',
      seed: 3 + k,
    }),
    syntheticTimeRun({ n: 300, layers: depth(layers), model, seed: 5 + k }),
  ];
  // Two made-up models that differ a little, so both lines show.
  for (const run of made) for (const l of run.results.layers) l.test.r2 *= k ? 1.02 : 0.93;
  return made;
});
const work = mkdtempSync(join(tmpdir(), 'readme-images-'));
const file = join(work, 'main.html');
writeFileSync(file, renderReport({ runs }, { title: 'synthetic results' }));
const context = await chromium.launchPersistentContext(join(work, 'chromium'), {
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await context.newPage();
  const shoot = async (url: string, slug: string, path: string) => {
    await page.goto(url);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 120000 });
    await page.addStyleTag({
      content: '.controls { position: static !important; } .vega-embed summary { display: none; }',
    });
    await page.locator(`figure[data-slug^="${slug}"] .vega`).screenshot({ path });
    console.log(`wrote ${path}`);
  };
  await shoot(`file://${file}`, 'main-r2-by-depth', join(out, 'report-main-figure.png'));
  // The demo's probe output, drawn by this version of the report.
  const inputs = await loadReportInputs([join(demo, 'probe')], { stores: [join(demo, 'store')] });
  writeFileSync(join(work, 'demo.html'), renderReport(inputs, {}));
  await shoot(`file://${join(work, 'demo.html')}`, 'map-', join(out, 'report-world-map.png'));
} finally {
  await context.close();
  rmSync(work, { recursive: true, force: true });
}
