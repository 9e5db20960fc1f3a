#!/usr/bin/env python3
"""Writes a random Llama-2-7B-shaped bf16 checkpoint (32 layers, d 4096, MLP 11008, vocab 32000; ~13.5 GB)
tensor by tensor (bounded memory; random bf16 bit patterns, fast: the values do not matter for memory), as 3 shards + model.safetensors.index.json, like the real one.

  /usr/bin/python3 bench/forward/make_llama7b_bf16.py OUT_DIR [LAYERS]
"""
import json, os, struct, sys
import numpy as np

out = sys.argv[1]
L = int(sys.argv[2]) if len(sys.argv) > 2 else 32
d, m, V, H = 4096, 11008, 32000, 32
rng = np.random.default_rng(0)
os.makedirs(out, exist_ok=True)
shapes = {"model.embed_tokens.weight": [V, d]}
for l in range(L):
    p = f"model.layers.{l}."
    shapes[p + "input_layernorm.weight"] = [d]
    for n in ("q", "k", "v", "o"):
        shapes[p + f"self_attn.{n}_proj.weight"] = [d, d]
    shapes[p + "mlp.gate_proj.weight"] = [m, d]
    shapes[p + "mlp.up_proj.weight"] = [m, d]
    shapes[p + "mlp.down_proj.weight"] = [d, m]
    shapes[p + "post_attention_layernorm.weight"] = [d]
shapes["model.norm.weight"] = [d]
shapes["lm_head.weight"] = [V, d]
names = list(shapes)
shards = [names[i::3] for i in range(3)]
shards = [sorted(s, key=names.index) for s in shards]
weight_map = {}
for si, part in enumerate(shards):
    fn = f"model-{si + 1:05d}-of-00003.safetensors"
    header, off = {}, 0
    for n in part:
        size = 2
        for s in shapes[n]:
            size *= s
        header[n] = {"dtype": "BF16", "shape": shapes[n], "data_offsets": [off, off + size]}
        off += size
        weight_map[n] = fn
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, fn), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for n in part:
            shape = shapes[n]
            count = int(np.prod(shape))
            if len(shape) == 1:  # norm weights: 1 + small noise, as bf16 bit patterns 0x3F80 | random low mantissa
                bits = 0x3F80 | (rng.integers(0, 16, count, dtype=np.uint16))
            else:  # random sign, exponent 2^-7 or 2^-6, random mantissa: |w| in [0.0078, 0.031), never inf/NaN
                bits = (rng.integers(0, 65536, count, dtype=np.uint16) & 0x80FF) | 0x3C00
            bits.astype("<u2").tofile(f)
            del bits
json.dump({"metadata": {}, "weight_map": weight_map}, open(os.path.join(out, "model.safetensors.index.json"), "w"))
json.dump({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": d, "num_attention_heads": H,
           "num_key_value_heads": H, "num_hidden_layers": L, "intermediate_size": m, "vocab_size": V,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "max_position_embeddings": 4096,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16"}, open(os.path.join(out, "config.json"), "w"))
print("wrote", out)
