// bench/lib/summary.ts: which rows reach bench/README.md's table (loaded rows refused or flagged) and the goals.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SummaryLine } from '../../bench/lib/run.js';
import { BEGIN, END, latestRows, tables, writeReadmeTable } from '../../bench/lib/summary.js';

function line(benchmark: string, ratio: number, load: [number, number], date: string, step = 'x'): SummaryLine {
  return {
    benchmark,
    unit: 's',
    ours: 10,
    reference: 10 * ratio,
    referenceName: 'ref',
    ratio,
    kernel: 'openblas Cooperlake x2',
    cpu: 'AMD EPYC',
    cores: 2,
    loadBefore: load[0],
    loadAfter: load[1],
    loaded: Math.max(...load) >= 3,
    date,
    commit: 'abc',
    step,
  };
}

const SMOL = 'extract: SmolLM2-135M shape, f32, 2000 world_place rows, prompt coords, same job';
const PROBE = 'probe: LOO ridge sweep, n 30000, d 2048, 10 alphas, 2 targets';

test('a later loaded line never replaces a quiet one; a later quiet one does', () => {
  const rows = latestRows([
    line(SMOL, 1.6, [1, 1.5], '2026-12-07T13:00'),
    line(SMOL, 1.2, [4, 5], '2026-12-07T13:10'),
    line(PROBE, 1.8, [0.5, 1], '2026-12-07T13:01'),
    line(PROBE, 2.1, [0.5, 1], '2026-12-07T13:20'),
  ]);
  assert.deepEqual(
    rows.map((r) => [r.benchmark, r.ratio]),
    [
      [SMOL, 1.6],
      [PROBE, 2.1],
    ],
  );
});

test('loaded rows are refused and named, or shown flagged with allowLoaded; goals judged on what is shown', () => {
  const lines = [line(SMOL, 1.6, [1, 1.2], '2026-12-07T13:00'), line(PROBE, 2.5, [2.5, 3.4], '2026-12-07T13:05', 'probe')];
  const strict = tables(lines);
  assert.deepEqual(
    strict.rows.map((r) => r.benchmark),
    [SMOL],
  );
  assert.deepEqual(
    strict.refused.map((r) => r.benchmark),
    [PROBE],
  );
  assert.match(strict.markdown, /Left out, measured at a 1-minute load of 3 or more .*--only probe/);
  assert.match(strict.markdown, /SmolLM2 shape, 2,000 world_place rows, coords prompt: ≥ 1.5x, 1.60x, met/);
  assert.match(strict.markdown, /RidgeCV, n 30,000, d 2,048: ≥ 2x, \*\*not measured\*\*/);
  const loose = tables(lines, { allowLoaded: true });
  assert.equal(loose.refused.length, 0);
  assert.match(loose.markdown, /2.50 → 3.40 LOADED/);
  assert.match(loose.markdown, /RidgeCV, n 30,000, d 2,048: ≥ 2x, 2.50x, met \(LOADED\)/);
  assert.equal(loose.goals.find((g) => g.step === 'probe')?.loaded, true);
});

test('a goal below its target says not met in the table and the list', () => {
  const t = tables([line(SMOL, 1.49, [1, 1], '2026-12-07T13:00')]);
  assert.match(t.markdown, /\| ≥ 1.5x: \*\*not met\*\* \|/);
  assert.equal(t.goals[0]!.met, false);
});

test('writeReadmeTable replaces only the block between the markers and writes the JSON', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stl-bench-summary-'));
  try {
    const readme = join(dir, 'README.md');
    writeFileSync(readme, `# before\n\n${BEGIN}\nold\n${END}\n\n# after\n`);
    const summary = join(dir, 'summary.jsonl');
    writeFileSync(summary, `${JSON.stringify(line(SMOL, 2, [1, 1], '2026-12-07T13:00'))}\n`);
    const json = join(dir, 'results.json');
    writeReadmeTable(summary, readme, { json });
    const text = readFileSync(readme, 'utf8');
    assert.ok(text.startsWith('# before\n\n'));
    assert.ok(text.endsWith(`${END}\n\n# after\n`));
    assert.ok(!text.includes('\nold\n'));
    assert.match(text, /\| \*\*2.00x\*\* \| ≥ 1.5x: met \|/);
    const parsed = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(parsed.rows.length, 1);
    assert.equal(parsed.goals.filter((g: { met: boolean }) => g.met).length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
