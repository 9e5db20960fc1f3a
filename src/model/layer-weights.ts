/**
 * The engine's weights: whole tensors read once (embeddings, final norm, unembedding) and each block's weights as
 * onnxruntime feeds, checked against the shapes config.json implies, widened to f32, kept between runs when the
 * engine caches layers (else dropped after each layer), and uploaded to the device in resident mode.
 */
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../formats/float16.js';
import { ort } from '../native/index.js';
import { UserError } from '../util/errors.js';
import type { Feeds } from './engine-context.js';
import {
  type ModelSpec,
  type MoeNames,
  type MoeSpec,
  maxLayerParameterCount,
  type WeightSource,
} from './spec.js';

export interface LayerWeights {
  attn: Feeds;
  /** The dense MLP's weights; in a mixture-of-experts layer only its pre-norm (the router graph's input). */
  mlp: Feeds;
  /** A mixture-of-experts layer's router (+ shared expert) feeds and each expert's w_gate, w_up, w_down. */
  moe?: { router: Feeds; experts: Feeds[] };
}

/** Host array -> device tensor of the given shape (f16 for weight matrices held in half precision). */
export type Upload = (data: Float32Array, dims: number[], f16?: boolean) => Promise<ort.Tensor>;

/** Weight inputs held in f16 with weightDtype 'f16' (norms and biases stay f32). */
const WEIGHT_MATRICES = new Set([
  'wq',
  'wk',
  'wv',
  'wqkv',
  'wo',
  'w_gate',
  'w_up',
  'w_gu',
  'w_down',
  'w_router',
  'shared_gate',
  'shared_up',
  'shared_down',
]);

export class WeightCache {
  private readonly layerCache = new Map<number, LayerWeights>();
  private readonly tables = new Map<string, Float32Array>();
  /**
   * Host buffers of dropped layers, by length, refilled by the next layer's reads: when weights stream, every block
   * would otherwise widen into fresh memory (a 7B block is 800 MB of f32, and fresh pages cost ~2.6 ms per MB to
   * fault in on these VMs: more than the block's forward pass on a chunk of short prompts).
   */
  private readonly spare = new Map<number, Float32Array<ArrayBuffer>[]>();
  /** The embedding multiplier: Gemma's rounded to the checkpoint's dtype, Granite's exact; set by prepare(). */
  embedScale = 1;

  /** `device`: resident mode, where layer weights live in device memory (`f16`: matrices held in half precision). */
  constructor(
    private readonly spec: ModelSpec,
    private readonly source: WeightSource,
    private readonly device?: { upload: Upload; f16: boolean },
  ) {}

  /** A table already read (prepare() reads 'embed' and, with learned positions, 'pos'). */
  loaded(key: string): Float32Array | undefined {
    return this.tables.get(key);
  }

  /** A whole tensor as f32, read once and kept (embeddings, final norm, unembedding). */
  async table(key: string, name: string): Promise<Float32Array> {
    let t = this.tables.get(key);
    if (!t) {
      t = await this.source.readFloat32(name);
      this.tables.set(key, t);
    }
    return t;
  }

  /** A norm weight, read once; Gemma's stored w becomes the 1 + w it multiplies by. */
  async normTable(key: string, name: string): Promise<Float32Array> {
    if (!this.tables.has(key)) this.tables.set(key, this.normWeight(await this.source.readFloat32(name)));
    return this.tables.get(key)!;
  }

  private normWeight(w: Float32Array): Float32Array {
    if (this.spec.normPlusOne) for (let i = 0; i < w.length; i++) w[i] = 1 + w[i]!;
    return w;
  }

  /** Loads what embed() needs before a run. */
  async prepare(): Promise<void> {
    const { names, vocabSize, dModel } = this.spec;
    expectShape(this.source, names.embed, [vocabSize, dModel]);
    await this.table('embed', names.embed);
    if (names.posEmbed) await this.table('pos', names.posEmbed);
    // Gemma multiplies by √d as a tensor of the model's dtype (so bf16 checkpoints use a rounded factor).
    if (this.spec.embedScale !== undefined)
      this.embedScale = roundToDtype(this.spec.embedScale, this.source.info(names.embed).dtype);
    // Granite multiplies by a Python float (kept exact by PyTorch's scalar arithmetic), not a tensor.
    if (this.spec.embedMultiplier !== undefined) this.embedScale = this.spec.embedMultiplier;
  }

  async layer(l: number): Promise<LayerWeights> {
    const cached = this.layerCache.get(l);
    if (cached) return cached;
    const spec = this.spec;
    const { dModel: d, nHeads: H, nKvHeads: KV, headDim: hd, dMlp: m } = spec;
    const n = spec.names.layer(l);
    const lin = (out: number, inn: number) => (spec.linear === 'out_in' ? [out, inn] : [inn, out]);
    const qkWidth = spec.qkNorm === 'full' ? [H * hd, KV * hd] : [hd, hd];
    const attnSpec: [string, string | undefined, number[]][] = [
      ['ln1_w', n.ln1, [d]],
      ['ln1_b', n.ln1Bias, [d]],
      ['wo', n.o, lin(d, H * hd)],
      ['bo', n.oBias, [d]],
      ['post_attn_w', n.postAttnNorm, [d]],
      ['q_norm', n.qNorm, [qkWidth[0]!]],
      ['k_norm', n.kNorm, [qkWidth[1]!]],
    ];
    if (spec.qkv === 'separate') {
      attnSpec.push(
        ['wq', n.q, lin(H * hd, d)],
        ['bq', n.qBias, [H * hd]],
        ['wk', n.k, lin(KV * hd, d)],
        ['bk', n.kBias, [KV * hd]],
        ['wv', n.v, lin(KV * hd, d)],
        ['bv', n.vBias, [KV * hd]],
      );
    } else {
      const out = spec.qkv === 'neox' ? 3 * H * hd : (H + 2 * KV) * hd; // gpt2, fused
      attnSpec.push(['wqkv', n.qkv, lin(out, d)], ['bqkv', n.qkvBias, [out]]);
    }
    const mlpSpec: [string, string | undefined, number[]][] = [
      ['ln2_w', n.ln2, [d]],
      ['ln2_b', n.ln2Bias, [d]],
      ['w_up', n.up, lin(m, d)],
      ['b_up', n.upBias, [m]],
      ['w_gate', spec.gated ? n.gate : undefined, lin(m, d)],
      ['b_gate', spec.gated ? n.gateBias : undefined, [m]],
      ['w_gu', n.gateUp, lin(2 * m, d)],
      ['w_down', n.down, lin(d, m)],
      ['b_down', n.downBias, [d]],
      ['post_mlp_w', n.postMlpNorm, [d]],
    ];
    const load = (entries: [string, string | undefined, number[]][]) =>
      loadFeeds(this.source, entries, (shape) => this.takeSpare(shape));
    const attn = await load(attnSpec);
    const mlp = await load(mlpSpec);
    const moe = n.moe && spec.moe ? await loadMoe(this.source, n.moe, spec.moe, d) : undefined;
    for (const feeds of [attn, mlp]) {
      for (const key of ['ln1_w', 'ln2_w', 'post_attn_w', 'post_mlp_w', 'q_norm', 'k_norm']) {
        if (feeds[key]) this.normWeight(feeds[key].data as Float32Array);
      }
    }
    if (spec.qkv === 'separate') zeroMissingBiases(attn, { bq: H * hd, bk: KV * hd, bv: KV * hd });
    const weights: LayerWeights = this.device
      ? { attn: await this.uploadFeeds(attn), mlp: await this.uploadFeeds(mlp) }
      : { attn, mlp };
    if (moe) {
      weights.moe = this.device
        ? {
            router: await this.uploadFeeds(moe.router),
            experts: await Promise.all(moe.experts.map((e) => this.uploadFeeds(e))),
          }
        : moe;
    }
    this.layerCache.set(l, weights);
    return weights;
  }

  /** Host weight tensors -> device tensors; the weight matrices in f16 when the engine holds them so. */
  private async uploadFeeds(feeds: Feeds): Promise<Feeds> {
    const out: Feeds = {};
    for (const [key, t] of Object.entries(feeds)) {
      const f16 = !!this.device!.f16 && WEIGHT_MATRICES.has(key);
      out[key] = await this.device!.upload(t.data as Float32Array, t.dims as number[], f16);
    }
    return out;
  }

  drop(l: number): void {
    const weights = this.layerCache.get(l);
    this.layerCache.delete(l);
    if (!weights) return;
    const moe = weights.moe ? [weights.moe.router, ...weights.moe.experts] : [];
    if (this.device) {
      for (const feeds of [weights.attn, weights.mlp, ...moe])
        for (const t of Object.values(feeds)) t.dispose();
      return;
    }
    // Only the dense block's own arrays are recycled (the experts may be views into one fused tensor).
    for (const t of [...Object.values(weights.attn), ...Object.values(weights.mlp)]) {
      const data = t.data as Float32Array<ArrayBuffer>;
      const list = this.spare.get(data.length) ?? [];
      list.push(data);
      this.spare.set(data.length, list);
    }
  }

  /** A dropped layer's buffer of this shape's size, if any. */
  private takeSpare(shape: number[]): Float32Array<ArrayBuffer> | undefined {
    return this.spare.get(shape.reduce((a, b) => a * b, 1))?.pop();
  }

  /** Drops every cached layer, table and spare buffer. */
  clear(): void {
    for (const l of [...this.layerCache.keys()]) this.drop(l);
    this.tables.clear();
    this.spare.clear();
  }
}

/** f32 bytes of the largest block's weights (a mixture-of-experts block with all its experts). */
export function layerBytes(spec: ModelSpec): number {
  return 4 * maxLayerParameterCount(spec);
}

/** Reads the present entries (key, tensor name, expected shape) as f32 feeds, each checked against its shape. */
async function loadFeeds(
  source: WeightSource,
  entries: [string, string | undefined, number[]][],
  /** A reusable buffer of a shape's size, if any (else fresh memory). */
  take?: (shape: number[]) => Float32Array<ArrayBuffer> | undefined,
): Promise<Feeds> {
  const present = entries.filter((e): e is [string, string, number[]] => e[1] !== undefined);
  for (const [, name, shape] of present) expectShape(source, name, shape);
  const data = await Promise.all(present.map(([, name, shape]) => source.readFloat32(name, take?.(shape))));
  return Object.fromEntries(
    present.map(([key, , shape], i) => [key, new ort.Tensor('float32', data[i]!, shape)]),
  );
}

/**
 * A sparse layer's router (+ Qwen2-MoE's shared expert and its gate) and every expert as [m, d], [m, d], [d, m]
 * feeds. The fused layout (transformers 5) is read whole and each expert's matrices are views into it.
 */
async function loadMoe(
  source: WeightSource,
  n: MoeNames,
  moe: MoeSpec,
  d: number,
): Promise<{ router: Feeds; experts: Feeds[] }> {
  const { nExperts: E, dExpert: m, dShared: s } = moe;
  const shared = n.shared && s;
  const router = await loadFeeds(source, [
    ['w_router', n.router, [E, d]],
    ['w_shared_gate', shared ? n.shared!.gateWeight : undefined, [1, d]],
    ['shared_gate', shared ? n.shared!.gate : undefined, [s ?? 0, d]],
    ['shared_up', shared ? n.shared!.up : undefined, [s ?? 0, d]],
    ['shared_down', shared ? n.shared!.down : undefined, [d, s ?? 0]],
  ]);
  const experts: Feeds[] = [];
  if (n.fused) {
    expectShape(source, n.fused.gateUp, [E, 2 * m, d]);
    expectShape(source, n.fused.down, [E, d, m]);
    const gateUp = await source.readFloat32(n.fused.gateUp);
    const down = await source.readFloat32(n.fused.down);
    const view = (a: Float32Array, at: number, dims: number[]) =>
      new ort.Tensor('float32', a.subarray(at, at + dims[0]! * dims[1]!), dims);
    for (let e = 0; e < E; e++) {
      experts.push({
        w_gate: view(gateUp, e * 2 * m * d, [m, d]),
        w_up: view(gateUp, (e * 2 + 1) * m * d, [m, d]),
        w_down: view(down, e * d * m, [d, m]),
      });
    }
  } else {
    for (let e = 0; e < E; e++) {
      const x = n.expert!(e);
      experts.push(
        await loadFeeds(source, [
          ['w_gate', x.gate, [m, d]],
          ['w_up', x.up, [m, d]],
          ['w_down', x.down, [d, m]],
        ]),
      );
    }
  }
  return { router, experts };
}

/** The graph takes q, k and v biases together: a checkpoint with only some of them gets zeros for the others. */
function zeroMissingBiases(feeds: Feeds, widths: Record<string, number>): void {
  if (!Object.keys(widths).some((k) => feeds[k])) return;
  for (const [k, width] of Object.entries(widths)) {
    feeds[k] ??= new ort.Tensor('float32', new Float32Array(width), [width]);
  }
}

/** A number as the given float dtype would hold it (round to nearest even), back in f64. */
function roundToDtype(v: number, dtype: string): number {
  const f32 = Float32Array.of(v);
  if (dtype === 'BF16') return bf16ToF32(f32ToBf16(f32))[0]!;
  if (dtype === 'F16') return f16ToF32(f32ToF16(f32))[0]!;
  return dtype === 'F64' ? v : f32[0]!;
}

function expectShape(source: WeightSource, name: string, expected: number[]): void {
  if (!source.has(name)) throw new UserError(`${source.dir}: the checkpoint has no tensor '${name}'`);
  const shape = source.info(name).shape;
  if (shape.length !== expected.length || shape.some((v, i) => v !== expected[i])) {
    throw new UserError(
      `${source.dir}: tensor '${name}' has shape [${shape.join(', ')}], config.json implies [${expected.join(', ')}]`,
    );
  }
}
