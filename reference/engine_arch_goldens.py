#!/usr/bin/env python3
"""Tiny random checkpoints + PyTorch float64 goldens for the Gemma 1/2/3, Qwen3, Phi-3 and OLMo-2 adapters.

Run by developers (not CI):  /usr/bin/python3 reference/engine_arch_goldens.py [OUT_DIR]
Default OUT_DIR: test/fixtures/engine. Needs torch and numpy (transformers is not installed here: the forward below
is written from the semantics of transformers' modeling_gemma / modeling_gemma2 / modeling_gemma3 (text part) /
modeling_qwen3 / modeling_phi3 / modeling_olmo2 and their configuration classes).

Each model gets OUT_DIR/<name>/ with config.json, its weights (f32 or bf16; the bf16 ones in two shards), and
golden.safetensors: every hook (TransformerLens names, as in engine_make_goldens.py, plus hook_attn_out /
hook_mlp_out) for three sequences, computed in float64 from the stored (rounded) weights and saved as f32 (6e-8
relative, far below the 1e-5 tolerance). "a.<feature>.logits" are the logits of the longest sequence computed with
one distinctive feature switched off: the engine must be far (> 1e-3) from them, so a missing feature cannot pass.

Semantics written out (per transformers):
- Gemma RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + w) (also the final norm and Gemma 3's q/k norms).
- Gemma embeddings * sqrt(hidden_size) as a tensor of the model dtype (bf16 checkpoints: sqrt(d) rounded to bf16).
- Gemma MLP: gelu_pytorch_tanh(gate(x)) * up(x) (hidden_activation).
- Gemma 2/3 block: x += post_attention_layernorm(attn(input_layernorm(x)));
  x += post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x))). Scores * query_pre_attn_scalar^-0.5, then
  cap * tanh(s / cap) (attn_logit_softcapping), then the mask; logits -> cap * tanh(logits / cap).
- Sliding layers: key j visible from query i iff j <= i and j > i - sliding_window. Gemma 2: layer_types default
  sliding when (i + 1) % 2; Gemma 3: sliding when (i + 1) % sliding_window_pattern, or config.layer_types.
- Gemma 3 rotary: sliding layers base rope_local_base_freq, unscaled; full layers rope_theta with rope_scaling
  (linear: inv_freq / factor).
- Qwen3: q_norm/k_norm (plain RMSNorm over head_dim) on the projected heads, before rotary.
- Phi-3: qkv_proj split [H*hd | KV*hd | KV*hd]; gate_up_proj chunked (gate, up), up * silu(gate); rotary on the first
  int(head_dim * partial_rotary_factor) dims; config.sliding_window on every layer. longrope (sequences within
  original_max_position_embeddings): inv_freq / short_factor, cos and sin * sqrt(1 + ln(max_pos / orig) / ln(orig)).
- OLMo-2: x += post_attention_layernorm(attn(x)); x += post_feedforward_layernorm(mlp(x)); q_norm/k_norm over the
  full projected width before the head split.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from engine_make_goldens import (  # noqa: E402
    SEQS,
    default_inv_freq,
    lin,
    rms_norm,
    rnd,
    rope_cos_sin,
    rotate_half,
    rounded,
    silu,
    tensor_bytes,
    write_safetensors,
)

torch.set_default_dtype(torch.float64)


def gemma_rms_norm(x, w, eps, plus_one=True):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * ((1.0 + w) if plus_one else w)


def gelu_tanh(x):
    return torch.nn.functional.gelu(x, approximate="tanh")


def gelu_exact(x):
    return torch.nn.functional.gelu(x)


def attend(q, k, v, scale, window=None, softcap=None):
    """q [H, T, hd], k/v [KV, T, hd] -> [T, H*hd]: repeat_kv, scale, soft-cap, causal (+ sliding) mask, softmax."""
    H, T, hd = q.shape
    rep = H // k.shape[0]
    k = k.repeat_interleave(rep, dim=0)
    v = v.repeat_interleave(rep, dim=0)
    s = (q @ k.transpose(-1, -2)) * scale
    if softcap is not None:
        s = torch.tanh(s / softcap) * softcap
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    allowed = j <= i
    if window is not None:
        allowed = allowed & (j > i - window)
    s = s.masked_fill(~allowed, float("-inf"))
    return (torch.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(T, H * hd)


def rope(x, cos, sin):
    """Rotate-half rotary on the first cos.shape[-1] dims of x [heads, T, hd] (partial rotary keeps the rest)."""
    r = cos.shape[-1]
    return torch.cat((x[..., :r] * cos + rotate_half(x[..., :r]) * sin, x[..., r:]), dim=-1)


def layer_is_sliding(cfg, l, off):
    mt = cfg["model_type"]
    if "sliding" in off or cfg.get("sliding_window") is None:
        return False
    if mt == "phi3":
        return True
    if "alternating" in off:
        return True
    if cfg.get("layer_types"):
        return cfg["layer_types"][l] == "sliding_attention"
    if mt == "gemma2":
        return bool((l + 1) % 2)
    if mt == "gemma3_text":
        return bool((l + 1) % cfg["sliding_window_pattern"])
    return False


def rotaries(cfg, hd, T, off):
    """(global cos/sin, local cos/sin) for the family."""
    mt = cfg["model_type"]
    rot = int(hd * cfg.get("partial_rotary_factor", 1.0)) if "partial_rotary" not in off else hd
    inv = default_inv_freq(rot, cfg["rope_theta"])
    rs = cfg.get("rope_scaling")
    if mt == "gemma3_text" and rs and rs.get("rope_type") == "linear" and "rope_scaling" not in off:
        inv = inv / rs["factor"]
    glob = rope_cos_sin(inv, T)
    if mt == "phi3" and rs and rs.get("type", rs.get("rope_type")) in ("longrope", "su"):
        # Short factors (sequences within original_max_position_embeddings) and the attention factor on cos/sin.
        if "longrope_factors" not in off:
            inv = inv / torch.tensor(rs["short_factor"])
        orig = cfg["original_max_position_embeddings"]
        factor = cfg["max_position_embeddings"] / orig
        att = rs.get("attention_factor") or (1.0 if factor <= 1 else math.sqrt(1 + math.log(factor) / math.log(orig)))
        cos, sin = rope_cos_sin(inv, T)
        if "longrope_attention" not in off:
            cos, sin = cos * att, sin * att
        return (cos, sin), (cos, sin)
    if mt == "gemma3_text" and "local_rope" not in off:
        return glob, rope_cos_sin(default_inv_freq(rot, cfg["rope_local_base_freq"]), T)
    return glob, glob


def forward(cfg, W, ids, dtype, off=frozenset()):
    mt = cfg["model_type"]
    gemma = mt.startswith("gemma")
    four_norms = mt in ("gemma2", "gemma3_text")
    L, d, H = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // H
    eps = cfg["rms_norm_eps"]
    if gemma:
        norm = lambda x, w: gemma_rms_norm(x, w, eps, "plus_one" not in off)  # noqa: E731
        act = gelu_exact if "gelu_tanh" in off else gelu_tanh
    else:
        norm = lambda x, w: rms_norm(x, w, eps)  # noqa: E731
        act = silu
    scale = hd**-0.5
    if four_norms and "query_pre_attn_scalar" not in off:
        scale = cfg["query_pre_attn_scalar"] ** -0.5
    softcap = None if "attn_softcap" in off else cfg.get("attn_logit_softcapping")
    T = len(ids)
    (gcos, gsin), (lcos, lsin) = rotaries(cfg, hd, T, off)
    out = {}
    x = W["model.embed_tokens.weight"][ids]
    if gemma and "embed_scale" not in off:
        x = x * rounded(torch.tensor(d**0.5), dtype)
    out["hook_embed"] = x
    for l in range(L):
        p = f"model.layers.{l}."
        out[f"blocks.{l}.hook_resid_pre"] = x
        post_norm_placement = mt == "olmo2" and "post_norm_placement" in off
        if mt == "olmo2" and not post_norm_placement:
            h = x
        elif post_norm_placement:
            h = norm(x, W[p + "post_attention_layernorm.weight"])
        else:
            h = norm(x, W[p + "input_layernorm.weight"])
        if mt == "phi3":
            qkv = lin(h, W[p + "self_attn.qkv_proj.weight"])
            q, k, v = qkv.split([H * hd, KV * hd, KV * hd], dim=-1)
        else:
            q = lin(h, W[p + "self_attn.q_proj.weight"])
            k = lin(h, W[p + "self_attn.k_proj.weight"])
            v = lin(h, W[p + "self_attn.v_proj.weight"])
        if mt == "olmo2" and "qk_norm" not in off:
            q, k = norm(q, W[p + "self_attn.q_norm.weight"]), norm(k, W[p + "self_attn.k_norm.weight"])
        q = q.view(T, H, hd).transpose(0, 1)
        k = k.view(T, KV, hd).transpose(0, 1)
        v = v.view(T, KV, hd).transpose(0, 1)
        if mt in ("qwen3", "gemma3_text") and "qk_norm" not in off:
            q, k = norm(q, W[p + "self_attn.q_norm.weight"]), norm(k, W[p + "self_attn.k_norm.weight"])
        sliding = layer_is_sliding(cfg, l, off)
        cos, sin = (lcos, lsin) if sliding else (gcos, gsin)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        a = attend(q, k, v, scale, cfg["sliding_window"] if sliding else None, softcap)
        attn_out = lin(a, W[p + "self_attn.o_proj.weight"])
        if (four_norms and "post_norms" not in off) or (mt == "olmo2" and not post_norm_placement):
            attn_out = norm(attn_out, W[p + "post_attention_layernorm.weight"])
        out[f"blocks.{l}.hook_attn_out"] = attn_out
        x = x + attn_out
        out[f"blocks.{l}.hook_resid_mid"] = x
        if four_norms:
            h = norm(x, W[p + "pre_feedforward_layernorm.weight"])
        elif mt == "olmo2":
            h = norm(x, W[p + "post_feedforward_layernorm.weight"]) if post_norm_placement else x
        else:
            h = norm(x, W[p + "post_attention_layernorm.weight"])
        if mt == "phi3":
            gate, up = lin(h, W[p + "mlp.gate_up_proj.weight"]).chunk(2, dim=-1)
            if "gate_up_order" in off:
                gate, up = up, gate
            post = up * act(gate)
        else:
            post = act(lin(h, W[p + "mlp.gate_proj.weight"])) * lin(h, W[p + "mlp.up_proj.weight"])
        out[f"blocks.{l}.mlp.hook_post"] = post
        mlp_out = lin(post, W[p + "mlp.down_proj.weight"])
        if (four_norms and "post_norms" not in off) or (mt == "olmo2" and not post_norm_placement):
            mlp_out = norm(mlp_out, W[p + "post_feedforward_layernorm.weight"])
        out[f"blocks.{l}.hook_mlp_out"] = mlp_out
        x = x + mlp_out
        out[f"blocks.{l}.hook_resid_post"] = x
    n = norm(x, W["model.norm.weight"])
    out["ln_final.hook_normalized"] = n
    logits = n @ W.get("lm_head.weight", W["model.embed_tokens.weight"]).T
    cap = None if "final_softcap" in off else cfg.get("final_logit_softcapping")
    if cap is not None:
        logits = torch.tanh(logits / cap) * cap
    out["logits"] = logits
    return out


def weights(cfg, g):
    mt = cfg["model_type"]
    L, d, H = cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"]
    KV = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // H
    m, V = cfg["intermediate_size"], cfg["vocab_size"]
    # Gemma stores w and multiplies by (1 + w): its norm weights scatter around 0, the others around 1.
    nw = (lambda n: rnd(g, n, std=0.2)) if mt.startswith("gemma") else (lambda n: 1 + rnd(g, n, std=0.1))
    W = {"model.embed_tokens.weight": rnd(g, V, d)}
    for l in range(L):
        p = f"model.layers.{l}."
        if mt != "olmo2":
            W[p + "input_layernorm.weight"] = nw(d)
        if mt == "phi3":
            W[p + "self_attn.qkv_proj.weight"] = rnd(g, (H + 2 * KV) * hd, d)
        else:
            W[p + "self_attn.q_proj.weight"] = rnd(g, H * hd, d)
            W[p + "self_attn.k_proj.weight"] = rnd(g, KV * hd, d)
            W[p + "self_attn.v_proj.weight"] = rnd(g, KV * hd, d)
        if mt in ("qwen3", "gemma3_text"):
            W[p + "self_attn.q_norm.weight"] = nw(hd)
            W[p + "self_attn.k_norm.weight"] = nw(hd)
        if mt == "olmo2":
            W[p + "self_attn.q_norm.weight"] = nw(H * hd)
            W[p + "self_attn.k_norm.weight"] = nw(KV * hd)
        W[p + "self_attn.o_proj.weight"] = rnd(g, d, H * hd)
        W[p + "post_attention_layernorm.weight"] = nw(d)
        if mt in ("gemma2", "gemma3_text"):
            W[p + "pre_feedforward_layernorm.weight"] = nw(d)
        if mt in ("gemma2", "gemma3_text", "olmo2"):
            W[p + "post_feedforward_layernorm.weight"] = nw(d)
        if mt == "phi3":
            W[p + "mlp.gate_up_proj.weight"] = rnd(g, 2 * m, d)
        else:
            W[p + "mlp.gate_proj.weight"] = rnd(g, m, d)
            W[p + "mlp.up_proj.weight"] = rnd(g, m, d)
        W[p + "mlp.down_proj.weight"] = rnd(g, d, m)
    W["model.norm.weight"] = nw(d)
    if not cfg["tie_word_embeddings"]:
        W["lm_head.weight"] = rnd(g, V, d)
    return W


BASE = {
    "hidden_size": 24, "num_attention_heads": 2, "num_key_value_heads": 1, "num_hidden_layers": 2,
    "intermediate_size": 40, "vocab_size": 80, "max_position_embeddings": 64, "bos_token_id": 2, "eos_token_id": 1,
}


def models():
    """(name, config, dtype, shards, features that must matter)."""
    gemma = dict(BASE, architectures=["GemmaForCausalLM"], model_type="gemma", head_dim=16, rms_norm_eps=1e-6,
                 rope_theta=10000.0, hidden_act="gelu", hidden_activation="gelu_pytorch_tanh",
                 tie_word_embeddings=True, attention_bias=False)
    feats = ["plus_one", "embed_scale", "gelu_tanh"]
    yield "gemma-f32", dict(gemma, torch_dtype="float32"), "F32", None, feats
    yield "gemma-bf16-sharded", dict(gemma, torch_dtype="bfloat16"), "BF16", 2, feats
    gemma2 = dict(gemma, architectures=["Gemma2ForCausalLM"], model_type="gemma2", query_pre_attn_scalar=8,
                  attn_logit_softcapping=2.0, final_logit_softcapping=1.5, sliding_window=3)
    feats = ["plus_one", "embed_scale", "post_norms", "attn_softcap", "final_softcap", "query_pre_attn_scalar",
             "sliding", "alternating"]
    yield "gemma2-f32", dict(gemma2, torch_dtype="float32"), "F32", None, feats
    yield "gemma2-bf16-sharded", dict(gemma2, torch_dtype="bfloat16"), "BF16", 2, feats
    gemma3 = dict(gemma2, architectures=["Gemma3ForCausalLM"], model_type="gemma3_text", num_hidden_layers=3,
                  attn_logit_softcapping=None, final_logit_softcapping=None, rope_theta=1000000.0,
                  rope_local_base_freq=10000.0, sliding_window_pattern=3,
                  rope_scaling={"rope_type": "linear", "factor": 8.0})
    feats = ["plus_one", "embed_scale", "post_norms", "qk_norm", "query_pre_attn_scalar", "local_rope",
             "rope_scaling", "sliding", "alternating"]
    yield "gemma3-text-f32", dict(gemma3, torch_dtype="float32",
                                  layer_types=["sliding_attention", "full_attention", "sliding_attention"]), \
        "F32", None, feats
    yield "gemma3-text-bf16-sharded", dict(gemma3, torch_dtype="bfloat16"), "BF16", 2, feats
    qwen3 = dict(BASE, architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=16, rms_norm_eps=1e-6,
                 rope_theta=1000000.0, hidden_act="silu", tie_word_embeddings=True, attention_bias=False,
                 use_sliding_window=False, sliding_window=None, max_window_layers=2)
    yield "qwen3-f32", dict(qwen3, torch_dtype="float32"), "F32", None, ["qk_norm"]
    yield "qwen3-bf16-sharded", dict(qwen3, torch_dtype="bfloat16", tie_word_embeddings=False), "BF16", 2, \
        ["qk_norm"]
    phi3 = dict(BASE, architectures=["Phi3ForCausalLM"], model_type="phi3", rms_norm_eps=1e-5, rope_theta=10000.0,
                hidden_act="silu", tie_word_embeddings=False, partial_rotary_factor=0.5, sliding_window=3,
                rope_scaling=None, original_max_position_embeddings=64, resid_pdrop=0.0, embd_pdrop=0.0,
                attention_dropout=0.0)
    feats = ["partial_rotary", "gate_up_order", "sliding"]
    yield "phi3-f32", dict(phi3, torch_dtype="float32"), "F32", None, feats
    yield "phi3-bf16-sharded", dict(phi3, torch_dtype="bfloat16"), "BF16", 2, feats
    olmo2 = dict(BASE, architectures=["Olmo2ForCausalLM"], model_type="olmo2", num_key_value_heads=2,
                 rms_norm_eps=1e-6, rope_theta=500000.0, hidden_act="silu", tie_word_embeddings=False,
                 attention_bias=False)
    feats = ["qk_norm", "post_norm_placement"]
    yield "olmo2-f32", dict(olmo2, torch_dtype="float32"), "F32", None, feats
    yield "olmo2-bf16-sharded", dict(olmo2, torch_dtype="bfloat16"), "BF16", 2, feats
    # Appended last so that the seeds (2000 + index) of the models above stay as they were.
    yield ("phi3-longrope-f32",
           dict(phi3, torch_dtype="float32", max_position_embeddings=256, original_max_position_embeddings=64,
                rope_scaling={"type": "longrope", "short_factor": [1.0, 1.5, 3.0], "long_factor": [2.0, 4.0, 8.0]}),
           "F32", None, ["longrope_factors", "longrope_attention", "gate_up_order"])


def rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures",
                                                                 "engine")
    for idx, (name, cfg, dtype, shards, feats) in enumerate(models()):
        g = torch.Generator().manual_seed(2000 + idx)
        W = weights(cfg, g)
        Wr = {k: rounded(v, dtype) for k, v in W.items()}
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        if shards:
            names = list(W)
            per = math.ceil(len(names) / shards)
            index = {"metadata": {"total_size": sum(len(tensor_bytes(W[n], dtype)) for n in names)},
                     "weight_map": {}}
            for s in range(shards):
                fn = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
                part = {n: W[n] for n in names[s * per:(s + 1) * per]}
                write_safetensors(os.path.join(d, fn), part, lambda n: dtype)
                index["weight_map"].update({n: fn for n in part})
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump(index, f, indent=2)
        else:
            write_safetensors(os.path.join(d, "model.safetensors"), W, lambda n: dtype)
        gold = {}
        for i, ids in enumerate(SEQS):
            for k, v in forward(cfg, Wr, ids, dtype).items():
                gold[f"s{i}.{k}"] = v
        ablations = {}
        for feat in feats:
            ablated = forward(cfg, Wr, SEQS[2], dtype, off=frozenset([feat]))["logits"]
            gold[f"a.{feat}.logits"] = ablated
            ablations[feat] = rel(ablated, gold["s2.logits"])
        write_safetensors(os.path.join(d, "golden.safetensors"), gold, lambda n: "F32")
        with open(os.path.join(d, "golden.json"), "w") as f:
            json.dump({"sequences": SEQS, "weightDtype": dtype, "torch": torch.__version__,
                       "hooks": sorted({k.split(".", 1)[1] for k in gold if k.startswith("s")}),
                       "ablations": sorted(feats)}, f, indent=1)
        print(name, dtype, sum(v.numel() for v in W.values()), "params; ablation effects:",
              {k: f"{v:.1e}" for k, v in ablations.items()})


if __name__ == "__main__":
    main()
