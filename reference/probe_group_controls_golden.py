#!/usr/bin/python3
"""Goldens for src/probe/group-control.ts (docs/controls.md#group-baseline-and-within-group-r), from NumPy and
scikit-learn, on the paper's real CSVs (../shared/data/paper) with hand-made "activations":

  position code  each place's exact 3-D unit vector (cos lat cos lon, cos lat sin lon, sin lat), float32: a
                 perfect code of where the place is (world_place, us_place, nyc_place)
  group code     one-hot of the group (us_place: state_id; art: entity_type), float32: knows the group, nothing else

(A perfect year code is left out: its LOO optimum is the smallest alpha, where scikit-learn's GCV loses digits, e.g.
a coefficient of 0.081 for the exact 0.0625 at alpha 1e-8 on art.)

For each: the probe (scikit-learn RidgeCV, cv=None = exact LOO, on targets standardised with the train mean/std,
ddof 0), the group baseline (each row = its group's training mean; the global training mean for a group with no
training rows) and the within-group probe: activations (float32, as the store holds them) and targets minus their
group's training mean, RidgeCV on the training rows of groups with 2+ training rows, scored on the test rows of
groups with training rows: sklearn r2_score of the residuals (uniform over targets), MAE pooled over targets, and
the mean true haversine km (R = 6371) of group mean + predicted residual.

Writes test/fixtures/probe/group_controls_golden.json. Run: /usr/bin/python3 reference/probe_group_controls_golden.py
"""
import csv
import json
import os

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

HERE = os.path.dirname(os.path.abspath(__file__))
PAPER = os.path.join(HERE, '..', '..', 'shared', 'data', 'paper')
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'probe', 'group_controls_golden.json')
ALPHAS = np.logspace(-8, 2, 11)
R_EARTH = 6371.0
NS_PER_YEAR = 1e9 * 60 * 60 * 24 * 365.25


def read(name):
    with open(os.path.join(PAPER, f'{name}.csv'), newline='') as f:
        return list(csv.DictReader(f))


def haversine_km(lonlat_a, lonlat_b):
    lon1, lat1 = np.radians(lonlat_a[:, 0]), np.radians(lonlat_a[:, 1])
    lon2, lat2 = np.radians(lonlat_b[:, 0]), np.radians(lonlat_b[:, 1])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def ridge(X, Y, rows):
    mu, sd = Y[rows].mean(0), Y[rows].std(0)
    m = RidgeCV(alphas=ALPHAS).fit(X[rows].astype(np.float64), (Y[rows] - mu) / sd)
    pred = m.predict(X.astype(np.float64)).reshape(len(X), -1) * sd + mu
    return pred, float(m.alpha_)


def scores(truth, pred, rows, space, offset=None):
    a, b = truth[rows], pred[rows]
    if offset is not None:
        a, b = a - offset[rows], b - offset[rows]
    out = {
        'n': int(len(rows)),
        'r2': float(r2_score(a, b)),
        'r2PerTarget': [float(v) for v in r2_score(a, b, multioutput='raw_values')],
        'mae': float(np.abs(truth[rows] - pred[rows]).mean()),
    }
    if space:
        out['haversineMaeKm'] = float(haversine_km(truth[rows], pred[rows]).mean())
    return out


def case(name, dataset, column, X, Y, is_test, keys, space):
    n = len(keys)
    train = np.where(~is_test)[0]
    test = np.where(is_test)[0]
    pred, alpha = ridge(X, Y, train)
    groups = sorted(set(keys))
    index = {k: i for i, k in enumerate(groups)}
    gi = np.array([index[k] for k in keys])
    count = np.bincount(gi[train], minlength=len(groups))
    ymean = np.full((len(groups), Y.shape[1]), np.nan)
    xmean = np.zeros((len(groups), X.shape[1]))
    for g in np.unique(gi[train]):
        rows = train[gi[train] == g]
        ymean[g] = Y[rows].mean(0)
        xmean[g] = X[rows].astype(np.float64).mean(0)
    seen = count[gi] > 0
    base = np.where(seen[:, None], ymean[gi], Y[train].mean(0))
    # The store holds float32: the demeaned activations are rounded back to float32, as the TS code does in place.
    Xw = np.where(seen[:, None], X.astype(np.float64) - xmean[gi], 0).astype(np.float32)
    Yw = np.where(seen[:, None], Y - np.nan_to_num(ymean[gi]), 0)
    fit = train[count[gi[train]] >= 2]
    evaluated = test[seen[test]]
    pw, walpha = ridge(Xw, Yw, fit)
    full = np.nan_to_num(ymean[gi]) + pw
    return {
        'name': name,
        'dataset': dataset,
        'column': column,
        'n': n,
        'd': int(X.shape[1]),
        'probe': {'alpha': alpha, 'test': scores(Y, pred, test, space)},
        'baseline': {
            'groups': len(groups),
            'trainGroups': int((count > 0).sum()),
            'unseenTestRows': int(len(test) - len(evaluated)),
            'test': scores(Y, base, test, space),
            'train': scores(Y, base, train, space),
        },
        'within': {
            'alpha': walpha,
            'nFit': int(len(fit)),
            'test': scores(Y, full, evaluated, space, offset=np.nan_to_num(ymean[gi])),
        },
    }


def is_test_of(rows):
    return np.array([r['is_test'].strip().lower() == 'true' for r in rows])


def unit_vectors(lonlat):
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1).astype(np.float32)


def one_hot(keys):
    groups = sorted(set(keys))
    index = {k: i for i, k in enumerate(groups)}
    X = np.zeros((len(keys), len(groups)), dtype=np.float32)
    X[np.arange(len(keys)), [index[k] for k in keys]] = 1
    return X


cases = []
for dataset, column in (('world_place', 'country'), ('us_place', 'state_id'), ('nyc_place', 'borough_name')):
    rows = read(dataset)
    Y = np.array([[float(r['longitude']), float(r['latitude'])] for r in rows])
    keys = [r[column] for r in rows]
    cases.append(case(f'{dataset}/position', dataset, column, unit_vectors(Y), Y, is_test_of(rows), keys, True))
    if dataset == 'us_place':
        cases.append(case(f'{dataset}/group', dataset, column, one_hot(keys), Y, is_test_of(rows), keys, True))

rows = read('art')
days = np.array(
    [np.datetime64(r['release_date'], 'D').astype(np.int64) for r in rows], dtype=np.float64
)
Y = (days * 86400e9 / NS_PER_YEAR)[:, None]
keys = [r['entity_type'] for r in rows]
cases.append(case('art/group', 'art', 'entity_type', one_hot(keys), Y, is_test_of(rows), keys, False))

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, 'w') as f:
    json.dump({'alphas': [float(a) for a in ALPHAS], 'cases': cases}, f, indent=1)
for c in cases:
    print(c['name'], 'probe', round(c['probe']['test']['r2'], 4), 'baseline', round(c['baseline']['test']['r2'], 4),
          'within', round(c['within']['test']['r2'], 4), c['within']['test']['r2PerTarget'])
