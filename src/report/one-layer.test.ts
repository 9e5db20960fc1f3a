import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { buildReportModel } from './model.js';
import type { VlSpec } from './specs.js';
import { syntheticSpaceRun } from './test-data.js';
import type { ReportRun } from './types.js';

function run(model: string, layers: number[], r2: number[], prox?: number[]): ReportRun {
  const r = syntheticSpaceRun({ n: 40, layers, model });
  r.results.layers.forEach((l, i) => {
    l.test.r2 = r2[i]!;
    if (prox) l.test.proxError = prox[i]!;
  });
  delete r.predictions;
  return r;
}

interface Item {
  text?: string;
  fill?: string;
  x?: number;
  y?: number;
  width?: number;
}

/** Draws a spec headless (vega, no browser) and returns the items of the marks whose name matches. */
async function drawn(spec: VlSpec, name: RegExp): Promise<Item[]> {
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: 'none' });
  await view.runAsync();
  const out: Item[] = [];
  const walk = (mark: { name?: string; marktype?: string; items?: { items?: unknown[] }[] }) => {
    if (mark.name && name.test(mark.name)) out.push(...(mark.items as Item[]));
    else if (mark.marktype === 'group')
      for (const g of mark.items ?? []) for (const m of g.items ?? []) walk(m as never);
  };
  walk((view.scenegraph() as unknown as { root: never }).root);
  view.finalize();
  return out;
}

test('one layer per model (the demo): a bar per model with its value written, best first, not an empty depth axis', async () => {
  const runs = [
    run('static:glove-100d', [0], [0.453], [0.234]),
    run('surface:tfidf', [0], [0.256], [0.308]),
    run('surface:char-ngrams', [0], [0.363], [0.259]),
  ];
  const model = buildReportModel({ runs });
  const r2 = model.figures.find((f) => f.slug === 'main-r2-by-depth')!;
  assert.match(r2.title, /one layer each/);
  assert.equal(r2.marks, 3);
  const bars = await drawn(r2.spec, /^main_marks$|_main_marks$/);
  assert.equal(bars.length, 3, 'three bars drawn');
  const labels = (await drawn(r2.spec, /layer_1_marks$/)).map((t) => t.text);
  assert.deepEqual(labels, ['0.453', '0.363', '0.256'], 'values written beside the bars, best first');
  // Bars top to bottom: best R² first; longer bar = larger value.
  const byY = [...bars].sort((a, b) => a.y! - b.y!);
  assert.ok(byY[0]!.width! > byY[1]!.width! && byY[1]!.width! > byY[2]!.width!);
  const prox = model.figures.find((f) => f.slug === 'main-prox-error-by-depth')!;
  const proxLabels = (await drawn(prox.spec, /layer_1_marks$/)).map((t) => t.text);
  assert.deepEqual(proxLabels, ['0.234', '0.259', '0.308'], 'proximity error: lowest first');
});

test('a one-layer model beside a one-layer surface control: the control is a grey bar; any deeper run keeps the curve', async () => {
  const main = run('org/tiny', [0], [0.5]);
  const control = run('surface:tfidf@org/tiny', [0], [0.2]);
  const model = buildReportModel({ runs: [main, control] });
  const fig = model.figures.find((f) => f.slug === 'main-r2-by-depth')!;
  assert.equal(fig.marks, 2);
  const fills = (await drawn(fig.spec, /^main_marks$|_main_marks$/)).map((b) => b.fill);
  assert.equal(fills[1], '#8a9099', 'the control in grey');
  assert.notEqual(fills[0], '#8a9099');
  const deep = buildReportModel({ runs: [run('org/deep', [0, 1, 2], [0.1, 0.4, 0.6]), control] });
  assert.match(deep.figures[0]!.title, /against normalized depth/);
});
