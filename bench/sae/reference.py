#!/usr/bin/env python3
"""Python side of bench/sae/bench.ts: the same TopK SAE training steps in PyTorch (CPU), timed.

Usage: reference.py DIR  (DIR holds x.bin (f32 n x d) and meta.json written by bench.ts)
Prints one JSON line: seconds for the timed steps (after one warm-up step), threads, last batch MSE.
"""
import json
import os
import sys
import time

import numpy as np
import torch

d_ = sys.argv[1]
meta = json.load(open(os.path.join(d_, 'meta.json')))
n, d, m, k, batch, steps = (meta[key] for key in ['n', 'd', 'm', 'k', 'batch', 'steps'])
x = torch.from_numpy(np.fromfile(os.path.join(d_, 'x.bin'), dtype='<f4').reshape(n, d))
torch.set_num_threads(os.cpu_count())
torch.manual_seed(0)

w_dec = torch.rand(m, d) * 2 - 1
w_dec /= w_dec.norm(dim=1, keepdim=True)
p = {'W_enc': w_dec.T.clone(), 'b_enc': torch.zeros(m), 'W_dec': w_dec, 'b_dec': torch.zeros(d)}
for t in p.values():
    t.requires_grad_(True)
opt = torch.optim.Adam(p.values(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8)
order = torch.from_numpy(np.random.default_rng(0).permutation(n))


def step(s):
    xb = x[order[s * batch:(s + 1) * batch]]
    opt.zero_grad()
    pre = (xb - p['b_dec']) @ p['W_enc'] + p['b_enc']
    top = torch.topk(pre, k, dim=-1)
    acts = torch.zeros_like(pre).scatter(-1, top.indices, torch.relu(top.values))
    recon = acts @ p['W_dec'] + p['b_dec']
    mse = (recon - xb).pow(2).sum(-1).mean()
    mse.backward()
    opt.step()
    with torch.no_grad():
        p['W_dec'] /= p['W_dec'].norm(dim=1, keepdim=True)
    return float(mse)


step(0)  # warm-up, as ours
start = time.perf_counter()
for s in range(steps):
    mse = step(s)
print(json.dumps({'seconds': time.perf_counter() - start, 'threads': torch.get_num_threads(), 'mse': mse}))
