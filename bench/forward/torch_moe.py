#!/usr/bin/env python3
"""PyTorch side of bench/forward/moe.ts: writes a random Mixtral-shaped bf16 checkpoint and times a float32 forward
with the same routing as transformers' MixtralSparseMoeBlock.

  /usr/bin/python3 bench/forward/torch_moe.py OUT_DIR LAYERS BATCH SEQ [REPEATS]

Shape: Mixtral-8x7B's (d 4096, 32 heads / 8 kv heads, 8 experts of 14336, top 2, vocab 32000), LAYERS layers.
Weights are random bf16 bit patterns (|w| in [0.0078, 0.031), as make_llama7b_bf16.py; routers a little wider so the
routing is not uniform), written to OUT_DIR as a sharded checkpoint the engine loads. The forward (float32 weights,
no_grad, all CPU threads): RMSNorm, rotary (theta 1e6), grouped-query attention, then per layer
p = softmax(router(h)) in float32, top-2, renormalised, and for each expert with tokens the gathered tokens'
SiLU-gated MLP added back with index_add_ (transformers' loop over expert_hit). Prints one JSON line:
{"tokens_per_s", "seconds", "torch", "threads"}; writes OUT_DIR/torch_resid_post.npy (last layer, [B*T, d]) and
OUT_DIR/torch_indices.npy ([LAYERS, B*T, 2], float32) so the bench can compare the two engines' numbers and routing.
"""
import json, math, os, struct, sys, time
import numpy as np
import torch
from llama_block import causal_mask, rms, rope_tables, rot

out, L, B, T = sys.argv[1], *map(int, sys.argv[2:5])
repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
torch.set_num_threads(os.cpu_count() or 2)
d, H, KV, m, E, K, V = 4096, 32, 8, 14336, 8, 2, 32000
hd = d // H
rng = np.random.default_rng(0)
os.makedirs(out, exist_ok=True)

shapes = {"model.embed_tokens.weight": [V, d]}
for l in range(L):
    p = f"model.layers.{l}."
    shapes[p + "input_layernorm.weight"] = [d]
    shapes[p + "self_attn.q_proj.weight"] = [H * hd, d]
    shapes[p + "self_attn.k_proj.weight"] = [KV * hd, d]
    shapes[p + "self_attn.v_proj.weight"] = [KV * hd, d]
    shapes[p + "self_attn.o_proj.weight"] = [d, H * hd]
    shapes[p + "post_attention_layernorm.weight"] = [d]
    shapes[p + "block_sparse_moe.gate.weight"] = [E, d]
    for e in range(E):
        q = f"{p}block_sparse_moe.experts.{e}."
        shapes[q + "w1.weight"] = [m, d]
        shapes[q + "w2.weight"] = [d, m]
        shapes[q + "w3.weight"] = [m, d]
shapes["model.norm.weight"] = [d]
shapes["lm_head.weight"] = [V, d]

W = {}
names = list(shapes)
shards = [names[i::4] for i in range(4)]
weight_map = {}
for si, part in enumerate(shards):
    fn = f"model-{si + 1:05d}-of-00004.safetensors"
    header, off = {}, 0
    for n in part:
        size = 2 * int(np.prod(shapes[n]))
        header[n] = {"dtype": "BF16", "shape": shapes[n], "data_offsets": [off, off + size]}
        off += size
        weight_map[n] = fn
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, fn), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for n in part:
            count = int(np.prod(shapes[n]))
            if len(shapes[n]) == 1:  # norm weights: 1 + small noise
                bits = (0x3F80 | rng.integers(0, 16, count, dtype=np.uint16)).astype(np.uint16)
            elif n.endswith("gate.weight") and "experts" not in n:  # routers: |w| in [0.03, 0.125)
                bits = (rng.integers(0, 65536, count, dtype=np.uint16) & 0x80FF) | 0x3D00
            else:  # random sign, |w| in [0.0078, 0.031), never inf/NaN
                bits = (rng.integers(0, 65536, count, dtype=np.uint16) & 0x80FF) | 0x3C00
            bits.astype("<u2").tofile(f)
            # float32 copy for the PyTorch forward: bf16 bits in the high half of each word.
            W[n] = torch.from_numpy((bits.astype(np.uint32) << 16).view(np.float32).reshape(shapes[n]).copy())
            del bits
json.dump({"metadata": {}, "weight_map": weight_map}, open(os.path.join(out, "model.safetensors.index.json"), "w"))
json.dump({"model_type": "mixtral", "architectures": ["MixtralForCausalLM"], "hidden_size": d,
           "num_attention_heads": H, "num_key_value_heads": KV, "num_hidden_layers": L, "intermediate_size": m,
           "num_local_experts": E, "num_experts_per_tok": K, "vocab_size": V, "rms_norm_eps": 1e-5,
           "rope_theta": 1e6, "hidden_act": "silu", "max_position_embeddings": 32768, "sliding_window": None,
           "tie_word_embeddings": False, "torch_dtype": "bfloat16"}, open(os.path.join(out, "config.json"), "w"))

cos, sin = rope_tables(1e6, hd, T)
mask = causal_mask(T)


def forward(ids):
    x = W["model.embed_tokens.weight"][ids]
    chosen = []
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
        h = rms(x, W[p + "post_attention_layernorm.weight"]).view(-1, d)
        probs = torch.softmax(h @ W[p + "block_sparse_moe.gate.weight"].T, dim=-1, dtype=torch.float)
        weights, experts = torch.topk(probs, K, dim=-1)
        weights = weights / weights.sum(-1, keepdim=True)
        chosen.append(experts)
        y = torch.zeros_like(h)
        hit = torch.nn.functional.one_hot(experts, E).permute(2, 1, 0)  # [E, K, N]
        for e in torch.nonzero(hit.sum((-1, -2)) > 0).flatten().tolist():
            slot, rows = torch.where(hit[e])
            q_ = f"{p}block_sparse_moe.experts.{e}."
            xe = h[rows]
            ye = (torch.nn.functional.silu(xe @ W[q_ + "w1.weight"].T) * (xe @ W[q_ + "w3.weight"].T)) @ W[q_ + "w2.weight"].T
            y.index_add_(0, rows, ye * weights[rows, slot, None])
        x = x + y.view(B, T, d)
    return x, torch.stack(chosen)


ids = torch.from_numpy(np.array([[(i * 7919 + t * 104729) % V for t in range(T)] for i in range(B)]))
secs = []
with torch.no_grad():
    forward(ids)  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        resid, indices = forward(ids)
        secs.append(time.perf_counter() - t0)
np.save(os.path.join(out, "torch_resid_post.npy"), resid.reshape(-1, d).numpy())
np.save(os.path.join(out, "torch_indices.npy"), indices.numpy().astype(np.float32))
from threadpoolctl import threadpool_info  # noqa: E402

blas = [f"{i.get('internal_api')} {i.get('architecture')} x{i.get('num_threads')}" for i in threadpool_info()]
print(json.dumps({"tokens_per_s": B * T / min(secs), "seconds": secs, "torch": torch.__version__,
                  "threads": torch.get_num_threads(), "blas": blas,
                  "openblas_env": {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}}))
