import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { entityString, loadDataset, yearText } from '../data/index.js';
import { entityRecord } from '../extract/assemble.js';
import { writePaperSlice, writeRandomLlama } from '../extract/testing.js';
import { type HookedModel, loadModel } from '../model/index.js';
import { probeStore } from '../probe/index.js';
import { createStore, hookName, openStore, type StoreEntity } from '../store/index.js';
import { packageRoot } from '../util/paths.js';
import { skipWithoutShared } from '../util/shared.test-util.js';
import {
  answerOf,
  familiarityEntity,
  familiarityProbe,
  familiarityTemplate,
  quantile,
  readFamiliarity,
  scoreFamiliarity,
  writeFamiliarity,
} from './familiarity.js';

const skip = skipWithoutShared();

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'familiarity-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('familiarity questions for the time datasets: the calendar year and the extraction entity string', () => {
  /** Row 0 of a dataset file as `extract` stores it (entities.jsonl record). */
  async function storedRow0(path: string): Promise<{ entity: StoreEntity; extracted: string }> {
    const ds = await loadDataset(path);
    const entity = entityRecord(ds, 0, { ids: [1], position: 0, span: [0, 1] }) as StoreEntity;
    return { entity, extracted: entityString(ds, 0) };
  }
  const question = (entity: StoreEntity, dataset: string) => {
    const spec = familiarityTemplate(dataset, 'time');
    return `${spec.template.replace('{name}', () => familiarityEntity(entity, spec))} ${answerOf(entity, spec, 0)}`;
  };

  test("art (paper CSV row 0, target = years since 1970): Stephen King's It, 1986", { skip }, async () => {
    const { entity, extracted } = await storedRow0(await writePaperSlice(join(dir, 'art'), 'art', 1));
    assert.ok(Math.abs(entity.target[0]! - 16.7) < 0.01, 'target is years since 1970, not 1986');
    assert.equal(extracted, "Stephen King's It");
    assert.equal(question(entity, 'art'), "Stephen King's It was released in the year 1986");
  });

  test('headline (tiny CSV; published on New Year\'s Day, 45.9986 "years" since 1970): 2016', async () => {
    await mkdir(join(dir, 'hl'), { recursive: true });
    const path = join(dir, 'hl', 'headline.csv');
    await writeFile(
      path,
      'headline,pub_date,is_test,year,news_desk\n"Fireworks, Then Fog.",2016-01-01T00:00:00+0000,False,2016,Metro\n',
    );
    const { entity, extracted } = await storedRow0(path);
    assert.ok(Math.abs(entity.target[0]! - 16801 / 365.25) < 1e-12);
    assert.equal(extracted, 'Fireworks, Then Fog.');
    assert.equal(question(entity, 'headline'), '"Fireworks, Then Fog." was published in the year 2016');
  });

  test('historical_figure (tiny CSV, target = the year itself, BCE negative): asked as text writes it, 44 BC', async () => {
    await mkdir(join(dir, 'hf'), { recursive: true });
    const path = join(dir, 'hf', 'historical_figure.csv');
    await writeFile(path, 'name,death_year,is_test,occupation\nJulius Caesar,-44,False,politician\n');
    const { entity, extracted } = await storedRow0(path);
    assert.equal(entity.target[0], -44);
    assert.equal(extracted, 'Julius Caesar');
    assert.equal(question(entity, 'historical_figure'), 'Julius Caesar died in the year 44 BC');
    assert.deepEqual([-44, -1, 0, 1, 1986].map(yearText), ['44 BC', '1 BC', '1 BC', '1', '1986']);
  });
});

describe('familiarity scores', () => {
  let model: HookedModel;
  before(async () => {
    await writeRandomLlama(join(dir, 'm'), undefined, { seed: 2 });
    model = await loadModel(join(dir, 'm'));
  });
  after(() => model.dispose());

  test('batched log P(answer | prompt) equals the log-softmax of single unbatched runs', async () => {
    const entities: StoreEntity[] = [
      { name: 'Kaya, Burkina Faso', is_test: false, target: [-1, 13], country: 'Burkina_Faso' },
      { name: 'Lyon', is_test: false, target: [4.8, 45.7], country: 'France' },
      { name: 'Sembuwatta Lake', is_test: true, target: [80.7, 7.4], country: 'Sri_Lanka' },
    ];
    const spec = familiarityTemplate('world_place', 'space');
    const scores = await scoreFamiliarity(model, entities, spec, { batchSize: 2 });
    const tok = model.tokenizer!;
    const V = model.spec.vocabSize;
    assert.deepEqual(
      scores.map((s) => s.answer),
      ['Burkina Faso', 'France', 'Sri Lanka'],
    );
    assert.deepEqual(
      scores.map((s) => s.answerInName),
      [true, false, false],
    );
    for (const s of scores) {
      // The entity as extraction renders it (world_place: the text after the last comma moves to the front).
      const entity = ["Burkina Faso's Kaya", 'Lyon', 'Sembuwatta Lake'][s.row];
      const prompt = `${entity} is in the country of`;
      const p = [tok.bosId!, ...tok.encode(prompt).ids];
      const full = [tok.bosId!, ...tok.encode(`${prompt} ${s.answer}`).ids];
      assert.deepEqual(full.slice(0, p.length), p);
      const logits = (await model.run([full], { hooks: ['logits'] })).get('logits')!;
      let want = 0;
      for (let k = p.length; k < full.length; k++) {
        const row = Array.from(logits.subarray((k - 1) * V, k * V), Number);
        const max = Math.max(...row);
        want += row[full[k]!]! - max - Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      }
      assert.equal(s.answerTokens, full.length - p.length);
      assert.ok(Math.abs(s.logProb - want) < 1e-5, `${s.name}: ${s.logProb} vs ${want}`);
    }
    for (const s of scores) assert.equal(s.meanLogProb, s.logProb / s.answerTokens);
    await writeFamiliarity(dir, scores, { template: spec.template });
    // The score is the mean per answer token ("Sri Lanka" is two-plus tokens, "France" one); the sum stays.
    assert.deepEqual(
      Array.from(await readFamiliarity(join(dir, 'familiarity.csv'), 3)),
      scores.map((s) => s.meanLogProb),
    );
    assert.deepEqual(
      Array.from(await readFamiliarity(join(dir, 'familiarity.csv'), 3, 'sum')),
      scores.map((s) => s.logProb),
    );
  });

  test('templates: dataset defaults, time stores use the year, custom ones need {name}', () => {
    assert.equal(familiarityTemplate('historical_figure', 'time').template, '{name} died in the year');
    assert.deepEqual(familiarityTemplate('my_events', 'time').answer, { year: 'year' });
    assert.deepEqual(familiarityTemplate('art', 'time').answer, { year: 'years since 1970' });
    assert.throws(() => familiarityTemplate('my_places', 'space'), /--template/);
    assert.throws(() => familiarityTemplate('my_places', 'space', { template: 'Where is' }), /\{name\}/);
  });
});

interface FamiliarityGolden {
  name: string;
  kind: 'space' | 'time';
  n: number;
  d: number;
  X: number[];
  Y: number[];
  isTest: number[];
  scores: number[];
  alphas: number[];
  rows: {
    analysis: string;
    quantileLow: number;
    threshold: number;
    nTrain: number;
    nTest: number;
    alpha: number;
    testR2: number;
    testMae: number;
    testKm?: number;
    testProxError: number;
  }[];
}

describe('probe by familiarity against NumPy/scikit-learn (reference/neurons_familiarity_golden.py)', () => {
  const golden = JSON.parse(
    readFileSync(join(packageRoot(), 'test/fixtures/neurons/familiarity_golden.json'), 'utf8'),
  ) as { cases: FamiliarityGolden[] };
  for (const c of golden.cases) {
    test(`${c.kind}: R², MAE, km and proximity error, filtered and per bucket`, async () => {
      const t = c.kind === 'space' ? 2 : 1;
      const w = createStore(
        join(dir, `golden-${c.name}`),
        {
          formatVersion: 1,
          model: { id: 'synthetic' },
          dataset: {
            name: `synthetic_${c.kind}`,
            sha256: '0'.repeat(64),
            kind: c.kind,
            targetNames: c.kind === 'space' ? ['longitude', 'latitude'] : ['year'],
          },
          prompt: { name: 'empty' },
          hooks: ['hook_resid_post'],
          layers: [0],
          dtype: 'f32',
          n: c.n,
          d: c.d,
          aggregation: 'last',
          toolVersion: 'test',
          createdAt: new Date(0).toISOString(),
        },
        c.isTest.map((v, i) => ({ name: `e${i}`, is_test: v === 1, target: c.Y.slice(i * t, i * t + t) })),
      );
      await w.write(hookName(0), Float32Array.from(c.X), c.n, c.d);
      await w.finish();
      const store = await openStore(join(dir, `golden-${c.name}`));
      const rows = await familiarityProbe(store, Float64Array.from(c.scores), {
        layer: 0,
        alphas: c.alphas,
        filterQuantiles: [0, 0.5],
        buckets: 4,
      });
      assert.equal(rows.length, c.rows.length);
      const near = (a: number | undefined, b: number, what: string) =>
        assert.ok(
          a !== undefined && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)),
          `${what}: ${a} vs ${b}`,
        );
      rows.forEach((r, k) => {
        const g = c.rows[k]!;
        const what = `${g.analysis} ${g.quantileLow}`;
        assert.equal(r.analysis, g.analysis);
        assert.equal(r.nTest, g.nTest, `${what} rows`);
        assert.equal(r.nTrain, g.nTrain, `${what} train rows`);
        assert.equal(r.alpha, g.alpha, `${what} alpha`);
        near(r.threshold, g.threshold, `${what} threshold`);
        near(r.testR2, g.testR2, `${what} R²`);
        near(r.testMae, g.testMae, `${what} MAE`);
        if (g.testKm !== undefined) near(r.testKm, g.testKm, `${what} km`);
        near(r.testProxError, g.testProxError, `${what} proximity error`);
      });
    });
  }
});

describe('probe by familiarity', () => {
  test('quantile matches NumPy linear interpolation', () => {
    assert.equal(quantile([4, 1, 3, 2], 0.25), 1.75);
    assert.equal(quantile([4, 1, 3, 2], 1), 4);
    assert.equal(quantile([5], 0.5), 5);
  });

  test('test R² rises when unfamiliar entities (whose activations carry no signal) are filtered out', async () => {
    const n = 240;
    const d = 6;
    let s = 12345;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648 - 0.5;
    };
    const familiar = Array.from({ length: n }, (_, i) => i % 2 === 0);
    const scores = Float64Array.from(familiar, (f) => (f ? -1 + rand() : -9 + rand()));
    const targets: number[][] = [];
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const lon = 300 * rand();
      const lat = 120 * rand();
      targets.push([lon, lat]);
      for (let j = 0; j < d; j++) x[i * d + j] = rand();
      if (familiar[i]) {
        x[i * d] = lon / 100 + 0.02 * rand();
        x[i * d + 1] = lat / 40 + 0.02 * rand();
      }
    }
    const writer = createStore(
      join(dir, 'store'),
      {
        formatVersion: 1,
        model: { id: 'synthetic' },
        dataset: {
          name: 'synthetic',
          sha256: '0'.repeat(64),
          kind: 'space',
          targetNames: ['longitude', 'latitude'],
        },
        prompt: { name: 'empty' },
        hooks: ['hook_resid_post'],
        layers: [0],
        dtype: 'f32',
        n,
        d,
        aggregation: 'last',
        toolVersion: 'test',
        createdAt: new Date(0).toISOString(),
      },
      targets.map((t, i) => ({ name: `e${i}`, is_test: i % 5 === 0 || i % 5 === 1, target: t })),
    );
    await writer.write(hookName(0), x, n, d);
    await writer.finish();
    const store = await openStore(join(dir, 'store'));
    const rows = await familiarityProbe(store, scores, { layer: 0, alphas: [0.1, 1, 10] });
    const filtered = rows.filter((r) => r.analysis === 'filtered');
    assert.deepEqual(
      filtered.map((r) => r.quantileLow),
      [0, 0.25, 0.5, 0.75],
    );
    assert.equal(filtered[0]!.nTrain + filtered[0]!.nTest, n);
    assert.ok(filtered[2]!.testR2 > filtered[0]!.testR2 + 0.2, JSON.stringify(filtered));
    assert.ok(filtered[2]!.testR2 > 0.95);
    // q = 0 keeps every row: the same probe as `probe` on the whole store.
    const run = await probeStore(store, { alphas: [0.1, 1, 10] });
    assert.ok(Math.abs(run.results.layers[0]!.test.r2 - filtered[0]!.testR2) < 1e-9);
    const buckets = rows.filter((r) => r.analysis === 'bucket');
    assert.equal(buckets.length, 4);
    assert.equal(
      buckets.reduce((a, r) => a + r.nTest, 0),
      filtered[0]!.nTest,
    );
    assert.ok(buckets[3]!.testR2 > buckets[0]!.testR2);
  });
});
