/**
 * The report in a real browser: Debian's Chromium driven by playwright-core. Checks that the figures render,
 * that hovering a point shows that entity, that a hostile entity name is shown as text and runs nothing, that the
 * layer selector moves the points, and that 40,000 points per map open in a few seconds. Screenshots go to
 * test-output/report/ for a reviewer to look at.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { renderReport } from './html.js';
import { syntheticSpaceRun, syntheticTimeRun } from './test-data.js';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SHOTS = resolve('test-output/report');
const HOSTILE = '<img src=x onerror=alert(1)>';
const BREAKOUT = '</script><img src=x onerror=alert(2)>';
const MAP = 'fig-3'; // r2, prox error, then the 40k world map

let context: BrowserContext;
let page: Page;
let userDir: string;
const problems: string[] = [];
const dialogs: string[] = [];
let openMs = 0;

function buildPage(): string {
  const world = syntheticSpaceRun({
    n: 40000,
    layers: [0, 4, 8, 12, 16, 20, 24, 28, 31],
    predictionLayers: [8, 24],
    names: { 0: HOSTILE, 1: BREAKOUT },
  });
  // The hostile entity is a test row predicted alone in the South Pacific, at a different place per layer.
  const p = world.predictions!;
  p.isTest[0] = 1;
  p.pred.get(8)![0][0] = -150;
  p.pred.get(8)![1][0] = -40;
  p.pred.get(24)![0][0] = -120;
  p.pred.get(24)![1][0] = -50;
  const us = syntheticSpaceRun({
    n: 3000,
    layers: [0, 8, 16, 24, 31],
    predictionLayers: [8, 24],
    country: 'US',
    dataset: 'us_place',
    prompt: 'where_us',
  });
  const time = syntheticTimeRun({
    n: 4000,
    layers: [0, 4, 8, 12, 16, 20, 24, 28, 31],
    predictionLayers: [8, 24],
    names: { 2: HOSTILE },
  });
  return renderReport(
    {
      runs: [world, us, time],
      extras: [
        {
          title: `neurons ${HOSTILE}`,
          data: {
            top: [
              { layer: 3, neuron: 7, name: BREAKOUT, corr: 0.8 },
              { layer: 5, neuron: 9, name: 'x', corr: 0.7 },
            ],
          },
        },
      ],
    },
    { layer: 24, notes: [`note ${BREAKOUT}`] },
  );
}

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH. The report's browser tests need a real browser.`,
  );
  mkdirSync(SHOTS, { recursive: true });
  const file = join(SHOTS, 'browser-test-report.html');
  writeFileSync(file, buildPage());
  userDir = mkdtempSync(join(tmpdir(), 'report-chromium-'));
  context = await chromium.launchPersistentContext(userDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1300, height: 950 },
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
  await page.waitForSelector('body[data-ready]', { timeout: 60000 });
  openMs = Date.now() - t0;
});

after(async () => {
  await context?.close();
  if (userDir) rmSync(userDir, { recursive: true, force: true });
});

test('every figure renders, without console errors, network requests or dialogs, in a few seconds', async () => {
  assert.equal(await page.getAttribute('body', 'data-ready'), '1');
  const figures = await page.$$eval('div.vega', (els) =>
    els.map((el) => ({ id: el.id, drawn: !!el.querySelector('canvas, svg') })),
  );
  assert.equal(figures.length, 6);
  for (const f of figures) assert.ok(f.drawn, `${f.id} has a canvas or svg`);
  assert.equal(await page.locator('p.error').count(), 0);
  await page.screenshot({ path: join(SHOTS, 'report-full.png'), fullPage: true });
  assert.deepEqual(problems, []);
  assert.deepEqual(dialogs, []);
  console.log(`# report with a 40,000-point world map ready in ${openMs} ms`);
  assert.ok(openMs < 20000, `opened in ${openMs} ms`);
});

test('hovering a point shows that entity; a hostile name is text and runs nothing', async () => {
  const at = await page.evaluate(
    ([fig, name]) => (globalThis as any).spacetimeReport.locate(fig, name),
    [MAP, HOSTILE],
  );
  assert.ok(at, 'the hostile entity is plotted');
  await page.locator(`#${MAP}`).scrollIntoViewIfNeeded();
  const at2 = await page.evaluate(
    ([fig, name]) => (globalThis as any).spacetimeReport.locate(fig, name),
    [MAP, HOSTILE],
  );
  await page.mouse.move(at2.x, at2.y);
  const tooltip = page.locator('#vg-tooltip-element.visible');
  await tooltip.waitFor({ timeout: 5000 });
  const text = await tooltip.innerText();
  assert.match(text, /entity\s*<img src=x onerror=alert\(1\)>/);
  assert.match(text, /predicted longitude\s*[-−]120\.000/);
  assert.match(text, /predicted latitude\s*[-−]50\.000/);
  await page.screenshot({
    path: join(SHOTS, 'report-hover.png'),
    clip: { x: 0, y: Math.max(0, at2.y - 300), width: 1300, height: 600 },
  });
  assert.equal(await page.locator('img').count(), 0, 'no <img> element was created from data');
  assert.deepEqual(dialogs, []);
  // Everywhere the hostile strings appear in the page, they appear as text.
  const body = await page.innerText('body');
  assert.ok(body.includes(`neurons ${HOSTILE}`));
  assert.ok(body.includes(`note ${BREAKOUT}`));
});

test('the layer selector moves the points and updates the captions', async () => {
  const before = await page.evaluate(
    ([fig, name]) => (globalThis as any).spacetimeReport.locate(fig, name),
    [MAP, HOSTILE],
  );
  assert.match(await page.innerText(`#cap-${MAP}`), /^layer 24 ·/);
  await page.selectOption('#layer-select', '8');
  await page.waitForFunction(
    (id) => (globalThis as any).document.getElementById(`cap-${id}`)?.textContent?.startsWith('layer 8 '),
    MAP,
  );
  const afterMove = await page.evaluate(
    ([fig, name]) => (globalThis as any).spacetimeReport.locate(fig, name),
    [MAP, HOSTILE],
  );
  assert.ok(afterMove.x < before.x - 20, `moved west: ${before.x} -> ${afterMove.x}`);
  assert.ok(afterMove.y < before.y, `moved north: ${before.y} -> ${afterMove.y}`);
  await page.mouse.move(afterMove.x, afterMove.y);
  await page.waitForFunction(() =>
    /predicted longitude\s*[-−]150\.000/.test(
      (globalThis as any).document.getElementById('vg-tooltip-element')?.innerText ?? '',
    ),
  );
  await page.selectOption('#split-select', 'all');
  await page.waitForFunction(
    (id) =>
      /40,000 all points/.test((globalThis as any).document.getElementById(`cap-${id}`)?.textContent ?? ''),
    MAP,
  );
  await page.locator(`#${MAP}`).screenshot({ path: join(SHOTS, 'report-world-map-all-layer8.png') });
  await page.locator('#fig-5').screenshot({ path: join(SHOTS, 'report-time.png') });
  await page.locator('#fig-4').screenshot({ path: join(SHOTS, 'report-us-map.png') });
  assert.deepEqual(problems, []);
  assert.deepEqual(dialogs, []);
});
