/**
 * Gemma 2: Gemma's block with four norms per layer (input_layernorm before attention, post_attention_layernorm on
 * its output, pre_feedforward_layernorm before the MLP, post_feedforward_layernorm on its output), attention scaled
 * by query_pre_attn_scalar^-½, attention-logit soft-capping (cap·tanh(s/cap), after scaling, before the mask),
 * final-logit soft-capping, and a sliding window on alternating layers (layer_types; by default layers 0, 2, 4...).
 */
import { UserError } from '../../util/errors.js';
import { type Architecture, type ModelSpec, num, positiveInt } from '../spec.js';
import { gemmaSpec } from './gemma.js';
import { withLayerNames } from './llama.js';

/** A config number whose class default applies when absent, and `null` means off. */
export function optionalNumber(
  config: Record<string, unknown>,
  key: string,
  classDefault: number | undefined,
): number | undefined {
  if (config[key] === null) return undefined;
  return config[key] === undefined ? classDefault : num(config, key);
}

/** Which layers are sliding: config.layer_types when given, else `defaultSliding(layer)`. */
export function slidingLayers(
  config: Record<string, unknown>,
  nLayers: number,
  defaultSliding: (layer: number) => boolean,
): (layer: number) => boolean {
  const types = config['layer_types'];
  if (types === undefined || types === null) return defaultSliding;
  if (!Array.isArray(types) || types.length !== nLayers) {
    throw new UserError(`config.json: layer_types should list ${nLayers} layer types`);
  }
  for (const t of types) {
    if (t !== 'sliding_attention' && t !== 'full_attention')
      throw new UserError(`config.json: unknown layer type ${JSON.stringify(t)} in layer_types`);
  }
  return (l) => types[l] === 'sliding_attention';
}

/** Gemma 2/3's shared layout: four norms, query_pre_attn_scalar, soft-capping, sliding windows on some layers. */
export function gemma2LikeSpec(
  config: Record<string, unknown>,
  has: (name: string) => boolean,
  defaults: { attnSoftcap?: number; finalSoftcap?: number; sliding: (layer: number) => boolean },
  baseDefaults: Record<string, unknown> = {},
): ModelSpec {
  const base = gemmaSpec(config, has, baseDefaults);
  const scalar = num(config, 'query_pre_attn_scalar', 256);
  const spec: ModelSpec = {
    ...base,
    attnScale: () => scalar ** -0.5,
    attnSoftcap: optionalNumber(config, 'attn_logit_softcapping', defaults.attnSoftcap),
    finalSoftcap: optionalNumber(config, 'final_logit_softcapping', defaults.finalSoftcap),
    slidingWindow: positiveInt(config, 'sliding_window', 4096),
    slidingLayer: slidingLayers(config, base.nLayers, defaults.sliding),
  };
  return withLayerNames(spec, (l) => {
    const p = `model.layers.${l}.`;
    return {
      ln2: `${p}pre_feedforward_layernorm.weight`,
      postAttnNorm: `${p}post_attention_layernorm.weight`,
      postMlpNorm: `${p}post_feedforward_layernorm.weight`,
    };
  });
}

export const gemma2: Architecture = {
  modelTypes: ['gemma2'],
  spec: (config, has) =>
    gemma2LikeSpec(config, has, { attnSoftcap: 50, finalSoftcap: 30, sliding: (l) => l % 2 === 0 }),
};
