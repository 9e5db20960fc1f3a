#!/usr/bin/env python3
"""Python side of bench/experiments/bench.ts: the same MLP training and PCA on the same arrays, timed.

Usage: reference.py DIR  (DIR holds x.bin (f32 n×d), y.bin (f64 n×t), order.json written by bench.ts)
Prints one JSON line with the timings and results.
"""
import json
import os
import sys
import time

import numpy as np
import torch

d_ = sys.argv[1]
meta = json.load(open(os.path.join(d_, 'meta.json')))
n, d, t = meta['n'], meta['d'], meta['t']
x = np.fromfile(os.path.join(d_, 'x.bin'), dtype='<f4').reshape(n, d)
y = np.fromfile(os.path.join(d_, 'y.bin'), dtype='<f8').reshape(n, t).astype(np.float32)
torch.set_num_threads(os.cpu_count())
out = {'threads': torch.get_num_threads()}

if meta.get('mlp'):
    m = meta['mlp']
    model = torch.nn.Sequential(torch.nn.Linear(d, m['hidden']), torch.nn.ReLU(), torch.nn.Linear(m['hidden'], t))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = torch.nn.MSELoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    steps = 0
    for _ in range(m['epochs']):
        perm = torch.from_numpy(rng.permutation(n))
        for s in range(0, n, m['batch']):
            rows = perm[s:s + m['batch']]
            opt.zero_grad()
            loss = loss_fn(model(xt[rows]), yt[rows])
            loss.backward()
            opt.step()
            steps += 1
    out['mlp_seconds'] = time.perf_counter() - start
    out['mlp_steps'] = steps
    out['mlp_final_loss'] = float(loss)

if meta.get('pca'):
    k = meta['pca']['k']
    xt = torch.from_numpy(x)
    start = time.perf_counter()
    u, s, v = torch.pca_lowrank(xt, q=k, center=True, niter=2)
    out['pca_lowrank_seconds'] = time.perf_counter() - start
    out['pca_lowrank_variance'] = (s.numpy() ** 2 / (n - 1)).tolist()
    start = time.perf_counter()
    xc = x.astype(np.float64) - x.astype(np.float64).mean(0)
    w = np.linalg.eigh(xc.T @ xc / (n - 1))[0][::-1][:k]
    out['eigh_seconds'] = time.perf_counter() - start
    out['eigh_variance'] = w.tolist()

print(json.dumps(out))
