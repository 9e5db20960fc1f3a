#!/usr/bin/env python3
"""Golden for PLS probes (docs/experiments.md#pls): scikit-learn PLSRegression for k = 1..K components on float32
activation-like data, fitted on the train rows, predicting every row. Cases: one target (time), two targets (space)
with scale=True and scale=False, and n < d. The power method runs with tol=1e-20 and max_iter=10000, so it converges
to the exact first singular vectors (what src/experiments/pls.ts computes); the default-tol predictions (k = K) are stored too
so the test can state how far sklearn's default stopping rule is from them.
Writes test/fixtures/experiments/pls_golden.{json,bin}.
Run: /usr/bin/python3 reference/experiments_pls_golden.py
"""
import json
import os
import warnings

import numpy as np
from sklearn.cross_decomposition import PLSRegression

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'experiments')
rng = np.random.default_rng(7)
blob, index, cases = [], {}, []


def put(name, arr):
    arr = np.asarray(arr, dtype=np.float64)
    index[name] = {'offset': sum(a.size for a in blob), 'shape': list(arr.shape)}
    blob.append(arr.ravel())


for case, (n, d, t, K, scale) in enumerate(
    [(200, 30, 1, 10, True), (200, 40, 2, 12, True), (200, 40, 2, 12, False), (60, 90, 2, 8, True)]
):
    latent = rng.standard_normal((n, 6))
    mixing = rng.standard_normal((6, d)) * np.linspace(3, 0.5, d)  # columns of unequal scale
    x = latent @ mixing + 0.7 * rng.standard_normal((n, d)) + 5.0 * rng.standard_normal(d)
    x = x.astype(np.float32)
    beta = rng.standard_normal((6, t)) * np.array([40.0, 15.0][:t])
    y = latent @ beta + 3.0 * rng.standard_normal((n, t)) + np.array([10.0, -20.0][:t])
    is_test = np.zeros(n, dtype=bool)
    is_test[rng.choice(n, n // 5, replace=False)] = True
    tr = ~is_test
    x64 = x.astype(np.float64)
    put(f'case{case}.x', x)
    put(f'case{case}.y', y)
    put(f'case{case}.is_test', is_test.astype(np.float64))
    ks = sorted({1, 2, 3, 5, K})
    for k in ks:
        exact = PLSRegression(n_components=k, scale=scale, tol=1e-20, max_iter=10000).fit(x64[tr], y[tr])
        put(f'case{case}.pred{k}', exact.predict(x64).reshape(n, t))
        if k == K:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                default = PLSRegression(n_components=k, scale=scale).fit(x64[tr], y[tr])
            put(f'case{case}.default_pred{k}', default.predict(x64).reshape(n, t))
            put(f'case{case}.x_weights', exact.x_weights_)
            put(f'case{case}.x_loadings', exact.x_loadings_)
            put(f'case{case}.y_loadings', exact.y_loadings_)
    cases.append({'n': n, 'd': d, 't': t, 'K': K, 'ks': ks, 'scale': scale})

with open(os.path.join(OUT, 'pls_golden.json'), 'w') as f:
    json.dump({'cases': cases, 'index': index}, f)
np.concatenate(blob).astype('<f8').tofile(os.path.join(OUT, 'pls_golden.bin'))
print('wrote', sum(a.size for a in blob), 'values')
