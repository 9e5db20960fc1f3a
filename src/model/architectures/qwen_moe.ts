/**
 * Qwen2-MoE (Qwen1.5-MoE, Qwen2-57B-A14B) and Qwen3-MoE (Qwen3-30B-A3B, 235B-A22B). Sparse layers: those not in
 * mlp_only_layers with (layer + 1) % decoder_sparse_step == 0; the others have a dense MLP of intermediate_size.
 * Router mlp.gate.weight [num_experts, d], experts of moe_intermediate_size, top num_experts_per_tok, renormalised only
 * when norm_topk_prob (default false). Qwen2-MoE: q/k/v biases and a shared expert of
 * shared_expert_intermediate_size added as sigmoid(shared_expert_gate · x) · shared_expert(x). Qwen3-MoE: Qwen3's
 * per-head q/k norms, no shared expert. use_sliding_window: true is refused for both.
 */
import { UserError } from '../../util/errors.js';
import type { Architecture, ModelSpec } from '../spec.js';
import { positiveInt } from '../spec.js';
import { llamaLikeSpec, withLayerNames } from './llama.js';
import { QWEN_LAYOUT, qwenSparseLayers, routing, withMoe } from './moe.js';

function qwenMoe(
  config: Record<string, unknown>,
  has: (name: string) => boolean,
  shared: boolean,
): ModelSpec {
  if (config['use_sliding_window'] === true)
    throw new UserError(`${String(config['model_type'])} with use_sliding_window=true is not supported`);
  const base = llamaLikeSpec({ ...config, use_sliding_window: false }, has);
  const nExperts = positiveInt(config, 'num_experts');
  return withMoe(
    base,
    has,
    {
      nExperts,
      ...routing(config, false),
      dExpert: positiveInt(config, 'moe_intermediate_size'),
      sparseLayer: qwenSparseLayers(config, nExperts),
      ...(shared && { dShared: positiveInt(config, 'shared_expert_intermediate_size') }),
    },
    { ...QWEN_LAYOUT, shared },
  );
}

export const qwen2Moe: Architecture = {
  modelTypes: ['qwen2_moe'],
  spec: (config, has) => qwenMoe(config, has, true),
};

export const qwen3Moe: Architecture = {
  modelTypes: ['qwen3_moe'],
  spec(config, has) {
    return withLayerNames({ ...qwenMoe(config, has, false), qkNorm: 'head' }, (l) => ({
      qNorm: `model.layers.${l}.self_attn.q_norm.weight`,
      kNorm: `model.layers.${l}.self_attn.k_norm.weight`,
    }));
  },
};
