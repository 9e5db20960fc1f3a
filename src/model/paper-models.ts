/**
 * Which of the paper's models a checkpoint is (docs/method.md#paper-compat): Llama-2 7B, 13B or 70B, decided by
 * the shapes in its config.json, not by a name (a folder called llama-2-7b may hold anything). The one place that
 * decides it: the paper's alpha grids, experiment layers and fixed alphas all ask here.
 */

export type PaperSize = '7b' | '13b' | '70b';

/** The config.json fields that decide it (extract records them in the store manifest as model.config). */
export const PAPER_SHAPE_KEYS = [
  'model_type',
  'hidden_size',
  'num_hidden_layers',
  'intermediate_size',
  'num_attention_heads',
  'num_key_value_heads',
  'vocab_size',
  'max_position_embeddings',
] as const;

/**
 * meta-llama/Llama-2-{7b,13b,70b}-hf's config.json (chat variants share them). Llama-1 has 2048 positions (and 65B
 * other widths), Code Llama a 32,016-token vocabulary and 16k positions: neither matches.
 */
const SHAPES: Record<PaperSize, [number, number, number, number, number]> = {
  // hidden, layers, intermediate, heads, key/value heads
  '7b': [4096, 32, 11008, 32, 32],
  '13b': [5120, 40, 13824, 40, 40],
  '70b': [8192, 80, 28672, 64, 8],
};

/** The shape fields of a config.json, for the store manifest. */
export function paperShapeOf(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    PAPER_SHAPE_KEYS.filter((k) => config[k] !== undefined).map((k) => [k, config[k]]),
  );
}

/** A model as a store records it: its id, and the shape fields of its config.json when extract recorded them. */
export interface ModelRef {
  id: string;
  config?: Record<string, unknown>;
}

const ID_PATTERN = /llama-?2[-_]?(7|13|70)b/i;

/**
 * Llama-2 7B/13B/70B, or undefined. With config.json fields (a checkpoint's, or the store manifest's model.config)
 * they alone decide: model_type llama, 32,000 tokens, 4,096 positions, and one size's widths, layers and heads
 * (num_key_value_heads defaults to num_attention_heads, as in transformers). Without them (a store written before
 * they were recorded) the id must name the size and `width`, the stored vector width, must be that size's
 * hidden or MLP width.
 */
export function paperModelSize(model: ModelRef, width?: number): PaperSize | undefined {
  const c = model.config;
  if (c && Object.keys(c).length) {
    if (c['model_type'] !== 'llama' || c['vocab_size'] !== 32000 || c['max_position_embeddings'] !== 4096)
      return undefined;
    const heads = c['num_attention_heads'];
    const got = [
      c['hidden_size'],
      c['num_hidden_layers'],
      c['intermediate_size'],
      heads,
      c['num_key_value_heads'] ?? heads,
    ];
    return (Object.keys(SHAPES) as PaperSize[]).find((s) => SHAPES[s].every((v, i) => got[i] === v));
  }
  const m = ID_PATTERN.exec(model.id);
  if (!m) return undefined;
  const size = `${m[1]}b` as PaperSize;
  const [hidden, , mlp] = SHAPES[size];
  return width === hidden || width === mlp ? size : undefined;
}
