/** The architecture registry: adding a family = one adapter file + one line here. */
import { UserError } from '../../util/errors.js';
import type { Architecture, ModelSpec } from '../spec.js';
import { gemma } from './gemma.js';
import { gemma2 } from './gemma2.js';
import { gemma3, gemma3Text } from './gemma3.js';
import { gptNeox } from './gpt_neox.js';
import { gpt2 } from './gpt2.js';
import { granite } from './granite.js';
import { llama } from './llama.js';
import { mistral } from './mistral.js';
import { mixtral } from './mixtral.js';
import { olmo } from './olmo.js';
import { olmo2 } from './olmo2.js';
import { olmo3 } from './olmo3.js';
import { olmoe } from './olmoe.js';
import { phi3 } from './phi3.js';
import { qwen2Moe, qwen3Moe } from './qwen_moe.js';
import { qwen2 } from './qwen2.js';
import { qwen3 } from './qwen3.js';
import { smollm3 } from './smollm3.js';

export const ARCHITECTURES: readonly Architecture[] = [
  llama,
  mistral,
  qwen2,
  qwen3,
  gemma,
  gemma2,
  gemma3Text,
  gemma3,
  phi3,
  olmo,
  olmo2,
  olmo3,
  smollm3,
  granite,
  mixtral,
  qwen2Moe,
  qwen3Moe,
  olmoe,
  gptNeox,
  gpt2,
];

export function supportedModelTypes(): string[] {
  return ARCHITECTURES.flatMap((a) => a.modelTypes);
}

/** Normalises a config.json into the engine's ModelSpec, or a UserError naming an unsupported model_type. */
export function modelSpec(config: Record<string, unknown>, has: (name: string) => boolean): ModelSpec {
  const type = config['model_type'];
  const arch = ARCHITECTURES.find((a) => a.modelTypes.includes(String(type)));
  if (!arch) {
    throw new UserError(
      `model_type ${JSON.stringify(type ?? null)} is not supported (supported: ${supportedModelTypes().join(', ')})`,
    );
  }
  return arch.spec(config, has);
}
