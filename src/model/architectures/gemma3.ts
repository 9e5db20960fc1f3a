/**
 * Gemma 3 (text; model_type gemma3_text, e.g. gemma-3-1b): Gemma 2's layout without soft-capping by default, plus
 * q_norm/k_norm (Gemma RMSNorm over each head, before rotary), sliding-window layers chosen by layer_types or
 * sliding_window_pattern (every pattern-th layer is global), and two rotary embeddings: sliding layers use
 * rope_local_base_freq unscaled, global layers rope_theta with rope_scaling. Newer configs' per-layer-type
 * rope_parameters are read too. Bidirectional attention (EmbeddingGemma) is refused. Fields config.json omits take
 * Gemma3TextConfig's defaults.
 *
 * Gemma 3 4B-27B (model_type gemma3, Gemma3ForConditionalGeneration): the text tower of text_config, whose tensors
 * are `language_model.model.*` + `language_model.lm_head.weight` (checkpoints written by transformers 4.50-4.51, the
 * released ones) or `model.language_model.*` + `lm_head.weight` (4.52 and 5.x); the vision tower and the projector
 * are never read.
 */
import { UserError } from '../../util/errors.js';
import { defaultInvFreq, scaledInvFreq } from '../rotary.js';
import {
  type Architecture,
  bool,
  type LayerNames,
  type ModelSpec,
  num,
  positiveInt,
  type Rotary,
} from '../spec.js';
import { gemma2LikeSpec } from './gemma2.js';
import { withLayerNames } from './llama.js';

/** inv_freq of one layer type: from rope_parameters[type] when present, else the classic fields. */
function rotaryOf(
  config: Record<string, unknown>,
  dim: number,
  type: 'full_attention' | 'sliding_attention',
): Rotary {
  const params = config['rope_parameters'] as Record<string, unknown> | undefined;
  const own = params?.[type];
  if (own && typeof own === 'object') {
    const p = own as Record<string, unknown>;
    return { dim, invFreq: scaledInvFreq(defaultInvFreq(dim, num(p, 'rope_theta')), p) };
  }
  if (type === 'sliding_attention')
    return { dim, invFreq: defaultInvFreq(dim, num(config, 'rope_local_base_freq', 10000)) };
  return {
    dim,
    invFreq: scaledInvFreq(defaultInvFreq(dim, num(config, 'rope_theta', 1e6)), config['rope_scaling']),
  };
}

/** Gemma3TextConfig's defaults (transformers 4.50+): what a text_config that lists only some fields means. */
const GEMMA3_TEXT_DEFAULTS: Record<string, unknown> = {
  vocab_size: 262208,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  hidden_activation: 'gelu_pytorch_tanh',
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-6,
  rope_theta: 1e6,
  query_pre_attn_scalar: 256,
  sliding_window: 4096,
  final_logit_softcapping: null,
  attn_logit_softcapping: null,
  rope_local_base_freq: 10000,
  sliding_window_pattern: 6,
  pad_token_id: 0,
  eos_token_id: 1,
  bos_token_id: 2,
};

function gemma3TextSpec(config: Record<string, unknown>, has: (name: string) => boolean): ModelSpec {
  if (bool(config, 'use_bidirectional_attention', false))
    throw new UserError('gemma3_text with use_bidirectional_attention (EmbeddingGemma) is not supported');
  const pattern = positiveInt(config, 'sliding_window_pattern', 6);
  const base = gemma2LikeSpec(
    // rope_scaling is applied to the global layers only, below.
    { ...config, rope_scaling: null },
    has,
    { sliding: (l) => (l + 1) % pattern !== 0 },
    { rope_theta: 1e6 },
  );
  const dim = base.headDim;
  return withLayerNames(
    {
      ...base,
      qkNorm: 'head',
      rotary: rotaryOf(config, dim, 'full_attention'),
      localRotary: rotaryOf(config, dim, 'sliding_attention'),
    },
    (l) => ({
      qNorm: `model.layers.${l}.self_attn.q_norm.weight`,
      kNorm: `model.layers.${l}.self_attn.k_norm.weight`,
    }),
  );
}

export const gemma3Text: Architecture = {
  modelTypes: ['gemma3_text'],
  spec: (config, has) => gemma3TextSpec({ ...GEMMA3_TEXT_DEFAULTS, ...config }, has),
};

/** Every tensor name of the spec through `rename` (a checkpoint that stores the same model under a prefix). */
function renamed(spec: ModelSpec, rename: (name: string) => string): ModelSpec {
  const r = <T extends string | undefined>(n: T): T => (n === undefined ? n : (rename(n) as T));
  // Gemma's blocks hold only plain tensor names (no mixture-of-experts names).
  const layer = (l: number): LayerNames =>
    Object.fromEntries(
      Object.entries(spec.names.layer(l)).map(([k, v]) => [k, typeof v === 'string' ? rename(v) : v]),
    ) as unknown as LayerNames;
  const n = spec.names;
  return {
    ...spec,
    names: {
      embed: r(n.embed),
      posEmbed: r(n.posEmbed),
      finalNorm: r(n.finalNorm),
      finalNormBias: r(n.finalNormBias),
      unembed: r(n.unembed),
      unembedBias: r(n.unembedBias),
      layer,
    },
  };
}

export const gemma3: Architecture = {
  modelTypes: ['gemma3'],
  spec(config, has) {
    const text = config['text_config'] ?? {};
    if (typeof text !== 'object' || Array.isArray(text))
      throw new UserError('config.json: gemma3 text_config should be an object');
    const old = has('language_model.model.embed_tokens.weight');
    const prefix = old ? 'language_model.model.' : 'model.language_model.';
    const head = old ? 'language_model.lm_head.weight' : 'lm_head.weight';
    const rename = (name: string) =>
      name === 'lm_head.weight' ? head : prefix + name.slice('model.'.length);
    const textConfig = {
      ...GEMMA3_TEXT_DEFAULTS,
      ...(text as Record<string, unknown>),
      model_type: 'gemma3',
    };
    const spec = renamed(
      gemma3TextSpec(textConfig, (name) => has(rename(name))),
      rename,
    );
    return { ...spec, modelType: 'gemma3' };
  },
};
