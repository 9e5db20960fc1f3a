/**
 * Gemma (1): the Llama block with RMSNorm multiplying by (1 + weight) in every norm, embeddings multiplied by
 * √hidden_size as a tensor of the model's dtype (so a bf16 checkpoint uses √d rounded to bf16), the tanh-GELU gated
 * MLP (hidden_activation, default gelu_pytorch_tanh; transformers ignores hidden_act here), an explicit head_dim and
 * tied embeddings.
 */
import type { Architecture, ModelSpec } from '../spec.js';
import { llamaLikeSpec } from './llama.js';

/** The Gemma-family base every Gemma adapter starts from. */
export function gemmaSpec(
  config: Record<string, unknown>,
  has: (name: string) => boolean,
  defaults: Record<string, unknown> = {},
): ModelSpec {
  const merged: Record<string, unknown> = { rope_theta: 10000, head_dim: 256, ...defaults, ...config };
  const spec = llamaLikeSpec(
    {
      ...merged,
      hidden_act: merged['hidden_activation'] ?? 'gelu_pytorch_tanh',
      use_sliding_window: false,
    },
    has,
  );
  return { ...spec, normPlusOne: true, embedScale: Math.sqrt(spec.dModel) };
}

export const gemma: Architecture = { modelTypes: ['gemma'], spec: (config, has) => gemmaSpec(config, has) };
