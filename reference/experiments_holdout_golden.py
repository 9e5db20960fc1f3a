#!/usr/bin/env python3
"""Golden for the block hold-out (docs/method.md#block-holdout) computed independently with scikit-learn and NumPy.

For each held-out group v of a small synthetic space dataset:
  nominal  = Ridge(alpha) fitted on the default train rows (targets standardised with their mean/std, ddof 0),
             scored on group v ∩ default test;
  held-out = Ridge(alpha) fitted on every row outside v (targets standardised with those rows), scored on all of v.
prox_error = mean over the scored rows of PE_All(i) = #{j in all N : d(t_i, p_j) < d(t_i, p_i)} / N,
d = great-circle distance with (lat, lon) in their right places. Also R² (sklearn, uniform average), pooled MAE,
and the centroid angle of docs/experiments.md: centroids are spherical means (mean of unit vectors), the angle is the
difference of the initial great-circle bearings from the training centroid to the true and to the predicted block
centroid. The 'pacific' block straddles the 180th meridian (longitudes wrapped to [-180, 180)), where a flat mean of
longitudes lands near 0° and a flat angle is meaningless.
Writes test/fixtures/experiments/holdout_golden.{json,bin}.
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
GROUPS = ['north', 'south', 'east', 'west', 'pacific']
groups = np.array(GROUPS)[rng.integers(0, len(GROUPS), n)]
centre = {'north': (10, 50), 'south': (-60, -20), 'east': (100, 20), 'west': (-100, 35), 'pacific': (179, -17)}
lonlat = np.array([centre[g] for g in groups], dtype=np.float64) + rng.normal(0, 8, (n, 2))
lonlat[:, 0] = (lonlat[:, 0] + 180) % 360 - 180
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


def sphere_centroid(points):
    v = unit(points).mean(0)
    return np.array([np.degrees(np.arctan2(v[1], v[0])), np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1])))])


def bearing(a, b):
    # initial great-circle bearing from a to b, degrees clockwise from north
    (l1, p1), (l2, p2) = np.radians(a), np.radians(b)
    return np.degrees(np.arctan2(np.sin(l2 - l1) * np.cos(p2),
                                 np.cos(p1) * np.sin(p2) - np.sin(p1) * np.cos(p2) * np.cos(l2 - l1)))


nominal_pred = fit_predict(np.where(is_test == 0)[0])
nominal_prox = pe_all(nominal_pred)
out = []
for g in GROUPS:
    in_g = np.where(groups == g)[0]
    rest = np.where(groups != g)[0]
    pred = fit_predict(rest)
    prox = pe_all(pred)
    nominal_rows = in_g[is_test[in_g] == 1]
    train_c = sphere_centroid(lonlat[rest])
    diff = abs(bearing(train_c, sphere_centroid(lonlat[in_g])) - bearing(train_c, sphere_centroid(pred[in_g]))) % 360
    angle = float(min(diff, 360 - diff))
    out.append({
        'group': g,
        'nGroup': int(len(in_g)),
        'nNominal': int(len(nominal_rows)),
        'heldOut': scores(pred, prox, in_g),
        'nominal': scores(nominal_pred, nominal_prox, nominal_rows),
        'angleDeg': angle,
        'trueCentroid': sphere_centroid(lonlat[in_g]).tolist(),
        'predictedCentroid': sphere_centroid(pred[in_g]).tolist(),
        'trainCentroid': train_c.tolist(),
    })

# Blocks straddling the 180th meridian, centroid geometry only: points -> spherical centroids -> bearings -> angle.
# A flat (lon, lat) mean puts each block near longitude 0, on the wrong side of the training rows.
SPHERE_CASES = [
    {'name': 'fiji',  # trained on Australia/Indonesia; predicted just west of 180, truth on both sides
     'train': [[135, -25], [145, -30], [120, 10], [150, -5]],
     'truth': [[177, -17], [179, -18], [-179, -16], [-177, -17]],
     'pred': [[176, -15], [178, -16], [179, -14], [177, -15]]},
    {'name': 'kiribati',  # trained on Hawaii/Alaska; truth and prediction straddle 180 near the equator
     'train': [[-158, 21], [-155, 19.5], [-150, 61], [-165, 55]],
     'truth': [[-179.5, 1.5], [179.5, 2], [-178, 0.5], [178, 1]],
     'pred': [[-176, 3], [-177, 2], [179, 1], [-179, 2]]},
    {'name': 'aleutians',  # high latitude: flat directions are stretched by 1 / cos(latitude)
     'train': [[-150, 61], [-135, 58], [-147, 65]],
     'truth': [[-176, 51.8], [179, 51.9], [174, 52.8], [-170, 52.5]],
     'pred': [[-160, 50], [-165, 48], [-170, 49], [-158, 51]]},
]
for c in SPHERE_CASES:
    tc, gc, pc = (sphere_centroid(np.array(c[k], dtype=np.float64)) for k in ('train', 'truth', 'pred'))
    bt, bp = bearing(tc, gc), bearing(tc, pc)
    diff = abs(bt - bp) % 360
    flat_c = np.mean(c['train'], 0)
    fa, fb = np.mean(c['truth'], 0) - flat_c, np.mean(c['pred'], 0) - flat_c
    c['flatAngleDeg'] = float(np.degrees(np.arccos(fa @ fb / np.linalg.norm(fa) / np.linalg.norm(fb))))  # for the docs
    c.update({'trainCentroid': tc.tolist(), 'trueCentroid': gc.tolist(), 'predictedCentroid': pc.tolist(),
              'trueBearingDeg': float(bt), 'predictedBearingDeg': float(bp), 'angleDeg': float(min(diff, 360 - diff))})

blob = np.concatenate([x.astype(np.float64).ravel(), lonlat.ravel()])
blob.astype('<f8').tofile(os.path.join(OUT, 'holdout_golden.bin'))
meta = {
    'n': n, 'd': d, 'alpha': alpha, 'groups': groups.tolist(), 'isTest': is_test.tolist(), 'results': out,
    'sphereCases': SPHERE_CASES,
    'index': {'x': {'offset': 0, 'shape': [n, d]}, 'lonlat': {'offset': n * d, 'shape': [n, 2]}},
}
with open(os.path.join(OUT, 'holdout_golden.json'), 'w') as f:
    json.dump(meta, f)
print(json.dumps(out[-1]))
for c in SPHERE_CASES:
    print(c['name'], c['trueCentroid'], c['predictedCentroid'], c['trainCentroid'], c['trueBearingDeg'], c['predictedBearingDeg'], c['angleDeg'], 'flat', c['flatAngleDeg'])
