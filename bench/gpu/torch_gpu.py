#!/usr/bin/env python3
"""PyTorch CUDA side of bench/gpu: the extraction job that `spacetime-lens extract --device webgpu` just did, on
the same checkpoint, with the same token ids and kept positions (read from our store's entities.jsonl through
JOB.json), in four ways:

  manual-f32 / manual-bf16  a hand-written batched Llama forward (as bench/extract/torch_extract.py, on CUDA):
                            every block's output (resid_post) at the kept position, weights in that dtype;
  hf-f32 / hf-bf16          transformers' AutoModelForCausalLM(...)(input_ids, attention_mask,
                            output_hidden_states=True): hidden_states[l + 1] at the kept position. Its last entry has
                            the final norm applied (transformers does that), so the comparison skips the last layer.

  python3 bench/gpu/torch_gpu.py MODEL_DIR JOB.json OUT_DIR [BATCH] [VARIANTS]

Writes OUT_DIR/<variant>.npy ([layers, n, d] float32) and prints one JSON line per variant: load_s (weights to the
GPU), forward_s (all batches, synchronised), entities_per_s (n / forward_s), peak_gpu_bytes
(torch.cuda.max_memory_allocated over load + forward).
"""
import gc
import json
import math
import mmap
import os
import struct
import sys
import time

import numpy as np
import torch

model_dir, job_path, out_dir = sys.argv[1:4]
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 512
variants = sys.argv[5].split(",") if len(sys.argv) > 5 else ["manual-f32", "manual-bf16", "hf-f32", "hf-bf16"]
torch.set_grad_enabled(False)
# CUDA on the GPU machine; the CPU only for a smoke test of the manual path (peak memory then reads 0).
dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
cuda = dev.type == "cuda"
cfg = json.load(open(os.path.join(model_dir, "config.json")))
L, d, H = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
KV = cfg.get("num_key_value_heads", H)
hd, eps, theta = d // H, cfg["rms_norm_eps"], cfg.get("rope_theta", 10000.0)
job = json.load(open(job_path))
ids_all, positions = job["input_ids"], job["positions"]
N = len(ids_all)
os.makedirs(out_dir, exist_ok=True)


def sync():
    if cuda:
        torch.cuda.synchronize()


def batches():
    for start in range(0, N, batch):
        rows = ids_all[start : start + batch]
        B, T = len(rows), max(len(r) for r in rows)
        ids = torch.zeros((B, T), dtype=torch.long)
        mask = torch.zeros((B, T), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        yield start, B, T, ids.to(dev), mask.to(dev), torch.tensor(positions[start : start + B], device=dev)


ST_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def load_weights(dtype):
    """Safetensors read by hand (header JSON + raw little-endian data, mmap'ed), each tensor straight to the GPU."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    W = {}
    for f in files:
        with open(os.path.join(model_dir, f), "rb") as fh:
            n = struct.unpack("<Q", fh.read(8))[0]
            header = json.loads(fh.read(n))
            data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            src = ST_DTYPES[info["dtype"]]
            count = (b - a) // torch.tensor([], dtype=src).element_size()
            t = torch.frombuffer(data, dtype=src, count=count, offset=8 + n + a).reshape(info["shape"])
            W[name] = t.to(dev).to(dtype)
        del data
    return W


def manual(dtype):
    W = load_weights(dtype)
    sync()
    t_loaded = time.perf_counter()
    out = torch.zeros((L, N, d), dtype=torch.float32, device=dev)
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64, device=dev).float() / hd))

    def rms(x, w):
        xf = x.float()
        return (w.float() * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps))).to(dtype)

    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
        return torch.cat((-x2, x1), dim=-1)

    for start, B, T, ids, _mask, pos in batches():
        freqs = torch.outer(torch.arange(T, device=dev).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
        causal = torch.full((T, T), float("-inf"), device=dev).triu(1).to(dtype)
        x = W["model.embed_tokens.weight"][ids]
        for l in range(L):
            p = f"model.layers.{l}."
            h = rms(x, W[p + "input_layernorm.weight"])
            q = (h @ W[p + "self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
            k = (h @ W[p + "self_attn.k_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
            v = (h @ W[p + "self_attn.v_proj.weight"].T).view(B, T, KV, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
            att = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(hd) + causal, dim=-1)
            o = (att @ v).transpose(1, 2).reshape(B, T, d)
            x = x + o @ W[p + "self_attn.o_proj.weight"].T
            h = rms(x, W[p + "post_attention_layernorm.weight"])
            gate = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T)
            x = x + (gate * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
            out[l, start : start + B] = x[torch.arange(B, device=dev), pos].float()
    sync()
    t_done = time.perf_counter()
    del W
    return out, t_loaded, t_done, False


def hf(dtype):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(dev).eval()
    sync()
    t_loaded = time.perf_counter()
    out = torch.zeros((L, N, d), dtype=torch.float32, device=dev)
    for start, B, _T, ids, mask, pos in batches():
        hs = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False).hidden_states
        for l in range(L):
            out[l, start : start + B] = hs[l + 1][torch.arange(B, device=dev), pos].float()
    sync()
    t_done = time.perf_counter()
    del model
    return out, t_loaded, t_done, True


for variant in variants:
    impl, dt = variant.split("-")
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[dt]
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    out, t_loaded, t_done, last_normed = (manual if impl == "manual" else hf)(dtype)
    peak = torch.cuda.max_memory_allocated() if cuda else 0
    np.save(os.path.join(out_dir, f"{variant}.npy"), out.cpu().numpy())
    del out
    print(json.dumps({"variant": variant, "n": N, "batch": batch, "load_s": t_loaded - t0,
                      "forward_s": t_done - t_loaded, "entities_per_s": N / (t_done - t_loaded),
                      "peak_gpu_bytes": peak, "last_layer_normed": last_normed,
                      "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if cuda else "cpu"}), flush=True)
