/**
 * The host execution path: the embedding (on the host for both paths) and, when the engine is not resident, each
 * block and the final norm / unembedding with host arrays in and out of every onnxruntime call, hooks read and
 * edited in place.
 */
import { ort } from '../native/index.js';
import type { Batch, Engine, Feeds } from './engine-context.js';
import { type Capture, type HookEdit, hookPoint } from './hook-points.js';
import type { LayerWeights } from './layer-weights.js';
import { moeMlp } from './moe-path.js';
import { attentionKind, PRESENT } from './shared-prefix.js';

/** Embeds micro-batch `seqs` of `sequences` (token rows that start at position `offset`). */
export function embed(
  engine: Engine,
  sequences: number[][],
  seqs: number[],
  T: number,
  captures: Map<string, Capture>,
  edits: Map<string, HookEdit[]>,
  kept: number[] | undefined,
  offset: number,
): Batch {
  const { dModel: d } = engine.spec;
  const table = engine.weights.loaded('embed');
  if (!table) throw new Error('embedding table not loaded');
  const B = seqs.length;
  const lens = seqs.map((s) => sequences[s]!.length);
  let resid: Float32Array = new Float32Array(B * T * d);
  const scale = engine.weights.embedScale;
  for (let b = 0; b < B; b++) {
    const ids = sequences[seqs[b]!]!;
    for (let t = 0; t < ids.length; t++) {
      const row = table.subarray(ids[t]! * d, ids[t]! * d + d);
      const at = (b * T + t) * d;
      if (scale === 1) resid.set(row, at);
      else for (let j = 0; j < d; j++) resid[at + j] = Math.fround(row[j]! * scale);
    }
  }
  const batch: Batch = { seqs, lens, B, T, resid, offset };
  resid = hookPoint('hook_embed', undefined, resid, batch, captures, edits, kept, d);
  if (engine.spec.names.posEmbed) {
    const posTable = engine.weights.loaded('pos')!;
    let pos: Float32Array = new Float32Array(B * T * d);
    const rowsOfPositions = posTable.subarray(offset * d, (offset + T) * d);
    for (let b = 0; b < B; b++) pos.set(rowsOfPositions, b * T * d);
    pos = hookPoint('hook_pos_embed', undefined, pos, batch, captures, edits, kept, d);
    for (let i = 0; i < resid.length; i++) resid[i]! += pos[i]!;
  }
  batch.resid = resid;
  return batch;
}

/** Block l on host arrays: batch.resid goes from resid_pre to resid_post. */
export async function hostBlock(
  engine: Engine,
  l: number,
  batch: Batch,
  weights: LayerWeights,
  captures: Map<string, Capture>,
  edits: Map<string, HookEdit[]>,
  kept: number[] | undefined,
  past: Feeds | undefined,
): Promise<void> {
  const { dModel: d } = engine.spec;
  const { sessions } = engine;
  const N = batch.B * batch.T;
  const hook = (name: string, value: Float32Array, width = d) =>
    hookPoint(`blocks.${l}.${name}`, l, value, batch, captures, edits, kept, width);
  const edited = (name: string) => edits.has(`blocks.${l}.${name}`);
  const wanted = (name: string) => captures.has(`blocks.${l}.${name}`) || edited(name);
  const pre = hook('hook_resid_pre', batch.resid);
  const kind = attentionKind(batch, past);
  const attnFeeds: Feeds = {
    ...weights.attn,
    x: new ort.Tensor('float32', pre, [N, d]),
    ...engine.attention.inputs(l, batch, past),
  };
  const parallel = engine.spec.parallelResidual;
  const attnWanted = parallel || wanted('hook_attn_out');
  const attnFetch = [
    ...(parallel ? [] : ['resid_mid']),
    ...(attnWanted ? ['attn_out'] : []),
    ...(batch.isPrefix ? PRESENT : []),
  ];
  const attn = await sessions.run(kind, attnFeeds, attnFetch, { l, weights: weights.attn });
  if (batch.isPrefix) batch.present = { past_k: attn['present_k']!, past_v: attn['present_v']! };
  let attnOut = attnWanted ? hook('hook_attn_out', attn['attn_out']!.data as Float32Array) : undefined;
  let mlpIn = pre;
  if (!parallel) {
    // An edited attn_out changes what joins the residual stream.
    const mid = edited('hook_attn_out')
      ? addArrays(pre, attnOut!)
      : (attn['resid_mid']!.data as Float32Array);
    mlpIn = hook('hook_resid_mid', mid);
    attnOut = undefined;
  }
  if (weights.moe) {
    batch.resid = hook('hook_resid_post', await moeMlp(engine, l, batch, mlpIn, weights, hook));
    return;
  }
  const feeds: Feeds = { ...weights.mlp, x: new ort.Tensor('float32', mlpIn, [N, d]) };
  if (attnOut) feeds['attn_out'] = new ort.Tensor('float32', attnOut, [N, d]);
  const layer = { l, weights: weights.mlp };
  batch.resid = hook('hook_resid_post', await mlp(engine, layer, feeds, N, hook, wanted, edited));
}

/**
 * Runs the MLP sub-block, capturing or editing its hidden activations (mlp.hook_post) and its output
 * (hook_mlp_out) when asked, and returns resid_post.
 */
async function mlp(
  engine: Engine,
  layer: { l: number; weights: Feeds },
  feeds: Feeds,
  N: number,
  hook: (name: string, value: Float32Array, width?: number) => Float32Array,
  wanted: (name: string) => boolean,
  edited: (name: string) => boolean,
): Promise<Float32Array> {
  const { sessions } = engine;
  const postWanted = wanted('mlp.hook_post');
  const outWanted = wanted('hook_mlp_out');
  const outFetch = ['resid_post', ...(outWanted ? ['mlp_out'] : [])];
  let out: Record<string, ort.Tensor>;
  if (edited('mlp.hook_post')) {
    const inn = await sessions.run('mlp_in', feeds, undefined, layer);
    const post = hook('mlp.hook_post', inn['mlp_post']!.data as Float32Array, engine.spec.dMlp);
    feeds['mlp_post'] = new ort.Tensor('float32', post, [N, engine.spec.dMlp]);
    out = await sessions.run('mlp_out', feeds, outFetch, layer);
  } else {
    const fetch = postWanted ? [...outFetch, 'mlp_post'] : outFetch;
    out = await sessions.run('mlp_full', feeds, fetch, layer);
    if (postWanted) hook('mlp.hook_post', out['mlp_post']!.data as Float32Array, engine.spec.dMlp);
  }
  const residPost = out['resid_post']!.data as Float32Array;
  if (!outWanted) return residPost;
  const mlpOut = out['mlp_out']!.data as Float32Array;
  const value = hook('hook_mlp_out', mlpOut);
  if (!edited('hook_mlp_out')) return residPost;
  // resid_post = (mlp_out [+ attn_out]) + x with the edited mlp_out, in the graph's order of additions.
  const attnOut = feeds['attn_out']?.data as Float32Array | undefined;
  return addArrays(attnOut ? addArrays(value, attnOut) : value, feeds['x']!.data as Float32Array);
}

/** The final norm and unembedding on the host (both paths: the resident one brings resid_post back first). */
export async function final(
  engine: Engine,
  batch: Batch,
  captures: Map<string, Capture>,
  edits: Map<string, HookEdit[]>,
  kept: number[] | undefined,
): Promise<void> {
  const { spec, weights, sessions } = engine;
  const { dModel: d } = spec;
  let x = batch.resid;
  let rows = batch.B * batch.T;
  if (kept) {
    x = new Float32Array(batch.B * d);
    for (let b = 0; b < batch.B; b++) {
      const r = b * batch.T + kept[batch.seqs[b]!]!;
      x.set(batch.resid.subarray(r * d, r * d + d), b * d);
    }
    rows = batch.B;
  }
  const feeds: Feeds = { x: new ort.Tensor('float32', x, [rows, d]) };
  if (spec.names.finalNorm) {
    feeds['norm_w'] = new ort.Tensor('float32', await weights.normTable('norm_w', spec.names.finalNorm), [d]);
  }
  if (spec.names.finalNormBias) {
    feeds['norm_b'] = new ort.Tensor('float32', await weights.table('norm_b', spec.names.finalNormBias), [d]);
  }
  const out = await sessions.run('final_norm', feeds);
  const normalized = hookPoint(
    'ln_final.hook_normalized',
    undefined,
    out['normalized']!.data as Float32Array,
    batch,
    captures,
    edits,
    kept,
    d,
    !!kept,
  );
  if (!captures.has('logits') && !edits.has('logits')) return;
  const V = spec.vocabSize;
  const uFeeds: Feeds = {
    x: new ort.Tensor('float32', normalized, [rows, d]),
    w_u: new ort.Tensor('float32', await weights.table('unembed', spec.names.unembed), [V, d]),
  };
  if (spec.names.unembedBias) {
    uFeeds['b_u'] = new ort.Tensor('float32', await weights.table('unembed_b', spec.names.unembedBias), [V]);
  }
  const logits = (await sessions.run('unembed', uFeeds))['logits']!.data as Float32Array;
  hookPoint('logits', undefined, logits, batch, captures, edits, kept, V, !!kept);
}

/** a + b elementwise (only on the edit paths: an edited attn_out or mlp_out re-joins the residual stream). */
function addArrays(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}
