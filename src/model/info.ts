/** What `spacetime-lens model info` shows: the normalised architecture, sizes and a peak-memory estimate. */
import type { Checkpoint } from './checkpoint.js';
import { layerBytes } from './hooked-model.js';
import { activeParameterCount, layerTensorNames, type ModelSpec, specParameterCount } from './spec.js';

export interface ModelInfo {
  dir: string;
  modelType: string;
  layers: number;
  width: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  mlpWidth: number;
  gatedMlp: boolean;
  vocab: number;
  parameters: number;
  /** Parameters one token uses (mixture of experts: only its top-k experts); = parameters for dense models. */
  activeParameters: number;
  /** Floating-point tensors in the checkpoint the engine never reads (Gemma 3's vision tower and projector). */
  unusedParameters: number;
  /** The mixture-of-experts layout in words, when the model has one. */
  experts?: string;
  weightDtype: string;
  weightBytes: number;
  positions: string;
  norm: string;
  /** Scale, windows and soft-capping of the attention, in words. */
  attention: string;
  activation: string;
  parallelResidual: boolean;
  tiedEmbeddings: boolean;
  /** Estimated peak resident memory while extracting every layer (bytes). */
  peakExtractionBytes: number;
  memoryBreakdown: Record<string, number>;
}

export interface MemoryOptions {
  /** Padded tokens held in one chunk (default: a batch of 128 prompts of 32 tokens). */
  chunkTokens?: number;
  /** Padded tokens per onnxruntime call (the engine's default 4096). */
  batchTokens?: number;
  weightCacheBytes?: number;
}

/**
 * Peak memory of an extraction run: the f32 embedding table, one block of f32 weights (all blocks when the model
 * fits the weight cache) plus the largest raw tensor being widened and the fused q/k/v and gate/up copies, the chunk's residual stream (twice: in and
 * out of a block), one call's intermediates, and ~300 MB for Node and onnxruntime.
 */
export function estimateExtractionMemory(
  spec: ModelSpec,
  storedBytesPerWeight: number,
  o: MemoryOptions = {},
) {
  const { dModel: d, dMlp: m, vocabSize: V, nHeads: H } = spec;
  const chunkTokens = o.chunkTokens ?? 128 * 32;
  const callTokens = Math.min(chunkTokens, o.batchTokens ?? 4096);
  const layer = layerBytes(spec);
  const cached = layer * spec.nLayers <= (o.weightCacheBytes ?? 2 ** 31);
  // The largest raw tensor widened at once: an MLP matrix, the embedding, or a fused expert stack (transformers 5).
  const fused =
    spec.moe && Array.from({ length: spec.nLayers }, (_, l) => spec.names.layer(l).moe?.fused).some(Boolean);
  const largestTensor = Math.max(m * d, V * d, fused ? 2 * spec.moe!.nExperts * spec.moe!.dExpert * d : 0);
  const breakdown = {
    embedding: V * d * 4,
    blockWeights: cached ? layer * spec.nLayers : layer,
    widening: largestTensor * storedBytesPerWeight,
    residualChunk: 2 * chunkTokens * d * 4,
    callIntermediates: callTokens * (3 * m + 8 * d) * 4 + H * callTokens * 32 * 4,
    runtime: 300 * 2 ** 20,
  };
  return { total: Object.values(breakdown).reduce((a, b) => a + b, 0), breakdown };
}

/** Parameters the engine uses (legacy buffers such as GPT-2's attn.bias masks are not parameters). */
export function usedParameterCount(spec: ModelSpec, checkpoint: Checkpoint): number {
  const { names } = spec;
  const used = new Set<string>([names.embed, names.unembed]);
  for (const n of [names.finalNorm, names.posEmbed, names.finalNormBias, names.unembedBias])
    if (n) used.add(n);
  for (let l = 0; l < spec.nLayers; l++) for (const n of layerTensorNames(spec, l)) used.add(n);
  let total = 0;
  for (const n of used) {
    if (checkpoint.has(n)) total += checkpoint.info(n).shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

export function modelInfo(
  dir: string,
  checkpoint: Checkpoint,
  spec: ModelSpec,
  o: MemoryOptions = {},
): ModelInfo {
  const stored = checkpoint.weightDtype === 'F32' ? 4 : 2;
  const used = usedParameterCount(spec, checkpoint);
  const mem = estimateExtractionMemory(spec, stored, o);
  return {
    dir,
    modelType: spec.modelType,
    layers: spec.nLayers,
    width: spec.dModel,
    heads: spec.nHeads,
    kvHeads: spec.nKvHeads,
    headDim: spec.headDim,
    mlpWidth: spec.dMlp,
    gatedMlp: spec.gated,
    vocab: spec.vocabSize,
    parameters: used,
    // From config.json's shapes (the tensors' count is `parameters`; the two agree on every supported checkpoint).
    activeParameters: used - (specParameterCount(spec) - activeParameterCount(spec)),
    unusedParameters: checkpoint.parameterCount - used,
    ...(spec.moe && { experts: expertsDescription(spec) }),
    weightDtype: checkpoint.weightDtype,
    weightBytes: checkpoint.weightBytes,
    positions: spec.rotary
      ? `rotary on ${spec.rotary.dim}/${spec.headDim} dims per head`
      : `learned (${spec.maxPositions ?? '?'} positions)`,
    norm: normDescription(spec),
    attention: attentionDescription(spec),
    activation: spec.act,
    parallelResidual: spec.parallelResidual,
    tiedEmbeddings: spec.tiedEmbeddings,
    peakExtractionBytes: mem.total,
    memoryBreakdown: mem.breakdown,
  };
}

function expertsDescription(spec: ModelSpec): string {
  const moe = spec.moe!;
  const sparse = Array.from({ length: spec.nLayers }, (_, l) => moe.sparseLayer(l)).filter(Boolean).length;
  const parts = [
    `${moe.nExperts} × ${moe.dExpert} wide, top ${moe.topK}${moe.normTopK ? ' renormalised' : ''}`,
    `in ${sparse}/${spec.nLayers} layers`,
  ];
  if (moe.dShared) parts.push(`shared expert ${moe.dShared} wide (sigmoid-gated)`);
  return parts.join(', ');
}

function normDescription(spec: ModelSpec): string {
  const l0 = spec.names.layer(0);
  const parts = [`${spec.norm === 'rms' ? 'RMSNorm' : 'LayerNorm'} eps ${spec.normEps}`];
  if (spec.parameterFreeNorms) parts.push('no weight or bias');
  if (spec.normPlusOne) parts.push('scaled by (1 + weight)');
  if (l0.postAttnNorm) parts.push(l0.ln1 ? 'pre- and post-sub-block norms' : 'post-sub-block norms only');
  if (spec.qkNorm) parts.push(`q/k norm ${spec.qkNorm === 'head' ? 'per head' : 'over the full width'}`);
  return parts.join(', ');
}

function attentionDescription(spec: ModelSpec): string {
  const parts = [`scale ${spec.attnScale(0).toPrecision(4)}`];
  if (spec.slidingWindow !== undefined) {
    const sliding = Array.from({ length: spec.nLayers }, (_, l) => spec.slidingLayer?.(l) ?? true);
    parts.push(
      `sliding window ${spec.slidingWindow} on ${sliding.filter(Boolean).length}/${spec.nLayers} layers`,
    );
  }
  if (spec.localRotary) parts.push('separate rotary for sliding layers');
  if (spec.attnSoftcap !== undefined) parts.push(`score soft-cap ${spec.attnSoftcap}`);
  if (spec.finalSoftcap !== undefined) parts.push(`logit soft-cap ${spec.finalSoftcap}`);
  if (spec.embedScale !== undefined) parts.push(`embeddings × √${spec.dModel}`);
  if (spec.clipQkv !== undefined) parts.push(`q/k/v clipped to ±${spec.clipQkv}`);
  if (spec.noRopeLayer) {
    const nope = Array.from({ length: spec.nLayers }, (_, l) => spec.noRopeLayer!(l)).filter(Boolean).length;
    parts.push(`no rotary (NoPE) on ${nope}/${spec.nLayers} layers`);
  }
  if (spec.embedMultiplier !== undefined) parts.push(`embeddings × ${spec.embedMultiplier}`);
  if (spec.residualMultiplier !== undefined) parts.push(`sub-block outputs × ${spec.residualMultiplier}`);
  if (spec.logitScale !== undefined) parts.push(`logits / ${spec.logitScale}`);
  return parts.join(', ');
}

const GB = (b: number) =>
  b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`;

export function formatModelInfo(info: ModelInfo): string {
  const count = (n: number) =>
    n >= 1e9
      ? `${(n / 1e9).toFixed(2)}B`
      : n >= 1e6
        ? `${(n / 1e6).toFixed(1)}M`
        : n >= 1e3
          ? `${(n / 1e3).toFixed(1)}K`
          : String(n);
  const params = count(info.parameters);
  const lines = [
    ['directory', info.dir],
    ['architecture', `${info.modelType}${info.parallelResidual ? ' (parallel residual)' : ''}`],
    ['layers', info.layers],
    ['width (d_model)', info.width],
    ['heads (q / kv)', `${info.heads} / ${info.kvHeads}, head dim ${info.headDim}`],
    ['MLP width', `${info.mlpWidth}${info.gatedMlp ? ' (gated)' : ''}, ${info.activation}`],
    ['vocab', info.vocab],
    ['positions', info.positions],
    ['norm', info.norm],
    ['attention', info.attention],
    ['tied embeddings', info.tiedEmbeddings ? 'yes' : 'no'],
    ['parameters', `${params} (${info.parameters.toLocaleString('en-US')})`],
    ...(info.experts
      ? [
          ['experts', info.experts],
          [
            'active parameters',
            `${count(info.activeParameters)} (${info.activeParameters.toLocaleString('en-US')}) per token`,
          ],
        ]
      : []),
    ...(info.unusedParameters > 0
      ? [
          [
            'not loaded',
            `${count(info.unusedParameters)} (${info.unusedParameters.toLocaleString('en-US')}) parameters the ` +
              'engine never reads (e.g. a vision tower)',
          ],
        ]
      : []),
    ['weights', `${info.weightDtype}, ${GB(info.weightBytes)} on disk`],
    [
      'peak memory (extraction, est.)',
      `${GB(info.peakExtractionBytes)} = ${Object.entries(info.memoryBreakdown)
        .map(([k, v]) => `${k} ${GB(v)}`)
        .join(' + ')}`,
    ],
  ];
  const w = Math.max(...lines.map(([k]) => String(k).length));
  return lines.map(([k, v]) => `${String(k).padEnd(w)}  ${v}`).join('\n');
}
