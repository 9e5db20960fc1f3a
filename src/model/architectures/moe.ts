/**
 * The mixture-of-experts MLP shared by Mixtral, Qwen2-MoE, Qwen3-MoE and OLMoE: which layers are sparse, each sparse
 * layer's router and experts in either tensor layout (per expert, as the released checkpoints store them, or
 * transformers 5's fused `mlp.experts.gate_up_proj` / `mlp.experts.down_proj`), and the routing settings.
 */
import { UserError } from '../../util/errors.js';
import { bool, type LayerNames, type ModelSpec, type MoeNames, type MoeSpec, positiveInt } from '../spec.js';
import { withLayerNames } from './llama.js';

export interface MoeLayout {
  /** The per-expert layout's router name in layer l (Mixtral: block_sparse_moe.gate.weight). */
  router: (l: number) => string;
  expert: (l: number, e: number) => { gate: string; up: string; down: string };
  /** Qwen2-MoE's shared expert. */
  shared?: boolean;
}

/** Qwen's rule: layer l is sparse unless in mlp_only_layers, and only every decoder_sparse_step-th layer is. */
export function qwenSparseLayers(config: Record<string, unknown>, nExperts: number): (l: number) => boolean {
  const step = positiveInt(config, 'decoder_sparse_step', 1);
  const only = config['mlp_only_layers'] ?? [];
  if (!Array.isArray(only) || only.some((l) => !Number.isInteger(l)))
    throw new UserError('config.json: mlp_only_layers should list layer indices');
  return (l) => !only.includes(l) && nExperts > 0 && (l + 1) % step === 0;
}

/** The spec with a mixture-of-experts MLP in its sparse layers (their dense gate/up/down names removed). */
export function withMoe(
  spec: ModelSpec,
  has: (name: string) => boolean,
  moe: MoeSpec,
  layout: MoeLayout,
): ModelSpec {
  if (moe.topK > moe.nExperts) {
    throw new UserError(
      `config.json: num_experts_per_tok ${moe.topK} is more than the ${moe.nExperts} experts`,
    );
  }
  const sparseNames = (l: number): Partial<LayerNames> => {
    const p = `model.layers.${l}.`;
    const fused = has(`${p}mlp.experts.gate_up_proj`);
    const names: MoeNames = fused
      ? {
          router: `${p}mlp.gate.weight`,
          fused: { gateUp: `${p}mlp.experts.gate_up_proj`, down: `${p}mlp.experts.down_proj` },
        }
      : { router: layout.router(l), expert: (e) => layout.expert(l, e) };
    if (layout.shared) {
      names.shared = {
        gate: `${p}mlp.shared_expert.gate_proj.weight`,
        up: `${p}mlp.shared_expert.up_proj.weight`,
        down: `${p}mlp.shared_expert.down_proj.weight`,
        gateWeight: `${p}mlp.shared_expert_gate.weight`,
      };
    }
    return {
      gate: undefined,
      gateBias: undefined,
      up: undefined,
      upBias: undefined,
      down: undefined,
      downBias: undefined,
      moe: names,
    };
  };
  return withLayerNames({ ...spec, moe }, (l) => (moe.sparseLayer(l) ? sparseNames(l) : {}));
}

/** num_experts_per_tok and norm_topk_prob as most families name them. */
export function routing(config: Record<string, unknown>, normDefault: boolean) {
  return {
    topK: positiveInt(config, 'num_experts_per_tok'),
    normTopK: bool(config, 'norm_topk_prob', normDefault),
  };
}

/** Qwen-style per-expert names: mlp.gate.weight and mlp.experts.{e}.{gate,up,down}_proj.weight. */
export const QWEN_LAYOUT: Omit<MoeLayout, 'shared'> = {
  router: (l) => `model.layers.${l}.mlp.gate.weight`,
  expert: (l, e) => {
    const p = `model.layers.${l}.mlp.experts.${e}.`;
    return { gate: `${p}gate_proj.weight`, up: `${p}up_proj.weight`, down: `${p}down_proj.weight` };
  },
};
