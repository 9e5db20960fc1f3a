#!/usr/bin/python3
"""The scikit-learn side of bench/probe/ridge-loo.bench.ts: RidgeCV (exact LOO, cv=None) on the same arrays.

Usage: sklearn_ridgecv.py DIR  (DIR holds meta.json, x.f32, y.f64 written by the TypeScript side).
Prints one JSON line: fit seconds (the best of meta['repeats'] fits, wall and CPU, all threads; and the first), chosen alpha, its index, the LOO MSE per alpha and the test R².
"""
import json
import sys
import time

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

d = sys.argv[1]
meta = json.load(open(f'{d}/meta.json'))
n, dim, t, n_train = meta['n'], meta['d'], meta['t'], meta['nTrain']
X = np.fromfile(f'{d}/x.f32', dtype='<f4').reshape(n, dim)
Y = np.fromfile(f'{d}/y.f64', dtype='<f8').reshape(n, t)
alphas = np.asarray(meta['alphas'])
Xtr, Ytr = X[:n_train], Y[:n_train]
mu, sd = Ytr.mean(0), Ytr.std(0)
walls, cpus = [], []
for _ in range(meta.get('repeats', 1)):  # the same fit, as many times as ours; the best is the figure
    start = time.perf_counter()
    cpu_start = time.process_time()
    model = RidgeCV(alphas=alphas, store_cv_values=True).fit(Xtr, (Ytr - mu) / sd)
    walls.append(time.perf_counter() - start)
    cpus.append(time.process_time() - cpu_start)
seconds, cpu_seconds = min(walls), min(cpus)
pred = model.predict(X[n_train:]) * sd + mu
loo = model.cv_values_.reshape(n_train, t, len(alphas)).mean(axis=(0, 1))
print(json.dumps({
    'seconds': seconds,
    'firstSeconds': walls[0],
    'cpuSeconds': cpu_seconds,
    'alpha': float(model.alpha_),
    'alphaIndex': int(np.where(alphas == model.alpha_)[0][0]),
    'looMse': [float(v) for v in loo],
    'r2Test': float(r2_score(Y[n_train:], pred)),
}))
