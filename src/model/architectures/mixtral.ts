/**
 * Mixtral: Mistral's attention (sliding_window in every layer when set) and, in every layer, a sparse MoE block
 * (block_sparse_moe): the router gate.weight [num_local_experts, d] and experts w1 (gate), w3 (up), w2 (down) of
 * intermediate_size, top num_experts_per_tok experts with their probabilities always renormalised to sum 1.
 * transformers 5's fused layout (mlp.gate, mlp.experts.gate_up_proj / down_proj) loads too.
 */
import type { Architecture } from '../spec.js';
import { positiveInt } from '../spec.js';
import { llamaLikeSpec } from './llama.js';
import { withMoe } from './moe.js';

export const mixtral: Architecture = {
  modelTypes: ['mixtral'],
  spec(config, has) {
    const base = llamaLikeSpec(config, has);
    const nExperts = positiveInt(config, 'num_local_experts', 8);
    return withMoe(
      base,
      has,
      {
        nExperts,
        topK: positiveInt(config, 'num_experts_per_tok', 2),
        dExpert: base.dMlp,
        normTopK: true,
        sparseLayer: () => true,
      },
      {
        router: (l) => `model.layers.${l}.block_sparse_moe.gate.weight`,
        expert: (l, e) => {
          const p = `model.layers.${l}.block_sparse_moe.experts.${e}.`;
          return { gate: `${p}w1.weight`, up: `${p}w3.weight`, down: `${p}w2.weight` };
        },
      },
    );
  },
};
