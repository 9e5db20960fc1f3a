import { HOOK_ALIASES } from '../store/index.js';

/** One layer's activations with everything the experiments need about its entities. */
export interface LayerData {
  model: string;
  dataset: string;
  prompt: string;
  hook: string;
  layer: number;
  kind: 'space' | 'time';
  targetNames: string[];
  n: number;
  d: number;
  /** Number of targets (2 for space: longitude, latitude; 1 for time). */
  t: number;
  /** n×d activations, row-major. */
  x: Float32Array;
  /** n×t targets, row-major, in docs/method.md#datasets units. */
  targets: Float64Array;
  /** 1 = default test row. */
  isTest: Uint8Array;
  names: string[];
  /** Every entity column as strings (group columns for the hold-outs). */
  columns: Record<string, string[]>;
}

/**
 * The hook kind (an `--hooks` alias 'resid_post' / 'mlp_post', or 'hook_resid_post', 'mlp.hook_post') to the
 * TransformerLens name of a layer.
 */
export function fullHookName(hook: string, layer: number): string {
  const h = hook.startsWith('blocks.') ? hook.replace(/^blocks\.\d+\./, '') : hook;
  const kind = HOOK_ALIASES[h] ?? (h.startsWith('hook_') || h.includes('.') ? h : `hook_${h}`);
  return `blocks.${layer}.${kind}`;
}
