import { UserError } from '../util/errors.js';
import type { PreparedRow } from './prepare.js';
import type { Aggregation } from './spec.js';

/** What extraction needs from a loaded model (src/model's HookedModel provides it). */
export interface ExtractionModel {
  spec: {
    nLayers: number;
    dModel: number;
    dMlp: number;
    maxPositions?: number;
    modelType: string;
    /** Mixture-of-experts models: the widths of mlp.hook_expert_weights (nExperts) and hook_expert_indices (topK). */
    moe?: { nExperts: number; topK: number };
  };
  /** The checkpoint's raw config.json (hashed into the manifest so shards and resumes can be checked). */
  config: Record<string, unknown>;
  /** Where the checkpoint's files are (its identity goes into cache keys); absent for in-memory test models. */
  source?: { dir: string };
  tokenizer?: unknown;
  run(
    sequences: number[][],
    options: {
      hooks: string[];
      positions?: number[];
      edits?: ObserverEdit[];
      onProgress?: (done: number, total: number) => void;
      sharedPrefix?: number;
    },
  ): Promise<Map<string, Float32Array>>;
  dispose(): Promise<void> | void;
}

/** A read-only hook observer (the engine's HookEdit with an `apply` that returns nothing). */
export interface ObserverEdit {
  hook: string;
  apply(
    value: Float32Array,
    info: { sequences: number[]; rowsPerSequence: number; width: number; offset: number },
  ): void;
}

/**
 * Width of the hooks' vectors (d_model; d_mlp for mlp.hook_post; n_experts and top-k for the expert hooks); all hooks
 * of one store share it.
 */
export function hookWidth(model: Pick<ExtractionModel, 'spec'>, hooks: string[]): number {
  const { spec } = model;
  const widthOf = (h: string) => {
    if (h.endsWith('mlp.hook_post')) return spec.dMlp;
    if (h.endsWith('mlp.hook_expert_weights') || h.endsWith('mlp.hook_expert_indices')) {
      if (!spec.moe) throw new UserError(`${h}: ${spec.modelType} is not a mixture-of-experts model`);
      return h.endsWith('weights') ? spec.moe.nExperts : spec.moe.topK;
    }
    return spec.dModel;
  };
  const widths = new Map<number, string>();
  for (const h of hooks) widths.set(widthOf(h), h);
  if (widths.size !== 1) {
    const list = [...widths].map(([w, h]) => `${h} has width ${w}`).join(', ');
    throw new UserError(
      `one store holds vectors of one width, but ${list}: extract these hooks into separate stores`,
    );
  }
  return [...widths.keys()][0]!;
}

/**
 * An observer that averages a hook's value over each sequence's entity tokens as the engine computes it, so the
 * `mean` aggregation never holds a [rows, len, d] tensor (the authors' TransformerLens `mean`, docs/method.md#prompts, without its bug).
 */
function meanObserver(hook: string, rows: PreparedRow[], d: number, out: Float32Array): ObserverEdit {
  return {
    hook,
    apply(value, info) {
      const T = info.rowsPerSequence;
      const rowOf = (b: number, t: number) => b * T + t - info.offset;
      const acc = new Float64Array(d);
      info.sequences.forEach((s, b) => {
        const [first, end] = rows[s]!.span;
        if (T === 1)
          throw new Error(`'${hook}' reached the observer already reduced; mean needs every position`);
        acc.fill(0);
        for (let t = first; t < end; t++) {
          const base = rowOf(b, t) * d;
          for (let c = 0; c < d; c++) acc[c] += value[base + c]!;
        }
        for (let c = 0; c < d; c++) out[s * d + c] = acc[c]! / (end - first);
      });
    },
  };
}

/**
 * Runs the engine on one batch of prepared rows and returns the kept activations per store hook ([rows, d]).
 * Exported for tests: the same gather used by `extract`.
 */
export async function extractBatch(
  model: ExtractionModel,
  rows: PreparedRow[],
  hookMap: Map<string, string>,
  aggregate: Aggregation,
  onProgress?: (fraction: number) => void,
): Promise<Map<string, Float32Array>> {
  const engineHooks = [...new Set(hookMap.values())];
  const sequences = rows.map((r) => r.ids);
  const d = hookWidth(model, [...hookMap.values()]);
  const progress = onProgress
    ? (done: number, total: number) => onProgress(total ? done / total : 1)
    : undefined;
  const means = new Map<string, Float32Array>();
  const edits: ObserverEdit[] = [];
  if (aggregate === 'mean') {
    for (const h of engineHooks) {
      if (!h.startsWith('blocks.')) throw new UserError(`--aggregate mean is not available for '${h}'`);
      const out = new Float32Array(rows.length * d);
      means.set(h, out);
      edits.push(meanObserver(h, rows, d, out));
    }
  }
  // The engine always keeps one position per row (cheap); `mean` reads the full values through the observers.
  const result = await model.run(sequences, {
    hooks: engineHooks,
    positions: rows.map((r) => r.position),
    sharedPrefix: sharedPrefixLength(rows),
    ...(edits.length ? { edits } : {}),
    ...(progress ? { onProgress: progress } : {}),
  });
  const out = new Map<string, Float32Array>();
  for (const [storeHook, engineHook] of hookMap) {
    const value = aggregate === 'mean' ? means.get(engineHook) : result.get(engineHook);
    if (!value || value.length !== rows.length * d) {
      throw new Error(`the engine returned no ${rows.length}x${d} values for '${engineHook}'`);
    }
    out.set(storeHook, value);
  }
  return out;
}

/**
 * How many leading tokens every row shares and the engine may compute once (BOS and the prompt's text): the
 * rows' common prefix, cut before the first entity token of any row so that every kept or averaged position
 * lies after it. It depends only on the rows given, so a chunk gets the same value in every shard and resume.
 */
export function sharedPrefixLength(rows: readonly PreparedRow[]): number {
  if (rows.length === 0) return 0;
  const first = rows[0]!.ids;
  let P = rows.reduce((m, r) => Math.min(m, r.span[0], r.position), Number.POSITIVE_INFINITY);
  for (const r of rows) {
    let t = 0;
    while (t < P && r.ids[t] === first[t]) t++;
    P = t;
  }
  return P;
}
