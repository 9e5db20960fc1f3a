"""The pieces of a Llama block both PyTorch forward references share (torch_forward.py, torch_moe.py)."""
import torch


def rope_tables(theta, hd, T):
    """cos, sin [T, hd] of rotary embeddings (rotate-half layout, as transformers' Llama)."""
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2).float() / hd))
    freqs = torch.outer(torch.arange(T).float(), inv)
    emb = torch.cat((freqs, freqs), -1)
    return emb.cos(), emb.sin()


def causal_mask(T):
    return torch.full((T, T), float("-inf")).triu(1)


def rms(x, w, eps=1e-5):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rot(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)
