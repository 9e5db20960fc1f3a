/**
 * HookedModel: runs token sequences through a checkpoint layer by layer on onnxruntime, capturing and editing
 * TransformerLens-style hook points.
 *
 * Sequences are sorted by length into right-padded micro-batches, one length each where the bucket is big enough
 * (planBatches); a chunk of micro-batches goes through one layer at a time, so each layer's weights are read (and widened from f16/bf16) once per chunk and
 * peak memory is about one layer of f32 weights plus the chunk's residual stream. Causal attention means a real
 * token never sees the pads after it, so padding does not change any result. Only requested hooks are kept,
 * reduced to the requested position during the run, and blocks after the last needed one are skipped.
 */
import { availableParallelism } from 'node:os';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../formats/float16.js';
import { createSession, type Device, type GraphBuilder, ort, requireWebGpu } from '../native/index.js';
import { UserError } from '../util/errors.js';
import {
  attentionGraph,
  finalNormGraph,
  type GraphFlags,
  type KvMode,
  type MlpPart,
  mlpGraph,
  unembedGraph,
} from './graphs.js';
import { hookWidth, type ParsedHook, parseHook } from './hooks.js';
import { expectFinite, expectOnDevice, gatherGraph, keptRows, rowsTensor, uploadGraph } from './resident.js';
import { rotaryTables } from './rotary.js';
import { layerParameterCount, type ModelSpec, type WeightSource } from './spec.js';
import type { ModelTokenizer } from './tokenizer.js';

/** What an edit function sees besides the value. */
export interface EditInfo {
  hook: string;
  layer?: number;
  /** Indices (into the run's `sequences`) of the sequences in this micro-batch, in row order. */
  sequences: number[];
  /** Their lengths, counted from `offset`. */
  lengths: number[];
  /** Rows per sequence in `value`: the padded length T, or 1 for final hooks reduced to the kept position. */
  rowsPerSequence: number;
  /** Values per row (d, d_mlp or vocab). */
  width: number;
  /** The kept position of each sequence, when the run keeps one, counted from `offset` (a row index). */
  keptPositions?: number[];
  /** Row t of a sequence holds token position offset + t: the run's sharedPrefix, else 0. */
  offset: number;
}

/**
 * A causal intervention: a function that edits a hook's value in place (or returns a replacement of the same
 * size), or a vector added to the value at some token positions (negative counts from each sequence's end;
 * omitted = every position).
 */
export type HookEdit =
  // biome-ignore lint/suspicious/noConfusingVoidType: an in-place edit function returns nothing
  | { hook: string; apply(value: Float32Array, info: EditInfo): void | Float32Array }
  | { hook: string; add: Float32Array; positions?: number[] };

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
   * on webgpu 8 GiB of GPU memory).
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
  /** Residual-stream bytes per chunk (default 1 GiB; 4 GiB on webgpu): weights are streamed once per chunk. */
  chunkBytes?: number;
  /**
   * Let onnxruntime's idle threads spin between ops (default false: a block is many small ops, and on a machine
   * whose cores are busy a spinning thread halves the speed; see bench/README.md#forward-engine).
   */
  spinning?: boolean;
}

interface Batch {
  seqs: number[];
  lens: number[];
  B: number;
  T: number;
  resid: Float32Array;
  /** The residual stream in device memory (resident mode); `resid` is then empty. */
  dev?: ort.Tensor;
  /** Token position of each row's first token (the shared prefix's length, or 0). */
  offset: number;
  /** This batch is the shared prefix itself: its attention also returns its keys and values (`present`). */
  isPrefix?: boolean;
  /** The prefix's keys and values at the current layer (`past_k`, `past_v`), set on a prefix batch. */
  present?: Feeds;
}

type Feeds = Record<string, ort.Tensor>;

interface Capture {
  hook: ParsedHook;
  width: number;
  /** Rows per sequence in `out`: 1 with kept positions, else the longest sequence's length. */
  rows: number;
  out: Float32Array;
}

const NEG_INF = Number.NEGATIVE_INFINITY;

export class HookedModel {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private readonly layerCache = new Map<number, { attn: Feeds; mlp: Feeds }>();
  private readonly tables = new Map<string, Float32Array>();
  private readonly masks = new Map<string, ort.Tensor>();
  private readonly rope = new Map<string, { cos: ort.Tensor; sin: ort.Tensor }>();
  /** The embedding multiplier rounded to the checkpoint's dtype (Gemma), set by prepare(). */
  private embedScale = 1;
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
    if (options.weightDtype === 'f16' && !this.resident)
      throw new UserError('f16 weights need the device-resident engine (webgpu, or resident: true)');
    this.flags.f16Weights = options.weightDtype === 'f16';
    const bytes = (layerBytes(spec) * spec.nLayers) / (this.flags.f16Weights ? 2 : 1);
    this.cacheLayers = bytes <= (options.weightCacheBytes ?? (webgpu ? 2 ** 33 : 2 ** 31));
  }

  /**
   * Padded tokens per onnxruntime call when run() is not told: 4096 on the CPU; on webgpu as many as keep the widest
   * activation (q/k/v, gate/up or the MLP) of one call under 1 GiB, at most 32768 (a GPU wants big GEMMs).
   */
  get defaultBatchTokens(): number {
    if (this.options.device !== 'webgpu') return 4096;
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

  /** Residual-stream bytes per chunk: 1 GiB of host memory, 4 GiB of GPU memory on webgpu (fewer weight reloads). */
  private get chunkBytes(): number {
    return this.options.chunkBytes ?? (this.options.device === 'webgpu' ? 2 ** 32 : 2 ** 30);
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
        .map((b) => this.embed(rows, b.seqs, b.T, captures, edits, kept, P));
      const chunkSeqs = chunk.reduce((s, b) => s + b.B, 0);
      // The shared prefix runs first at every layer (batch 1, nothing captured), handing its keys and values on.
      const prefix = split
        ? this.embed([split.prefix], [0], P, NO_CAPTURES, NO_EDITS, undefined, 0)
        : undefined;
      if (prefix) prefix.isPrefix = true;
      const all = prefix ? [prefix, ...chunk] : chunk;
      try {
        if (this.resident) for (const batch of all) await this.toDevice(batch);
        for (let l = 0; l <= lastLayer; l++) {
          const weights = await this.layerWeights(l);
          for (const batch of all) {
            const past = batch.isPrefix ? undefined : prefix?.present;
            const caps = batch.isPrefix ? NO_CAPTURES : captures;
            const eds = batch.isPrefix ? NO_EDITS : edits;
            if (this.resident) await this.residentBlock(l, batch, weights, caps, eds, kept, past);
            else await this.block(l, batch, weights, caps, eds, kept, past);
          }
          this.releasePresent(prefix);
          if (!this.cacheLayers) this.dropLayer(l);
          options.onProgress?.(done + Math.floor((chunkSeqs * (l + 1)) / (lastLayer + 2)), nSeq);
        }
        for (const batch of chunk) if (this.resident && needFinal) await this.fromDevice(batch);
      } finally {
        this.releasePresent(prefix);
        for (const batch of all) batch.dev?.dispose();
      }
      if (needFinal) for (const batch of chunk) await this.final(batch, captures, edits, kept);
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
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const l of [...this.layerCache.keys()]) this.dropLayer(l);
    this.tables.clear();
    for (const s of sessions) await (await s.catch(() => undefined))?.release();
    await this.source.close?.();
  }

  // ------------------------------------------------------------------------------------------------ stages

  /** Embeds micro-batch `seqs` of `sequences` (token rows that start at position `offset`). */
  private embed(
    sequences: number[][],
    seqs: number[],
    T: number,
    captures: Map<string, Capture>,
    edits: Map<string, HookEdit[]>,
    kept: number[] | undefined,
    offset: number,
  ): Batch {
    const { dModel: d } = this.spec;
    const table = this.tables.get('embed');
    if (!table) throw new Error('embedding table not loaded');
    const B = seqs.length;
    const lens = seqs.map((s) => sequences[s]!.length);
    let resid: Float32Array = new Float32Array(B * T * d);
    const scale = this.embedScale;
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
    resid = this.hookPoint('hook_embed', undefined, resid, batch, captures, edits, kept, d);
    if (this.spec.names.posEmbed) {
      const posTable = this.tables.get('pos')!;
      let pos: Float32Array = new Float32Array(B * T * d);
      const rowsOfPositions = posTable.subarray(offset * d, (offset + T) * d);
      for (let b = 0; b < B; b++) pos.set(rowsOfPositions, b * T * d);
      pos = this.hookPoint('hook_pos_embed', undefined, pos, batch, captures, edits, kept, d);
      for (let i = 0; i < resid.length; i++) resid[i]! += pos[i]!;
    }
    batch.resid = resid;
    return batch;
  }

  private async block(
    l: number,
    batch: Batch,
    weights: { attn: Feeds; mlp: Feeds },
    captures: Map<string, Capture>,
    edits: Map<string, HookEdit[]>,
    kept: number[] | undefined,
    past: Feeds | undefined,
  ): Promise<void> {
    const { dModel: d } = this.spec;
    const N = batch.B * batch.T;
    const hook = (name: string, value: Float32Array, width = d) =>
      this.hookPoint(`blocks.${l}.${name}`, l, value, batch, captures, edits, kept, width);
    const edited = (name: string) => edits.has(`blocks.${l}.${name}`);
    const wanted = (name: string) => captures.has(`blocks.${l}.${name}`) || edited(name);
    const pre = hook('hook_resid_pre', batch.resid);
    const kind = attentionKind(batch, past);
    const attnFeeds: Feeds = {
      ...weights.attn,
      x: new ort.Tensor('float32', pre, [N, d]),
      ...this.attentionInputs(l, batch, past),
    };
    const parallel = this.spec.parallelResidual;
    const attnWanted = parallel || wanted('hook_attn_out');
    const attnFetch = [
      ...(parallel ? [] : ['resid_mid']),
      ...(attnWanted ? ['attn_out'] : []),
      ...(batch.isPrefix ? PRESENT : []),
    ];
    const attn = await (await this.session(kind)).run(await this.feedsFor(kind, attnFeeds), attnFetch);
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
    const feeds: Feeds = { ...weights.mlp, x: new ort.Tensor('float32', mlpIn, [N, d]) };
    if (attnOut) feeds['attn_out'] = new ort.Tensor('float32', attnOut, [N, d]);
    batch.resid = hook('hook_resid_post', await this.mlp(feeds, N, hook, wanted, edited));
  }

  /**
   * Runs the MLP sub-block, capturing or editing its hidden activations (mlp.hook_post) and its output
   * (hook_mlp_out) when asked, and returns resid_post.
   */
  private async mlp(
    feeds: Feeds,
    N: number,
    hook: (name: string, value: Float32Array, width?: number) => Float32Array,
    wanted: (name: string) => boolean,
    edited: (name: string) => boolean,
  ): Promise<Float32Array> {
    const postWanted = wanted('mlp.hook_post');
    const outWanted = wanted('hook_mlp_out');
    const outFetch = ['resid_post', ...(outWanted ? ['mlp_out'] : [])];
    let out: Record<string, ort.Tensor>;
    if (edited('mlp.hook_post')) {
      const inn = await (await this.session('mlp_in')).run(await this.feedsFor('mlp_in', feeds));
      const post = hook('mlp.hook_post', inn['mlp_post']!.data as Float32Array, this.spec.dMlp);
      feeds['mlp_post'] = new ort.Tensor('float32', post, [N, this.spec.dMlp]);
      out = await (await this.session('mlp_out')).run(await this.feedsFor('mlp_out', feeds), outFetch);
    } else {
      const fetch = postWanted ? [...outFetch, 'mlp_post'] : outFetch;
      out = await (await this.session('mlp_full')).run(await this.feedsFor('mlp_full', feeds), fetch);
      if (postWanted) hook('mlp.hook_post', out['mlp_post']!.data as Float32Array, this.spec.dMlp);
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

  // ------------------------------------------------------------------------------------------------ resident

  /** Moves a batch's embedded residual stream to the device. */
  private async toDevice(batch: Batch): Promise<void> {
    batch.dev = await this.upload(batch.resid, [batch.B * batch.T, this.spec.dModel]);
    batch.resid = new Float32Array(0);
  }

  /** Brings the whole residual stream back for final() (only when a final hook is asked for). */
  private async fromDevice(batch: Batch): Promise<void> {
    const dev = batch.dev!;
    batch.resid = await this.gatherRows(dev, [...Array(batch.B * batch.T).keys()], 'ln_final input');
    dev.dispose();
    batch.dev = undefined;
  }

  /** block() with every tensor left in device memory; hooks read back only what they keep. */
  private async residentBlock(
    l: number,
    batch: Batch,
    weights: { attn: Feeds; mlp: Feeds },
    captures: Map<string, Capture>,
    edits: Map<string, HookEdit[]>,
    kept: number[] | undefined,
    past: Feeds | undefined,
  ): Promise<void> {
    const { dModel: d, dMlp } = this.spec;
    const made: ort.Tensor[] = [batch.dev!];
    const hook = async (name: string, value: ort.Tensor, width: number) => {
      const out = await this.residentHook(name, l, value, batch, captures, edits, kept, width);
      made.push(value, out);
      return out;
    };
    const attnOutName = `blocks.${l}.hook_attn_out`;
    const mlpOutName = `blocks.${l}.hook_mlp_out`;
    for (const name of [attnOutName, mlpOutName]) {
      if (edits.has(name)) {
        throw new UserError(
          `editing ${name} is not available on the GPU path yet; use --device cpu for this edit`,
        );
      }
    }
    const x = await hook(`blocks.${l}.hook_resid_pre`, batch.dev!, d);
    const parallel = this.spec.parallelResidual;
    const attnFetch = [
      ...(parallel ? [] : ['resid_mid']),
      ...(parallel || captures.has(attnOutName) ? ['attn_out'] : []),
      ...(batch.isPrefix ? PRESENT : []),
    ];
    const attn = await this.exec(
      attentionKind(batch, past),
      { ...weights.attn, x, ...this.attentionInputs(l, batch, past) },
      attnFetch,
    );
    if (batch.isPrefix) batch.present = { past_k: attn['present_k']!, past_v: attn['present_v']! };
    // The prefix's keys and values live until the layer's last batch has used them (releasePresent).
    made.push(
      ...Object.entries(attn)
        .filter(([k]) => !PRESENT.includes(k))
        .map(([, t]) => t),
    );
    if (captures.has(attnOutName)) await hook(attnOutName, attn['attn_out']!, d);
    const attnOut = parallel ? attn['attn_out']! : undefined;
    const mlpIn = attnOut ? x : await hook(`blocks.${l}.hook_resid_mid`, attn['resid_mid']!, d);
    const postName = `blocks.${l}.mlp.hook_post`;
    const feeds: Feeds = { ...weights.mlp, x: mlpIn, ...(attnOut && { attn_out: attnOut }) };
    const outFetch = ['resid_post', ...(captures.has(mlpOutName) ? ['mlp_out'] : [])];
    let residPost: ort.Tensor;
    let mlpOut: ort.Tensor | undefined;
    if (edits.has(postName)) {
      const inn = await this.exec('mlp_in', feeds);
      feeds['mlp_post'] = await hook(postName, inn['mlp_post']!, dMlp);
      const out = await this.exec('mlp_out', feeds, outFetch);
      residPost = out['resid_post']!;
      mlpOut = out['mlp_out'];
    } else {
      const fetches = captures.has(postName) ? [...outFetch, 'mlp_post'] : outFetch;
      const out = await this.exec('mlp_full', feeds, fetches);
      if (captures.has(postName)) await hook(postName, out['mlp_post']!, dMlp);
      residPost = out['resid_post']!;
      mlpOut = out['mlp_out'];
    }
    if (mlpOut) await hook(mlpOutName, mlpOut, d);
    made.push(residPost);
    const post = `blocks.${l}.hook_resid_post`;
    batch.dev = await this.residentHook(post, l, residPost, batch, captures, edits, kept, d);
    for (const t of new Set(made)) if (t !== batch.dev) t.dispose();
  }

  /**
   * hookPoint() for a device tensor. Capture-only hooks with a kept position read back B rows (one per sequence);
   * full captures and edits read back everything, and an edited value goes back up as a new tensor.
   */
  private async residentHook(
    name: string,
    layer: number | undefined,
    value: ort.Tensor,
    batch: Batch,
    captures: Map<string, Capture>,
    edits: Map<string, HookEdit[]>,
    kept: number[] | undefined,
    width: number,
  ): Promise<ort.Tensor> {
    if (!captures.has(name) && !edits.has(name)) return value;
    if (!edits.has(name) && kept) {
      const rows = await this.gatherRows(value, keptRows(batch.seqs, batch.T, kept), name);
      this.hookPoint(name, layer, rows, batch, captures, NO_EDITS, kept, width, true);
      return value;
    }
    const all = await this.gatherRows(value, [...Array(batch.B * batch.T).keys()], name);
    const edited = this.hookPoint(name, layer, all, batch, captures, edits, kept, width);
    return edits.has(name) ? this.upload(edited, [batch.B * batch.T, width]) : value;
  }

  /** A host array as a device tensor (f16 when asked: weight matrices held in half precision). */
  private async upload(data: Float32Array, dims: number[], f16 = false): Promise<ort.Tensor> {
    const out = await this.exec(f16 ? 'upload_f16' : 'upload_f32', {
      x: new ort.Tensor('float32', data, [data.length]),
      shape: rowsTensor(dims),
    });
    return out['y']!;
  }

  /** Rows of a device tensor [N, w], read back to the host. */
  private async gatherRows(value: ort.Tensor, rows: number[], where: string): Promise<Float32Array> {
    const out = await this.exec('gather', { x: value, rows: rowsTensor(rows) });
    const data = out['y']!.data as Float32Array;
    if (this.options.device === 'webgpu') expectFinite(data, where);
    return data;
  }

  /** Runs one of the engine's sessions on the feeds it takes; WebGPU failures become one-line errors. */
  private async exec(
    kind: SessionKind,
    feeds: Feeds,
    fetches?: string[],
  ): Promise<Record<string, ort.Tensor>> {
    const session = await this.session(kind);
    const picked = Object.fromEntries(session.inputNames.map((name) => [name, feeds[name]!]));
    let out: Record<string, ort.Tensor>;
    try {
      out = (fetches ? await session.run(picked, fetches) : await session.run(picked)) as Record<
        string,
        ort.Tensor
      >;
    } catch (err) {
      if (this.options.device !== 'webgpu') throw err;
      throw new UserError(
        `WebGPU failed in the ${kind} graph (${(err as Error).message.split('\n')[0]}); try a smaller ` +
          '--batch-size, --gpu-dtype f16, or --device cpu',
      );
    }
    if (this.options.device === 'webgpu') {
      for (const name of GPU_OUTPUTS[kind] ?? []) if (out[name]) expectOnDevice(out[name]!, name);
    }
    return out;
  }

  private dropLayer(l: number): void {
    const weights = this.layerCache.get(l);
    this.layerCache.delete(l);
    if (!weights || !this.resident) return;
    for (const t of [...Object.values(weights.attn), ...Object.values(weights.mlp)]) t.dispose();
  }

  private async final(
    batch: Batch,
    captures: Map<string, Capture>,
    edits: Map<string, HookEdit[]>,
    kept: number[] | undefined,
  ): Promise<void> {
    const { dModel: d } = this.spec;
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
    const normW = await this.normTable('norm_w', this.spec.names.finalNorm);
    const feeds: Feeds = {
      x: new ort.Tensor('float32', x, [rows, d]),
      norm_w: new ort.Tensor('float32', normW, [d]),
    };
    if (this.spec.names.finalNormBias) {
      feeds['norm_b'] = new ort.Tensor('float32', await this.table('norm_b', this.spec.names.finalNormBias), [
        d,
      ]);
    }
    const out = await (await this.session('final_norm')).run(feeds);
    const normalized = this.hookPoint(
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
    const V = this.spec.vocabSize;
    const uFeeds: Feeds = {
      x: new ort.Tensor('float32', normalized, [rows, d]),
      w_u: new ort.Tensor('float32', await this.table('unembed', this.spec.names.unembed), [V, d]),
    };
    if (this.spec.names.unembedBias) {
      uFeeds['b_u'] = new ort.Tensor('float32', await this.table('unembed_b', this.spec.names.unembedBias), [
        V,
      ]);
    }
    const logits = (await (await this.session('unembed')).run(uFeeds))['logits']!.data as Float32Array;
    this.hookPoint('logits', undefined, logits, batch, captures, edits, kept, V, !!kept);
  }

  /** Applies the edits at a hook point, records the (edited) value if captured, returns it. */
  private hookPoint(
    name: string,
    layer: number | undefined,
    value: Float32Array,
    batch: Batch,
    captures: Map<string, Capture>,
    edits: Map<string, HookEdit[]>,
    kept: number[] | undefined,
    width: number,
    reduced = false,
  ): Float32Array {
    const rowsPerSequence = reduced ? 1 : batch.T;
    const list = edits.get(name);
    if (list) {
      const info: EditInfo = {
        hook: name,
        layer,
        sequences: batch.seqs,
        lengths: batch.lens,
        rowsPerSequence,
        width,
        keptPositions: kept,
        offset: batch.offset,
      };
      for (const edit of list) value = applyEdit(edit, value, info, kept);
    }
    const capture = captures.get(name);
    if (capture) {
      const { out } = capture;
      for (let b = 0; b < batch.B; b++) {
        const s = batch.seqs[b]!;
        if (kept) {
          const row = reduced ? b : b * batch.T + kept[s]!;
          out.set(value.subarray(row * width, row * width + width), s * width);
        } else {
          // A sequence's real rows are contiguous on both sides: one copy per sequence.
          const from = b * batch.T * width;
          out.set(value.subarray(from, from + batch.lens[b]! * width), s * capture.rows * width);
        }
      }
    }
    return value;
  }

  // ------------------------------------------------------------------------------------------------ resources

  /** A whole tensor as f32, read once and kept (embeddings, final norm, unembedding). */
  private async table(key: string, name: string): Promise<Float32Array> {
    let t = this.tables.get(key);
    if (!t) {
      t = await this.source.readFloat32(name);
      this.tables.set(key, t);
    }
    return t;
  }

  /** A norm weight, read once; Gemma's stored w becomes the 1 + w it multiplies by. */
  private async normTable(key: string, name: string): Promise<Float32Array> {
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
  }

  private async layerWeights(l: number): Promise<{ attn: Feeds; mlp: Feeds }> {
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
    const load = async (entries: [string, string | undefined, number[]][]): Promise<Feeds> => {
      const present = entries.filter((e): e is [string, string, number[]] => e[1] !== undefined);
      for (const [, name, shape] of present) expectShape(this.source, name, shape);
      const data = await Promise.all(present.map(([, name]) => this.source.readFloat32(name)));
      return Object.fromEntries(
        present.map(([key, , shape], i) => [key, new ort.Tensor('float32', data[i]!, shape)]),
      );
    };
    const attn = await load(attnSpec);
    const mlp = await load(mlpSpec);
    for (const feeds of [attn, mlp]) {
      for (const key of ['ln1_w', 'ln2_w', 'post_attn_w', 'post_mlp_w', 'q_norm', 'k_norm']) {
        if (feeds[key]) this.normWeight(feeds[key].data as Float32Array);
      }
    }
    if (spec.qkv === 'separate') zeroMissingBiases(attn, { bq: H * hd, bk: KV * hd, bv: KV * hd });
    const weights = this.resident
      ? { attn: await this.uploadFeeds(attn), mlp: await this.uploadFeeds(mlp) }
      : { attn, mlp };
    this.layerCache.set(l, weights);
    return weights;
  }

  /** Host weight tensors -> device tensors; the weight matrices in f16 when the engine holds them so. */
  private async uploadFeeds(feeds: Feeds): Promise<Feeds> {
    const out: Feeds = {};
    for (const [key, t] of Object.entries(feeds)) {
      const f16 = !!this.flags.f16Weights && WEIGHT_MATRICES.has(key);
      out[key] = await this.upload(t.data as Float32Array, t.dims as number[], f16);
    }
    return out;
  }

  /** Whether layer l attends through the sliding window. */
  private isSliding(l: number): boolean {
    return this.spec.slidingWindow !== undefined && (this.spec.slidingLayer?.(l) ?? true);
  }

  /** The attention graph's inputs besides x and the weights: shape, mask, scale, rotary tables, the prefix's k/v. */
  private attentionInputs(l: number, batch: Batch, past: Feeds | undefined): Feeds {
    const sliding = this.isSliding(l);
    return {
      bt: new ort.Tensor('int64', BigInt64Array.from([BigInt(batch.B), BigInt(batch.T)]), [2]),
      mask: this.mask(batch.T, sliding, past ? batch.offset : 0),
      scale: new ort.Tensor('float32', Float32Array.of(this.spec.attnScale(l)), [1]),
      ...this.rotary(batch.T, sliding, batch.offset),
      ...past,
    };
  }

  /** Frees the prefix's keys and values of the layer just finished (device memory in resident mode). */
  private releasePresent(prefix: Batch | undefined): void {
    if (!prefix?.present) return;
    if (this.resident) for (const t of Object.values(prefix.present)) t.dispose();
    prefix.present = undefined;
  }

  /**
   * Additive causal mask [T, P + T] for T queries at positions P..P+T-1 over P prefix keys and their own T keys
   * (plus the sliding window on sliding layers: key j is seen from query i when i - j < window), tiled for the G
   * query heads per kv head.
   */
  private mask(T: number, sliding: boolean, P: number): ort.Tensor {
    const key = `${T}:${sliding}:${P}`;
    let m = this.masks.get(key);
    if (!m) {
      const w = sliding ? this.spec.slidingWindow! : Number.POSITIVE_INFINITY;
      const G = this.spec.nHeads / this.spec.nKvHeads;
      const K = P + T;
      const data = new Float32Array(G * T * K);
      for (let i = 0; i < T; i++) {
        const q = P + i;
        for (let j = 0; j < K; j++) data[i * K + j] = j <= q && q - j < w ? 0 : NEG_INF;
      }
      for (let r = 1; r < G; r++) data.copyWithin(r * T * K, 0, T * K);
      m = new ort.Tensor('float32', data, [G * T, K]);
      this.masks.set(key, m);
    }
    return m;
  }

  /** Full-width cos/sin tables [T, 1, headDim] for positions offset..offset+T-1 (see graphs.ts's rotary). */
  private rotary(T: number, sliding: boolean, offset: number): Feeds {
    const local = sliding && this.spec.localRotary !== undefined;
    const rot = local ? this.spec.localRotary : this.spec.rotary;
    if (!rot) return {};
    const key = `${T}:${local}:${offset}`;
    let r = this.rope.get(key);
    if (!r) {
      const hd = this.spec.headDim;
      const half = rot.dim / 2;
      const tables = rotaryTables(rot.invFreq, offset + T, rot.attentionScale);
      const full = (halfTable: Float32Array, rest: number) => {
        const out = new Float32Array(T * hd).fill(rest);
        for (let t = 0; t < T; t++) {
          const row = halfTable.subarray((offset + t) * half, (offset + t + 1) * half);
          out.set(row, t * hd);
          out.set(row, t * hd + half);
        }
        return new ort.Tensor('float32', out, [T, 1, hd]);
      };
      r = { cos: full(tables.cos, 1), sin: full(tables.sin, 0) };
      this.rope.set(key, r);
    }
    return { ...r };
  }

  /** The feeds a session takes (onnxruntime rejects unknown input names). */
  async feedsFor(kind: SessionKind, feeds: Feeds): Promise<Feeds> {
    const session = await this.session(kind);
    return Object.fromEntries(session.inputNames.map((name) => [name, feeds[name]!]));
  }

  private session(kind: SessionKind): Promise<ort.InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      const build = (): GraphBuilder => {
        switch (kind) {
          case 'attn':
          case 'attn_kv':
          case 'attn_past':
            return attentionGraph(this.spec, this.flags, KV_MODES[kind]);
          case 'final_norm':
            return finalNormGraph(this.spec, this.flags);
          case 'unembed':
            return unembedGraph(this.spec, this.flags);
          case 'upload_f32':
          case 'upload_f16':
            return uploadGraph(kind === 'upload_f16');
          case 'gather':
            return gatherGraph();
          default:
            return mlpGraph(this.spec, this.flags, kind.slice(4) as MlpPart);
        }
      };
      const device = this.options.device ?? 'cpu';
      const ready = device === 'webgpu' ? requireWebGpu() : Promise.resolve();
      s = ready
        .then(() =>
          createSession(build(), {
            device,
            threads: this.options.threads ?? availableParallelism(),
            spinning: this.options.spinning ?? false,
            ...(this.resident && { gpuOutputs: GPU_OUTPUTS[kind] ?? [] }),
          }),
        )
        .catch((err) => {
          if (device === 'cuda') {
            throw new UserError(
              `onnxruntime's CUDA execution provider is not available (${(err as Error).message.split('\n')[0]}). ` +
                'Install its CUDA build (CUDA 12 + cuDNN 9, then `npm install onnxruntime-node ' +
                '--onnxruntime-node-install-cuda=v12`) or use --device cpu',
            );
          }
          if (device === 'webgpu' && !(err instanceof UserError)) {
            throw new UserError(
              `onnxruntime's WebGPU provider could not build the ${kind} graph ` +
                `(${(err as Error).message.split('\n')[0]}); use --device cpu`,
            );
          }
          throw err;
        });
      this.sessions.set(kind, s);
    }
    return s;
  }
}

type SessionKind =
  | 'attn'
  | 'attn_kv'
  | 'attn_past'
  | 'mlp_full'
  | 'mlp_in'
  | 'mlp_out'
  | 'final_norm'
  | 'unembed'
  | 'upload_f32'
  | 'upload_f16'
  | 'gather';

/** Outputs that stay in device memory in resident mode (everything else comes back to the host). */
const GPU_OUTPUTS: Partial<Record<SessionKind, string[]>> = {
  attn: ['resid_mid', 'attn_out'],
  attn_kv: ['resid_mid', 'attn_out', 'present_k', 'present_v'],
  attn_past: ['resid_mid', 'attn_out'],
  mlp_full: ['resid_post', 'mlp_post', 'mlp_out'],
  mlp_in: ['mlp_post'],
  mlp_out: ['resid_post', 'mlp_out'],
  upload_f32: ['y'],
  upload_f16: ['y'],
};

/** Weight inputs held in f16 with weightDtype 'f16' (norms and biases stay f32). */
const WEIGHT_MATRICES = new Set(['wq', 'wk', 'wv', 'wqkv', 'wo', 'w_gate', 'w_up', 'w_gu', 'w_down']);

const NO_EDITS = new Map<string, HookEdit[]>();
const NO_CAPTURES = new Map<string, Capture>();
/** The prefix batch's extra attention outputs. */
const PRESENT = ['present_k', 'present_v'];
const KV_MODES: Record<'attn' | 'attn_kv' | 'attn_past', KvMode> = {
  attn: 'none',
  attn_kv: 'present',
  attn_past: 'past',
};

/** Which attention graph a batch runs: the prefix returns its keys/values, the rows after it take them. */
function attentionKind(batch: Batch, past: Feeds | undefined): SessionKind {
  if (batch.isPrefix) return 'attn_kv';
  return past ? 'attn_past' : 'attn';
}

/**
 * Checks that every sequence starts with the same `P` tokens and keeps a position after them, and splits the
 * prefix off (RunOptions.sharedPrefix).
 */
function splitSharedPrefix(
  sequences: number[][],
  P: number,
  kept: number[] | undefined,
): { prefix: number[]; suffixes: number[][] } {
  if (!Number.isInteger(P) || P < 0) throw new UserError(`sharedPrefix must be a whole number, got ${P}`);
  if (!kept) throw new UserError('sharedPrefix needs kept positions (RunOptions.positions)');
  const prefix = sequences[0]!.slice(0, P);
  sequences.forEach((ids, i) => {
    if (ids.length <= P)
      throw new UserError(`sequence ${i} has ${ids.length} tokens, not more than sharedPrefix ${P}`);
    for (let t = 0; t < P; t++) {
      if (ids[t] !== prefix[t])
        throw new UserError(`sequence ${i} differs from sequence 0 at token ${t}, inside sharedPrefix ${P}`);
    }
    if (kept[i]! < P)
      throw new UserError(`sequence ${i} keeps position ${kept[i]}, inside sharedPrefix ${P}`);
  });
  return { prefix, suffixes: sequences.map((ids) => ids.slice(P)) };
}

/** The graph takes q, k and v biases together: a checkpoint with only some of them gets zeros for the others. */
function zeroMissingBiases(feeds: Feeds, widths: Record<string, number>): void {
  if (!Object.keys(widths).some((k) => feeds[k])) return;
  for (const [k, width] of Object.entries(widths)) {
    feeds[k] ??= new ort.Tensor('float32', new Float32Array(width), [width]);
  }
}

/** a + b elementwise (only on the edit paths: an edited attn_out or mlp_out re-joins the residual stream). */
function addArrays(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
  return out;
}

/** f32 bytes of one block's weights. */
export function layerBytes(spec: ModelSpec): number {
  return 4 * layerParameterCount(spec);
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

function validateSequences(sequences: number[][], spec: ModelSpec): number[] {
  return sequences.map((ids, i) => {
    if (!Array.isArray(ids) || ids.length === 0) throw new UserError(`sequence ${i} is empty`);
    if (spec.maxPositions && !spec.rotary && ids.length > spec.maxPositions) {
      throw new UserError(
        `sequence ${i} has ${ids.length} tokens; the model takes at most ${spec.maxPositions}`,
      );
    }
    const rotaryMax = spec.rotary?.maxPositions;
    if (rotaryMax !== undefined && ids.length > rotaryMax) {
      throw new UserError(
        `sequence ${i} has ${ids.length} tokens; ${spec.modelType}'s longrope is supported up to ` +
          `original_max_position_embeddings = ${rotaryMax} tokens (longer inputs switch to its long factors)`,
      );
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= spec.vocabSize) {
        throw new UserError(`sequence ${i}: token id ${id} is outside the vocabulary [0, ${spec.vocabSize})`);
      }
    }
    return ids.length;
  });
}

function keptPositions(positions: number[], lengths: number[]): number[] {
  if (positions.length !== lengths.length) {
    throw new UserError(`positions has ${positions.length} entries for ${lengths.length} sequences`);
  }
  return positions.map((p, i) => {
    const q = p < 0 ? lengths[i]! + p : p;
    if (!Number.isInteger(q) || q < 0 || q >= lengths[i]!) {
      throw new UserError(`position ${p} is outside sequence ${i} (length ${lengths[i]})`);
    }
    return q;
  });
}

function groupEdits(edits: HookEdit[], spec: ModelSpec): Map<string, HookEdit[]> {
  const out = new Map<string, HookEdit[]>();
  for (const edit of edits) {
    const hook = parseHook(edit.hook, spec);
    if ('add' in edit && edit.add.length !== hookWidth(hook, spec)) {
      throw new UserError(
        `edit at '${edit.hook}': vector has ${edit.add.length} values, the hook has ${hookWidth(hook, spec)}`,
      );
    }
    out.set(edit.hook, [...(out.get(edit.hook) ?? []), edit]);
  }
  return out;
}

function applyEdit(
  edit: HookEdit,
  value: Float32Array,
  info: EditInfo,
  kept: number[] | undefined,
): Float32Array {
  if ('apply' in edit) {
    const replaced = edit.apply(value, info);
    if (replaced && replaced !== value) {
      if (replaced.length !== value.length) {
        throw new UserError(
          `edit at '${info.hook}' returned ${replaced.length} values instead of ${value.length}`,
        );
      }
      return replaced;
    }
    return value;
  }
  const { width, rowsPerSequence, offset } = info;
  info.sequences.forEach((s, b) => {
    const len = info.lengths[b]!;
    // Positions count from the sequence's start (negative: from its end); rows start at `offset`.
    const wanted = edit.positions
      ? edit.positions.map((p) => (p < 0 ? len + p : p - offset))
      : [...Array(len).keys()];
    for (const t of wanted) {
      if (t < 0 || t >= len) continue;
      let row: number;
      if (rowsPerSequence === 1) {
        if (kept?.[s] !== t) continue;
        row = b;
      } else {
        row = b * rowsPerSequence + t;
      }
      for (let j = 0; j < width; j++) value[row * width + j]! += edit.add[j]!;
    }
  });
  return value;
}

/** Padded tokens per onnxruntime call when a run does not say (RunOptions.batchTokens). */
export const DEFAULT_BATCH_TOKENS = 4096;

/**
 * Sorts by length (longest first) and packs right-padded micro-batches of at most ~batchTokens padded tokens.
 * A micro-batch takes only rows of its own length once it holds `minTokens` padded tokens (default
 * batchTokens / 8): length buckets, so that padding is spent only where a bucket would be too small for an
 * efficient GEMM. Exported for bench/extract, which gives the PyTorch reference the same batches.
 */
export function planBatches(
  lengths: number[],
  batchTokens: number,
  heads: number,
  minTokens = Math.floor(batchTokens / 8),
): { seqs: number[]; T: number; tokens: number }[] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const out: { seqs: number[]; T: number; tokens: number }[] = [];
  const maxScoreFloats = 2 ** 27; // attention scores per call (512 MiB of f32)
  for (const i of order) {
    const last = out[out.length - 1];
    if (
      last &&
      (lengths[i] === last.T || last.tokens < minTokens) &&
      (last.seqs.length + 1) * last.T <= batchTokens &&
      (last.seqs.length + 1) * heads * last.T * last.T <= maxScoreFloats
    ) {
      last.seqs.push(i);
      last.tokens += last.T; // padded tokens
    } else {
      out.push({ seqs: [i], T: lengths[i]!, tokens: lengths[i]! });
    }
  }
  return out;
}
