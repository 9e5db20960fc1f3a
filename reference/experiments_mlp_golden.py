#!/usr/bin/env python3
"""Golden for the MLP probe's training step (docs/method.md#mlp): PyTorch nn.Linear/ReLU/MSELoss/AdamW.

Writes test/fixtures/experiments/mlp_golden.{json,bin}: inputs (x, y, initial weights, batch rows per step) and
PyTorch's parameters and losses after the steps, for two optimiser settings. The TypeScript test feeds the same
initial weights and batch rows to MlpTrainer and compares. float64 little-endian blob + JSON index.
Run: /usr/bin/python3 reference/experiments_mlp_golden.py
"""
import json
import os

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'experiments')
torch.manual_seed(1234)
rng = np.random.default_rng(1234)

n, d, h, t, batch = 100, 12, 64, 2, 32
x = rng.standard_normal((n, d)).astype(np.float32)
w_true = rng.standard_normal((d, t)).astype(np.float32)
y = (np.abs(x @ w_true) - 1.0).astype(np.float32)

blob = []
index = {}


def put(name, arr):
    arr = np.asarray(arr, dtype=np.float64)
    offset = sum(a.size for a in blob)
    blob.append(arr.ravel())
    index[name] = {'offset': offset, 'shape': list(arr.shape)}


put('x', x)
put('y', y)
cases = []
for case, (lr, wd, epochs) in enumerate([(1e-3, 0.01, 3), (1e-2, 0.3, 6)]):
    model = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Linear(h, t))
    names = {'w1': model[0].weight, 'b1': model[0].bias, 'w2': model[2].weight, 'b2': model[2].bias}
    for k, p in names.items():
        put(f'case{case}.init.{k}', p.detach().numpy())
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = torch.nn.MSELoss()
    batches = []
    losses = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        for s in range(0, n, batch):
            rows = perm[s:s + batch]
            batches.append(rows.tolist())
            opt.zero_grad()
            loss = loss_fn(model(torch.from_numpy(x[rows])), torch.from_numpy(y[rows]))
            loss.backward()
            opt.step()
            losses.append(float(loss))
    for k, p in names.items():
        put(f'case{case}.final.{k}', p.detach().numpy())
    cases.append({'lr': lr, 'weightDecay': wd, 'batches': batches, 'losses': losses})

meta = {'n': n, 'd': d, 'h': h, 't': t, 'torch': torch.__version__, 'index': index, 'cases': cases}
with open(os.path.join(OUT, 'mlp_golden.json'), 'w') as f:
    json.dump(meta, f)
np.concatenate(blob).astype('<f8').tofile(os.path.join(OUT, 'mlp_golden.bin'))
print('wrote', sum(a.size for a in blob), 'values,', len(cases), 'cases')
