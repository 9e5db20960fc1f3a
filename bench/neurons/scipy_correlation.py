#!/usr/bin/env python3
"""The correlation search's per-layer work in NumPy/SciPy (the reference side of correlation.bench.ts):
gain-free RMSNorm, A @ W.T, average ranks of every column (scipy.stats.rankdata, axis=0), Spearman with each target
as the Pearson correlation of ranks. Prints seconds and a checksum of the correlations."""
import sys
import time

import numpy as np
from scipy.stats import rankdata

path, n, d, m, t = sys.argv[1], *map(int, sys.argv[2:6])
x = np.fromfile(f'{path}/x.f32', dtype='<f4').reshape(n, d)
w = np.fromfile(f'{path}/w.f32', dtype='<f4').reshape(m, d)
y = np.fromfile(f'{path}/y.f64', dtype='<f8').reshape(n, t)
start = time.perf_counter()
a = x / np.sqrt(np.mean(x * x, axis=1, keepdims=True) + 1e-6)
p = a @ w.T
rp = rankdata(p, axis=0)
ry = rankdata(y, axis=0)
rp -= rp.mean(0)
ry -= ry.mean(0)
corr = (rp.T @ ry) / np.outer(np.linalg.norm(rp, axis=0), np.linalg.norm(ry, axis=0))
elapsed = time.perf_counter() - start
print(f'{elapsed:.4f} {np.nansum(np.abs(corr)):.6f} {np.nanmax(np.abs(corr)):.6f}')
