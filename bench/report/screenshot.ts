/**
 * Screenshots a report in headless Chromium at 1,280 px: the whole page and every figure (by its slug), to look at
 * by eye. Usage: npx tsx bench/report/screenshot.ts REPORT.html OUT_DIR
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const [html, outDir] = process.argv.slice(2).map((p) => resolve(p));
mkdirSync(outDir!, { recursive: true });
const userDir = mkdtempSync(join(tmpdir(), 'report-shot-'));
const context = await chromium.launchPersistentContext(userDir, {
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && console.log(`console: ${m.text()}`));
  await page.goto(`file://${html}`);
  await page.waitForSelector('body[data-ready]', { timeout: 120000 });
  // biome-ignore lint/suspicious/noExplicitAny: runs in the page
  const wide = await page.evaluate(() => (globalThis as any).spacetimeReport.tooWide() as string[]);
  if (wide.length) console.log(`wider than the page: ${wide.join('; ')}`);
  await page.screenshot({ path: join(outDir!, 'page.png'), fullPage: true });
  for (const fig of await page.$$('figure')) {
    const slug = await fig.getAttribute('data-slug');
    await fig.screenshot({ path: join(outDir!, `${slug}.png`) });
  }
  console.log(`screenshots in ${outDir}`);
} finally {
  await context.close();
  rmSync(userDir, { recursive: true, force: true });
}
