#!/usr/bin/env python3
"""Golden for the probe's target variants (docs/method.md#target-variants), from NumPy and scikit-learn.

globe: real world_place rows (../shared/data/paper/world_place.csv, 280 random rows plus 80 within 12 degrees of
the antimeridian), activations that hold the 3-D unit vector linearly plus noise. The probe fits RidgeCV (exact LOO,
targets standardised with the train mean/std, ddof 0) on (x, y, z), normalises each prediction onto the sphere and
reads it as (longitude, latitude); errors are great-circle km (haversine, R = 6371 km). The same rows' lon/lat probe is
stored too: it cannot put the two sides of the seam next to each other.
log-time: real art rows (release_date -> years since 1970, as the paper: days / 365.25), activations linear in
ln(2025 - year); RidgeCV on ln(R - year), predictions read back as R - exp(f).
Writes test/fixtures/probe/targets_golden.json.
Run: /usr/bin/python3 reference/probe_targets_golden.py
"""
import csv
import datetime
import json
import os

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

HERE = os.path.dirname(__file__)
PAPER = os.path.join(HERE, '..', '..', 'shared', 'data', 'paper')
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'probe')
R_EARTH = 6371.0
ALPHAS = [0.01, 0.1, 1.0, 10.0, 100.0]
rng = np.random.default_rng(11)


def ridge_predict(X, Y, train):
    mu, sd = Y[train].mean(0), Y[train].std(0)
    model = RidgeCV(alphas=ALPHAS).fit(X[train], (Y[train] - mu) / sd)
    return model.predict(X).reshape(len(X), -1) * sd + mu, float(model.alpha_)


def great_circle_km(lon1, lat1, lon2, lat2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


# ---- globe
with open(os.path.join(PAPER, 'world_place.csv'), newline='') as f:
    rows = list(csv.DictReader(f))
lon_all = np.array([float(r['longitude']) for r in rows])
seam = np.flatnonzero(np.abs(lon_all) > 168)
rest = np.flatnonzero(np.abs(lon_all) <= 168)
pick = np.concatenate([rng.choice(seam, 80, replace=False), rng.choice(rest, 280, replace=False)])
pick.sort()
lon = lon_all[pick]
lat = np.array([float(rows[i]['latitude']) for i in pick])
is_test = np.array([rows[i]['is_test'] == 'True' for i in pick])
train = np.flatnonzero(~is_test)
phi, lam = np.radians(lat), np.radians(lon)
xyz = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1)
d = 16
X = (xyz @ rng.standard_normal((3, d)) * 4 + 0.15 * rng.standard_normal((len(pick), d))).astype(np.float32)
Xf = X.astype(np.float64)
pred_xyz, alpha_globe = ridge_predict(Xf, xyz, train)
unit = pred_xyz / np.linalg.norm(pred_xyz, axis=1, keepdims=True)
g_lon = np.degrees(np.arctan2(unit[:, 1], unit[:, 0]))
g_lat = np.degrees(np.arctan2(unit[:, 2], np.hypot(unit[:, 0], unit[:, 1])))
g_km = great_circle_km(lon, lat, g_lon, g_lat)
pred_ll, alpha_native = ridge_predict(Xf, np.stack([lon, lat], axis=1), train)
n_km = great_circle_km(lon, lat, pred_ll[:, 0], pred_ll[:, 1])
test = is_test
globe = {
    'names': [rows[i]['name'] for i in pick],
    'n': int(len(pick)),
    'd': d,
    'X': flat(Xf),
    'lonLat': flat(np.stack([lon, lat], axis=1)),
    'isTest': [bool(v) for v in is_test],
    'alphas': ALPHAS,
    'expected': {
        'alpha': alpha_globe,
        'predLonLat': flat(np.stack([g_lon, g_lat], axis=1)),
        'testKm': float(g_km[test].mean()),
        'trainKm': float(g_km[~test].mean()),
        'fitR2Test': float(r2_score(xyz[test], pred_xyz[test])),
        'testR2': float(r2_score(np.stack([lon, lat], 1)[test], np.stack([g_lon, g_lat], 1)[test])),
        'nativeAlpha': alpha_native,
        'nativeTestKm': float(n_km[test].mean()),
        'seamTestKmGlobe': float(g_km[test & (np.abs(lon) > 168)].mean()),
        'seamTestKmNative': float(n_km[test & (np.abs(lon) > 168)].mean()),
    },
}

# ---- log-time
with open(os.path.join(PAPER, 'art.csv'), newline='') as f:
    art = list(csv.DictReader(f))
pick = np.sort(rng.choice(len(art), 300, replace=False))
epoch = datetime.date(1970, 1, 1)
years = np.array([(datetime.date.fromisoformat(art[i]['release_date']) - epoch).days / 365.25 for i in pick])
is_test = np.array([art[i]['is_test'] == 'True' for i in pick])
train = np.flatnonzero(~is_test)
R = 2025.0
logd = np.log(R - (years + 1970))
d = 12
X = (np.outer(logd, rng.standard_normal(d)) * 3 + 0.2 * rng.standard_normal((len(pick), d))).astype(np.float32)
Xf = X.astype(np.float64)
pred_log, alpha_log = ridge_predict(Xf, logd[:, None], train)
pred_years = R - np.exp(pred_log[:, 0]) - 1970
pred_lin, _ = ridge_predict(Xf, years[:, None], train)
log_time = {
    'names': [art[i]['title'] for i in pick],
    'n': int(len(pick)),
    'd': d,
    'X': flat(Xf),
    'years': flat(years),
    'isTest': [bool(v) for v in is_test],
    'alphas': ALPHAS,
    'referenceYear': R,
    'expected': {
        'alpha': alpha_log,
        'pred': flat(pred_years),
        'testR2': float(r2_score(years[is_test], pred_years[is_test])),
        'fitR2Test': float(r2_score(logd[is_test], pred_log[is_test, 0])),
        'linearTestR2': float(r2_score(years[is_test], pred_lin[is_test, 0])),
    },
}

with open(os.path.join(OUT, 'targets_golden.json'), 'w') as f:
    json.dump({'globe': globe, 'logTime': log_time}, f)
print('globe test km', globe['expected']['testKm'], 'native', globe['expected']['nativeTestKm'],
      'seam', globe['expected']['seamTestKmGlobe'], globe['expected']['seamTestKmNative'])
print('log-time test R2', log_time['expected']['testR2'], 'linear', log_time['expected']['linearTestR2'])
