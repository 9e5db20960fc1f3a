#!/usr/bin/env python3
"""PyTorch side of bench/extract: the same extraction job as `spacetime-lens extract`, done the way the authors'
save_activations.py does it (HF path), in torch float32 on the CPU.

  /usr/bin/python3 bench/extract/torch_extract.py MODEL_DIR JOB.json OUT.npy [BATCH]

MODEL_DIR: config.json + model.safetensors (F32 or BF16, Llama architecture, tied embeddings) written by the bench;
BF16 weights are widened to f32 exactly on load (ours does the same), so both sides compute in f32.
JOB.json: {"input_ids": [[...], ...], "positions": [...], "batches"?: [[row, ...], ...], "prefix"?: [P, ...]} - the
entities' token ids
(BOS + prompt + entity) and the kept position, exactly as our store recorded them (Python here has no Hugging Face
tokenizers library, so the tokenization is ours; it is < 1% of our run time), and the batches to run.
Forward: each batch right padded to its longest row, no attention mask (causal, as the paper), every layer's block
output (HF hidden_states[1:], here all before the final norm) gathered at the kept position. The bench passes our
engine's batches (length-sorted, the same rows together), so both sides do the same work; without "batches" the rows
go in dataset-order batches of BATCH (default 64), as the authors' save_activations.py does.
With "prefix" (one P per batch, 0 = none) a batch's rows share their first P tokens: the prefix goes through the
model once (cached per distinct prefix: once per chunk), its rotated keys and values are kept per layer, and the
batch runs only its rows' remaining tokens, attending to the prefix first - the engine's sharedPrefix, in PyTorch.
OUT.npy: [layers, n, d] float32. Prints one JSON line with the timings and the real and padded token counts.
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch

t_start = time.perf_counter()
model_dir, job_path, out_path = sys.argv[1:4]
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 64
torch.set_num_threads(os.cpu_count() or 2)
torch.set_grad_enabled(False)

cfg = json.load(open(os.path.join(model_dir, "config.json")))
L, d, H, KV = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
hd, eps, theta = d // H, cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)

# safetensors by hand (the safetensors package is not installed): header JSON + raw little-endian F32 or BF16.
with open(os.path.join(model_dir, "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
W = {}
for name, info in header.items():
    if name == "__metadata__":
        continue
    a, b = info["data_offsets"]
    if info["dtype"] == "BF16":  # bf16 is the top half of an f32: widen exactly by a 16-bit shift
        bits = np.frombuffer(data, dtype="<u2", count=(b - a) // 2, offset=a).astype(np.uint32) << 16
        W[name] = torch.from_numpy(bits.view(np.float32).reshape(info["shape"]))
    else:
        assert info["dtype"] == "F32", info["dtype"]
        W[name] = torch.from_numpy(np.frombuffer(data, dtype="<f4", count=(b - a) // 4, offset=a).reshape(info["shape"]))
del data

job = json.load(open(job_path))
ids_all, positions = job["input_ids"], job["positions"]
N = len(ids_all)
batches = job.get("batches") or [list(range(s, min(N, s + batch))) for s in range(0, N, batch)]
assert sorted(i for b in batches for i in b) == list(range(N)), "batches must cover every row once"
prefixes = job.get("prefix") or [0] * len(batches)
real_tokens = sum(len(r) for r in ids_all)
padded_tokens = sum(len(b) * (max(len(ids_all[i]) for i in b) - P) for b, P in zip(batches, prefixes))
t_loaded = time.perf_counter()


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
out = np.zeros((L, N, d), dtype=np.float32)
emb = W["model.embed_tokens.weight"]


def forward(ids, P, past, on_layer):
    """Every layer over ids [B, T] at positions P..P+T-1, after the prefix's keys/values `past` (or None);
    returns each layer's rotated keys and values [B, KV, T, hd]."""
    B, T = ids.shape
    freqs = torch.outer(torch.arange(P, P + T).float(), inv_freq)
    emb_rot = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb_rot.cos(), emb_rot.sin()
    mask = torch.cat((torch.zeros(T, P), torch.full((T, T), float("-inf")).triu(1)), dim=1)
    x = emb[ids]
    kv = []
    for l in range(L):
        p = f"model.layers.{l}."
        h = rms(x, W[p + "input_layernorm.weight"])
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        kv.append((k, v))
        if past is not None:
            k = torch.cat((past[l][0].expand(B, -1, -1, -1), k), dim=2)
            v = torch.cat((past[l][1].expand(B, -1, -1, -1), v), dim=2)
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(B, T, d)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"])
        gate = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T)
        x = x + (gate * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
        on_layer(l, x)
    return kv


prefix_kv = {}
for members, P in zip(batches, prefixes):
    rows = [ids_all[i] for i in members]
    past = None
    if P:
        key = tuple(rows[0][:P])
        if key not in prefix_kv:
            prefix_kv = {key: forward(torch.tensor([list(key)]), 0, None, lambda l, x: None)}
        past = prefix_kv[key]
        assert all(tuple(r[:P]) == key for r in rows), "a batch's rows must share its prefix"
    B, T = len(rows), max(len(r) for r in rows) - P
    ids = torch.full((B, T), 2, dtype=torch.long)  # pad = EOS, right padding
    for i, r in enumerate(rows):
        ids[i, : len(r) - P] = torch.tensor(r[P:])
    pos = torch.tensor([positions[i] - P for i in members])

    def keep(l, x):
        out[l, members] = x[torch.arange(B), pos].numpy()

    forward(ids, P, past, keep)
t_forward = time.perf_counter()
np.save(out_path, out)
t_end = time.perf_counter()
print(json.dumps({"n": N, "load_s": t_loaded - t_start, "forward_s": t_forward - t_loaded,
                  "save_s": t_end - t_forward, "total_s": t_end - t_start, "threads": torch.get_num_threads(),
                  "batches": len(batches), "real_tokens": real_tokens, "padded_tokens": padded_tokens}))
