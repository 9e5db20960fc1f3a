/**
 * The engine's onnxruntime sessions, one per graph kind, built on first use for the engine's device. exec() is the
 * resident path's way to run one: it checks that device outputs stayed on the device and maps WebGPU failures to
 * one-line errors (device-errors.ts).
 */
import { availableParallelism } from 'node:os';
import { createSession, type Device, type GraphBuilder, type ort, requireWebGpu } from '../native/index.js';
import { sessionError, webGpuRunError } from './device-errors.js';
import type { Feeds } from './engine-context.js';
import {
  attentionGraph,
  finalNormGraph,
  type GraphFlags,
  type KvMode,
  type MlpPart,
  mlpGraph,
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
}

export class EngineSessions {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
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

  /** The feeds a session takes (onnxruntime rejects unknown input names). */
  async feedsFor(kind: SessionKind, feeds: Feeds): Promise<Feeds> {
    const session = await this.session(kind);
    return Object.fromEntries(session.inputNames.map((name) => [name, feeds[name]!]));
  }

  session(kind: SessionKind): Promise<ort.InferenceSession> {
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
      const device = this.device;
      const ready = device === 'webgpu' ? requireWebGpu() : Promise.resolve();
      s = ready
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
      this.sessions.set(kind, s);
    }
    return s;
  }

  /** Forgets every session now and releases them (a session that failed to build has nothing to release). */
  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of sessions) await (await s.catch(() => undefined))?.release();
  }
}
