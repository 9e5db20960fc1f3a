/**
 * ONNX graphs of the transformer pieces. Weights are graph *inputs*, so one session serves every layer and every
 * chunk; the residual stream travels between calls as [rows, d] f32 with rows = batch · padded length.
 *
 * attention(x) -> attn_out = [postnorm](o(attn(norm1(x))))   (norm1 absent in OLMo-2, postnorm only in
 *              -> resid_mid = x + attn_out                   Gemma 2/3 and OLMo-2; resid_mid only for sequential blocks)
 * (q/k/v and gate/up are separate GEMMs unless the checkpoint stores them fused: slicing a fused GEMM's output
 * apart costs more than the extra calls.)
 * mlp(x[, attn_out]) -> mlp_post = act(gate)·up | act(up),  mlp_out = [postnorm](down(mlp_post)),
 *                       resid_post = x + mlp_out [+ attn_out]
 *   part 'in' stops at mlp_post and part 'out' starts from it (so a caller can edit the neuron activations).
 * finalNorm(x) -> normalized;  unembed(normalized) -> logits [soft-capped].
 *
 * With flags.f16Weights the weight matrices are f16 inputs, each widened by a Cast before its GEMM.
 * Attention inputs besides the weights: `bt` int64 [B, T]; `mask` f32 [G·T, T] additive causal mask (tiled once per query head of a kv group) (right padding
 * needs nothing else: a real token never attends to a later pad); `cos`/`sin` f32 [T, 1, headDim] (rotary tables
 * repeated for both halves, then cos 1 / sin 0 on dims past the rotary ones); `scale` f32 [1].
 */
import { type Dim, GraphBuilder } from '../native/index.js';
import type { ModelSpec } from './spec.js';

/** Which optional weights are present (the graph has an input for each). */
export interface GraphFlags {
  ln1: boolean;
  ln2: boolean;
  postAttnNorm: boolean;
  postMlpNorm: boolean;
  qkNorm: boolean;
  ln1Bias: boolean;
  ln2Bias: boolean;
  qkvBias: boolean;
  oBias: boolean;
  upBias: boolean;
  gateBias: boolean;
  downBias: boolean;
  /** The checkpoint stores gate and up as one tensor (gate_up_proj). */
  fusedGateUp: boolean;
  finalNormBias: boolean;
  unembedBias: boolean;
  /** The block's weight matrices come as f16 (held so on the device) and are widened to f32 in the graph. */
  f16Weights?: boolean;
}

/** onnx.TensorProto.DataType.FLOAT, the `to` of a Cast. */
const FLOAT = 1;

class Ops {
  constructor(readonly g: GraphBuilder) {}
  ints(values: number[]): string {
    return this.g.constant({ type: 'int64', dims: [values.length], values });
  }
  scalar(value: number): string {
    return this.g.constant({ type: 'float32', dims: [], values: [value] });
  }
  slice(x: string, start: number, end: number, axis: number): string {
    return this.g.op('Slice', [x, this.ints([start]), this.ints([end]), this.ints([axis])]);
  }
  /** A weight-matrix input: f32, or f16 widened to f32 right here (the arithmetic stays f32). */
  weight(name: string, dims: Dim[], f16: boolean | undefined): string {
    if (!f16) return this.g.input(name, 'float32', dims);
    return this.g.op('Cast', [this.g.input(name, 'float16', dims)], { to: FLOAT });
  }
  linear(x: string, w: string, b: string | undefined, transB: number, output?: string): string {
    return this.g.op('Gemm', b ? [x, w, b] : [x, w], { transB }, output);
  }
  /** The family's norm of x; without `w` (OLMo-1's parameter-free LayerNorm) the scale is a constant 1. */
  norm(spec: ModelSpec, x: string, w: string | undefined, b?: string): string {
    const g = this.g;
    if (spec.norm === 'layer') {
      const scale =
        w ?? g.constant({ type: 'float32', dims: [spec.dModel], values: new Array(spec.dModel).fill(1) });
      return g.op('LayerNormalization', b ? [x, scale, b] : [x, scale], {
        axis: -1,
        epsilon: { float: spec.normEps },
      });
    }
    // RMSNorm as in transformers: w · x / sqrt(mean(x²) + eps), written in the Pow/Div form that onnxruntime's
    // optimizer fuses into one SimplifiedLayerNormalization kernel (one pass instead of six elementwise ops).
    const ms = g.op('ReduceMean', [g.op('Pow', [x, this.scalar(2)])], { axes: [-1], keepdims: 1 });
    const rms = g.op('Sqrt', [g.op('Add', [ms, this.scalar(spec.normEps)])]);
    const normalized = g.op('Div', [x, rms]);
    return w ? g.op('Mul', [normalized, w]) : normalized;
  }
  /** x clamped to [-c, c] (OLMo's clip_qkv). */
  clip(x: string, c: number | undefined): string {
    return c === undefined ? x : this.g.op('Clip', [x, this.scalar(-c), this.scalar(c)]);
  }
  /** x · m, or x itself when m is absent (Granite's residual_multiplier). */
  times(x: string, m: number | undefined, output?: string): string {
    if (m === undefined || m === 1) return output ? this.g.op('Identity', [x], {}, output) : x;
    return this.g.op('Mul', [x, this.scalar(m)], {}, output);
  }
  act(spec: ModelSpec, x: string): string {
    const g = this.g;
    switch (spec.act) {
      case 'silu':
        return g.op('Mul', [x, g.op('Sigmoid', [x])]);
      case 'relu':
        return g.op('Relu', [x]);
      case 'gelu': {
        const erf = g.op('Erf', [g.op('Mul', [x, this.scalar(Math.SQRT1_2)])]);
        return g.op('Mul', [g.op('Mul', [x, this.scalar(0.5)]), g.op('Add', [erf, this.scalar(1)])]);
      }
      case 'gelu_tanh': {
        const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
        const inner = g.op('Add', [x, g.op('Mul', [cube, this.scalar(0.044715)])]);
        const t = g.op('Tanh', [g.op('Mul', [inner, this.scalar(Math.sqrt(2 / Math.PI))])]);
        return g.op('Mul', [g.op('Mul', [x, this.scalar(0.5)]), g.op('Add', [t, this.scalar(1)])]);
      }
    }
  }
  /** cap · tanh(x / cap) (Gemma 2's soft-capping). */
  softcap(x: string, cap: number): string {
    const g = this.g;
    return g.op('Mul', [g.op('Tanh', [g.op('Div', [x, this.scalar(cap)])]), this.scalar(cap)]);
  }
  /**
   * Rotate-half rotary on the first `dim` dims of the last axis of x [B, T, heads, headDim], as
   * x·cos + rotate_half(x)·sin with full-width tables (cos = 1, sin = 0 past `dim`). rotate_half is a MatMul by a
   * signed permutation (exact: one ±1 term per output), which replaces two Slices and a Concat per tensor; each
   * element gets the same two products and one addition as x1·cos - x2·sin, so the result is the same.
   */
  rotary(x: string, dim: number, headDim: number, cos: string, sin: string): string {
    const g = this.g;
    const half = dim / 2;
    const perm = new Array<number>(headDim * headDim).fill(0);
    for (let j = 0; j < half; j++) {
      perm[(j + half) * headDim + j] = -1; // out[j] = -x[j + half]
      perm[j * headDim + j + half] = 1; // out[j + half] = x[j]
    }
    const rotateHalf = g.constant({ type: 'float32', dims: [headDim, headDim], values: perm });
    const rotated = g.op('MatMul', [x, rotateHalf]);
    return g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [rotated, sin])]);
  }
}

const transBOf = (spec: ModelSpec) => (spec.linear === 'out_in' ? 1 : 0);

/**
 * How an attention graph treats keys outside its own tokens (a shared prompt prefix computed once, see
 * HookedModel's `sharedPrefix`): 'none'; 'present' also outputs its rotated keys `present_k` [B, KV, hd, T] and
 * values `present_v` [B, KV, T, hd]; 'past' takes one such pair (`past_k`, `past_v`, batch 1) that every row
 * attends to before its own tokens (the mask is then [G·T, P + T] and cos/sin start at position P).
 */
export type KvMode = 'none' | 'present' | 'past';

export function attentionGraph(spec: ModelSpec, flags: GraphFlags, kv: KvMode = 'none'): GraphBuilder {
  const g = new GraphBuilder(kv === 'none' ? 'attention' : `attention_${kv}`);
  const o = new Ops(g);
  const { dModel: d, nHeads: H, nKvHeads: KV, headDim: hd } = spec;
  const tb = transBOf(spec);
  const x = g.input('x', 'float32', ['N', d]);
  const bt = g.input('bt', 'int64', [2]);
  const mask = g.input('mask', 'float32', ['GT', kv === 'past' ? 'PT' : 'T']);
  const scale = g.input('scale', 'float32', [1]);
  const ln1b = flags.ln1Bias ? g.input('ln1_b', 'float32', [d]) : undefined;
  const h = flags.ln1
    ? o.norm(spec, x, g.input('ln1_w', 'float32', [d]), ln1b)
    : spec.parameterFreeNorms
      ? o.norm(spec, x, undefined)
      : x;
  const shape = (...tail: number[]) => g.op('Concat', [bt, o.ints(tail)], { axis: 0 });
  let q: string;
  let k: string;
  let v: string;
  if (spec.qkv === 'neox') {
    const w = o.weight('wqkv', ['a', 'b'], flags.f16Weights);
    const b = flags.qkvBias ? g.input('bqkv', 'float32', [3 * H * hd]) : undefined;
    const perHead = g.op('Reshape', [o.linear(h, w, b, tb), shape(H, 3 * hd)]);
    q = o.slice(perHead, 0, hd, 3);
    k = o.slice(perHead, hd, 2 * hd, 3);
    v = o.slice(perHead, 2 * hd, 3 * hd, 3);
  } else {
    let q2: string;
    let k2: string;
    let v2: string;
    if (spec.qkv === 'separate') {
      // Three GEMMs (the same flops as one on concatenated weights, without slicing its output apart).
      const proj = (w: string, b: string, width: number) =>
        o.linear(
          h,
          o.weight(w, [`${w}0`, `${w}1`], flags.f16Weights),
          flags.qkvBias ? g.input(b, 'float32', [width]) : undefined,
          tb,
        );
      q2 = proj('wq', 'bq', H * hd);
      k2 = proj('wk', 'bk', KV * hd);
      v2 = proj('wv', 'bv', KV * hd);
    } else {
      // GPT-2's c_attn / a stored fused qkv: one GEMM, sliced.
      const total = (H + 2 * KV) * hd;
      const w = o.weight('wqkv', ['a', 'b'], flags.f16Weights);
      const b = flags.qkvBias ? g.input('bqkv', 'float32', [total]) : undefined;
      const qkv = o.linear(h, w, b, tb);
      q2 = o.slice(qkv, 0, H * hd, 1);
      k2 = o.slice(qkv, H * hd, (H + KV) * hd, 1);
      v2 = o.slice(qkv, (H + KV) * hd, total, 1);
    }
    if (flags.qkNorm && spec.qkNorm === 'full') {
      q2 = o.norm(spec, q2, g.input('q_norm', 'float32', [H * hd]));
      k2 = o.norm(spec, k2, g.input('k_norm', 'float32', [KV * hd]));
    }
    q2 = o.clip(q2, spec.clipQkv);
    k2 = o.clip(k2, spec.clipQkv);
    v2 = o.clip(v2, spec.clipQkv);
    q = g.op('Reshape', [q2, shape(H, hd)]);
    k = g.op('Reshape', [k2, shape(KV, hd)]);
    v = g.op('Reshape', [v2, shape(KV, hd)]);
    if (flags.qkNorm && spec.qkNorm === 'head') {
      q = o.norm(spec, q, g.input('q_norm', 'float32', [hd]));
      k = o.norm(spec, k, g.input('k_norm', 'float32', [hd]));
    }
  }
  if (spec.rotary) {
    const cos = g.input('cos', 'float32', ['T', 1, hd]);
    const sin = g.input('sin', 'float32', ['T', 1, hd]);
    q = o.rotary(q, spec.rotary.dim, hd, cos, sin);
    k = o.rotary(k, spec.rotary.dim, hd, cos, sin);
  }
  // Grouped-query attention without copying K/V: query heads h = kv·G + g, [B, H, T, hd], are viewed as
  // [B, KV, G·T, hd] against keys [B, KV, hd, T], so kv head = h // G (transformers' repeat_kv) and each kv head
  // is one GEMM. The mask comes tiled G times, [G·T, T].
  const q4 = g.op('Reshape', [
    g.op('Transpose', [g.op('Mul', [q, scale])], { perm: [0, 2, 1, 3] }),
    o.ints([0, KV, -1, hd]),
  ]);
  const present = kv === 'present';
  let kT = g.op('Transpose', [k], { perm: [0, 2, 3, 1] }, present ? 'present_k' : undefined);
  let vT = g.op('Transpose', [v], { perm: [0, 2, 1, 3] }, present ? 'present_v' : undefined);
  if (present) {
    g.output('present_k', 'float32', ['B', KV, hd, 'T']);
    g.output('present_v', 'float32', ['B', KV, 'T', hd]);
  }
  if (kv === 'past') {
    // The prefix's keys and values, broadcast over the batch, come before the rows' own.
    const batchOnly = g.op('Concat', [o.slice(bt, 0, 1, 0), o.ints([1, 1, 1])], { axis: 0 });
    const pastK = g.op('Expand', [g.input('past_k', 'float32', [1, KV, hd, 'P']), batchOnly]);
    const pastV = g.op('Expand', [g.input('past_v', 'float32', [1, KV, 'P', hd]), batchOnly]);
    kT = g.op('Concat', [pastK, kT], { axis: 3 });
    vT = g.op('Concat', [pastV, vT], { axis: 2 });
  }
  const raw = g.op('MatMul', [q4, kT]);
  const scores = g.op('Add', [spec.attnSoftcap ? o.softcap(raw, spec.attnSoftcap) : raw, mask]);
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const ctx = g.op('Reshape', [g.op('MatMul', [probs, vT]), o.ints([0, H, -1, hd])]);
  const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), o.ints([-1, H * hd])]);
  const wo = o.weight('wo', ['oo', 'oi'], flags.f16Weights);
  const bo = flags.oBias ? g.input('bo', 'float32', [d]) : undefined;
  // The last op writes attn_out itself (an Identity would copy [N, d] on every call).
  const rm = spec.residualMultiplier;
  if (flags.postAttnNorm) {
    const normed = o.norm(spec, o.linear(merged, wo, bo, tb), g.input('post_attn_w', 'float32', [d]));
    if (rm === undefined || rm === 1) g.op('Identity', [normed], {}, 'attn_out');
    else o.times(normed, rm, 'attn_out');
  } else if (rm === undefined || rm === 1) {
    o.linear(merged, wo, bo, tb, 'attn_out');
  } else {
    o.times(o.linear(merged, wo, bo, tb), rm, 'attn_out');
  }
  g.output('attn_out', 'float32', ['N', d]);
  if (!spec.parallelResidual) {
    g.op('Add', [x, 'attn_out'], {}, 'resid_mid');
    g.output('resid_mid', 'float32', ['N', d]);
  }
  return g;
}

export type MlpPart = 'full' | 'in' | 'out';

export function mlpGraph(spec: ModelSpec, flags: GraphFlags, part: MlpPart): GraphBuilder {
  const g = new GraphBuilder(`mlp_${part}`);
  const o = new Ops(g);
  const { dModel: d, dMlp: m } = spec;
  const tb = transBOf(spec);
  const x = g.input('x', 'float32', ['N', d]);
  let post: string;
  if (part === 'out') {
    post = g.input('mlp_post', 'float32', ['N', m]);
  } else {
    const h = mlpInput(spec, flags, o, x);
    if (spec.gated && flags.fusedGateUp) {
      // gate and up stored concatenated on the output axis (Phi-3): one GEMM, then act(gate) * up.
      const gu = o.linear(
        h,
        o.weight('w_gu', ['u0', 'u1'], flags.f16Weights),
        flags.gateBias || flags.upBias ? g.input('b_gu', 'float32', [2 * m]) : undefined,
        tb,
      );
      post = g.op('Mul', [o.act(spec, o.slice(gu, 0, m, 1)), o.slice(gu, m, 2 * m, 1)], {}, 'mlp_post');
    } else if (spec.gated) {
      // Separate gate and up GEMMs: the same flops as one fused GEMM without slicing its output apart.
      const gate = o.linear(
        h,
        o.weight('w_gate', ['g0', 'g1'], flags.f16Weights),
        flags.gateBias ? g.input('b_gate', 'float32', [m]) : undefined,
        tb,
      );
      const up = o.linear(
        h,
        o.weight('w_up', ['u0', 'u1'], flags.f16Weights),
        flags.upBias ? g.input('b_up', 'float32', [m]) : undefined,
        tb,
      );
      post = g.op('Mul', [o.act(spec, gate), up], {}, 'mlp_post');
    } else {
      const up = o.linear(
        h,
        o.weight('w_up', ['u0', 'u1'], flags.f16Weights),
        flags.upBias ? g.input('b_up', 'float32', [m]) : undefined,
        tb,
      );
      post = g.op('Identity', [o.act(spec, up)], {}, 'mlp_post');
    }
    g.output('mlp_post', 'float32', ['N', m]);
    if (part === 'in') return g;
  }
  const wDown = o.weight('w_down', ['d0', 'd1'], flags.f16Weights);
  const bDown = flags.downBias ? g.input('b_down', 'float32', [d]) : undefined;
  const rm = spec.residualMultiplier;
  if (flags.postMlpNorm) {
    const down = o.linear(post, wDown, bDown, tb);
    const normed = o.norm(spec, down, g.input('post_mlp_w', 'float32', [d]));
    if (rm === undefined || rm === 1) g.op('Identity', [normed], {}, 'mlp_out');
    else o.times(normed, rm, 'mlp_out');
  } else if (rm === undefined || rm === 1) {
    o.linear(post, wDown, bDown, tb, 'mlp_out');
  } else {
    o.times(o.linear(post, wDown, bDown, tb), rm, 'mlp_out');
  }
  g.output('mlp_out', 'float32', ['N', d]);
  const update = spec.parallelResidual
    ? g.op('Add', ['mlp_out', g.input('attn_out', 'float32', ['N', d])])
    : 'mlp_out';
  g.op('Add', [update, x], {}, 'resid_post');
  g.output('resid_post', 'float32', ['N', d]);
  return g;
}

/** The MLP's input: x through the pre-MLP norm (parameter-free in OLMo-1), or x itself (OLMo-2's post norms). */
function mlpInput(spec: ModelSpec, flags: GraphFlags, o: Ops, x: string): string {
  const g = o.g;
  const ln2b = flags.ln2Bias ? g.input('ln2_b', 'float32', [spec.dModel]) : undefined;
  if (flags.ln2) return o.norm(spec, x, g.input('ln2_w', 'float32', [spec.dModel]), ln2b);
  return spec.parameterFreeNorms ? o.norm(spec, x, undefined) : x;
}

/** act(x·gateᵀ) · (x·upᵀ) · downᵀ with [m, d], [m, d], [d, m] weights named by `prefix` (w_gate, w_up, w_down). */
function gatedMlp(spec: ModelSpec, o: Ops, x: string, prefix: string, f16: boolean | undefined): string {
  const w = (name: string) => o.weight(`${prefix}${name}`, [`${prefix}${name}0`, `${prefix}${name}1`], f16);
  const gate = o.linear(x, w('gate'), undefined, 1);
  const up = o.linear(x, w('up'), undefined, 1);
  return o.linear(o.g.op('Mul', [o.act(spec, gate), up]), w('down'), undefined, 1);
}

/**
 * A mixture-of-experts layer's router: h = norm2(x) [N, d] (what every expert reads) and probs = softmax(h ·
 * routerᵀ) [N, E] in float32 (hook_expert_weights); with Qwen2-MoE's shared expert also shared_out =
 * sigmoid(h · shared_gateᵀ) · shared_expert(h). Top-k selection happens on the host (hooked engine).
 */
export function routerGraph(spec: ModelSpec, flags: GraphFlags): GraphBuilder {
  const moe = spec.moe;
  if (!moe) throw new Error('routerGraph: the spec has no mixture-of-experts MLP');
  const g = new GraphBuilder('moe_router');
  const o = new Ops(g);
  const d = spec.dModel;
  const x = g.input('x', 'float32', ['N', d]);
  const h = g.op('Identity', [mlpInput(spec, flags, o, x)], {}, 'h');
  g.output('h', 'float32', ['N', d]);
  const logits = o.linear(h, o.weight('w_router', [moe.nExperts, d], flags.f16Weights), undefined, 1);
  g.op('Softmax', [logits], { axis: -1 }, 'probs');
  g.output('probs', 'float32', ['N', moe.nExperts]);
  if (moe.dShared) {
    const gate = g.op('Sigmoid', [o.linear(h, g.input('w_shared_gate', 'float32', [1, d]), undefined, 1)]);
    g.op('Mul', [gate, gatedMlp(spec, o, h, 'shared_', flags.f16Weights)], {}, 'shared_out');
    g.output('shared_out', 'float32', ['N', d]);
  }
  return g;
}

/**
 * One expert on the rows routed to it: y = weight · down(act(gate · x) · up · x), x [n, d] (h's routed rows), weight
 * [n, 1] (each row's routing weight for this expert); the host adds y into the routed rows of the layer's output.
 */
export function expertGraph(spec: ModelSpec, flags: GraphFlags): GraphBuilder {
  const g = new GraphBuilder('moe_expert');
  const o = new Ops(g);
  const x = g.input('x', 'float32', ['n', spec.dModel]);
  const weight = g.input('weight', 'float32', ['n', 1]);
  g.op('Mul', [gatedMlp(spec, o, x, 'w_', flags.f16Weights), weight], {}, 'y');
  g.output('y', 'float32', ['n', spec.dModel]);
  return g;
}

export function finalNormGraph(spec: ModelSpec, flags: GraphFlags): GraphBuilder {
  const g = new GraphBuilder('final_norm');
  const o = new Ops(g);
  const x = g.input('x', 'float32', ['N', spec.dModel]);
  const w = spec.parameterFreeNorms ? undefined : g.input('norm_w', 'float32', [spec.dModel]);
  const b = flags.finalNormBias ? g.input('norm_b', 'float32', [spec.dModel]) : undefined;
  g.op('Identity', [o.norm(spec, x, w, b)], {}, 'normalized');
  g.output('normalized', 'float32', ['N', spec.dModel]);
  return g;
}

export function unembedGraph(spec: ModelSpec, flags: GraphFlags): GraphBuilder {
  const g = new GraphBuilder('unembed');
  const x = g.input('x', 'float32', ['N', spec.dModel]);
  const w = g.input('w_u', 'float32', [spec.vocabSize, spec.dModel]);
  const b = flags.unembedBias ? g.input('b_u', 'float32', [spec.vocabSize]) : undefined;
  const gemm = g.op('Gemm', b ? [x, w, b] : [x, w], { transB: 1 });
  const logits =
    spec.logitScale && spec.logitScale !== 1 ? g.op('Div', [gemm, new Ops(g).scalar(spec.logitScale)]) : gemm;
  g.op(
    'Identity',
    [spec.finalSoftcap ? new Ops(g).softcap(logits, spec.finalSoftcap) : logits],
    {},
    'logits',
  );
  g.output('logits', 'float32', ['N', spec.vocabSize]);
  return g;
}
