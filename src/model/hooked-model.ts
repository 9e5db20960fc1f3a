/**
 * HookedModel: runs token sequences through a checkpoint layer by layer on onnxruntime, capturing and editing
 * TransformerLens-style hook points.
 *
 * Sequences are sorted by length into right-padded micro-batches, one length each where the bucket is big enough
 * (planBatches); a chunk of micro-batches goes through one layer at a time, so each layer's weights are read (and widened from f16/bf16) once per chunk and
 * peak memory is about one layer of f32 weights plus the chunk's residual stream. Causal attention means a real
 * token never sees the pads after it, so padding does not change any result. Only requested hooks are kept,
 * reduced to the requested position during the run, and blocks after the last needed one are skipped.
 *
 * This file holds the run loop; each concern has its own file: batch-plan.ts (input checks, micro-batches),
 * hook-points.ts (captures and edits), layer-weights.ts (weight reading and caching), host-path.ts and
 * resident-path.ts (the two ways a block runs), attention-inputs.ts (masks, rotary tables), shared-prefix.ts,
 * sessions.ts and device-errors.ts (onnxruntime sessions and their one-line failures).
 */
import type { Device } from '../native/index.js';
import { UserError } from '../util/errors.js';
import { AttentionInputs } from './attention-inputs.js';
import { keptPositions, planBatches, validateSequences } from './batch-plan.js';
import type { Engine, Feeds } from './engine-context.js';
import type { GraphFlags } from './graphs.js';
import { type Capture, groupEdits, type HookEdit, NO_CAPTURES, NO_EDITS } from './hook-points.js';
import { hookWidth, parseHook } from './hooks.js';
import { embed, final, hostBlock } from './host-path.js';
import { layerBytes, WeightCache } from './layer-weights.js';
import { fromDevice, residentBlock, toDevice, upload } from './resident-path.js';
import { EngineSessions, type SessionKind } from './sessions.js';
import { releasePresent, splitSharedPrefix } from './shared-prefix.js';
import type { ModelSpec, WeightSource } from './spec.js';
import type { ModelTokenizer } from './tokenizer.js';

export { DEFAULT_BATCH_TOKENS, planBatches } from './batch-plan.js';
export type { EditInfo, HookEdit } from './hook-points.js';
export { layerBytes } from './layer-weights.js';

export interface RunOptions {
  hooks: string[];
  /** One kept position per sequence (negative counts from the end): hooks come back as [nSeq, width]. */
  positions?: number[];
  edits?: HookEdit[];
  onProgress?(done: number, total: number): void;
  /** Padded tokens per onnxruntime call (default DEFAULT_BATCH_TOKENS = 4096; on webgpu up to 32768, see HookedModel.defaultBatchTokens). */
  batchTokens?: number;
  /**
   * The first `sharedPrefix` tokens of every sequence are the same (BOS and a prompt's text): they go through the
   * model once per chunk, and every row attends to their keys and values instead of recomputing them. Needs
   * `positions`, each after the prefix. Hooks and edits then see only the positions from sharedPrefix on
   * (EditInfo.offset); the prefix tokens themselves are neither captured nor edited.
   */
  sharedPrefix?: number;
}

export interface EngineOptions {
  device?: Device;
  threads?: number;
  /**
   * Keep layer weights between runs when the whole model fits in this many bytes (default 2 GiB of host memory;
   * on webgpu and cuda 8 GiB of GPU memory).
   */
  weightCacheBytes?: number;
  /**
   * Weights held on the device as f16 and widened to f32 inside each GEMM: half the memory and weight traffic, f32
   * arithmetic (meant for webgpu; measured deviation in docs/models.md#devices). Default f32.
   */
  weightDtype?: 'f32' | 'f16';
  /**
   * Keep weights and the residual stream in the provider's memory and copy back only the rows hooks keep.
   * Default: on for webgpu, off elsewhere (on the CPU it is only useful for testing the GPU path).
   */
  resident?: boolean;
  /** Residual-stream bytes per chunk (default 1 GiB; 4 GiB on webgpu and cuda): weights are streamed once per chunk. */
  chunkBytes?: number;
  /**
   * Bake each block's weights into onnxruntime sessions of its own (one per graph kind and layer) as initializers,
   * which the provider copies into its memory once, when the session is built, instead of with every call.
   * Default: on for cuda, whose device tensors onnxruntime-node cannot hand back to JavaScript (so the resident
   * path is WebGPU-only); sessions are released with the layer when weights stream.
   */
  bakeWeights?: boolean;
  /**
   * Let onnxruntime's idle threads spin between ops (default false: a block is many small ops, and on a machine
   * whose cores are busy a spinning thread halves the speed; see bench/README.md#forward-engine).
   */
  spinning?: boolean;
}

export class HookedModel {
  private readonly engine: Engine;
  private readonly flags: GraphFlags;
  private readonly cacheLayers: boolean;
  private readonly resident: boolean;
  private disposed = false;

  constructor(
    readonly spec: ModelSpec,
    readonly source: WeightSource,
    readonly tokenizer?: ModelTokenizer,
    private readonly options: EngineOptions = {},
  ) {
    const l0 = spec.names.layer(0);
    this.flags = {
      ln1: !!l0.ln1,
      ln2: !!l0.ln2,
      postAttnNorm: !!l0.postAttnNorm,
      postMlpNorm: !!l0.postMlpNorm,
      qkNorm: !!(l0.qNorm && l0.kNorm),
      ln1Bias: !!l0.ln1Bias,
      ln2Bias: !!l0.ln2Bias,
      qkvBias: !!(l0.qBias || l0.qkvBias),
      oBias: !!l0.oBias,
      upBias: !!l0.upBias,
      gateBias: !!l0.gateBias,
      downBias: !!l0.downBias,
      fusedGateUp: !!l0.gateUp,
      finalNormBias: !!spec.names.finalNormBias,
      unembedBias: !!spec.names.unembedBias,
    };
    const webgpu = options.device === 'webgpu';
    this.resident = options.resident ?? webgpu;
    const bakeWeights = options.bakeWeights ?? (options.device === 'cuda' && !this.resident);
    if (bakeWeights && this.resident)
      throw new UserError('bakeWeights and resident are two ways to hold weights on the device; choose one');
    if (options.weightDtype === 'f16' && !this.resident)
      throw new UserError('f16 weights need the device-resident engine (webgpu, or resident: true)');
    this.flags.f16Weights = options.weightDtype === 'f16';
    const bytes = (layerBytes(spec) * spec.nLayers) / (this.flags.f16Weights ? 2 : 1);
    this.cacheLayers = bytes <= (options.weightCacheBytes ?? (this.onGpu ? 2 ** 33 : 2 ** 31));
    const sessions = new EngineSessions(spec, this.flags, {
      ...options,
      resident: this.resident,
      bakeWeights,
    });
    const device = {
      upload: (data: Float32Array, dims: number[], f16?: boolean) => upload(sessions, data, dims, f16),
      f16: !!this.flags.f16Weights,
    };
    const weights = new WeightCache(spec, source, this.resident ? device : undefined);
    this.engine = { spec, sessions, weights, attention: new AttentionInputs(spec) };
  }

  /** The engine runs on a GPU provider (webgpu or cuda): GPU batch sizes, chunk sizes and weight cache. */
  private get onGpu(): boolean {
    return this.options.device === 'webgpu' || this.options.device === 'cuda';
  }

  /**
   * Padded tokens per onnxruntime call when run() is not told: 4096 on the CPU; on a GPU (webgpu, cuda) as many as
   * keep the widest activation (q/k/v, gate/up or the MLP) of one call under 1 GiB, at most 32768 (big GEMMs).
   */
  get defaultBatchTokens(): number {
    if (!this.onGpu) return 4096;
    const { dModel: d, nHeads: H, nKvHeads: KV, headDim: hd, dMlp: m } = this.spec;
    const widest = Math.max(d, (H + 2 * KV) * hd, (this.spec.gated ? 2 : 1) * m);
    return Math.max(256, Math.min(32768, Math.floor(2 ** 30 / (4 * widest))));
  }

  /** True when the model is larger than the weight cache: every run() then reads each block once per chunk. */
  get streamsWeights(): boolean {
    return !this.cacheLayers;
  }

  /**
   * Padded tokens one chunk holds. When weights stream, give run() about this many tokens per call (the engine
   * splits them into chunks itself) so that the weights are read as few times as possible.
   */
  get chunkTokens(): number {
    return Math.max(1, Math.floor(this.chunkBytes / (this.spec.dModel * 8)));
  }

  /** Residual-stream bytes per chunk: 1 GiB of host memory, 4 GiB on a GPU (fewer weight reloads). */
  private get chunkBytes(): number {
    return this.options.chunkBytes ?? (this.onGpu ? 2 ** 32 : 2 ** 30);
  }

  /** The checkpoint's raw config.json. */
  get config(): Record<string, unknown> {
    return this.source.config;
  }

  async run(sequences: number[][], options: RunOptions): Promise<Map<string, Float32Array>> {
    if (this.disposed) throw new Error('HookedModel.run after dispose()');
    const spec = this.spec;
    const hooks = [...new Set(options.hooks)].map((h) => parseHook(h, spec));
    const edits = groupEdits(options.edits ?? [], spec);
    const fullLengths = validateSequences(sequences, spec);
    const keptFull = options.positions ? keptPositions(options.positions, fullLengths) : undefined;
    const P = options.sharedPrefix ?? 0;
    const split = P > 0 ? splitSharedPrefix(sequences, P, keptFull) : undefined;
    const rows = split?.suffixes ?? sequences;
    const lengths = rows.map((r) => r.length);
    const kept = keptFull?.map((k) => k - P);
    const nSeq = sequences.length;
    await this.prepare();
    const maxLen = fullLengths.reduce((a, b) => Math.max(a, b), 0);
    const captures = new Map<string, Capture>();
    for (const hook of hooks) {
      const width = hookWidth(hook, spec);
      const rows = kept ? 1 : maxLen;
      captures.set(hook.name, { hook, width, rows, out: new Float32Array(nSeq * rows * width) });
    }
    const needFinal = hooks.some((h) => h.kind === 'final_norm' || h.kind === 'logits');
    const lastLayer = needFinal ? spec.nLayers - 1 : Math.max(-1, ...hooks.map((h) => h.layer ?? -1));
    const batches = planBatches(lengths, options.batchTokens ?? this.defaultBatchTokens, spec.nHeads);
    const chunkBytes = this.chunkBytes;
    let done = 0;
    for (let start = 0; start < batches.length; ) {
      let end = start;
      let bytes = 0;
      while (
        end < batches.length &&
        (end === start || bytes + batches[end]!.tokens * spec.dModel * 8 <= chunkBytes)
      ) {
        bytes += batches[end]!.tokens * spec.dModel * 8;
        end++;
      }
      const chunk = batches
        .slice(start, end)
        .map((b) => embed(this.engine, rows, b.seqs, b.T, captures, edits, kept, P));
      const chunkSeqs = chunk.reduce((s, b) => s + b.B, 0);
      // The shared prefix runs first at every layer (batch 1, nothing captured), handing its keys and values on.
      const prefix = split
        ? embed(this.engine, [split.prefix], [0], P, NO_CAPTURES, NO_EDITS, undefined, 0)
        : undefined;
      if (prefix) prefix.isPrefix = true;
      const all = prefix ? [prefix, ...chunk] : chunk;
      try {
        if (this.resident) for (const batch of all) await toDevice(this.engine, batch);
        for (let l = 0; l <= lastLayer; l++) {
          const weights = await this.engine.weights.layer(l);
          for (const batch of all) {
            const past = batch.isPrefix ? undefined : prefix?.present;
            const caps = batch.isPrefix ? NO_CAPTURES : captures;
            const eds = batch.isPrefix ? NO_EDITS : edits;
            if (this.resident) await residentBlock(this.engine, l, batch, weights, caps, eds, kept, past);
            else await hostBlock(this.engine, l, batch, weights, caps, eds, kept, past);
          }
          releasePresent(prefix, this.resident);
          if (!this.cacheLayers) {
            this.engine.weights.drop(l);
            await this.engine.sessions.dropLayer(l);
          }
          options.onProgress?.(done + Math.floor((chunkSeqs * (l + 1)) / (lastLayer + 2)), nSeq);
        }
        for (const batch of chunk) if (this.resident && needFinal) await fromDevice(this.engine, batch);
      } finally {
        releasePresent(prefix, this.resident);
        for (const batch of all) batch.dev?.dispose();
      }
      if (needFinal) for (const batch of chunk) await final(this.engine, batch, captures, edits, kept);
      done += chunkSeqs;
      options.onProgress?.(done, nSeq);
      start = end;
    }
    return new Map([...captures].map(([name, c]) => [name, c.out]));
  }

  /** Greedy completion of one sequence; returns the new token ids (stops early at eos unless told not to). */
  async generate(
    ids: number[],
    options: { maxNewTokens: number; edits?: HookEdit[]; stopAtEos?: boolean; eosId?: number },
  ): Promise<number[]> {
    const seq = [...ids];
    const out: number[] = [];
    const eos = options.eosId ?? this.spec.eosId;
    for (let i = 0; i < options.maxNewTokens; i++) {
      const logits = (
        await this.run([seq], { hooks: ['logits'], positions: [-1], edits: options.edits })
      ).get('logits')!;
      let best = 0;
      for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[best]!) best = v;
      out.push(best);
      seq.push(best);
      if ((options.stopAtEos ?? true) && best === eos) break;
    }
    return out;
  }

  /** Releases the native sessions and cached weights. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const released = this.engine.sessions.dispose();
    this.engine.weights.clear();
    await released;
    await this.source.close?.();
  }

  /** Loads what embed() needs before a run. */
  async prepare(): Promise<void> {
    await this.engine.weights.prepare();
  }

  /** The feeds a session takes (onnxruntime rejects unknown input names). */
  async feedsFor(kind: SessionKind, feeds: Feeds): Promise<Feeds> {
    return this.engine.sessions.feedsFor(kind, feeds);
  }
}
