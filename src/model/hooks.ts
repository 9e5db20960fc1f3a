/**
 * Hook names (TransformerLens style) and their parsing.
 *
 * Per block: hook_resid_pre (block input), hook_attn_out (what attention adds to the residual stream: o_proj
 * output, after the post-attention norm in Gemma 2/3 and OLMo-2), hook_resid_mid (resid_pre + attn_out; none for
 * parallel-residual blocks), mlp.hook_post (the MLP's hidden activations, act(gate)·up or act(up)), hook_mlp_out
 * (what the MLP adds: down_proj output, after the post-feed-forward norm in Gemma 2/3 and OLMo-2) and
 * hook_resid_post (resid_mid + mlp_out, or resid_pre + attn_out + mlp_out for parallel blocks).
 *
 * Mixture-of-experts layers instead of mlp.hook_post (their hidden activations are per expert): mlp.hook_expert_weights
 * (the router's softmax over all experts, [n_experts] per position, as TransformerLens) and mlp.hook_expert_indices
 * (the chosen experts in top-k order, highest probability first, as float values).
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
  | 'expert_weights'
  | 'expert_indices'
  | 'final_norm'
  | 'logits';

export interface ParsedHook {
  name: string;
  kind: HookKind;
  /** Block index for per-block hooks. */
  layer?: number;
}

const BLOCK_HOOK =
  /^blocks\.(\d+)\.(hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out|mlp\.hook_post|mlp\.hook_expert_weights|mlp\.hook_expert_indices)$/;
const BLOCK_KIND: Record<string, HookKind> = {
  hook_resid_pre: 'resid_pre',
  hook_resid_mid: 'resid_mid',
  hook_resid_post: 'resid_post',
  hook_attn_out: 'attn_out',
  hook_mlp_out: 'mlp_out',
  'mlp.hook_post': 'mlp_post',
  'mlp.hook_expert_weights': 'expert_weights',
  'mlp.hook_expert_indices': 'expert_indices',
};

/** Whether block l's MLP is a mixture of experts. */
export function isSparseLayer(spec: ModelSpec, layer: number): boolean {
  return spec.moe?.sparseLayer(layer) ?? false;
}

/** Every hook name a model offers. */
export function hookNames(spec: ModelSpec): string[] {
  const names = ['hook_embed'];
  if (spec.names.posEmbed) names.push('hook_pos_embed');
  for (let l = 0; l < spec.nLayers; l++) {
    names.push(`blocks.${l}.hook_resid_pre`, `blocks.${l}.hook_attn_out`);
    if (!spec.parallelResidual) names.push(`blocks.${l}.hook_resid_mid`);
    if (isSparseLayer(spec, l))
      names.push(`blocks.${l}.mlp.hook_expert_weights`, `blocks.${l}.mlp.hook_expert_indices`);
    else names.push(`blocks.${l}.mlp.hook_post`);
    names.push(`blocks.${l}.hook_mlp_out`, `blocks.${l}.hook_resid_post`);
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
        'blocks.{l}.mlp.hook_expert_weights, blocks.{l}.mlp.hook_expert_indices, ln_final.hook_normalized, logits)',
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
  const sparse = isSparseLayer(spec, layer);
  if (kind === 'mlp_post' && sparse) {
    throw new UserError(
      `hook '${name}': layer ${layer} of ${spec.modelType} is a mixture of experts, whose hidden activations are ` +
        `per expert; use blocks.${layer}.mlp.hook_expert_weights or hook_expert_indices`,
    );
  }
  if ((kind === 'expert_weights' || kind === 'expert_indices') && !sparse) {
    throw new UserError(`hook '${name}': layer ${layer} of ${spec.modelType} has a dense MLP, no experts`);
  }
  return { name, kind, layer };
}

/** Width of a hook's value per position. */
export function hookWidth(hook: ParsedHook, spec: ModelSpec): number {
  if (hook.kind === 'mlp_post') return spec.dMlp;
  if (hook.kind === 'expert_weights') return spec.moe!.nExperts;
  if (hook.kind === 'expert_indices') return spec.moe!.topK;
  if (hook.kind === 'logits') return spec.vocabSize;
  return spec.dModel;
}
