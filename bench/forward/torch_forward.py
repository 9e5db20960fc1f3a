#!/usr/bin/env python3
"""PyTorch side of bench/forward: writes a random Llama-shaped checkpoint and times a float32 forward.

  /usr/bin/python3 bench/forward/torch_forward.py OUT_DIR LAYERS D HEADS KV_HEADS MLP VOCAB BATCH SEQ [REPEATS]

Writes OUT_DIR/config.json + model.safetensors (bf16 when the model is large, else f32; tied embeddings) and prints
one JSON line: {"tokens_per_s": ..., "seconds": [...]} for BATCH x SEQ tokens with every layer's residual stream
captured (as output_hidden_states does). The forward is a plain batched implementation of transformers' Llama
(RMSNorm, rotary, grouped-query attention, SiLU-gated MLP) in torch float32 under no_grad, 2 threads.
"""
import json, math, os, struct, sys, time
import torch
from llama_block import causal_mask, rms, rope_tables, rot

out, L, d, H, KV, m, V, B, T = sys.argv[1], *map(int, sys.argv[2:10])
repeats = int(sys.argv[10]) if len(sys.argv) > 10 else 3
torch.set_num_threads(os.cpu_count() or 2)
hd = d // H
g = torch.Generator().manual_seed(0)
big = L * (4 * d * d + 3 * d * m) > 200_000_000
dtype = "BF16" if big else "F32"


def rnd(*shape, std=0.02):
    return (torch.randn(*shape, generator=g) * std).to(torch.bfloat16 if big else torch.float32).float()


W = {"model.embed_tokens.weight": rnd(V, d, std=1.0), "model.norm.weight": 1 + rnd(d, std=0.1)}
for l in range(L):
    p = f"model.layers.{l}."
    W[p + "input_layernorm.weight"] = 1 + rnd(d, std=0.1)
    W[p + "post_attention_layernorm.weight"] = 1 + rnd(d, std=0.1)
    W[p + "self_attn.q_proj.weight"] = rnd(H * hd, d)
    W[p + "self_attn.k_proj.weight"] = rnd(KV * hd, d)
    W[p + "self_attn.v_proj.weight"] = rnd(KV * hd, d)
    W[p + "self_attn.o_proj.weight"] = rnd(d, H * hd)
    W[p + "mlp.gate_proj.weight"] = rnd(m, d)
    W[p + "mlp.up_proj.weight"] = rnd(m, d)
    W[p + "mlp.down_proj.weight"] = rnd(d, m)

os.makedirs(out, exist_ok=True)
cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": d, "num_attention_heads": H,
       "num_key_value_heads": KV, "num_hidden_layers": L, "intermediate_size": m, "vocab_size": V,
       "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": True,
       "max_position_embeddings": 2048, "torch_dtype": "bfloat16" if big else "float32"}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"))
header, offset = {}, 0
for k, t in W.items():
    n = t.numel() * (2 if big else 4)
    header[k] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + n]}
    offset += n
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)))
    f.write(h)
    for t in W.values():
        f.write((t.to(torch.bfloat16).view(torch.int16) if big else t).contiguous().numpy().tobytes())

cos, sin = rope_tables(10000.0, hd, T)
mask = causal_mask(T)


def forward(ids):
    x = W["model.embed_tokens.weight"][ids]
    hidden = [x]
    for l in range(L):
        p = f"model.layers.{l}."
        hn = rms(x, W[p + "input_layernorm.weight"])
        q = (hn @ W[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
        k = (hn @ W[p + "self_attn.k_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        v = (hn @ W[p + "self_attn.v_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, -1) @ v
        x = x + a.transpose(1, 2).reshape(B, T, d) @ W[p + "self_attn.o_proj.weight"].T
        hn = rms(x, W[p + "post_attention_layernorm.weight"])
        gate = hn @ W[p + "mlp.gate_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * (hn @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
        hidden.append(x)
    return hidden


ids = torch.randint(0, V, (B, T), generator=g)
secs = []
with torch.no_grad():
    forward(ids)  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        hs = forward(ids)
        secs.append(time.perf_counter() - t0)
# PyTorch's own GEMM rate at the forward's largest product ([B·T, d] x [d, d_mlp], as hn @ W.T computes it): the
# reference's roofline, to set beside onnxruntime's.
a, w = torch.randn(B * T, d, generator=g), torch.randn(m, d, generator=g)
a @ w.T
gemm = []
for _ in range(3):
    t0 = time.perf_counter()
    a @ w.T
    gemm.append(time.perf_counter() - t0)
print(json.dumps({"tokens_per_s": B * T / min(secs), "seconds": secs, "torch": torch.__version__, "dtype": dtype,
                  "gemm_gflops": 2 * B * T * d * m / min(gemm) / 1e9}))
