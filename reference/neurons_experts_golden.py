#!/usr/bin/env python3
"""Golden for `experts` (src/neurons/experts.ts): router probabilities of 3 layers x 8 experts for 101 entities with
(longitude, latitude) targets, and the statistics computed with NumPy / SciPy.

Run by developers (not CI):  /usr/bin/python3 reference/neurons_experts_golden.py [OUT]
Default OUT: test/fixtures/neurons/experts.json. Probabilities are float32 softmaxes of random logits; a few rows
are exact ties (two experts with the same logit) and latitude has repeated values, to pin both tie rules.
  mean_weight = mean over entities; top1 = np.argmax (first maximum = lower index); top1_share = bincount / n;
  spearman = scipy.stats.spearmanr (average ranks); bins: stable argsort of the target, bin = floor(rank * B / n),
  shares[b][e] = fraction of bin b whose top1 is e; ranges = [min, max] of the target in each bin.
"""
import json
import os
import sys

import numpy as np
from scipy.stats import spearmanr

rng = np.random.default_rng(26)
L, n, E, B = 3, 101, 8, 5
lon = rng.uniform(-180, 180, n)
lat = np.round(rng.uniform(-60, 70, n) / 10) * 10  # repeated values
probs = []
for l in range(L):
    logits = rng.normal(0, 1.5, (n, E)) + np.outer(lon / 90, rng.normal(0, 1, E))
    logits[::17, 3] = logits[::17, 5] = logits[::17].max(axis=1) + 0.5  # exact ties between experts 3 and 5
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs.append((z / z.sum(axis=1, keepdims=True)).astype(np.float32))
out = {"n": n, "experts": E, "bins": B, "longitude": lon.tolist(), "latitude": lat.tolist(),
       "probs": [p.astype(np.float64).ravel().tolist() for p in probs], "layers": []}
for l, p in enumerate(probs):
    p64 = p.astype(np.float64)
    top = np.argmax(p, axis=1)
    layer = {"mean_weight": p64.mean(axis=0).tolist(), "top1": top.tolist(),
             "top1_share": (np.bincount(top, minlength=E) / n).tolist(), "spearman": {}, "shares": {}, "ranges": {}}
    for name, t in (("longitude", lon), ("latitude", lat)):
        layer["spearman"][name] = [float(spearmanr(p64[:, e], t).correlation) for e in range(E)]
        order = np.argsort(t, kind="stable")
        bins = np.empty(n, dtype=int)
        bins[order] = np.minimum(B - 1, (np.arange(n) * B) // n)
        layer["shares"][name] = [(np.bincount(top[bins == b], minlength=E) / (bins == b).sum()).tolist()
                                 for b in range(B)]
        layer["ranges"][name] = [[float(t[bins == b].min()), float(t[bins == b].max())] for b in range(B)]
    out["layers"].append(layer)
path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "test", "fixtures",
                                                            "neurons", "experts.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", path)
