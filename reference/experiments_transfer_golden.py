#!/usr/bin/env python3
"""Golden for prompt transfer (docs/method.md#prompt-experiments) with scikit-learn RidgeCV and SciPy, independent of our code.

Three "prompts" of one synthetic space dataset (shared geometry, prompt-specific offsets and noise). For every
ordered pair (a = activation prompt, b = probe prompt): RidgeCV(alphas) fitted on b's train rows (targets
standardised with train mean/std, ddof 0); uncentred X_a·w_b + b_b and centred (X_a − (mean(X_a) − mean(X_b)))·w_b
+ b_b (means over all rows); test R² (sklearn, uniform average) and Spearman (mean over lon/lat). same = mean over
a = b; different = mean over a ≠ b of centred and uncentred. Writes test/fixtures/experiments/transfer_golden.*.
Run: /usr/bin/python3 reference/experiments_transfer_golden.py
"""
import json
import os

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'experiments')
rng = np.random.default_rng(11)
n, d = 150, 8
alphas = [0.01, 0.1, 1.0, 10.0]
lonlat = np.stack([rng.uniform(-150, 150, n), rng.uniform(-60, 60, n)], 1)
is_test = (rng.random(n) < 0.3).astype(np.uint8)
base = (lonlat / [90, 45]) @ rng.normal(size=(2, d))
prompts = ['empty', 'coords', 'where']
xs = {p: (base @ (np.eye(d) + 0.2 * rng.normal(size=(d, d))) + rng.normal(0, 2, d) + rng.normal(0, 0.3, (n, d))).astype(np.float32)
      for p in prompts}
train = is_test == 0
test = is_test == 1

fits = {}
for b in prompts:
    y = lonlat[train]
    mu, sd = y.mean(0), y.std(0)
    m = RidgeCV(alphas=alphas).fit(xs[b][train].astype(np.float64), (y - mu) / sd)
    fits[b] = (m, mu, sd)

rows = []
for a in prompts:
    xa = xs[a].astype(np.float64)
    for b in prompts:
        m, mu, sd = fits[b]
        for centred in ([False] if a == b else [False, True]):
            shift = xa.mean(0) - xs[b].astype(np.float64).mean(0) if centred else 0
            pred = m.predict(xa - shift) * sd + mu
            r2 = float(r2_score(lonlat[test], pred[test]))
            sp = float(np.mean([spearmanr(lonlat[test, j], pred[test, j]).correlation for j in range(2)]))
            rows.append({'a': a, 'b': b, 'centred': centred, 'r2': r2, 'spearman': sp, 'alpha': float(m.alpha_)})

same = [r for r in rows if r['a'] == r['b']]
diff = [r for r in rows if r['a'] != r['b']]
meta = {
    'n': n, 'd': d, 'alphas': alphas, 'prompts': prompts, 'isTest': is_test.tolist(), 'rows': rows,
    'same': {k: float(np.mean([r[k] for r in same])) for k in ('r2', 'spearman')},
    'different': {k: float(np.mean([r[k] for r in diff])) for k in ('r2', 'spearman')},
    'index': {'lonlat': {'offset': 0, 'shape': [n, 2]},
              **{f'x.{p}': {'offset': n * 2 + i * n * d, 'shape': [n, d]} for i, p in enumerate(prompts)}},
}
blob = np.concatenate([lonlat.ravel()] + [xs[p].astype(np.float64).ravel() for p in prompts])
blob.astype('<f8').tofile(os.path.join(OUT, 'transfer_golden.bin'))
with open(os.path.join(OUT, 'transfer_golden.json'), 'w') as f:
    json.dump(meta, f)
print(meta['same'], meta['different'])
