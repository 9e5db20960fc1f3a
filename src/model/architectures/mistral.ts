/** Mistral: the Llama block with an optional sliding attention window (config.sliding_window). */
import type { Architecture } from '../spec.js';
import { llamaLikeSpec } from './llama.js';

export const mistral: Architecture = { modelTypes: ['mistral'], spec: llamaLikeSpec };
