#!/usr/bin/env python3
"""Golden for PCA (docs/method.md#pca): scikit-learn PCA (full SVD) and NumPy eigh of the covariance, in float64,
on float32 activations-like data (a mean offset, a decaying spectrum). Two shapes: n > d and n < d.
Writes test/fixtures/experiments/pca_golden.{json,bin}.
Run: /usr/bin/python3 reference/experiments_pca_golden.py
"""
import json
import os

import numpy as np
from sklearn.decomposition import PCA

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'experiments')
rng = np.random.default_rng(42)
blob, index, cases = [], {}, []


def put(name, arr):
    arr = np.asarray(arr, dtype=np.float64)
    index[name] = {'offset': sum(a.size for a in blob), 'shape': list(arr.shape)}
    blob.append(arr.ravel())


for case, (n, d, k) in enumerate([(400, 48, 20), (60, 150, 30)]):
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    spectrum = 10.0 * 0.85 ** np.arange(d)  # well separated singular values
    x = (rng.standard_normal((n, d)) * spectrum) @ basis.T + 3.0 * rng.standard_normal(d)
    x = x.astype(np.float32)
    x64 = x.astype(np.float64)
    p = PCA(n_components=k, svd_solver='full').fit(x64)
    # cross-check sklearn against eigh of the covariance
    w, v = np.linalg.eigh(np.cov(x64, rowvar=False))
    assert np.allclose(w[::-1][:k], p.explained_variance_, rtol=1e-9)
    put(f'case{case}.x', x)
    put(f'case{case}.components', p.components_)
    put(f'case{case}.explained_variance', p.explained_variance_)
    put(f'case{case}.explained_variance_ratio', p.explained_variance_ratio_)
    put(f'case{case}.mean', p.mean_)
    cases.append({'n': n, 'd': d, 'k': k})

with open(os.path.join(OUT, 'pca_golden.json'), 'w') as f:
    json.dump({'cases': cases, 'index': index}, f)
np.concatenate(blob).astype('<f8').tofile(os.path.join(OUT, 'pca_golden.bin'))
print('wrote', sum(a.size for a in blob), 'values')
