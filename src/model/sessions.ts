/**
 * The engine's onnxruntime sessions, one per graph kind, built on first use for the engine's device. exec() is the
 * resident path's way to run one: it checks that device outputs stayed on the device and maps WebGPU failures to
 * one-line errors (device-errors.ts). run() is the host path's: with `bakeWeights` (CUDA) a block's weights are
 * baked into sessions of their own, one per (kind, layer), as initializers that the provider copies to its memory
 * once when the session is built, instead of with every call; dropLayer() releases them with the layer.
 */
import { availableParallelism } from 'node:os';
import { createSession, type Device, type GraphBuilder, type ort, requireWebGpu } from '../native/index.js';
import { cudaRunError, sessionError, webGpuRunError } from './device-errors.js';
import type { Feeds } from './engine-context.js';
import {
  attentionGraph,
  expertGraph,
  finalNormGraph,
  type GraphFlags,
  type KvMode,
  type MlpPart,
  mlpGraph,
  routerGraph,
  unembedGraph,
} from './graphs.js';
import { expectOnDevice, gatherGraph, uploadGraph } from './resident.js';
import type { ModelSpec } from './spec.js';

export type SessionKind =
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
  | 'gather'
  | 'moe_router'
  | 'moe_expert';

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

const KV_MODES: Record<'attn' | 'attn_kv' | 'attn_past', KvMode> = {
  attn: 'none',
  attn_kv: 'present',
  attn_past: 'past',
};

export interface SessionOptions {
  device?: Device;
  threads?: number;
  spinning?: boolean;
  /** Resident mode: the GPU_OUTPUTS of each session stay in device memory. */
  resident: boolean;
  /** Block weights baked into per-layer sessions (run() with a layer). */
  bakeWeights?: boolean;
}

/**
 * Largest weight bytes baked into one session: a serialized ONNX model must stay under protobuf's 2 GiB; a bigger
 * sub-block (70B-class MLPs) keeps its weights as inputs.
 */
export const BAKE_LIMIT_BYTES = 1.5 * 2 ** 30;

export class EngineSessions {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  /** Baked sessions by layer, then kind (and part: `moe_expert.3`). */
  private readonly baked = new Map<number, Map<string, Promise<ort.InferenceSession>>>();
  readonly device: Device;

  constructor(
    private readonly spec: ModelSpec,
    private readonly flags: GraphFlags,
    private readonly options: SessionOptions,
  ) {
    this.device = options.device ?? 'cpu';
  }

  /** Runs one of the engine's sessions on the feeds it takes; WebGPU failures become one-line errors. */
  async exec(kind: SessionKind, feeds: Feeds, fetches?: string[]): Promise<Record<string, ort.Tensor>> {
    const session = await this.session(kind);
    const picked = Object.fromEntries(session.inputNames.map((name) => [name, feeds[name]!]));
    let out: Record<string, ort.Tensor>;
    try {
      out = (fetches ? await session.run(picked, fetches) : await session.run(picked)) as Record<
        string,
        ort.Tensor
      >;
    } catch (err) {
      if (this.device !== 'webgpu') throw err;
      throw webGpuRunError(kind, err);
    }
    if (this.device === 'webgpu') {
      for (const name of GPU_OUTPUTS[kind] ?? []) if (out[name]) expectOnDevice(out[name]!, name);
    }
    return out;
  }

  /**
   * Runs session `kind` on host tensors: with `layer`, the session that has that layer's weights baked in when the
   * engine bakes weights (else the shared one, fed the weights); `layer.part` tells apart sessions of one kind in
   * a layer (a mixture's experts). CUDA and WebGPU failures become one-line errors.
   */
  async run(
    kind: SessionKind,
    feeds: Feeds,
    fetches?: string[],
    layer?: { l: number; weights: Feeds; part?: number },
  ): Promise<Record<string, ort.Tensor>> {
    const session =
      layer && this.options.bakeWeights
        ? await this.bakedSession(kind, layer.l, layer.weights, layer.part)
        : await this.session(kind);
    const picked = Object.fromEntries(session.inputNames.map((name) => [name, feeds[name]!]));
    try {
      return (fetches ? await session.run(picked, fetches) : await session.run(picked)) as Record<
        string,
        ort.Tensor
      >;
    } catch (err) {
      if (this.device === 'cuda') throw cudaRunError(kind, err);
      throw this.device === 'webgpu' ? webGpuRunError(kind, err) : err;
    }
  }

  /** Baked sessions currently held (for tests and memory accounting). */
  get bakedSessionCount(): number {
    let n = 0;
    for (const m of this.baked.values()) n += m.size;
    return n;
  }

  private bakedSession(
    kind: SessionKind,
    l: number,
    weights: Feeds,
    part?: number,
  ): Promise<ort.InferenceSession> {
    const bytes = Object.values(weights).reduce((s, t) => s + (t.data as Float32Array).byteLength, 0);
    if (bytes > BAKE_LIMIT_BYTES) return this.session(kind);
    let byKind = this.baked.get(l);
    if (!byKind) {
      byKind = new Map();
      this.baked.set(l, byKind);
    }
    const key = part === undefined ? kind : `${kind}.${part}`;
    let s = byKind.get(key);
    if (!s) {
      const values = Object.fromEntries(
        Object.entries(weights).map(([k, t]) => [k, { data: t.data as Float32Array, dims: t.dims }]),
      );
      s = this.create(kind, () => this.graph(kind).bakeInputs(values));
      byKind.set(key, s);
    }
    return s;
  }

  /** Releases the sessions holding layer l's weights (the layer is dropped from the weight cache). */
  async dropLayer(l: number): Promise<void> {
    const byKind = this.baked.get(l);
    if (!byKind) return;
    this.baked.delete(l);
    for (const s of byKind.values()) await (await s.catch(() => undefined))?.release();
  }

  /** The feeds a session takes (onnxruntime rejects unknown input names). */
  async feedsFor(kind: SessionKind, feeds: Feeds): Promise<Feeds> {
    const session = await this.session(kind);
    return Object.fromEntries(session.inputNames.map((name) => [name, feeds[name]!]));
  }

  session(kind: SessionKind): Promise<ort.InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      s = this.create(kind, () => this.graph(kind));
      this.sessions.set(kind, s);
    }
    return s;
  }

  private graph(kind: SessionKind): GraphBuilder {
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
      case 'moe_router':
        return routerGraph(this.spec, this.flags);
      case 'moe_expert':
        return expertGraph(this.spec, this.flags);
      default:
        return mlpGraph(this.spec, this.flags, kind.slice(4) as MlpPart);
    }
  }

  private create(kind: SessionKind, build: () => GraphBuilder): Promise<ort.InferenceSession> {
    const device = this.device;
    const ready = device === 'webgpu' ? requireWebGpu() : Promise.resolve();
    return ready
      .then(() =>
        createSession(build(), {
          device,
          threads: this.options.threads ?? availableParallelism(),
          spinning: this.options.spinning ?? false,
          ...(this.options.resident && { gpuOutputs: GPU_OUTPUTS[kind] ?? [] }),
        }),
      )
      .catch((err) => {
        throw sessionError(device, kind, err);
      });
  }

  /** Forgets every session now and releases them (a session that failed to build has nothing to release). */
  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const l of [...this.baked.keys()]) await this.dropLayer(l);
    for (const s of sessions) await (await s.catch(() => undefined))?.release();
  }
}
