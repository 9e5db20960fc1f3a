/**
 * What the engine's files share: a micro-batch in flight, onnxruntime feeds, and the collaborators a forward pass
 * reaches through (sessions, weights, attention inputs), bundled so the host and resident paths can be functions.
 */
import type { ort } from '../native/index.js';
import type { AttentionInputs } from './attention-inputs.js';
import type { WeightCache } from './layer-weights.js';
import type { EngineSessions } from './sessions.js';
import type { ModelSpec } from './spec.js';

export type Feeds = Record<string, ort.Tensor>;

export interface Batch {
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

export interface Engine {
  readonly spec: ModelSpec;
  readonly sessions: EngineSessions;
  readonly weights: WeightCache;
  readonly attention: AttentionInputs;
}
