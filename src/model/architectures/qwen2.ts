/**
 * Qwen2: the Llama block with q/k/v biases (no o bias) and, on small sizes, tied embeddings.
 * The sliding window applies only when use_sliding_window is true (it is false in the released models).
 */
import { UserError } from '../../util/errors.js';
import type { Architecture } from '../spec.js';
import { llamaLikeSpec } from './llama.js';

export const qwen2: Architecture = {
  modelTypes: ['qwen2'],
  spec(config, has) {
    const spec = llamaLikeSpec({ ...config, use_sliding_window: config['use_sliding_window'] ?? false }, has);
    if (!spec.names.layer(0).qBias)
      throw new UserError('qwen2 checkpoint without q_proj.bias: is model_type right?');
    if (spec.slidingWindow !== undefined && config['max_window_layers'] !== undefined) {
      throw new UserError('qwen2 with use_sliding_window=true and max_window_layers is not supported');
    }
    return spec;
  },
};
