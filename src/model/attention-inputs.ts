/**
 * The attention graph's inputs besides x and the weights: the batch shape, the additive causal (and sliding-window)
 * mask over the shared prefix's keys and the rows' own, the score scale and the rotary cos/sin tables; masks and
 * tables are cached by shape and offset.
 */
import { ort } from '../native/index.js';
import type { Batch, Feeds } from './engine-context.js';
import { rotaryTables } from './rotary.js';
import type { ModelSpec } from './spec.js';

const NEG_INF = Number.NEGATIVE_INFINITY;

export class AttentionInputs {
  private readonly masks = new Map<string, ort.Tensor>();
  private readonly rope = new Map<string, { cos: ort.Tensor; sin: ort.Tensor }>();

  constructor(private readonly spec: ModelSpec) {}

  /** The attention graph's inputs besides x and the weights: shape, mask, scale, rotary tables, the prefix's k/v. */
  inputs(l: number, batch: Batch, past: Feeds | undefined): Feeds {
    const sliding = this.isSliding(l);
    return {
      bt: new ort.Tensor('int64', BigInt64Array.from([BigInt(batch.B), BigInt(batch.T)]), [2]),
      mask: this.mask(batch.T, sliding, past ? batch.offset : 0),
      scale: new ort.Tensor('float32', Float32Array.of(this.spec.attnScale(l)), [1]),
      ...this.rotary(batch.T, sliding, batch.offset, this.spec.noRopeLayer?.(l) ?? false),
      ...past,
    };
  }

  /** Whether layer l attends through the sliding window. */
  private isSliding(l: number): boolean {
    return this.spec.slidingWindow !== undefined && (this.spec.slidingLayer?.(l) ?? true);
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

  /**
   * Full-width cos/sin tables [T, 1, headDim] for positions offset..offset+T-1 (see graphs.ts's rotary). A NoPE
   * layer (SmolLM3) gets cos 1, sin 0 everywhere: x·1 + rotate_half(x)·0 is x exactly, so the same graph skips rotary.
   */
  private rotary(T: number, sliding: boolean, offset: number, nope: boolean): Feeds {
    const local = sliding && this.spec.localRotary !== undefined;
    const rot = local ? this.spec.localRotary : this.spec.rotary;
    if (!rot) return {};
    if (nope) {
      const key = `${T}:nope`;
      let r = this.rope.get(key);
      if (!r) {
        const hd = this.spec.headDim;
        r = {
          cos: new ort.Tensor('float32', new Float32Array(T * hd).fill(1), [T, 1, hd]),
          sin: new ort.Tensor('float32', new Float32Array(T * hd), [T, 1, hd]),
        };
        this.rope.set(key, r);
      }
      return { ...r };
    }
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
}
