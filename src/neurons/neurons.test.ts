import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeSafetensors } from '../formats/index.js';
import { inspectCheckpoint } from '../model/index.js';
import { averageRanks } from '../probe/index.js';
import type { ActivationStore } from '../store/index.js';
import { packageRoot } from '../util/paths.js';
import {
  neuronRows,
  paperProbeLayers,
  residualRows,
  type WeightType,
  weightTypes,
} from './neuron-weights.js';
import {
  correlationSearch,
  neuronFeatures,
  probeCosineSearch,
  projectionCorrelations,
  readProbeDirections,
  singleNeuronStats,
  storeActivations,
} from './neurons.js';
import { rankTarget, spearmanColumns } from './neurons-math.js';
import { worldPlaceStore } from './store.test-util.js';

const FIX = join(packageRoot(), 'test/fixtures/neurons');

interface Inputs {
  L: number;
  n: number;
  d: number;
  m: number;
  types: string[];
  isTest: number[];
  tieP: number[][];
  tieY: number[];
}
interface Golden {
  corr: Record<string, number[]>;
  cosines: Record<string, number[]>;
  singles: Record<string, [number, number, number, number]>;
  tieCorr: number[];
  tieRanks: number[][];
  legacy: Record<
    'W_in' | 'W_out',
    {
      top: { probeLayer: number; layer: number; neuron: number; cos: number }[];
      projection: { layer: number; neuron: number; activationLayer: number; spearman: number }[];
    }
  >;
}

let inputs: Inputs;
let golden: Golden;
let resid: Float64Array;
let mlpPost: Float64Array;
let targets: Float64Array;
let probeDir: Float64Array;
let probeDir2: Float64Array;
let tmp: string;
let store: ActivationStore;
let mlpStore: ActivationStore;

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);
}

function makeStore(dir: string, hook: string, data: Float64Array, width: number): Promise<ActivationStore> {
  const { L, n } = inputs;
  const entities = Array.from({ length: n }, (_, i) => ({
    entity_type: inputs.types[i],
    is_test: inputs.isTest[i] === 1,
    target: [targets[2 * i]!, targets[2 * i + 1]!] as [number, number],
  }));
  const layers = Array.from({ length: L }, (_, l) =>
    Float32Array.from(data.subarray(l * n * width, (l + 1) * n * width)),
  );
  return worldPlaceStore(dir, 'tiny-llama', hook, width, entities, layers);
}

before(async () => {
  inputs = JSON.parse(await readFile(join(FIX, 'inputs.json'), 'utf8'));
  golden = JSON.parse(await readFile(join(FIX, 'golden.json'), 'utf8'));
  const raw = await readFile(join(FIX, 'inputs.bin'));
  const all = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const { L, n, d, m } = inputs;
  let o = 0;
  const take = (k: number) => {
    o += k;
    return all.subarray(o - k, o);
  };
  resid = take(L * n * d);
  mlpPost = take(L * n * m);
  targets = take(n * 2);
  probeDir = take(d);
  probeDir2 = take(d);
  tmp = await mkdtemp(join(tmpdir(), 'neurons-'));
  store = await makeStore(join(tmp, 'resid'), 'hook_resid_post', resid, d);
  mlpStore = await makeStore(join(tmp, 'mlp'), 'mlp.hook_post', mlpPost, m);
});
after(() => rm(tmp, { recursive: true, force: true }));

describe('column ranking', () => {
  test('average ranks and Spearman with ties and -0/+0 equal SciPy', () => {
    const P = Float32Array.from(inputs.tieP.flat());
    for (let j = 0; j < 3; j++) {
      const col = Float32Array.from(inputs.tieP.map((r) => r[j]!));
      assert.deepEqual(Array.from(averageRanks(col)), golden.tieRanks[j]);
      assert.deepEqual(Array.from(averageRanks(Float64Array.from(col))), golden.tieRanks[j]); // comparator path
    }
    const corr = spearmanColumns(P, 6, 3, [rankTarget('y', inputs.tieY)]);
    for (let j = 0; j < 3; j++) close(corr[j]!, golden.tieCorr[j]!, 1e-12, `column ${j}`);
  });
  test('a constant column gives NaN, as SciPy does', () => {
    const corr = spearmanColumns(new Float32Array(5).fill(2), 5, 1, [rankTarget('y', [1, 2, 3, 4, 5])]);
    assert.ok(Number.isNaN(corr[0]));
  });
  test('a column with a NaN or an Inf gives NaN, as scipy.stats.spearmanr (nan_policy propagate) does', () => {
    // Ranked, the NaN would take rank 5 and this column would read ρ = 1.
    const p = Float32Array.of(1, 10, 2, 20, 3, 30, 4, Number.POSITIVE_INFINITY, Number.NaN, 50);
    const corr = spearmanColumns(p, 5, 2, [rankTarget('y', [1, 2, 3, 4, 5])]);
    assert.ok(Number.isNaN(corr[0]) && Number.isNaN(corr[1]), Array.from(corr).join());
  });
});

describe('correlation search: non-finite activations', () => {
  test('a layer with a NaN is skipped and named; the other layers equal NumPy/SciPy; NaN targets are refused', async () => {
    const { checkpoint, spec } = await inspectCheckpoint(join(FIX, 'tiny-llama'));
    try {
      const { n, d } = inputs;
      const broken = Float64Array.from(resid);
      broken[7 * d + 3] = Number.NaN; // layer 0, row 7
      const bad = await makeStore(join(tmp, 'resid-nan'), 'hook_resid_post', broken, d);
      const features = neuronFeatures('space', ['longitude', 'latitude'], targets, n, 'world_place');
      const res = await correlationSearch({ spec, source: checkpoint }, bad, features, { topK: 5 });
      assert.deepEqual(res.layers, [1]);
      assert.deepEqual(
        res.skippedLayers.map((x) => x.layer),
        [0],
      );
      assert.match(res.skippedLayers[0]!.reason, /row 7, column 3 .* NaN/);
      for (const w of ['W_in', 'W_out'] as WeightType[]) {
        const want = golden.corr[`1/${w}/lon`]!.map((c, j) => ({ j, c }));
        want.sort((a, b) => Math.abs(b.c) - Math.abs(a.c));
        const got = res.hits.filter((h) => h.feature === 'lon' && h.weight === w);
        assert.deepEqual(
          got.map((h) => [h.layer, h.neuron]),
          want.slice(0, 5).map((x) => [w === 'W_out' ? 1 : 2, x.j]),
        );
        for (const h of got) close(h.corr, golden.corr[`1/${w}/lon`]![h.neuron]!, 2e-6, `${w} ρ`);
      }
      const nanTarget = [
        { name: 'lon', values: Float64Array.from(features[0]!.values, (v, i) => (i === 2 ? Number.NaN : v)) },
      ];
      await assert.rejects(
        correlationSearch({ spec, source: checkpoint }, store, nanTarget, { topK: 5 }),
        /target lon of row 2 is NaN/,
      );
    } finally {
      await checkpoint.close();
    }
  });
});

describe('correlation search (the code procedure)', () => {
  test('every neuron proxy correlation equals NumPy/SciPy, and the top list is their |ρ| order', async () => {
    const { checkpoint, spec } = await inspectCheckpoint(join(FIX, 'tiny-llama'));
    try {
      const features = neuronFeatures('space', ['longitude', 'latitude'], targets, inputs.n, 'world_place');
      assert.deepEqual(
        features.map((f) => f.name),
        ['lon', 'lat', 'abs_lat', 'abs_lon'],
      );
      const seen: string[] = [];
      const res = await correlationSearch({ spec, source: checkpoint }, store, features, {
        topK: 5,
        chunkFloats: 7 * inputs.n, // several neuron chunks per layer
        onLayer(layer, weight, corr, names) {
          names.forEach((feat, t) => {
            const want = golden.corr[`${layer}/${weight}/${feat}`]!;
            want.forEach((v, j) => {
              close(corr[j * names.length + t]!, v, 2e-6, `${layer}/${weight}/${feat}/${j}`);
            });
          });
          seen.push(`${layer}/${weight}`);
        },
      });
      assert.deepEqual(seen, ['0/W_in', '0/W_gate', '0/W_out', '1/W_in', '1/W_gate', '1/W_out']);
      assert.equal(res.hits.length, 4 * 3 * 5);
      for (const feat of ['lon', 'abs_lat']) {
        for (const w of ['W_in', 'W_gate', 'W_out'] as WeightType[]) {
          const all = [0, 1].flatMap((l) =>
            golden.corr[`${l}/${w}/${feat}`]!.map((c, j) => ({ layer: w === 'W_out' ? l : l + 1, j, c })),
          );
          all.sort((a, b) => Math.abs(b.c) - Math.abs(a.c));
          const got = res.hits.filter((h) => h.feature === feat && h.weight === w);
          assert.deepEqual(
            got.map((h) => [h.layer, h.neuron]),
            all.slice(0, 5).map((x) => [x.layer, x.j]),
          );
        }
      }
    } finally {
      await checkpoint.close();
    }
  });
});

describe('probe-cosine search (the paper text procedure)', () => {
  let probeDirPath: string;
  before(async () => {
    probeDirPath = join(tmp, 'probe');
    const { d } = inputs;
    const coefOf = (lonDir: Float64Array) => {
      const coef = new Float64Array(d * 2);
      for (let i = 0; i < d; i++) {
        coef[i * 2] = lonDir[i]!; // longitude
        coef[i * 2 + 1] = i === 0 ? 1 : 0; // latitude: a basis vector
      }
      return coef;
    };
    const { mkdir } = await import('node:fs/promises');
    await mkdir(probeDirPath);
    await writeSafetensors(
      join(probeDirPath, 'probes.safetensors'),
      [1, 2].flatMap((l) => [
        {
          name: `layer.${l}.coef_standardized`,
          dtype: 'F64' as const,
          shape: [d, 2],
          data: coefOf(l === 1 ? probeDir : probeDir2),
        },
        { name: `layer.${l}.y_scale`, dtype: 'F64' as const, shape: [2], data: Float64Array.of(1, 1) },
        { name: `layer.${l}.x_mean`, dtype: 'F64' as const, shape: [d], data: new Float64Array(d) },
      ]),
      { targetNames: JSON.stringify(['longitude', 'latitude']), hook: 'hook_resid_post' },
    );
  });

  test('cosines (RMSNorm gain folded into W_in/W_gate, as TransformerLens) equal NumPy; planted neurons first with cos 1', async () => {
    const { checkpoint, spec } = await inspectCheckpoint(join(FIX, 'tiny-llama'));
    const probes = await readProbeDirections(probeDirPath);
    try {
      const hits = await probeCosineSearch({ spec, source: checkpoint }, probes, {
        targets: [0],
        topK: 200,
        probeLayers: [1],
      });
      const lon = (w: WeightType) => hits.filter((h) => h.weight === w);
      assert.deepEqual([lon('W_in')[0]!.layer, lon('W_in')[0]!.neuron], [1, 5]);
      assert.deepEqual([lon('W_gate')[0]!.layer, lon('W_gate')[0]!.neuron], [1, 7]);
      assert.deepEqual([lon('W_out')[0]!.layer, lon('W_out')[0]!.neuron], [2, 3]);
      for (const w of ['W_in', 'W_gate', 'W_out'] as WeightType[]) close(lon(w)[0]!.cos, 1, 1e-6, w);
      for (const h of hits)
        close(h.cos, golden.cosines[`${h.layer}/${h.weight}`]![h.neuron]!, 1e-6, `${h.layer}/${h.weight}`);
      assert.equal(lon('W_in').length, 3 * inputs.m);
    } finally {
      await probes.close();
      await checkpoint.close();
    }
  });

  test("--paper-compat: the authors' legacy function (top neurons over probe layers, W_in/W_out, projections)", async () => {
    const { checkpoint, spec } = await inspectCheckpoint(join(FIX, 'tiny-llama'));
    const probes = await readProbeDirections(probeDirPath);
    const weights = { spec, source: checkpoint };
    try {
      // The authors' start_layer is 15 (their models have 32+ layers); with L = 3 the reference starts at 1.
      assert.deepEqual(
        paperProbeLayers([...Array(32).keys()], 32),
        [...Array(17).keys()].map((i) => i + 15),
      );
      await assert.rejects(
        probeCosineSearch(weights, probes, { paperCompat: true }),
        /15\.\.2.*--probe-layers/,
      );
      const hits = await probeCosineSearch(weights, probes, {
        paperCompat: true,
        probeLayers: [1, 2],
        targets: [0],
        topK: 10,
      });
      assert.deepEqual([...new Set(hits.map((h) => h.weight))], ['W_in', 'W_out'], 'no W_gate');
      const features = neuronFeatures('space', ['longitude', 'latitude'], targets, inputs.n, 'world_place');
      for (const w of ['W_in', 'W_out'] as const) {
        const want = golden.legacy[w];
        const key = (x: { probeLayer: number; layer: number; neuron: number }) =>
          `${x.probeLayer}/${x.layer}/${x.neuron}`;
        const got = hits.filter((h) => h.weight === w);
        assert.deepEqual(got.map(key).sort(), want.top.map(key).sort(), `${w}: the same top neurons`);
        for (const h of got) close(h.cos, want.top.find((x) => key(x) === key(h))!.cos, 1e-6, `${w} cos`);
        const proj = await projectionCorrelations(
          weights,
          store,
          got.map((h) => ({ target: 'lon', weight: w, layer: h.layer, neuron: h.neuron })),
          features,
        );
        assert.equal(proj.rows.length, want.projection.length);
        for (const p of want.projection) {
          const r = proj.rows.find(
            (x) => x.layer === p.layer && x.neuron === p.neuron && x.activationLayer === p.activationLayer,
          )!;
          close(
            r.spearman,
            p.spearman,
            2e-6,
            `${w} projection ${p.layer}/${p.neuron} on layer ${p.activationLayer}`,
          );
        }
      }
    } finally {
      await probes.close();
      await checkpoint.close();
    }
  });

  test('single-neuron Spearman and 1-D R², overall and per entity type, equal SciPy/NumPy', async () => {
    const features = neuronFeatures('space', ['longitude', 'latitude'], targets, inputs.n, 'world_place');
    const neurons = [
      { target: 'lon', layer: 1, neuron: 5 },
      { target: 'lat', layer: 2, neuron: 0 },
      { target: 'lon', layer: 0, neuron: 11 },
    ];
    const { rows } = await singleNeuronStats(
      neurons,
      storeActivations(mlpStore),
      features,
      inputs.n,
      inputs.m,
      inputs.types,
    );
    assert.equal(rows.length, 3 * 4);
    for (const r of rows) {
      const [rho, r2, slope, intercept] = golden.singles[`${r.layer}/${r.neuron}/${r.target}/${r.group}`]!;
      close(r.fit.spearman, rho, 1e-9, 'spearman');
      close(r.fit.r2, r2, 1e-9, 'r2');
      close(r.fit.slope, slope, 1e-7 * Math.abs(slope) + 1e-9, 'slope');
      close(r.fit.intercept, intercept, 1e-7 * Math.abs(intercept) + 1e-9, 'intercept');
    }
    assert.ok(rows[0]!.fit.r2 > 0.8, 'the planted space neuron predicts longitude');
  });
});

describe('neuron weight layouts', () => {
  test('GPT-2 Conv1D ([in, out]) and Llama Linear ([out, in]) both give neuron rows [d_mlp, d]', async () => {
    const gpt2 = await inspectCheckpoint(join(packageRoot(), 'test/fixtures/engine/gpt2-legacy-f32'));
    const llama = await inspectCheckpoint(join(FIX, 'tiny-llama'));
    try {
      const g = { spec: gpt2.spec, source: gpt2.checkpoint };
      assert.deepEqual(weightTypes(gpt2.spec), ['W_in', 'W_out']);
      const fc = await gpt2.checkpoint.readFloat32('h.1.mlp.c_fc.weight'); // [32, 128]
      const proj = await gpt2.checkpoint.readFloat32('h.1.mlp.c_proj.weight'); // [128, 32]
      const win = await neuronRows(g, 1, 'W_in');
      const wout = await neuronRows(g, 1, 'W_out');
      for (const [neuron, j] of [
        [0, 0],
        [77, 5],
        [127, 31],
      ] as const) {
        assert.equal(win[neuron * 32 + j], fc[j * 128 + neuron]);
        assert.equal(wout[neuron * 32 + j], proj[neuron * 32 + j]);
      }
      await assert.rejects(neuronRows(g, 0, 'W_gate'), /no W_gate/);
      // LayerNorm (GPT-2), as TransformerLens folds it: W_in rows times ln_2's gain, then centred over d_model;
      // W_out rows centred (center_writing_weights).
      const g2 = await gpt2.checkpoint.readFloat32('h.1.ln_2.weight');
      const foldedIn = await residualRows(g, 1, 'W_in');
      const foldedOut = await residualRows(g, 1, 'W_out');
      for (const neuron of [0, 77, 127]) {
        const row = Array.from({ length: 32 }, (_, j) => fc[j * 128 + neuron]! * g2[j]!);
        const mean = row.reduce((a, v) => a + v, 0) / 32;
        const out = Array.from({ length: 32 }, (_, j) => proj[neuron * 32 + j]!);
        const outMean = out.reduce((a, v) => a + v, 0) / 32;
        for (let j = 0; j < 32; j++) {
          close(foldedIn[neuron * 32 + j]!, row[j]! - mean, 1e-6, `W_in ${neuron}/${j}`);
          close(foldedOut[neuron * 32 + j]!, out[j]! - outMean, 1e-6, `W_out ${neuron}/${j}`);
        }
      }
      assert.equal(win[0], fc[0], 'the raw rows are not changed by folding');
      const l = { spec: llama.spec, source: llama.checkpoint };
      const down = await llama.checkpoint.readFloat32('model.layers.2.mlp.down_proj.weight'); // [16, 24]
      const rows = await neuronRows(l, 2, 'W_out');
      for (let neuron = 0; neuron < 24; neuron++)
        for (let j = 0; j < 16; j++) assert.equal(rows[neuron * 16 + j], down[j * 24 + neuron]);
    } finally {
      await gpt2.checkpoint.close();
      await llama.checkpoint.close();
    }
  });
});
