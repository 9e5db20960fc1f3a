/**
 * A mixture-of-experts MLP sub-block (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE) on host arrays, for both execution
 * paths. The router graph gives h = norm2(x) and the float32 softmax over all experts (hook_expert_weights); the
 * top-k experts of each row are chosen here (highest probability first, exact ties to the lower expert index:
 * hook_expert_indices) and their probabilities renormalised in float32 when the family does; then each expert runs
 * once, on the real (non-pad) rows routed to it only, gathered into one GEMM-sized block, and its weighted output is
 * added into those rows, experts in index order (as transformers' loop over expert_hit); Qwen2-MoE's gated shared
 * expert is added last. resid_post = x + mlp_out.
 *
 * An edit at hook_expert_weights changes which experts are chosen and their weights; an edit at hook_expert_indices
 * changes the experts only, each keeping the weight of its top-k slot (as TransformerLens' hook order implies).
 */
import { ort } from '../native/index.js';
import { UserError } from '../util/errors.js';
import type { Batch, Engine } from './engine-context.js';
import type { LayerWeights } from './layer-weights.js';

/** Top-k of each row of probs [N, E]: indices [N, k] (descending probability, ties to the lower index), weights. */
export function routeTopK(
  probs: Float32Array,
  N: number,
  E: number,
  k: number,
  normalise: boolean,
): { indices: Int32Array; weights: Float32Array } {
  const indices = new Int32Array(N * k);
  const weights = new Float32Array(N * k);
  const taken = new Uint8Array(E);
  for (let i = 0; i < N; i++) {
    taken.fill(0);
    const row = i * E;
    for (let s = 0; s < k; s++) {
      let best = -1;
      for (let e = 0; e < E; e++)
        if (!taken[e] && (best < 0 || probs[row + e]! > probs[row + best]!)) best = e;
      taken[best] = 1;
      indices[i * k + s] = best;
      weights[i * k + s] = probs[row + best]!;
    }
    if (normalise) {
      let sum = 0;
      for (let s = 0; s < k; s++) sum = Math.fround(sum + weights[i * k + s]!);
      for (let s = 0; s < k; s++) weights[i * k + s] = Math.fround(weights[i * k + s]! / sum);
    }
  }
  return { indices, weights };
}

/** Block l's mixture-of-experts sub-block on resid_mid `x` [N, d]; returns resid_post. */
export async function moeMlp(
  engine: Engine,
  l: number,
  batch: Batch,
  x: Float32Array,
  weights: LayerWeights,
  hook: (name: string, value: Float32Array, width?: number) => Float32Array,
): Promise<Float32Array> {
  const { spec, sessions } = engine;
  const moe = spec.moe!;
  const { dModel: d } = spec;
  const { nExperts: E, topK: k } = moe;
  const N = batch.B * batch.T;
  const routerFetch = ['h', 'probs', ...(moe.dShared ? ['shared_out'] : [])];
  const routerWeights = { ...weights.mlp, ...weights.moe!.router };
  const router = await sessions.run(
    'moe_router',
    { ...routerWeights, x: new ort.Tensor('float32', x, [N, d]) },
    routerFetch,
    { l, weights: routerWeights },
  );
  const h = router['h']!.data as Float32Array;
  const probs = hook('mlp.hook_expert_weights', router['probs']!.data as Float32Array, E);
  const routed = routeTopK(probs, N, E, k, moe.normTopK);
  const edited = hook('mlp.hook_expert_indices', Float32Array.from(routed.indices), k);
  const indices = checkedIndices(edited, E, `blocks.${l}.mlp.hook_expert_indices`);
  const out = new Float32Array(N * d);
  for (const [e, slots] of rowsPerExpert(indices, batch, k, E)) {
    const n = slots.length;
    const xe = new Float32Array(n * d);
    const we = new Float32Array(n);
    slots.forEach((slot, j) => {
      const row = Math.floor(slot / k);
      xe.set(h.subarray(row * d, row * d + d), j * d);
      we[j] = routed.weights[slot]!;
    });
    const expert = weights.moe!.experts[e]!;
    const feeds = {
      ...expert,
      x: new ort.Tensor('float32', xe, [n, d]),
      weight: new ort.Tensor('float32', we, [n, 1]),
    };
    const y = (await sessions.run('moe_expert', feeds, undefined, { l, weights: expert, part: e }))['y']!
      .data as Float32Array;
    slots.forEach((slot, j) => {
      const at = Math.floor(slot / k) * d;
      for (let c = 0; c < d; c++) out[at + c]! += y[j * d + c]!;
    });
  }
  if (moe.dShared) {
    const shared = router['shared_out']!.data as Float32Array;
    for (let i = 0; i < out.length; i++) out[i]! += shared[i]!;
  }
  const mlpOut = hook('hook_mlp_out', out);
  const post = new Float32Array(N * d);
  for (let i = 0; i < post.length; i++) post[i] = x[i]! + mlpOut[i]!;
  return post;
}

/** The (row · k + slot) entries of each expert with rows routed to it, real (non-pad) rows only, experts in order. */
function rowsPerExpert(indices: Int32Array, batch: Batch, k: number, E: number): Map<number, number[]> {
  const lists: number[][] = Array.from({ length: E }, () => []);
  for (let b = 0; b < batch.B; b++) {
    for (let t = 0; t < batch.lens[b]!; t++) {
      const row = b * batch.T + t;
      for (let s = 0; s < k; s++) lists[indices[row * k + s]!]!.push(row * k + s);
    }
  }
  return new Map(lists.map((list, e) => [e, list] as const).filter(([, list]) => list.length > 0));
}

/** Expert numbers from the (possibly edited) indices hook: whole numbers in [0, E). */
function checkedIndices(values: Float32Array, E: number, hook: string): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= E)
      throw new UserError(`${hook}: an edit set expert ${v}; experts are whole numbers 0..${E - 1}`);
    out[i] = v;
  }
  return out;
}
