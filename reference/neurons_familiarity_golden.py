#!/usr/bin/python3
"""Golden for src/neurons/familiarity.ts familiarityProbe (docs/neurons.md#spacetime-lens-familiarity), from NumPy and
scikit-learn, on generated stores where only familiar rows carry the signal.

For each case (a space store with true haversine, a time store): per filter quantile q (0, 0.5) the probe refitted
(RidgeCV, exact LOO, targets standardised with the train mean/std) on the train rows with score >= np.quantile(scores,
q) and scored on the test rows above it: R² (sklearn, uniform), pooled MAE, mean km, and the proximity error among the
kept test rows (brute force, strict); per familiarity quartile of the test rows (np.quantile of the test scores,
[lo, hi), the last [lo, hi]) one probe on all train rows scored on the bucket: R², MAE, km, and the mean over the
bucket of PE_Test(i) = the fraction of *all* test rows j with d(t_i, p_j) < d(t_i, p_i).

Writes test/fixtures/neurons/familiarity_golden.json. Run: /usr/bin/python3 reference/neurons_familiarity_golden.py
"""
import json
import os

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'neurons', 'familiarity_golden.json')
ALPHAS = [0.1, 1.0, 10.0]
R_EARTH = 6371.0


def haversine(a, b):
    """Great-circle km between (lon, lat) rows a[i] and b[j] (broadcasting)."""
    lon1, lat1 = np.radians(a[..., 0]), np.radians(a[..., 1])
    lon2, lat2 = np.radians(b[..., 0]), np.radians(b[..., 1])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def dist(space, t, p):
    return haversine(t, p) if space else np.abs(t[..., 0] - p[..., 0])


def fit(X, Y, rows):
    mu, sd = Y[rows].mean(0), Y[rows].std(0)
    m = RidgeCV(alphas=ALPHAS).fit(X[rows].astype(np.float64), (Y[rows] - mu) / sd)
    return m.predict(X.astype(np.float64)).reshape(len(X), -1) * sd + mu, float(m.alpha_)


def scored(Y, P, rows, space):
    out = {
        'nTest': int(len(rows)),
        'testR2': float(r2_score(Y[rows], P[rows])),
        'testMae': float(np.abs(Y[rows] - P[rows]).mean()),
    }
    if space:
        out['testKm'] = float(haversine(Y[rows], P[rows]).mean())
    return out


def prox_counts(Y, P, rows_i, rows_j, space):
    """For each i in rows_i: #{j in rows_j : d(t_i, p_j) < d(t_i, p_i)}."""
    own = dist(space, Y[rows_i], P[rows_i])
    other = dist(space, Y[rows_i][:, None, :], P[rows_j][None, :, :])
    return (other < own[:, None]).sum(1)


def make_case(name, space, seed):
    rng = np.random.default_rng(seed)
    n, d = 300, 6
    familiar = np.arange(n) % 2 == 0
    scores = np.where(familiar, -1.0, -9.0) + rng.uniform(-0.5, 0.5, n)
    if space:
        Y = np.stack([rng.uniform(-150, 150, n), rng.uniform(-60, 60, n)], 1)
        signal = np.stack([Y[:, 0] / 100, Y[:, 1] / 40], 1)
    else:
        Y = rng.uniform(-500, 2000, n)[:, None]
        signal = np.stack([Y[:, 0] / 800, -Y[:, 0] / 500], 1)
    X = rng.uniform(-0.5, 0.5, (n, d))
    X[familiar, :2] = signal[familiar] + 0.02 * rng.normal(size=(familiar.sum(), 2))
    X = X.astype(np.float32)
    is_test = (np.arange(n) % 5 == 0) | (np.arange(n) % 5 == 1)
    rows = []
    for q in (0, 0.5):
        thr = float(np.quantile(scores, q))
        kept = scores >= thr
        train = np.where(kept & ~is_test)[0]
        test = np.where(kept & is_test)[0]
        P, alpha = fit(X, Y, train)
        row = {'analysis': 'filtered', 'quantileLow': q, 'threshold': thr, 'nTrain': int(len(train)), 'alpha': alpha}
        row.update(scored(Y, P, test, space))
        row['testProxError'] = float((prox_counts(Y, P, test, test, space) / len(test)).mean())
        rows.append(row)
    train = np.where(~is_test)[0]
    test_all = np.where(is_test)[0]
    P, alpha = fit(X, Y, train)
    pe_test = prox_counts(Y, P, test_all, test_all, space) / len(test_all)
    ts = scores[test_all]
    k = 4
    for b in range(k):
        lo, hi = np.quantile(ts, b / k), np.quantile(ts, (b + 1) / k)
        sel = (ts >= lo) & ((ts <= hi) if b == k - 1 else (ts < hi))
        row = {'analysis': 'bucket', 'quantileLow': b / k, 'threshold': float(lo), 'nTrain': int(len(train)),
               'alpha': alpha}
        row.update(scored(Y, P, test_all[sel], space))
        row['testProxError'] = float(pe_test[sel].mean())
        rows.append(row)
    return {
        'name': name,
        'kind': 'space' if space else 'time',
        'n': n,
        'd': d,
        'X': [float(v) for v in X.ravel()],
        'Y': [float(v) for v in Y.ravel()],
        'isTest': [int(v) for v in is_test],
        'scores': [float(v) for v in scores],
        'alphas': ALPHAS,
        'rows': rows,
    }


cases = [make_case('space', True, 5), make_case('time', False, 6)]
with open(OUT, 'w') as f:
    json.dump({'cases': cases}, f)
for c in cases:
    for r in c['rows']:
        print(c['name'], r['analysis'], r['quantileLow'], round(r['testR2'], 3), round(r['testMae'], 2),
              round(r['testProxError'], 4))
