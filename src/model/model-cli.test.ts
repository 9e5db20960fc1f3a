/** `spacetime-lens model info` on the golden fixtures (numbers from reference/engine_make_goldens.py's configs). */

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCliCaptured } from '../cli/testing.js';
import { modelSpec } from './architectures/index.js';
import { FIXTURES } from './engine.test-util.js';
import { layerBytes } from './hooked-model.js';
import { estimateExtractionMemory } from './info.js';

const capture = runCliCaptured;

test('model info reports architecture, sizes and parameters', async () => {
  const { code, out } = await capture([
    'model',
    'info',
    join(FIXTURES, 'llama-gqa-tied-bf16-sharded'),
    '--json',
  ]);
  assert.equal(code, 0);
  const info = JSON.parse(out);
  assert.equal(info.modelType, 'llama');
  assert.equal(info.layers, 2);
  assert.equal(info.width, 32);
  assert.equal(info.heads, 4);
  assert.equal(info.kvHeads, 2);
  assert.equal(info.mlpWidth, 48);
  assert.equal(info.vocab, 80);
  // embed 80·32 + per layer (2·32 norms + 32·32 q + 2·16·32 k,v + 32·32 o + 3·48·32 mlp) ·2 + 32 final norm
  assert.equal(info.parameters, 80 * 32 + 2 * (64 + 1024 + 1024 + 1024 + 4608) + 32);
  assert.equal(info.weightDtype, 'BF16');
  assert.equal(info.tiedEmbeddings, true);
  const text = await capture(['model', 'info', join(FIXTURES, 'pythia-parallel-f16')]);
  assert.match(text.out, /gpt_neox \(parallel residual\)/);
  assert.match(text.out, /rotary on 4\/16 dims per head/);
  // GPT-2's legacy attn.bias / masked_bias buffers are not parameters (reference/engine_make_goldens.py: 28544).
  const gpt2 = JSON.parse(
    (await capture(['model', 'info', join(FIXTURES, 'gpt2-legacy-f32'), '--json'])).out,
  );
  const d = 32;
  const perLayer = 4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d);
  assert.equal(gpt2.parameters, 80 * d + 16 * d + 2 * perLayer + 2 * d);
});

test('model info: a missing directory is a user error (exit 1)', async () => {
  const missing = await capture(['model', 'info', '/nonexistent/model-dir']);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no model directory/);
});

test('memory estimate for a Llama-2-7B shape streams one block', () => {
  const spec = modelSpec(
    {
      model_type: 'llama',
      hidden_size: 4096,
      num_attention_heads: 32,
      num_hidden_layers: 32,
      intermediate_size: 11008,
      vocab_size: 32000,
      rms_norm_eps: 1e-5,
    },
    (name) => !name.endsWith('.bias'), // Llama-2 has lm_head and no biases
  );
  assert.equal(layerBytes(spec), 4 * (4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096));
  const { total, breakdown } = estimateExtractionMemory(spec, 2);
  assert.equal(breakdown.blockWeights, layerBytes(spec));
  assert.equal(breakdown.embedding, 32000 * 4096 * 4);
  assert.equal(
    total,
    Object.values(breakdown).reduce((a, b) => a + b, 0),
  );
  // The measured peak for 32 prompts x 16 tokens was 2.39 GiB (bench/README.md) with an engine that also held a
  // 0.52 GiB concatenated copy of q/k/v and gate/up (gone since); the goal is <= 6 GB.
  const small = estimateExtractionMemory(spec, 2, { chunkTokens: 32 * 16 });
  assert.ok(small.total > 1.5 * 2 ** 30 && small.total < 2.5 * 2 ** 30, `${small.total}`);
  assert.ok(total < 6 * 2 ** 30, `${total}`);
});
