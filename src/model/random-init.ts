/**
 * Random-init twin (docs/controls.md#random-init): the model's own architecture and tokenizer with freshly
 * initialised weights, built from config.json alone (no weight file is read or downloaded). The weights follow the
 * `_init_weights` of the family's Hugging Face implementation (transformers 4.4x, modeling_<family>.py):
 *   - every nn.Linear / GPT-2 Conv1D weight and every nn.Embedding: normal(0, initializer_range) (default 0.02);
 *     an Embedding's padding_idx row (Llama/Mistral/Qwen2: config.pad_token_id) is zero;
 *   - GPT-2 only: the residual projections `c_proj.weight` (attention and MLP) get normal(0, initializer_range /
 *     √(2·n_layer)) (GPT2PreTrainedModel._init_weights, "the OpenAI GPT-2 paper scheme");
 *   - biases 0; LayerNorm / RMSNorm weights 1 (LayerNorm biases 0);
 *   - a tied head shares the embedding; which biases and heads exist follows the config as Hugging Face builds the
 *     module (attention_bias, mlp_bias, tie_word_embeddings, Qwen2's q/k/v biases, GPT-NeoX's biases).
 * Each tensor is drawn from its own seeded stream (seed, tensor name), so a tensor does not depend on read order.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { SafetensorsDtype } from '../formats/safetensors.js';
import { UserError } from '../util/errors.js';
import { Gaussian } from '../util/gaussian.js';
import { modelSpec } from './architectures/index.js';
import { type EngineOptions, HookedModel } from './hooked-model.js';
import type { ModelSpec, MoeNames, MoeSpec, WeightSource } from './spec.js';
import { type LoadTokenizerOptions, loadTokenizer } from './tokenizer.js';

export const RANDOM_INIT = 'random-init';
const DEFAULT_INITIALIZER_RANGE = 0.02;

/** How one tensor is initialised. */
export type InitRule =
  | { kind: 'normal'; std: number; zeroRow?: number }
  | { kind: 'constant'; value: number };

/** Which optional tensors Hugging Face's module for this config has (biases, an untied head, GPT-2's prefix). */
function hfHas(config: Record<string, unknown>): (name: string) => boolean {
  const type = String(config['model_type']);
  const flag = (key: string, fallback: boolean) =>
    typeof config[key] === 'boolean' ? (config[key] as boolean) : fallback;
  const tied = flag('tie_word_embeddings', type === 'gpt2');
  switch (type) {
    case 'llama':
    case 'mistral':
    case 'qwen2': {
      const attnBias = type === 'llama' && flag('attention_bias', false);
      const mlpBias = type === 'llama' && flag('mlp_bias', false);
      return (name) => {
        if (name === 'lm_head.weight') return !tied;
        if (/self_attn\.[qkv]_proj\.bias$/.test(name)) return type === 'qwen2' || attnBias;
        if (/self_attn\.o_proj\.bias$/.test(name)) return attnBias;
        if (/mlp\.\w+_proj\.bias$/.test(name)) return mlpBias;
        return false;
      };
    }
    case 'gpt_neox': {
      const attnBias = flag('attention_bias', true);
      return (name) => {
        if (name === 'embed_out.weight') return !tied;
        if (/attention\.(query_key_value|dense)\.bias$/.test(name)) return attnBias;
        return /mlp\.dense_(h_to_4h|4h_to_h)\.bias$/.test(name);
      };
    }
    case 'gpt2':
      return (name) => name === 'transformer.wte.weight' || (name === 'lm_head.weight' && !tied);
    case 'qwen3':
    case 'phi3':
    case 'olmo2':
    case 'olmo3':
    case 'olmo':
    case 'olmoe':
    case 'mixtral':
    case 'qwen3_moe':
    case 'qwen2_moe':
    case 'granite':
    case 'smollm3':
    case 'gemma':
    case 'gemma2':
    case 'gemma3_text':
    case 'gemma3': {
      // Gemma's and SmolLM3's configs tie the head by default, the others do not; attention_bias adds attention
      // biases (Qwen2-MoE: qkv_bias, default true), mlp_bias MLP biases (Granite, SmolLM3). Gemma 3 multimodal:
      // the text tower in transformers 5's layout (model.language_model.*, lm_head.weight); no vision tower.
      const text = type === 'gemma3' ? ((config['text_config'] ?? {}) as Record<string, unknown>) : config;
      const tiedHead = flag('tie_word_embeddings', type.startsWith('gemma') || type === 'smollm3');
      const attnBias = flag('attention_bias', false);
      const qkvBias = type === 'qwen2_moe' && flag('qkv_bias', true);
      const mlpBias = (type === 'granite' || type === 'smollm3') && flag('mlp_bias', false);
      return (name) => {
        if (name === 'lm_head.weight')
          return !(type === 'gemma3' ? (text['tie_word_embeddings'] ?? true) : tiedHead);
        if (/self_attn\.[qkv]_proj\.bias$/.test(name) && qkvBias) return true;
        if (/mlp\.\w+_proj\.bias$/.test(name)) return mlpBias;
        return /self_attn\.\w+_proj\.bias$/.test(name) && attnBias;
      };
    }
    default:
      return () => false; // modelSpec names the supported families
  }
}

interface TensorPlan {
  shape: number[];
  rule: InitRule;
}

/** Every tensor of the spec with its shape and init rule. */
export function randomInitPlan(spec: ModelSpec, config: Record<string, unknown>): Map<string, TensorPlan> {
  const std =
    typeof config['initializer_range'] === 'number' ? config['initializer_range'] : DEFAULT_INITIALIZER_RANGE;
  const { dModel: d, nHeads: H, nKvHeads: KV, headDim: hd, dMlp: m, vocabSize: V } = spec;
  const plan = new Map<string, TensorPlan>();
  const zeros = { kind: 'constant', value: 0 } as const;
  // A norm's identity weight: 1, or 0 where RMSNorm multiplies by (1 + weight) (Gemma's init is zeros).
  const normWeight = spec.normPlusOne ? zeros : ({ kind: 'constant', value: 1 } as const);
  const normal = { kind: 'normal', std } as const;
  /** nn.Linear(in, out) is stored [out, in]; GPT-2's Conv1D(out, in) [in, out]. */
  const lin = (out: number, inp: number) => (spec.linear === 'out_in' ? [out, inp] : [inp, out]);
  const put = (name: string | undefined, shape: number[], rule: InitRule) => {
    if (name) plan.set(name, { shape, rule });
  };
  const pad = config['pad_token_id'];
  const paddingRow =
    PADDING_ROW_FAMILIES.includes(spec.modelType) && typeof pad === 'number' && pad >= 0 && pad < V
      ? pad
      : undefined;
  put(spec.names.embed, [V, d], paddingRow === undefined ? normal : { ...normal, zeroRow: paddingRow });
  put(spec.names.posEmbed, [spec.maxPositions ?? 0, d], normal);
  put(spec.names.finalNorm, [d], normWeight);
  put(spec.names.finalNormBias, [d], zeros);
  if (!spec.tiedEmbeddings) put(spec.names.unembed, [V, d], normal);
  put(spec.names.unembedBias, [V], zeros);
  const residual =
    spec.modelType === 'gpt2'
      ? ({ kind: 'normal', std: std / Math.sqrt(2 * spec.nLayers) } as const)
      : normal;
  for (let l = 0; l < spec.nLayers; l++) {
    const n = spec.names.layer(l);
    put(n.ln1, [d], normWeight);
    put(n.ln1Bias, [d], zeros);
    put(n.ln2, [d], normWeight);
    put(n.ln2Bias, [d], zeros);
    put(n.postAttnNorm, [d], normWeight);
    put(n.postMlpNorm, [d], normWeight);
    put(n.qNorm, [spec.qkNorm === 'full' ? H * hd : hd], normWeight);
    put(n.kNorm, [spec.qkNorm === 'full' ? KV * hd : hd], normWeight);
    put(n.q, lin(H * hd, d), normal);
    put(n.k, lin(KV * hd, d), normal);
    put(n.v, lin(KV * hd, d), normal);
    put(n.qBias, [H * hd], zeros);
    put(n.kBias, [KV * hd], zeros);
    put(n.vBias, [KV * hd], zeros);
    const qkvOut = spec.qkv === 'gpt2' ? 3 * d : (H + 2 * KV) * hd;
    put(n.qkv, lin(qkvOut, d), normal);
    put(n.qkvBias, [qkvOut], zeros);
    put(n.o, lin(d, H * hd), residual);
    put(n.oBias, [d], zeros);
    put(n.gate, lin(m, d), normal);
    put(n.gateBias, [m], zeros);
    put(n.gateUp, lin(2 * m, d), normal);
    put(n.up, lin(m, d), normal);
    put(n.upBias, [m], zeros);
    put(n.down, lin(d, m), residual);
    put(n.downBias, [d], zeros);
    if (n.moe && spec.moe) putExperts(put, n.moe, spec.moe, d, normal);
  }
  return plan;
}

/** Families whose embedding zeroes config.pad_token_id's row (LlamaPreTrainedModel._init_weights' padding_idx). */
const PADDING_ROW_FAMILIES = [
  'llama',
  'mistral',
  'qwen2',
  'mixtral',
  'qwen2_moe',
  'qwen3_moe',
  'olmoe',
  'olmo',
  'granite',
  'smollm3',
];

/** A sparse layer's router, experts and shared expert: nn.Linear weights, normal(0, initializer_range). */
function putExperts(
  put: (name: string | undefined, shape: number[], rule: InitRule) => void,
  n: MoeNames,
  moe: MoeSpec,
  d: number,
  normal: InitRule,
): void {
  const m = moe.dExpert;
  put(n.router, [moe.nExperts, d], normal);
  if (n.fused) {
    put(n.fused.gateUp, [moe.nExperts, 2 * m, d], normal);
    put(n.fused.down, [moe.nExperts, d, m], normal);
  }
  for (let e = 0; n.expert && e < moe.nExperts; e++) {
    const x = n.expert(e);
    put(x.gate, [m, d], normal);
    put(x.up, [m, d], normal);
    put(x.down, [d, m], normal);
  }
  if (n.shared && moe.dShared) {
    const s = moe.dShared;
    put(n.shared.gate, [s, d], normal);
    put(n.shared.up, [s, d], normal);
    put(n.shared.down, [d, s], normal);
    put(n.shared.gateWeight, [1, d], normal);
  }
}

/** Draws one tensor (f32) by its rule from the stream (seed, name). */
export function drawTensor(name: string, t: TensorPlan, seed: number): Float32Array {
  const size = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  if (t.rule.kind === 'constant') return out.fill(t.rule.value);
  new Gaussian(seed, name).fill(out, t.rule.std);
  if (t.rule.zeroRow !== undefined) {
    const w = t.shape[1]!;
    out.fill(0, t.rule.zeroRow * w, (t.rule.zeroRow + 1) * w);
  }
  return out;
}

/** A WeightSource that draws every tensor on request instead of reading a checkpoint. */
export function randomInitSource(dir: string, config: Record<string, unknown>, seed: number) {
  const spec = modelSpec(config, hfHas(config));
  const plan = randomInitPlan(spec, config);
  const source: WeightSource = {
    dir,
    config,
    tensorNames: [...plan.keys()],
    has: (name) => plan.has(name),
    info(name) {
      const t = plan.get(name);
      if (!t) throw new UserError(`random-init ${dir}: no tensor named '${name}'`);
      return { dtype: 'F32' as SafetensorsDtype, shape: [...t.shape] };
    },
    readFloat32: async (name) => {
      const t = plan.get(name);
      if (!t) throw new UserError(`random-init ${dir}: no tensor named '${name}'`);
      return drawTensor(name, t, seed);
    },
  };
  return { spec, plan, source };
}

/**
 * The random-init twin of a local model directory: config.json (and tokenizer.json, for extraction) are all it
 * reads; weight files, if any, are ignored.
 */
export async function loadRandomInitModel(
  dir: string,
  options: EngineOptions & { seed?: number; bos?: LoadTokenizerOptions['bos'] } = {},
): Promise<HookedModel> {
  const root = resolve(dir);
  const configPath = join(root, 'config.json');
  if (!existsSync(configPath)) {
    throw new UserError(
      `--control random-init needs the model's config.json in a local directory; ${dir} has none ` +
        '(download the config and tokenizer files only, or run the real model once so that they are cached)',
    );
  }
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new UserError(`${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  const { spec, source } = randomInitSource(root, config, options.seed ?? 0);
  const tokenizer = existsSync(join(root, 'tokenizer.json'))
    ? await loadTokenizer(root, options.bos !== undefined ? { bos: options.bos } : {})
    : undefined;
  const { seed: _s, bos: _b, ...engine } = options;
  return new HookedModel(spec, source, tokenizer, engine);
}
