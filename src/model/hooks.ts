/**
 * Hook names (TransformerLens style) and their parsing.
 *
 * Per block: hook_resid_pre (block input), hook_attn_out (what attention adds to the residual stream: o_proj
 * output, after the post-attention norm in Gemma 2/3 and OLMo-2), hook_resid_mid (resid_pre + attn_out; none for
 * parallel-residual blocks), mlp.hook_post (the MLP's hidden activations, act(gate)·up or act(up)), hook_mlp_out
 * (what the MLP adds: down_proj output, after the post-feed-forward norm in Gemma 2/3 and OLMo-2) and
 * hook_resid_post (resid_mid + mlp_out, or resid_pre + attn_out + mlp_out for parallel blocks).
 */
import { UserError } from '../util/errors.js';
import type { ModelSpec } from './spec.js';

export type HookKind =
  | 'embed'
  | 'pos_embed'
  | 'resid_pre'
  | 'resid_mid'
  | 'resid_post'
  | 'attn_out'
  | 'mlp_out'
  | 'mlp_post'
  | 'final_norm'
  | 'logits';

export interface ParsedHook {
  name: string;
  kind: HookKind;
  /** Block index for per-block hooks. */
  layer?: number;
}

const BLOCK_HOOK =
  /^blocks\.(\d+)\.(hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out|mlp\.hook_post)$/;
const BLOCK_KIND: Record<string, HookKind> = {
  hook_resid_pre: 'resid_pre',
  hook_resid_mid: 'resid_mid',
  hook_resid_post: 'resid_post',
  hook_attn_out: 'attn_out',
  hook_mlp_out: 'mlp_out',
  'mlp.hook_post': 'mlp_post',
};

/** Every hook name a model offers. */
export function hookNames(spec: ModelSpec): string[] {
  const names = ['hook_embed'];
  if (spec.names.posEmbed) names.push('hook_pos_embed');
  for (let l = 0; l < spec.nLayers; l++) {
    names.push(`blocks.${l}.hook_resid_pre`, `blocks.${l}.hook_attn_out`);
    if (!spec.parallelResidual) names.push(`blocks.${l}.hook_resid_mid`);
    names.push(`blocks.${l}.mlp.hook_post`, `blocks.${l}.hook_mlp_out`, `blocks.${l}.hook_resid_post`);
  }
  names.push('ln_final.hook_normalized', 'logits');
  return names;
}

export function parseHook(name: string, spec: ModelSpec): ParsedHook {
  if (name === 'hook_embed') return { name, kind: 'embed' };
  if (name === 'hook_pos_embed') {
    if (!spec.names.posEmbed)
      throw new UserError(`hook_pos_embed: ${spec.modelType} has no learned positions`);
    return { name, kind: 'pos_embed' };
  }
  if (name === 'ln_final.hook_normalized') return { name, kind: 'final_norm' };
  if (name === 'logits') return { name, kind: 'logits' };
  const m = BLOCK_HOOK.exec(name);
  if (!m) {
    throw new UserError(
      `unknown hook '${name}' (hooks: hook_embed, blocks.{l}.hook_resid_pre, blocks.{l}.hook_attn_out, ` +
        'blocks.{l}.hook_resid_mid, blocks.{l}.mlp.hook_post, blocks.{l}.hook_mlp_out, blocks.{l}.hook_resid_post, ' +
        'ln_final.hook_normalized, logits)',
    );
  }
  const layer = Number(m[1]);
  if (layer >= spec.nLayers)
    throw new UserError(`hook '${name}': the model has ${spec.nLayers} layers (0-${spec.nLayers - 1})`);
  const kind = BLOCK_KIND[m[2]!]!;
  if (kind === 'resid_mid' && spec.parallelResidual) {
    throw new UserError(
      `hook '${name}': ${spec.modelType} uses a parallel residual, so there is no hook_resid_mid`,
    );
  }
  return { name, kind, layer };
}

/** Width of a hook's value per position. */
export function hookWidth(hook: ParsedHook, spec: ModelSpec): number {
  if (hook.kind === 'mlp_post') return spec.dMlp;
  if (hook.kind === 'logits') return spec.vocabSize;
  return spec.dModel;
}
