/**
 * The report in a real browser: Debian's Chromium driven by playwright-core, at 1,280 px. The report holds every
 * result type: probe runs, mlp, pca, block and entity hold-outs, prompts, the follow-ups (globe and log-time probes,
 * pls, negative controls, bias, spatial), neurons, intervene, patch, ablate and familiarity, made
 * by the real commands with a tiny random Llama on rows of the paper's CSVs (sample-runs.ts), plus a 40,000-point
 * synthetic world map with hostile entity names. Checks: every figure draws as many marks as its data has rows;
 * nothing is wider than the page; the paper's reference rows and markers are there; hovering shows the entity and a
 * hostile name runs nothing; the layer selector and the play button move the points. A screenshot of every figure
 * goes to test-output/report/figures/.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { sharedForTests, skipWithoutShared } from '../util/shared.test-util.js';
import { renderReport } from './html.js';
import { loadReportInputs, readGeoJson } from './load.js';
import { buildReportModel } from './model.js';
import { pointRows } from './points.js';
import { syntheticRunsWithControls, syntheticSpaceRun, syntheticTimeRun } from './test-data.js';
import { buildSampleRuns } from './testing.js';
import type { ExtraResult, ReportRun } from './types.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = resolve('test-output/report');
const HOSTILE = '<img src=x onerror=alert(1)>';
const BREAKOUT = '</script><img src=x onerror=alert(2)>';
const WORLD_SLUG = 'map-synthetic-7b-world-place-coords';
const haveShared = !skipWithoutShared();

let context: BrowserContext;
let page: Page;
let work: string;
const problems: string[] = [];
const dialogs: string[] = [];
let openMs = 0;
let synthetic: ReportRun[] = [];

function syntheticRuns(): ReportRun[] {
  const world = syntheticSpaceRun({
    n: 40000,
    layers: [0, 4, 8, 12, 16, 20, 24, 28, 31],
    predictionLayers: [8, 24, 31],
    names: { 0: HOSTILE, 1: BREAKOUT },
  });
  // The hostile entity is a test row predicted alone in the South Pacific, at a different place per layer.
  const p = world.predictions!;
  p.isTest[0] = 1;
  p.pred.get(8)![0][0] = -150;
  p.pred.get(8)![1][0] = -40;
  p.pred.get(24)![0][0] = -120;
  p.pred.get(24)![1][0] = -50;
  const time = syntheticTimeRun({
    n: 4000,
    layers: [0, 4, 8, 12, 16, 20, 24, 28, 31],
    predictionLayers: [8, 24, 31],
    names: { 2: HOSTILE },
  });
  // Another prompt of the art run (same entities and split): the time scatter gets a prompt selector.
  const otherPrompt = syntheticTimeRun({
    n: 4000,
    layers: [0, 4, 8, 12, 16, 20, 24, 28, 31],
    predictionLayers: [24, 31],
    prompt: 'empty',
    seed: 9,
  });
  const alt = otherPrompt.predictions!;
  alt.isTest = time.predictions!.isTest;
  alt.truth = time.predictions!.truth;
  alt.names = time.predictions!.names;
  for (const layer of alt.pred.keys()) alt.pred.set(layer, [alt.truth[0]!.map((y, i) => y + ((i % 7) - 3))]);
  return [world, time, otherPrompt];
}

async function buildPage(): Promise<string> {
  synthetic = syntheticRuns();
  const runs = [...synthetic];
  const extras: ExtraResult[] = [
    { title: `neurons ${HOSTILE}`, data: { top: [{ layer: 3, neuron: 7, name: BREAKOUT, corr: 0.8 }] } },
  ];
  if (haveShared) {
    const sample = await buildSampleRuns(join(work, 'sample'), {
      world_place: 600,
      us_place: 400,
      nyc_place: 400,
      art: 400,
    });
    const inputs = await loadReportInputs(sample.paths);
    runs.push(...inputs.runs);
    extras.push(...inputs.extras);
  }
  // The outlines the fetch verifies, from the shared copy (a user's come from `datasets fetch nyc_place`).
  const nycOutlines = haveShared
    ? await readGeoJson(join(sharedForTests()!, 'data', 'paper', 'nyc_borough_boundaries.geojson'))
    : undefined;
  return renderReport({ runs, extras }, { layer: 24, notes: [`note ${BREAKOUT}`], nycOutlines });
}

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH. The report's browser tests need a real browser.`,
  );
  rmSync(join(SHOTS, 'figures'), { recursive: true, force: true });
  mkdirSync(join(SHOTS, 'figures'), { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'report-browser-'));
  const file = join(SHOTS, 'browser-test-report.html');
  writeFileSync(file, await buildPage());
  context = await chromium.launchPersistentContext(join(work, 'chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  // Nothing may be fetched: the file must be self-contained.
  await page.route(/^(?!file:)/, (route) => {
    problems.push(`network request: ${route.request().url()}`);
    void route.abort();
  });
  const t0 = Date.now();
  await page.goto(`file://${file}`);
  await page.waitForSelector('body[data-ready]', { timeout: 120000 });
  openMs = Date.now() - t0;
});

after(async () => {
  await context?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function figureId(slug: string): Promise<string> {
  const id = await page.getAttribute(`figure[data-slug="${slug}"] div.vega`, 'id');
  assert.ok(id, `figure ${slug} exists`);
  return id;
}

test('every figure draws as many marks as its data has rows; one screenshot per figure', async () => {
  assert.equal(await page.getAttribute('body', 'data-ready'), '1');
  assert.equal(await page.locator('p.error').count(), 0, 'no figure failed to draw');
  const figures = await page.$$eval('figure', (els) =>
    els.map((el) => ({
      slug: el.getAttribute('data-slug')!,
      id: el.querySelector('div.vega')!.id,
      marks: Number(el.getAttribute('data-marks') ?? Number.NaN),
    })),
  );
  const slugs = figures.map((f) => f.slug);
  const expected = [
    'main-r2-by-depth',
    'main-prox-error-by-depth',
    WORLD_SLUG,
    'time-synthetic-7b-art-release',
  ];
  if (haveShared) {
    expected.push(
      ...['linear-vs-mlp-by-layer', 'prompts-r2-by-layer', 'block-holdout-groups', 'entity-holdout-groups'],
      ...['block-holdout-maps-world_place', 'block-holdout-maps-us_place', 'block-holdout-timeline-art'],
      ...['pca-k', 'neurons-world_place', 'neurons-art', 'intervene-dose-response-world_place'],
      ...['experts-world_place-longitude', 'experts-world_place-latitude'],
      ...['intervene-probe-shift-world_place', 'familiarity-buckets', 'entity-type-error-boxes'],
      ...[
        'patch-matrix-world_place',
        'patch-dose-world_place',
        'patch-matrix-art',
        'ablate-world_place',
        'ablate-art',
      ],
      ...['overview-world_place', 'overview-us_place', 'overview-nyc_place', 'overview-years'],
      // the follow-ups, and the globe and log-time probes' own map and scatter
      ...['pls-k', 'negative-controls-by-layer', 'bias-fame', 'bias-map-world_place', 'bias-map-us_place'],
      ...[
        'bias-map-nyc_place',
        'spatial-lisa-world_place',
        'spatial-lisa-us_place',
        'spatial-lisa-nyc_place',
      ],
      ...['map-model-world-place-coords-globe-probe', 'time-model-art-release-log-time-probe'],
    );
  }
  for (const slug of expected) assert.ok(slugs.includes(slug), `figure ${slug} is in the report`);
  // Element screenshots of a page with a sticky bar would show the bar over the figure.
  await page.addStyleTag({ content: '.controls { position: static !important; }' });
  for (const f of figures) {
    const drawn = await page.evaluate(([id]) => (globalThis as any).spacetimeReport.countMarks(id), [f.id]);
    if (Number.isFinite(f.marks)) assert.equal(drawn, f.marks, `${f.slug}: marks drawn = rows of its data`);
    else assert.ok(drawn > 0 || f.slug.startsWith('main-'), `${f.slug} draws marks`);
    await page.locator(`#wrap-${f.id}`).screenshot({ path: join(SHOTS, 'figures', `${f.slug}.png`) });
  }
  await page.screenshot({ path: join(SHOTS, 'report-full.png'), fullPage: true });
  assert.deepEqual(problems, []);
  assert.deepEqual(dialogs, []);
  console.log(`# report with every result type and a 40,000-point world map ready in ${openMs} ms`);
});

test('main figure: one point per run and layer against normalized depth, and the paper markers', async () => {
  const id = await figureId('main-r2-by-depth');
  const data = await page.evaluate(
    ([fig]) => {
      const data = (globalThis as any).spacetimeReport.data();
      // biome-ignore lint/suspicious/noExplicitAny: the page's JSON
      const values = data.figures.find((f: any) => f.id === fig).spec.data.values as any[];
      return {
        xs: values.filter((v) => !v.paper).map((v) => v.x),
        paper: values.filter((v) => v.paper).map((v) => v.label),
        models: [...new Set(values.flatMap((v) => (v.model ? [v.model] : [])))],
      };
    },
    [id],
  );
  assert.ok(
    data.xs.every((x: number) => x >= 0 && x <= 1),
    'x is layer / last layer',
  );
  assert.ok(data.xs.includes(1) && data.xs.includes(0));
  assert.ok(data.paper.includes('paper, Llama-2-70B, layer 48'), 'labelled paper marker');
  assert.equal(
    await page.evaluate(([fig]) => (globalThis as any).spacetimeReport.countMarks(fig, 'paper'), [id]),
    data.paper.length,
  );
  if (haveShared) {
    assert.ok((await page.locator('tr.paper').count()) >= 6, 'paper reference rows in the tables');
    // the globe and log-time probes: their own lines beside the plain probe's
    for (const line of ['model', 'model · globe probe', 'model · log-time probe'])
      assert.ok(data.models.includes(line), `main figure line ${line} (lines: ${data.models.join(', ')})`);
  }
});

test('NYC maps draw the five borough outlines; US maps the contiguous states', {
  skip: !haveShared,
}, async () => {
  const count = async (slug: string) => {
    const id = await figureId(slug);
    return page.evaluate(([fig]) => (globalThis as any).spacetimeReport.countShapes(fig), [id]);
  };
  assert.equal(await count('overview-nyc_place'), 5);
  assert.equal(await count('overview-us_place'), 49, '48 contiguous states and DC');
});

test('nothing is wider than the page at 1,280 px; the raw results are a closed appendix', async () => {
  assert.deepEqual(await page.evaluate(() => (globalThis as any).spacetimeReport.tooWide()), []);
  const raw = page.locator('details#raw-results');
  assert.equal(await raw.count(), 1);
  assert.equal(await raw.getAttribute('open'), null, 'closed by default');
  assert.ok((await raw.locator('table').count()) > 0);
  // No blank cells in the runs table: a missing value shows as a dash.
  const blank = await page.$$eval(
    'table.runs td',
    (tds) => tds.filter((td) => !td.textContent?.trim()).length,
  );
  assert.equal(blank, 0);
});

test('hovering a point shows that entity; a hostile name is text and runs nothing', async () => {
  const map = await figureId(WORLD_SLUG);
  await page.locator(`#${map}`).scrollIntoViewIfNeeded();
  const at = await page.evaluate(
    ([fig, name]) => (globalThis as any).spacetimeReport.locate(fig, name),
    [map, HOSTILE],
  );
  assert.ok(at, 'the hostile entity is plotted');
  await page.mouse.move(at.x, at.y);
  const tooltip = page.locator('#vg-tooltip-element.visible');
  await tooltip.waitFor({ timeout: 5000 });
  const text = await tooltip.innerText();
  assert.match(text, /entity\s*<img src=x onerror=alert\(1\)>/);
  assert.match(text, /predicted longitude\s*[-−]120\.000/);
  assert.match(text, /predicted latitude\s*[-−]50\.000/);
  assert.equal(await page.locator('img').count(), 0, 'no <img> element was created from data');
  assert.deepEqual(dialogs, []);
  const body = await page.innerText('body');
  assert.ok(body.includes(`note ${BREAKOUT}`));
});

test('the layer selector moves the points; the play button steps through every layer', async () => {
  const map = await figureId(WORLD_SLUG);
  const before = await page.evaluate(
    ([fig, name]) => (globalThis as any).spacetimeReport.locate(fig, name),
    [map, HOSTILE],
  );
  assert.match(await page.innerText(`#cap-${map}`), /^layer 24 ·/);
  await page.selectOption('#layer-select', '8');
  await page.waitForFunction(
    (id) => (globalThis as any).document.getElementById(`cap-${id}`)?.textContent?.startsWith('layer 8 '),
    map,
  );
  const moved = await page.evaluate(
    ([fig, name]) => (globalThis as any).spacetimeReport.locate(fig, name),
    [map, HOSTILE],
  );
  assert.ok(moved.x < before.x - 20, `moved west: ${before.x} -> ${moved.x}`);
  assert.ok(moved.y < before.y, `moved north: ${before.y} -> ${moved.y}`);
  await page.selectOption('#split-select', 'all');
  await page.waitForFunction(
    (id) =>
      /40,000 all points/.test((globalThis as any).document.getElementById(`cap-${id}`)?.textContent ?? ''),
    map,
  );
  const layers: number[] = await page.$$eval('#layer-select option', (os) => os.map((o) => Number(o.value)));
  const seen = new Set<string>();
  const watch = setInterval(() => {
    void page
      .innerText(`#cap-${map}`)
      .then((t) => seen.add(t.split(' ·')[0]!))
      .catch(() => {});
  }, 100);
  await page.selectOption('#layer-select', String(layers[0]));
  await page.click('#play-button');
  await page.waitForFunction(
    ([id, last]) =>
      (globalThis as any).document.getElementById(`cap-${id}`)?.textContent?.startsWith(`layer ${last} `) &&
      /Play/.test((globalThis as any).document.getElementById('play-button').textContent),
    [map, layers[layers.length - 1]] as const,
    { timeout: 60000 },
  );
  clearInterval(watch);
  assert.equal(await page.inputValue('#layer-select'), String(layers[layers.length - 1]));
  assert.ok(seen.size >= 2, `the caption showed several layers while playing: ${[...seen].join(', ')}`);
  await page.locator(`#wrap-${map}`).screenshot({ path: join(SHOTS, 'report-world-map-all-last-layer.png') });
  assert.deepEqual(problems, []);
});

test('the page decodes its packed data to the source predictions: 1e-3 degree, 0.01 year, names exact', async () => {
  // biome-ignore lint/suspicious/noExplicitAny: the page's decoded data
  const decoded: any[] = await page.evaluate(() =>
    (globalThis as any).spacetimeReport
      .data()
      .points.slice(0, 2)
      .map((p: any) => ({
        names: p.names,
        isTest: p.isTest,
        truth: p.truth,
        pred: p.pred,
        yearOffset: p.yearOffset,
      })),
  );
  // points.ts rounds positions to 3 decimals (world / US) and dates to 2: half a step is the most a value may move.
  const tolerance = [0.0005, 0.005];
  for (const [k, run] of synthetic.slice(0, 2).entries()) {
    const source = run.predictions!;
    const got = decoded[k];
    const shift = got.yearOffset as number;
    assert.deepEqual(got.names, source.names, 'names exact, hostile ones included');
    assert.deepEqual(got.isTest, Array.from(source.isTest));
    const near = (a: number[], b: Float64Array, what: string) => {
      assert.equal(a.length, b.length, what);
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - (b[i]! + shift)));
      assert.ok(worst <= tolerance[k]! + 1e-9, `${what}: largest difference ${worst}`);
    };
    for (const [j, t] of source.truth.entries()) near(got.truth[j], t, `run ${k} truth ${j}`);
    for (const [layer, cols] of source.pred)
      for (const [j, c] of cols.entries()) near(got.pred[layer][j], c, `run ${k} layer ${layer} target ${j}`);
  }
  const timings = await page.evaluate(() => (globalThis as any).spacetimeReport.timings);
  console.log(`# decoding the packed data took ${timings.unpack} ms after the script started`);
});

test('map error km in the page equal points.ts: the true haversine, and the swapped one of --paper-compat runs', async () => {
  const world = buildReportModel({ runs: [synthetic[0]!] }).points[0]!;
  const swapped = { ...world, distance: 'haversine-swapped' as const };
  const inPage: { errKm: number }[][] = await page.evaluate(() => {
    // biome-ignore lint/suspicious/noExplicitAny: the page's API
    const r = (globalThis as any).spacetimeReport;
    const p = r.data().points[0];
    return [r.rowsFor(p, 24, 'test'), r.rowsFor({ ...p, distance: 'haversine-swapped' }, 24, 'test')];
  });
  for (const [k, points] of [world, swapped].entries()) {
    const expected = pointRows(points, 24, 'test');
    assert.equal(inPage[k]!.length, expected.length);
    let worst = 0;
    for (const [i, row] of expected.entries())
      worst = Math.max(worst, Math.abs(inPage[k]![i]!.errKm - (row.errKm as number)));
    assert.ok(worst < 1e-6, `${points.distance}: largest difference ${worst} km`);
  }
  assert.notEqual(inPage[0]![5]!.errKm, inPage[1]![5]!.errKm, 'the two formulas differ');
});

test("maps and the time scatter print the shown layer's test Spearman ρ and R² inside the plot", async () => {
  const texts = async (slug: string) => {
    const id = await figureId(slug);
    return page.evaluate(([fig]) => (globalThis as any).spacetimeReport.markTexts(fig, 'stats'), [id]);
  };
  const mapId = await figureId(WORLD_SLUG);
  await page.selectOption('#layer-select', '24');
  await page.waitForFunction(
    (id) => /^layer 24 /.test((globalThis as any).document.getElementById(`cap-${id}`)?.textContent ?? ''),
    mapId,
  );
  const world = synthetic[0]!.results.layers.find((l) => l.layer === 24)!.test;
  const time = synthetic[1]!.results.layers.find((l) => l.layer === 24)!.test;
  const expected = (m: { r2: number; spearman?: number[] }) => {
    const rho = m.spearman!.reduce((a, b) => a + b, 0) / m.spearman!.length;
    return [`Spearman ρ = ${rho.toFixed(3)}\ntest R² = ${m.r2.toFixed(3)}`];
  };
  assert.deepEqual(await texts(WORLD_SLUG), expected(world), 'one text mark on the world map');
  assert.deepEqual(
    await texts('time-synthetic-7b-art-release'),
    expected(time),
    'one text mark in the scatter',
  );
  await page.selectOption('#layer-select', '8');
  const at8 = synthetic[1]!.results.layers.find((l) => l.layer === 8)!.test;
  await page.waitForFunction(
    ([id, want]) => (globalThis as any).spacetimeReport.markTexts(id, 'stats')[0] === want,
    [await figureId('time-synthetic-7b-art-release'), expected(at8)[0]] as const,
  );
  // Every map and time scatter (the sample's US and NYC maps too) has its one text mark.
  const counts = await page.evaluate(() => {
    const r = (globalThis as any).spacetimeReport;
    return r
      .data()
      .figures.filter((f: { run?: number }) => typeof f.run === 'number')
      .map((f: { id: string }) => r.countMarks(f.id, 'stats'));
  });
  assert.ok(counts.length >= (haveShared ? 5 : 2), `${counts.length} maps and scatters`);
  assert.deepEqual(
    counts,
    counts.map(() => 1),
  );
});

test('a prompt selector switches a scatter to another prompt (its best layer); the entities are shared', async () => {
  const id = await figureId('time-synthetic-7b-art-release');
  const select = `#prompt-${id}`;
  assert.deepEqual(await page.$$eval(`${select} option`, (os) => os.map((o) => o.textContent)), [
    'release',
    'empty',
  ]);
  await page.selectOption('#split-select', 'test');
  await page.selectOption(select, { label: 'empty' });
  await page.waitForFunction(
    (fig) =>
      /^prompt empty · layer 24 /.test(
        (globalThis as any).document.getElementById(`cap-${fig}`)?.textContent ?? '',
      ),
    id,
  );
  assert.match(
    await page.innerText(`#wrap-${id} figcaption`),
    /synthetic-7b · art · empty$/,
    'the title names it',
  );
  const nTest = synthetic[2]!.predictions!.isTest.reduce((a, b) => a + b, 0);
  const marks = await page.evaluate(([fig]) => (globalThis as any).spacetimeReport.countMarks(fig), [id]);
  assert.equal(marks, nTest, 'every test row of the other prompt drawn');
  assert.equal(Number(await page.getAttribute(`#wrap-${id}`, 'data-marks')), nTest);
  // The rows are the other prompt's predictions (rounded to 0.01 year, shown as calendar years).
  const { shared, rows } = await page.evaluate(
    ([fig]) => {
      const r = (globalThis as any).spacetimeReport;
      const d = r.data();
      const figure = d.figures.find((f: { id: string }) => f.id === fig);
      const p = d.points[figure.prompts[1].run];
      return { shared: p.entitiesOf === figure.run, rows: r.rowsFor(p, 24, 'test').slice(0, 5) };
    },
    [id],
  );
  assert.ok(shared, 'the other prompt stores no copy of the entities');
  const source = synthetic[2]!.predictions!;
  const firstTest = [...source.isTest.keys()].filter((i) => source.isTest[i]).slice(0, 5);
  rows.forEach((row: { name: string; pred: number }, k: number) => {
    assert.equal(row.name, source.names[firstTest[k]!]);
    assert.ok(Math.abs(row.pred - (source.pred.get(24)![0][firstTest[k]!]! + 1970)) <= 0.005 + 1e-9);
  });
  await page.selectOption(select, { label: 'release' });
  await page.waitForFunction(
    (fig) =>
      /^prompt release · /.test((globalThis as any).document.getElementById(`cap-${fig}`)?.textContent ?? ''),
    id,
  );
  assert.deepEqual(problems, []);
});

test('a browser without DecompressionStream gets a message on the page, not a blank report', async () => {
  const file = join(work, 'small-report.html');
  writeFileSync(
    file,
    renderReport({ runs: [syntheticSpaceRun({ n: 300, layers: [0, 1], predictionLayers: [0, 1] })] }),
  );
  const old = await context.newPage();
  try {
    await old.addInitScript(() => {
      delete (globalThis as any).DecompressionStream;
    });
    await old.goto(`file://${file}`);
    await old.waitForSelector('body[data-ready="error"]', { timeout: 30000 });
    assert.match(
      await old.innerText('main p.error'),
      /cannot decode the report’s data \(it needs DecompressionStream/,
    );
  } finally {
    await old.close();
  }
});

test('runs table at 1,280 px: controls, settings and source get a readable full-width row under each run', async () => {
  const { runs } = syntheticRunsWithControls();
  for (const r of runs)
    r.source =
      '/home/someone/spacetime-lens-runs/meta-llama--Llama-2-7b-hf/world_place/coords-3f9a1c2b/probe';
  const file = join(work, 'runs-table.html');
  writeFileSync(file, renderReport({ runs }));
  const p = await context.newPage();
  try {
    await p.goto(`file://${file}`);
    await p.waitForSelector('body[data-ready="1"]', { timeout: 60000 });
    assert.deepEqual(await p.evaluate(() => (globalThis as any).spacetimeReport.tooWide()), []);
    const table = p.locator('table.runs:not(.groups)');
    assert.equal(await table.locator('tr.run-details').count(), runs.length, 'one details row per run');
    // Each phrase (controls, settings, source) fits on one or two lines of the 1,240 px page.
    const spans = await table.locator('tr.run-details > td > span').evaluateAll((els) =>
      els.map((el) => ({
        text: el.textContent ?? '',
        lines: Math.round(
          el.getBoundingClientRect().height /
            Number.parseFloat((globalThis as any).getComputedStyle(el).lineHeight),
        ),
      })),
    );
    assert.ok(spans.some((s) => s.text.startsWith('controls') && s.text.includes('random-init')));
    for (const s of spans) assert.ok(s.lines <= 2, `${s.lines} lines: ${s.text}`);
    await table.screenshot({ path: join(SHOTS, 'runs-table.png') });
    await p.locator('table.runs.groups').screenshot({ path: join(SHOTS, 'runs-groups-table.png') });
  } finally {
    await p.close();
  }
});
