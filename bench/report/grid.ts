/**
 * Report benchmark at the paper's scale: 6 datasets × 4 prompts × 30 layers, 40,000 entities per dataset, with the
 * compact predictions `probe` writes by default (every layer; above 1,000,000 entity-layer rows, layers other than
 * the best hold test rows only). Times the page build, Chromium's open until every figure is drawn, the first
 * interaction (a layer switch of all six maps and scatters), hover -> tooltip, and one play step. The machine may
 * be shared: the load average is printed with the numbers.
 *
 *   npx tsx bench/report/grid.ts [--points 40000] [--layers 30] [--size-only] [--keep PAGE.html] [--every-prompt]
 *
 * --size-only prints the page size and what it is made of, then stops (no browser); --keep writes the page there.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CANONICAL_PROMPTS, PROMPTS } from '../../src/data/prompts.js';
import { renderModel } from '../../src/report/html.js';
import { buildReportModel } from '../../src/report/model.js';
import type { Metrics, ReportRun } from '../../src/report/types.js';
import { mulberry32 } from '../../src/util/mulberry32.test-util.js';
import { pageBreakdown } from './page-size.js';

const flag = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = flag('--points', 40000);
// Predictions for every prompt (as `paper` writes them), not only the canonical one: the maps get prompt selectors.
const EVERY_PROMPT = process.argv.includes('--every-prompt');
const LAYERS = flag('--layers', 30);
const ms = (t0: number) => Math.round(performance.now() - t0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Dataset -> [kind, lon/year range, lat range]; positions are uniform in a box that lies on the map.
const DATASETS: Record<string, ['space' | 'time', [number, number], [number, number]?]> = {
  world_place: ['space', [-120, 140], [-40, 60]],
  us_place: ['space', [-120, -75], [30, 47]],
  nyc_place: ['space', [-74.2, -73.75], [40.55, 40.9]],
  historical_figure: ['time', [1000, 1950]],
  art: ['time', [-20, 50]],
  headline: ['time', [40, 50]],
};

function metrics(r2: number): Metrics {
  return { r2, spearman: [Math.sqrt(Math.max(0, r2))], proxError: (1 - r2) / 3 };
}

function gridRun(dataset: string, prompt: string, seed: number): ReportRun {
  const [kind, a, b] = DATASETS[dataset]!;
  const rand = mulberry32(seed);
  const layers = Array.from({ length: LAYERS }, (_, l) => l);
  const r2 = (l: number) => 0.1 + 0.8 * Math.sin(Math.min(1, (l / (LAYERS - 1)) * 1.6) * (Math.PI / 2));
  const best = Math.round((LAYERS - 1) * 0.65);
  const results = {
    schema: 'spacetime-lens/probe-results@1',
    model: 'bench-llama-30l',
    dataset,
    prompt,
    hook: 'hook_resid_post',
    kind,
    targetNames: kind === 'space' ? ['longitude', 'latitude'] : ['year'],
    nTrain: Math.round(N * 0.8),
    nTest: Math.round(N * 0.2),
    d: 4096,
    layers: layers.map((layer) => ({ layer, test: metrics(r2(layer)), train: metrics(r2(layer) + 0.02) })),
    bestLayer: best,
  };
  if (prompt !== CANONICAL_PROMPTS[dataset] && !EVERY_PROMPT) return { results };
  // The dataset's entities and split are the same for every prompt (as in a `paper` run); predictions differ.
  const entities = mulberry32(seed - (seed % 100));
  const isTest = Uint8Array.from({ length: N }, () => (entities() < 0.2 ? 1 : 0));
  const draw = (range: [number, number]) =>
    Float64Array.from({ length: N }, () => range[0] + entities() * (range[1] - range[0]));
  const truth = kind === 'space' ? [draw(a), draw(b!)] : [draw(a)];
  const pred = new Map<number, Float64Array[]>();
  for (const layer of layers) {
    const noise = (1 - r2(layer)) * 0.3;
    pred.set(
      layer,
      truth.map((t, k) => {
        const span = (k === 0 ? a : b!)[1] - (k === 0 ? a : b!)[0];
        // compact predictions: layers other than the best hold test rows only
        return Float64Array.from(t, (v, i) =>
          layer === best || isTest[i] ? v + (rand() - 0.5) * span * noise : Number.NaN,
        );
      }),
    );
  }
  return {
    results,
    predictions: {
      rows: Array.from({ length: N }, (_, i) => i),
      names: Array.from({ length: N }, (_, i) => `${dataset} entity ${i}`),
      isTest,
      truth,
      pred,
      proxError: new Map(),
    },
  };
}

const runs = Object.keys(DATASETS).flatMap((dataset, d) =>
  PROMPTS[dataset]!.filter((p) => p.paper !== false)
    .slice(0, 4)
    .map((p, k) => gridRun(dataset, p.name, 100 * d + k)),
);
const dir = mkdtempSync(join(tmpdir(), 'bench-report-grid-'));
let t0 = performance.now();
const model = buildReportModel({ runs });
const html = renderModel(model);
const buildMs = ms(t0);
const file = join(dir, 'report.html');
writeFileSync(file, html);
const keep = process.argv.indexOf('--keep');
if (keep > 0) writeFileSync(process.argv[keep + 1]!, html);
const maps = model.figures.filter((f) => f.run !== undefined);
console.log(
  `report: ${runs.length} runs (${Object.keys(DATASETS).length} datasets × 4 prompts × ${LAYERS} layers), ` +
    `${maps.length} maps/scatters of ${N.toLocaleString('en-US')} entities, ${model.figures.length} figures; ` +
    `built in ${buildMs} ms, ${(statSync(file).size / 1e6).toFixed(1)} MB`,
);
console.log(pageBreakdown(html));
if (process.argv.includes('--size-only')) {
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'bench-chromium-')), {
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
  ],
});
try {
  const page = await context.newPage();
  const opens: number[] = [];
  const interactive: number[] = [];
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 300000 });
    opens.push(ms(t0));
    // First interaction: a layer switch that redraws every map and scatter.
    await page.evaluate(() => (globalThis as any).spacetimeReport.setLayer(3));
    interactive.push(ms(t0));
  }
  const switches: number[] = [];
  for (const layer of [5, 12, 20, 29]) {
    t0 = performance.now();
    await page.evaluate((l) => (globalThis as any).spacetimeReport.setLayer(l), layer);
    switches.push(ms(t0));
  }
  const world = maps[0]!;
  await page.locator(`#${world.id}`).scrollIntoViewIfNeeded();
  const p = model.points[world.run!]!;
  const name = p.names[p.isTest.indexOf(1)]!;
  const hovers: number[] = [];
  for (let i = 0; i < 3; i++) {
    await page.mouse.move(5, 5);
    const at = await page.evaluate(
      ([f, nm]) => (globalThis as any).spacetimeReport.locate(f, nm),
      [world.id, name],
    );
    t0 = performance.now();
    await page.mouse.move(at.x, at.y);
    await page.waitForSelector('#vg-tooltip-element.visible', { timeout: 10000 });
    hovers.push(ms(t0));
  }
  console.log(`chromium open until every figure is drawn: median ${median(opens)} ms of ${opens.join(', ')}`);
  console.log(
    `open + first interaction (all ${maps.length} maps/scatters at another layer): median ${median(interactive)} ms of ${interactive.join(', ')}`,
  );
  console.log(
    `layer switch (= one play step): median ${median(switches)} ms; hover -> tooltip median ${median(hovers)} ms`,
  );
} finally {
  await context.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `(load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on this machine during the run)`,
);
