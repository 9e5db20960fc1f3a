#!/usr/bin/env python3
"""Golden for the block hold-out (docs/method.md#block-holdout) computed independently with scikit-learn and NumPy.

For each held-out group v of a small synthetic space dataset:
  nominal  = Ridge(alpha) fitted on the default train rows (targets standardised with their mean/std, ddof 0),
             scored on group v ∩ default test;
  held-out = Ridge(alpha) fitted on every row outside v (targets standardised with those rows), scored on all of v.
prox_error = mean over the scored rows of PE_All(i) = #{j in all N : d(t_i, p_j) < d(t_i, p_i)} / N,
d = great-circle distance with (lat, lon) in their right places. Also R² (sklearn, uniform average), pooled MAE,
and the centroid angle of docs/experiments.md. Writes test/fixtures/experiments/holdout_golden.{json,bin}.
Run: /usr/bin/python3 reference/experiments_holdout_golden.py
"""
import json
import os

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'experiments')
rng = np.random.default_rng(7)
n, d, alpha = 160, 6, 2.0
groups = np.array(['north', 'south', 'east', 'west'])[rng.integers(0, 4, n)]
centre = {'north': (10, 50), 'south': (-60, -20), 'east': (100, 20), 'west': (-100, 35)}
lonlat = np.array([centre[g] for g in groups], dtype=np.float64) + rng.normal(0, 8, (n, 2))
code = rng.normal(size=(2, d))
x = (lonlat / [90, 45]) @ code + rng.normal(0, 0.3, (n, d))
x = x.astype(np.float32)
is_test = (rng.random(n) < 0.25).astype(np.uint8)


def fit_predict(rows):
    y = lonlat[rows]
    mu, sd = y.mean(0), y.std(0)
    model = Ridge(alpha=alpha).fit(x[rows].astype(np.float64), (y - mu) / sd)
    return model.predict(x.astype(np.float64)) * sd + mu


def unit(lonlat_):
    lon, lat = np.radians(lonlat_[:, 0]), np.radians(lonlat_[:, 1])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1)


def pe_all(pred):
    ut, up = unit(lonlat), unit(pred)
    # great-circle distance is monotone in the angle: d(t_i, p_j) < d(t_i, p_i) <=> dot larger
    dots = ut @ up.T
    closer = dots > np.diagonal(dots)[:, None]
    np.fill_diagonal(closer, False)  # E[i, i] = 0 by definition (and rounding must not flip it)
    return closer.sum(1) / n


def scores(pred, prox, rows):
    return {
        'r2': float(r2_score(lonlat[rows], pred[rows])),
        'mae': float(np.abs(lonlat[rows] - pred[rows]).mean()),
        'proxError': float(prox[rows].mean()),
    }


nominal_pred = fit_predict(np.where(is_test == 0)[0])
nominal_prox = pe_all(nominal_pred)
out = []
for g in ['north', 'south', 'east', 'west']:
    in_g = np.where(groups == g)[0]
    rest = np.where(groups != g)[0]
    pred = fit_predict(rest)
    prox = pe_all(pred)
    nominal_rows = in_g[is_test[in_g] == 1]
    train_c = lonlat[rest].mean(0)
    a, b = lonlat[in_g].mean(0) - train_c, pred[in_g].mean(0) - train_c
    angle = float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))
    out.append({
        'group': g,
        'nGroup': int(len(in_g)),
        'nNominal': int(len(nominal_rows)),
        'heldOut': scores(pred, prox, in_g),
        'nominal': scores(nominal_pred, nominal_prox, nominal_rows),
        'angleDeg': angle,
    })

blob = np.concatenate([x.astype(np.float64).ravel(), lonlat.ravel()])
blob.astype('<f8').tofile(os.path.join(OUT, 'holdout_golden.bin'))
meta = {
    'n': n, 'd': d, 'alpha': alpha, 'groups': groups.tolist(), 'isTest': is_test.tolist(), 'results': out,
    'index': {'x': {'offset': 0, 'shape': [n, d]}, 'lonlat': {'offset': n * d, 'shape': [n, 2]}},
}
with open(os.path.join(OUT, 'holdout_golden.json'), 'w') as f:
    json.dump(meta, f)
print(json.dumps(out[0]))
