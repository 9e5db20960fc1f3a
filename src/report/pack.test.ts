import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonForScript } from './escape.js';
import { renderReport } from './html.js';
import { PACKED_KEY, pack, pageData, unpack } from './pack.js';
import { syntheticSpaceRun } from './test-data.js';

/** What the page would have held as plain JSON, and what it decodes from the packed block. */
async function roundTrip(value: unknown): Promise<{ json: unknown; decoded: unknown; packed: string }> {
  const packed = jsonForScript(pack(value));
  return { json: JSON.parse(JSON.stringify(value)), decoded: await unpack(JSON.parse(packed)), packed };
}

const HOSTILE = ['</script><img src=x onerror=alert(1)>', 'a\u2028b\u2029c', '<!--', 'Zürich 東京 🌍', '"\\'];

test('packing is lossless: the decoded data equal what JSON would have given, value for value', async () => {
  const n = 100;
  const value = {
    // decimals of 0 to 6 digits (ints), with NaN / null / ±Infinity (JSON: null), -0 (JSON: 0)
    degrees: Array.from({ length: n }, (_, i) => Math.round((i * 7.123456 - 300) * 1000) / 1000),
    holes: Array.from({ length: n }, (_, i) =>
      i % 7 === 0 ? Number.NaN : i % 11 === 0 ? null : i === 5 ? -0 : i === 6 ? Infinity : i / 64,
    ),
    micro: Array.from({ length: n }, (_, i) => i * 1e-6 - 3e-5),
    // no decimal form: float64, exactly
    floats: Array.from({ length: n }, (_, i) => Math.PI * i ** 1.5 + 1e-300 * i),
    huge: Array.from({ length: n }, (_, i) => 2 ** 40 + i * 0.5),
    flags: Array.from({ length: n }, (_, i) => i % 3 === 0),
    names: Array.from({ length: n }, (_, i) => HOSTILE[i % HOSTILE.length]! + i),
    rows: Array.from({ length: n }, (_, i) => ({
      name: `r${i}`,
      x: i / 8,
      best: i === 3,
      tag: i % 2 ? 'a' : null,
    })),
    ragged: Array.from({ length: n }, (_, i) => (i === 4 ? { x: i } : { x: i, y: i })),
    nested: [Array.from({ length: n }, (_, i) => i), [1, 2]],
    short: [1.5, 'x', null],
  };
  const { json, decoded } = await roundTrip(value);
  assert.deepEqual(decoded, json);
  const typed = Float64Array.from({ length: n }, (_, i) => i / 4);
  assert.deepEqual(
    (await roundTrip({ typed })).decoded,
    { typed: Array.from(typed) },
    'typed arrays as arrays',
  );
  assert.ok(Object.is((decoded as { holes: number[] }).holes[5], 0), '-0 decodes as JSON gives it: 0');
});

test('large arrays are packed, small ones stay JSON; the marker key cannot be forged', () => {
  const packed = pack({ big: Array.from({ length: 40 }, (_, i) => i), small: [1, 2, 3] }) as Record<
    string,
    unknown
  >;
  assert.equal((packed['big'] as Record<string, unknown>)[PACKED_KEY], 'q');
  assert.deepEqual(packed['small'], [1, 2, 3]);
  assert.throws(() => pack({ rows: [{ [PACKED_KEY]: 'q' }] }), /may not use the key/);
});

test('hostile strings are base64 inside the page: none appears in it, and they decode unchanged', async () => {
  const names = Array.from({ length: 64 }, (_, i) => HOSTILE[i % HOSTILE.length]!);
  const { packed, decoded } = await roundTrip({ names });
  assert.doesNotMatch(packed, /<|>|&|\u2028|\u2029|script/i);
  assert.deepEqual((decoded as { names: string[] }).names, names);
});

test('a report page decodes to its model: predictions at 3 decimals, names, test flags; 2x smaller', async () => {
  const run = syntheticSpaceRun({ n: 3000, layers: [0, 4, 8], predictionLayers: [0, 4, 8] });
  const html = renderReport({ runs: [run] });
  const data = await pageData<{
    points: { names: string[]; isTest: number[]; pred: Record<string, number[][]> }[];
  }>(html);
  const p = data.points[0]!;
  const source = run.predictions!;
  assert.deepEqual(p.names, source.names);
  assert.deepEqual(p.isTest, Array.from(source.isTest));
  for (const layer of [0, 4, 8]) {
    for (const t of [0, 1]) {
      const want = source.pred.get(layer)![t]!;
      const got = p.pred[layer]![t]!;
      assert.equal(got.length, want.length);
      for (let i = 0; i < want.length; i++)
        assert.ok(Math.abs(got[i]! - want[i]!) <= 0.0005 + 1e-9, `layer ${layer} target ${t} row ${i}`);
    }
  }
  // The per-point data (names, truths, predictions, flags): the part that grows with entities and layers.
  const block = JSON.parse(html.match(/id="report-data">([\s\S]*?)<\/script>/)![1]!);
  const packed = JSON.stringify(block.points).length;
  const plain = JSON.stringify(await unpack(block.points)).length;
  // Real city names and positions: about 2x (the 40,000-entity grid of bench/report/grid.ts: 3.4x, docs/report.md).
  assert.ok(
    plain / packed > 1.8,
    `points: packed ${packed} vs JSON ${plain} characters (${(plain / packed).toFixed(2)}x)`,
  );
});
