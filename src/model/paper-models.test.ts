import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PAPER_SHAPE_KEYS, paperModelSize, paperShapeOf } from './paper-models.js';

/** config.json fields as published on the Hugging Face Hub (the paper's models and their look-alikes). */
const llama2 = (hidden: number, layers: number, mlp: number, heads: number, kv: number) => ({
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: hidden,
  num_hidden_layers: layers,
  intermediate_size: mlp,
  num_attention_heads: heads,
  num_key_value_heads: kv,
  vocab_size: 32000,
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-5,
});
const CONFIGS: Record<string, Record<string, unknown>> = {
  'meta-llama/Llama-2-7b-hf': llama2(4096, 32, 11008, 32, 32),
  'meta-llama/Llama-2-13b-hf': llama2(5120, 40, 13824, 40, 40),
  'meta-llama/Llama-2-70b-hf': llama2(8192, 80, 28672, 64, 8),
  // Llama-1: the 7B shapes, 2048 positions, no num_key_value_heads
  'huggyllama/llama-7b': (({ num_key_value_heads: _, ...c }) => ({ ...c, max_position_embeddings: 2048 }))(
    llama2(4096, 32, 11008, 32, 32),
  ),
  'codellama/CodeLlama-7b-hf': {
    ...llama2(4096, 32, 11008, 32, 32),
    vocab_size: 32016,
    max_position_embeddings: 16384,
  },
  'mistralai/Mistral-7B-v0.1': {
    ...llama2(4096, 32, 14336, 32, 8),
    model_type: 'mistral',
    max_position_embeddings: 32768,
  },
  'HuggingFaceTB/SmolLM2-135M': {
    model_type: 'llama',
    hidden_size: 576,
    num_hidden_layers: 30,
    intermediate_size: 1536,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    vocab_size: 49152,
    max_position_embeddings: 8192,
  },
};

test("config.json shapes decide the paper's model, whatever the folder is called", () => {
  const size = (id: string, config = CONFIGS[id]) => paperModelSize({ id, config: paperShapeOf(config!) });
  assert.equal(size('meta-llama/Llama-2-7b-hf'), '7b');
  assert.equal(size('meta-llama/Llama-2-13b-hf'), '13b');
  assert.equal(size('meta-llama/Llama-2-70b-hf'), '70b');
  // Look-alikes: same widths, other models.
  assert.equal(size('huggyllama/llama-7b'), undefined);
  assert.equal(size('codellama/CodeLlama-7b-hf'), undefined);
  assert.equal(size('mistralai/Mistral-7B-v0.1'), undefined);
  // The name is not asked when the shapes are known (the old regexes said 7b here, and nothing for /models/l2).
  assert.equal(size('/models/llama-2-7b', CONFIGS['HuggingFaceTB/SmolLM2-135M']), undefined);
  assert.equal(size('/models/l2', CONFIGS['meta-llama/Llama-2-13b-hf']), '13b');
  // num_key_value_heads defaults to the head count, as in transformers.
  const { num_key_value_heads: _, ...noKv } = CONFIGS['meta-llama/Llama-2-7b-hf']!;
  assert.equal(size('x', noKv), '7b');
  assert.deepEqual(Object.keys(paperShapeOf(CONFIGS['meta-llama/Llama-2-7b-hf']!)), [...PAPER_SHAPE_KEYS]);
});

test('without recorded shapes the id must name the size and the stored width must be that size’s', () => {
  assert.equal(paperModelSize({ id: 'meta-llama/Llama-2-13b-hf' }, 5120), '13b');
  assert.equal(paperModelSize({ id: 'llama2_70b' }, 8192), '70b');
  assert.equal(paperModelSize({ id: 'Llama-2-7b-hf' }, 11008), '7b', 'an MLP hook store');
  assert.equal(paperModelSize({ id: 'Llama-2-7b-hf' }, 576), undefined, 'a small model under a Llama-2 name');
  assert.equal(paperModelSize({ id: 'Llama-2-7b-hf' }), undefined);
  assert.equal(paperModelSize({ id: 'HuggingFaceTB/SmolLM2-135M' }, 4096), undefined);
});
