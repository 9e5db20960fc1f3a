#!/usr/bin/env python3
"""Tiny random Hugging Face-style checkpoints + float64 PyTorch goldens for the engine tests.

Run by developers (not CI):  /usr/bin/python3 reference/engine_make_goldens.py [OUT_DIR]
Default OUT_DIR: test/fixtures/engine. Needs only torch (Debian python3-torch) and numpy.

For every model it writes OUT_DIR/<name>/: config.json, the weights (model.safetensors, or shards +
model.safetensors.index.json) in the checkpoint dtype, and golden.safetensors: float64 values computed by
the forward passes below from the *stored* (rounded) weights, for a few token sequences of different lengths
(ids in golden.json). Golden tensor names: "s{i}.{hook}" with hooks named as in TransformerLens:
hook_embed, blocks.{l}.hook_resid_pre, blocks.{l}.hook_resid_mid (sequential blocks only),
blocks.{l}.hook_resid_post, blocks.{l}.mlp.hook_post, blocks.{l}.hook_attn_out / hook_mlp_out (what the attention
and MLP sub-blocks add to the residual stream), ln_final.hook_normalized (= HF's last hidden state,
i.e. the final norm *with* its weight), logits.

The forward passes are written directly in torch float64 (transformers is not installed here) and follow the
semantics of transformers' modeling_llama / modeling_mistral / modeling_qwen2 / modeling_gpt_neox /
modeling_gpt2: rotate-half rotary with cos/sin = cat(freqs, freqs), repeat_kv (kv head = h // (H/KV)),
Llama-3 rope scaling, NeoX fused per-head [q|k|v] + partial rotary + parallel residual, GPT-2 Conv1D [in, out]
weights, fused c_attn split in thirds, learned positions and tanh GELU.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64}


# ----------------------------------------------------------------------------------------------- safetensors
def tensor_bytes(t: torch.Tensor, dtype: str) -> bytes:
    t = t.to(DTYPES[dtype]).contiguous()
    if dtype == "BF16":
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    if dtype == "F16":
        return t.numpy().astype("<f2").tobytes()
    if dtype == "F32":
        return t.numpy().astype("<f4").tobytes()
    return t.numpy().astype("<f8").tobytes()


def write_safetensors(path, tensors, dtype_of, metadata=None):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        dt = dtype_of(name)
        b = tensor_bytes(t, dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    header["__metadata__"] = metadata or {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rounded(t: torch.Tensor, dtype: str) -> torch.Tensor:
    """The value the engine will see after reading the stored tensor."""
    return t.to(DTYPES[dtype]).to(torch.float64)


# ----------------------------------------------------------------------------------------------- pieces
def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def gelu_exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_tanh(x):  # transformers' NewGELUActivation ("gelu_new")
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def silu(x):
    return x * torch.sigmoid(x)


ACT = {"silu": silu, "gelu": gelu_exact, "gelu_new": gelu_tanh}


def default_inv_freq(dim, base):
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).to(torch.float64) / dim))


def llama3_inv_freq(inv_freq, rs):
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wl, high_wl = old / low, old / high
    wavelen = 2 * math.pi / inv_freq
    inv = torch.where(wavelen > low_wl, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * inv / factor + smooth * inv
    medium = ~(wavelen < high_wl) * ~(wavelen > low_wl)
    return torch.where(medium, smoothed, inv)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_cos_sin(inv_freq, T):
    t = torch.arange(T, dtype=torch.float64)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()  # [T, rot]


def apply_rope(x, cos, sin):  # x [H, T, rot]
    return x * cos + rotate_half(x) * sin


def attention(q, k, v, scale):
    """q [H, T, hd], k/v [KV, T, hd] -> [T, H*hd]; causal; repeat_kv for grouped-query attention."""
    H, T, hd = q.shape
    rep = H // k.shape[0]
    k = k.repeat_interleave(rep, dim=0)
    v = v.repeat_interleave(rep, dim=0)
    s = (q @ k.transpose(-1, -2)) * scale
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, dim=-1)
    return (p @ v).transpose(0, 1).reshape(T, H * hd)


def lin(x, W, b=None):  # HF nn.Linear: W [out, in]
    y = x @ W.T
    return y if b is None else y + b


# ----------------------------------------------------------------------------------------------- forwards
def forward_llama(cfg, W, ids, edit=None):
    """llama / mistral / qwen2 (q/k/v biases when present). `edit(hook, value)` may return a replacement."""
    edit = edit or (lambda name, value: value)
    L, d, H = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or d // H
    eps = cfg["rms_norm_eps"]
    inv = default_inv_freq(hd, cfg.get("rope_theta", 10000.0))
    rs = cfg.get("rope_scaling")
    if rs and rs.get("rope_type", rs.get("type")) == "llama3":
        inv = llama3_inv_freq(inv, rs)
    T = len(ids)
    cos, sin = rope_cos_sin(inv, T)
    out = {}
    x = W["model.embed_tokens.weight"][ids]
    out["hook_embed"] = x
    for l in range(L):
        p = f"model.layers.{l}."
        out[f"blocks.{l}.hook_resid_pre"] = x
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = lin(h, W[p + "self_attn.q_proj.weight"], W.get(p + "self_attn.q_proj.bias"))
        k = lin(h, W[p + "self_attn.k_proj.weight"], W.get(p + "self_attn.k_proj.bias"))
        v = lin(h, W[p + "self_attn.v_proj.weight"], W.get(p + "self_attn.v_proj.bias"))
        q = q.view(T, H, hd).transpose(0, 1)
        k = k.view(T, KV, hd).transpose(0, 1)
        v = v.view(T, KV, hd).transpose(0, 1)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        a = attention(q, k, v, hd**-0.5)
        attn_out = lin(a, W[p + "self_attn.o_proj.weight"], W.get(p + "self_attn.o_proj.bias"))
        attn_out = edit(f"blocks.{l}.hook_attn_out", attn_out)
        out[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        out[f"blocks.{l}.hook_resid_mid"] = x
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        act = ACT[cfg.get("hidden_act", "silu")]
        post = act(lin(h, W[p + "mlp.gate_proj.weight"])) * lin(h, W[p + "mlp.up_proj.weight"])
        post = edit(f"blocks.{l}.mlp.hook_post", post)
        out[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = lin(post, W[p + "mlp.down_proj.weight"])
        mlp_out = edit(f"blocks.{l}.hook_mlp_out", mlp_out)
        out[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        x = edit(f"blocks.{l}.hook_resid_post", x)
        out[f"blocks.{l}.hook_resid_post"] = x
    n = rms_norm(x, W["model.norm.weight"], eps)
    out["ln_final.hook_normalized"] = n
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    out["logits"] = n @ head.T
    return out


def forward_neox(cfg, W, ids):
    L, d, H = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
    hd = d // H
    rot = int(hd * cfg.get("rotary_pct", 1.0))
    eps = cfg["layer_norm_eps"]
    inv = default_inv_freq(rot, cfg.get("rotary_emb_base", 10000))
    T = len(ids)
    cos, sin = rope_cos_sin(inv, T)
    out = {}
    x = W["gpt_neox.embed_in.weight"][ids]
    out["hook_embed"] = x
    for l in range(L):
        p = f"gpt_neox.layers.{l}."
        out[f"blocks.{l}.hook_resid_pre"] = x
        h = layer_norm(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
        qkv = lin(h, W[p + "attention.query_key_value.weight"], W[p + "attention.query_key_value.bias"])
        qkv = qkv.view(T, H, 3 * hd).transpose(0, 1)  # [H, T, 3hd], per head [q|k|v]
        q, k, v = qkv[..., :hd], qkv[..., hd : 2 * hd], qkv[..., 2 * hd :]
        q = torch.cat((apply_rope(q[..., :rot], cos, sin), q[..., rot:]), dim=-1)
        k = torch.cat((apply_rope(k[..., :rot], cos, sin), k[..., rot:]), dim=-1)
        a = attention(q, k, v, 1.0 / math.sqrt(hd))
        attn_out = lin(a, W[p + "attention.dense.weight"], W[p + "attention.dense.bias"])
        out[f"blocks.{l}.hook_attn_out"] = attn_out
        act = ACT[cfg.get("hidden_act", "gelu")]

        def mlp(z):
            post = act(lin(z, W[p + "mlp.dense_h_to_4h.weight"], W[p + "mlp.dense_h_to_4h.bias"]))
            return post, lin(post, W[p + "mlp.dense_4h_to_h.weight"], W[p + "mlp.dense_4h_to_h.bias"])

        ln2w, ln2b = W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"]
        if cfg.get("use_parallel_residual", True):
            post, m = mlp(layer_norm(x, ln2w, ln2b, eps))
            x = m + attn_out + x
        else:
            x = attn_out + x
            out[f"blocks.{l}.hook_resid_mid"] = x
            post, m = mlp(layer_norm(x, ln2w, ln2b, eps))
            x = m + x
        out[f"blocks.{l}.mlp.hook_post"] = post
        out[f"blocks.{l}.hook_mlp_out"] = m
        out[f"blocks.{l}.hook_resid_post"] = x
    n = layer_norm(x, W["gpt_neox.final_layer_norm.weight"], W["gpt_neox.final_layer_norm.bias"], eps)
    out["ln_final.hook_normalized"] = n
    out["logits"] = n @ W["embed_out.weight"].T
    return out


def forward_gpt2(cfg, W, ids, prefix):
    L, d, H = cfg["n_layer"], cfg["n_embd"], cfg["n_head"]
    hd = d // H
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    T = len(ids)
    out = {}
    e = W[prefix + "wte.weight"][ids]
    out["hook_embed"] = e
    out["hook_pos_embed"] = W[prefix + "wpe.weight"][:T]
    x = e + W[prefix + "wpe.weight"][:T]
    act = ACT[cfg.get("activation_function", "gelu_new")]
    for l in range(L):
        p = f"{prefix}h.{l}."
        out[f"blocks.{l}.hook_resid_pre"] = x
        h = layer_norm(x, W[p + "ln_1.weight"], W[p + "ln_1.bias"], eps)
        qkv = h @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]  # Conv1D: [in, out]
        q, k, v = qkv.split(d, dim=-1)
        q, k, v = (t.view(T, H, hd).transpose(0, 1) for t in (q, k, v))
        scale = 1.0 / math.sqrt(hd)
        if cfg.get("scale_attn_by_inverse_layer_idx", False):
            scale /= float(l + 1)
        a = attention(q, k, v, scale)
        attn_out = a @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        out[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        out[f"blocks.{l}.hook_resid_mid"] = x
        h = layer_norm(x, W[p + "ln_2.weight"], W[p + "ln_2.bias"], eps)
        post = act(h @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        out[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = post @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
        out[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        out[f"blocks.{l}.hook_resid_post"] = x
    n = layer_norm(x, W[prefix + "ln_f.weight"], W[prefix + "ln_f.bias"], eps)
    out["ln_final.hook_normalized"] = n
    out["logits"] = n @ W[prefix + "wte.weight"].T
    return out


# ----------------------------------------------------------------------------------------------- weights
def rnd(g, *shape, std=0.3):
    return torch.randn(*shape, generator=g) * std


def llama_weights(cfg, g, qkv_bias=False, tied=False, embed_std=0.3):
    d, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    KV = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or d // H
    m, V = cfg["intermediate_size"], cfg["vocab_size"]
    W = {"model.embed_tokens.weight": rnd(g, V, d, std=embed_std)}
    for l in range(L):
        p = f"model.layers.{l}."
        W[p + "input_layernorm.weight"] = 1 + rnd(g, d, std=0.1)
        W[p + "self_attn.q_proj.weight"] = rnd(g, H * hd, d)
        W[p + "self_attn.k_proj.weight"] = rnd(g, KV * hd, d)
        W[p + "self_attn.v_proj.weight"] = rnd(g, KV * hd, d)
        if qkv_bias:
            W[p + "self_attn.q_proj.bias"] = rnd(g, H * hd)
            W[p + "self_attn.k_proj.bias"] = rnd(g, KV * hd)
            W[p + "self_attn.v_proj.bias"] = rnd(g, KV * hd)
        W[p + "self_attn.o_proj.weight"] = rnd(g, d, H * hd)
        W[p + "post_attention_layernorm.weight"] = 1 + rnd(g, d, std=0.1)
        W[p + "mlp.gate_proj.weight"] = rnd(g, m, d)
        W[p + "mlp.up_proj.weight"] = rnd(g, m, d)
        W[p + "mlp.down_proj.weight"] = rnd(g, d, m)
    W["model.norm.weight"] = 1 + rnd(g, d, std=0.1)
    if not tied:
        W["lm_head.weight"] = rnd(g, V, d)
    return W


def neox_weights(cfg, g):
    d, L, m, V = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["intermediate_size"], cfg["vocab_size"]
    W = {"gpt_neox.embed_in.weight": rnd(g, V, d)}
    for l in range(L):
        p = f"gpt_neox.layers.{l}."
        for n in ("input_layernorm", "post_attention_layernorm"):
            W[p + n + ".weight"] = 1 + rnd(g, d, std=0.1)
            W[p + n + ".bias"] = rnd(g, d, std=0.1)
        W[p + "attention.query_key_value.weight"] = rnd(g, 3 * d, d)
        W[p + "attention.query_key_value.bias"] = rnd(g, 3 * d, std=0.1)
        W[p + "attention.dense.weight"] = rnd(g, d, d)
        W[p + "attention.dense.bias"] = rnd(g, d, std=0.1)
        W[p + "mlp.dense_h_to_4h.weight"] = rnd(g, m, d)
        W[p + "mlp.dense_h_to_4h.bias"] = rnd(g, m, std=0.1)
        W[p + "mlp.dense_4h_to_h.weight"] = rnd(g, d, m)
        W[p + "mlp.dense_4h_to_h.bias"] = rnd(g, d, std=0.1)
    W["gpt_neox.final_layer_norm.weight"] = 1 + rnd(g, d, std=0.1)
    W["gpt_neox.final_layer_norm.bias"] = rnd(g, d, std=0.1)
    W["embed_out.weight"] = rnd(g, V, d)
    return W


def gpt2_weights(cfg, g, prefix):
    d, L, V, P = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
    m = cfg.get("n_inner") or 4 * d
    W = {prefix + "wte.weight": rnd(g, V, d), prefix + "wpe.weight": rnd(g, P, d)}
    for l in range(L):
        p = f"{prefix}h.{l}."
        for n in ("ln_1", "ln_2"):
            W[p + n + ".weight"] = 1 + rnd(g, d, std=0.1)
            W[p + n + ".bias"] = rnd(g, d, std=0.1)
        W[p + "attn.c_attn.weight"] = rnd(g, d, 3 * d)
        W[p + "attn.c_attn.bias"] = rnd(g, 3 * d, std=0.1)
        W[p + "attn.c_proj.weight"] = rnd(g, d, d)
        W[p + "attn.c_proj.bias"] = rnd(g, d, std=0.1)
        W[p + "mlp.c_fc.weight"] = rnd(g, d, m)
        W[p + "mlp.c_fc.bias"] = rnd(g, m, std=0.1)
        W[p + "mlp.c_proj.weight"] = rnd(g, m, d)
        W[p + "mlp.c_proj.bias"] = rnd(g, d, std=0.1)
    W[prefix + "ln_f.weight"] = 1 + rnd(g, d, std=0.1)
    W[prefix + "ln_f.bias"] = rnd(g, d, std=0.1)
    return W


# ----------------------------------------------------------------------------------------------- models
def llama_cfg(**kw):
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 32, "num_attention_heads": 4,
        "num_key_value_heads": 4, "num_hidden_layers": 2, "intermediate_size": 48, "vocab_size": 80,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "max_position_embeddings": 64,
        "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
    }
    cfg.update(kw)
    return cfg


def models():
    yield "llama2-f32", llama_cfg(), "F32", dict(kind="llama"), None
    yield ("llama-gqa-tied-bf16-sharded",
           llama_cfg(num_key_value_heads=2, tie_word_embeddings=True, torch_dtype="bfloat16", rms_norm_eps=1e-5),
           "BF16", dict(kind="llama", tied=True), 2)
    yield ("llama3-rope-scaled-f16",
           llama_cfg(num_key_value_heads=1, rope_theta=500000.0, torch_dtype="float16", head_dim=8,
                     rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
           "F16", dict(kind="llama"), None)
    yield ("mistral-tiny-embeddings-f32",
           llama_cfg(architectures=["MistralForCausalLM"], model_type="mistral", num_key_value_heads=2,
                     rms_norm_eps=1e-6, sliding_window=4096),
           "F32", dict(kind="llama", embed_std=1e-3), None)
    yield ("qwen2-bias-tied-f32",
           llama_cfg(architectures=["Qwen2ForCausalLM"], model_type="qwen2", num_key_value_heads=2,
                     tie_word_embeddings=True, rms_norm_eps=1e-6, rope_theta=1000000.0, use_sliding_window=False),
           "F32", dict(kind="llama", qkv_bias=True, tied=True), None)
    neox = {
        "architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": 32,
        "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 64, "vocab_size": 80,
        "layer_norm_eps": 1e-5, "rotary_pct": 0.25, "rotary_emb_base": 10000, "hidden_act": "gelu",
        "use_parallel_residual": True, "max_position_embeddings": 64, "tie_word_embeddings": False,
        "bos_token_id": 0, "eos_token_id": 0, "torch_dtype": "float16",
    }
    yield "pythia-parallel-f16", neox, "F16", dict(kind="neox"), None
    yield ("neox-sequential-f32", dict(neox, use_parallel_residual=False, rotary_pct=0.5, torch_dtype="float32"),
           "F32", dict(kind="neox"), None)
    gpt2 = {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": 32, "n_head": 4, "n_layer": 2,
        "n_positions": 16, "n_ctx": 16, "vocab_size": 80, "layer_norm_epsilon": 1e-5,
        "activation_function": "gelu_new", "bos_token_id": 79, "eos_token_id": 79, "scale_attn_weights": True,
    }
    yield "gpt2-legacy-f32", gpt2, "F32", dict(kind="gpt2", prefix="", buffers=True), None
    yield ("gpt2-prefixed-f16", dict(gpt2, scale_attn_by_inverse_layer_idx=True, torch_dtype="float16"), "F16",
           dict(kind="gpt2", prefix="transformer."), None)


def interventions(cfg, W, gold):
    """Goldens for edits and greedy generation on one model (the edit code is the same for every family)."""
    g = torch.Generator().manual_seed(7)
    vec = torch.randn(cfg["hidden_size"], generator=g)
    neurons = [0, 3, 5, 11]

    def add_last(name, value):  # add `vec` to blocks.0.hook_resid_post at the last position only
        if name == "blocks.0.hook_resid_post":
            value = value.clone()
            value[-1] += vec
        return value

    def zero_neurons(name, value):
        if name == "blocks.1.mlp.hook_post":
            value = value.clone()
            value[:, neurons] = 0
        return value

    def attn_out_add_last(name, value):  # the attention sub-block's output at the last position, layer 0
        if name == "blocks.0.hook_attn_out":
            value = value.clone()
            value[-1] += vec
        return value

    def mlp_out_half(name, value):  # halve what layer 1's MLP adds to the residual stream
        return value * 0.5 if name == "blocks.1.hook_mlp_out" else value

    for i, ids in enumerate(SEQS):
        gold[f"e{i}.add_last.logits"] = forward_llama(cfg, W, ids, add_last)["logits"]
        gold[f"e{i}.zero_neurons.logits"] = forward_llama(cfg, W, ids, zero_neurons)["logits"]
        gold[f"e{i}.attn_out_add_last.logits"] = forward_llama(cfg, W, ids, attn_out_add_last)["logits"]
        gold[f"e{i}.mlp_out_half.logits"] = forward_llama(cfg, W, ids, mlp_out_half)["logits"]
    gold["vec"] = vec.view(1, -1)
    seq = list(SEQS[2])
    new = []
    for _ in range(6):
        nxt = int(torch.argmax(forward_llama(cfg, W, seq)["logits"][-1]))
        new.append(nxt)
        seq.append(nxt)
    return {"edits": {"add_last": {"hook": "blocks.0.hook_resid_post", "vector": "vec", "position": -1},
                      "zero_neurons": {"hook": "blocks.1.mlp.hook_post", "neurons": neurons}},
            "greedy": {"prompt": SEQS[2], "newTokens": new}}


SEQS = [[3], [1, 17, 42, 5], [1, 9, 60, 2, 33, 71, 4, 12, 50, 8, 27]]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "engine")
    for idx, (name, cfg, dtype, spec, shards) in enumerate(models()):
        g = torch.Generator().manual_seed(1000 + idx)
        kind = spec["kind"]
        if kind == "llama":
            W = llama_weights(cfg, g, qkv_bias=spec.get("qkv_bias", False), tied=spec.get("tied", False),
                              embed_std=spec.get("embed_std", 0.3))
        elif kind == "neox":
            W = neox_weights(cfg, g)
        else:
            W = gpt2_weights(cfg, g, spec["prefix"])
        Wr = {k: rounded(v, dtype) for k, v in W.items()}
        stored = dict(W)
        if kind == "gpt2" and spec.get("buffers"):
            P = cfg["n_positions"]
            for l in range(cfg["n_layer"]):  # legacy causal-mask buffers that loaders must ignore
                stored[f"h.{l}.attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
                stored[f"h.{l}.attn.masked_bias"] = torch.tensor(-1e4)
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        dtype_of = lambda n: "F32" if n.endswith(".attn.bias") or n.endswith(".attn.masked_bias") else dtype
        if shards:
            names = list(stored)
            per = math.ceil(len(names) / shards)
            index = {"metadata": {"total_size": 0}, "weight_map": {}}
            for s in range(shards):
                fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
                part = {n: stored[n] for n in names[s * per : (s + 1) * per]}
                write_safetensors(os.path.join(d, fn), part, dtype_of)
                for n in part:
                    index["weight_map"][n] = fn
            index["metadata"]["total_size"] = sum(len(tensor_bytes(stored[n], dtype_of(n))) for n in names)
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump(index, f, indent=2)
        else:
            write_safetensors(os.path.join(d, "model.safetensors"), stored, dtype_of)
        gold, lens = {}, []
        for i, ids in enumerate(SEQS):
            if kind == "llama":
                o = forward_llama(cfg, Wr, ids)
            elif kind == "neox":
                o = forward_neox(cfg, Wr, ids)
            else:
                o = forward_gpt2(cfg, Wr, ids, spec["prefix"])
            for k, v in o.items():
                gold[f"s{i}.{k}"] = v.detach()
            lens.append(len(ids))
        extra = {}
        if name == "llama2-f32":
            extra = interventions(cfg, Wr, gold)
        write_safetensors(os.path.join(d, "golden.safetensors"), gold, lambda n: "F64")
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump({"sequences": SEQS, "weightDtype": dtype, "torch": torch.__version__,
                       "hooks": sorted({k.split(".", 1)[1] for k in gold if k.startswith("s")}), **extra}, f, indent=1)
        print(f"{name}: {sum(v.numel() for v in W.values())} params, dtype {dtype}")


if __name__ == "__main__":
    main()
