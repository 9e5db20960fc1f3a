#!/usr/bin/python3
"""Golden values for src/probe, from scikit-learn / SciPy / NumPy (Debian python3-sklearn 1.2).

Writes test/fixtures/probe/ridge_goldens.json and test/fixtures/probe/metrics_goldens.json.
Ridge: the paper's pipeline (docs/method.md#probes): y standardised with train mean/std (ddof 0), then
RidgeCV(alphas, store_cv_values=True) (cv=None: exact LOO) or Ridge(alpha), predictions de-standardised.
Metrics (docs/method.md#metrics): sklearn r2_score, scipy spearmanr/kendalltau (tau-b)/pearsonr, pooled MAE/RMSE, haversine MAE (true and the
authors' swapped variant) and the proximity error by brute force over the full N x N matrix.

Run: /usr/bin/python3 reference/probe_make_goldens.py
"""
import json
import os

import numpy as np
from scipy import stats
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import r2_score

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'probe')
R_EARTH = 6371.0


def flat(a):
    return [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def ridge_case(name, X, Y, train, alphas, fixed_alpha=None, x_float32=False):
    X = np.asarray(X, dtype=np.float32 if x_float32 else np.float64)
    Xf = X.astype(np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    train = np.asarray(train)
    mu = Y[train].mean(0)
    sd = Y[train].std(0)
    ys = (Y - mu) / sd
    case = {
        'name': name,
        'n': int(X.shape[0]),
        'd': int(X.shape[1]),
        't': int(Y.shape[1]),
        'xFloat32': x_float32,
        'X': flat(Xf),
        'Y': flat(Y),
        'train': [int(i) for i in train],
        'alphas': [float(a) for a in alphas],
    }
    if fixed_alpha is None:
        model = RidgeCV(alphas=alphas, store_cv_values=True).fit(Xf[train], ys[train])
        cv = model.cv_values_.reshape(len(train), Y.shape[1], len(alphas))
        case['expected'] = {
            'alphaIndex': int(np.where(np.asarray(alphas) == model.alpha_)[0][0]),
            'alpha': float(model.alpha_),
            'looMse': flat(cv.mean(axis=(0, 1))),
            'looErrors': flat(cv),
        }
    else:
        model = Ridge(alpha=fixed_alpha).fit(Xf[train], ys[train])
        case['fixedAlpha'] = float(fixed_alpha)
        case['expected'] = {'alpha': float(fixed_alpha)}
    coef_std = model.coef_.reshape(Y.shape[1], -1).T
    pred = model.predict(Xf).reshape(-1, Y.shape[1]) * sd + mu
    test = np.setdiff1d(np.arange(X.shape[0]), train)
    case['expected'].update(
        {
            'coefStandardized': flat(coef_std),
            'coef': flat(coef_std * sd),
            'intercept': flat(np.asarray(model.intercept_).reshape(-1) * sd + mu),
            'predictions': flat(pred),
            'r2Test': float(r2_score(Y[test], pred[test])) if len(test) > 1 else None,
        }
    )
    return case


def ridge_goldens():
    rng = np.random.default_rng(20231002)
    cases = []
    # n > d (primal), two targets, the paper's standardisation, a 12-point log grid
    n, d = 80, 10
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + rng.normal(size=d) * 5
    W = rng.normal(size=(d, 2))
    Y = X @ W * [30, 10] + rng.normal(size=(n, 2)) * [20, 8] + [10, 40]
    train = np.sort(rng.permutation(n)[:60])
    cases.append(ridge_case('primal_two_targets', X, Y, train, np.logspace(-2, 3, 12)))
    cases.append(ridge_case('fixed_alpha_primal', X, Y, train, [7.5], fixed_alpha=7.5))
    # n <= d (dual), two targets
    n, d = 30, 40
    X = rng.normal(size=(n, d)) + 2
    Y = X[:, :3] @ rng.normal(size=(3, 2)) + rng.normal(size=(n, 2)) * 0.3
    train = np.sort(rng.permutation(n)[:22])
    cases.append(ridge_case('dual_two_targets', X, Y, train, [0.1, 1.0, 10.0, 100.0]))
    cases.append(ridge_case('fixed_alpha_dual', X, Y, train, [3.0], fixed_alpha=3.0))
    # n == d goes the dual way; one target
    n, d = 16, 12
    X = rng.normal(size=(n, d))
    Y = X @ rng.normal(size=(d, 1)) + rng.normal(size=(n, 1)) * 0.5
    cases.append(ridge_case('square_one_target', X, Y, np.arange(12), np.logspace(-1, 2, 5)))
    # duplicated alphas: identical scores, the earlier one wins
    n, d = 50, 8
    X = rng.normal(size=(n, d))
    Y = X @ rng.normal(size=(d, 1)) + rng.normal(size=(n, 1))
    cases.append(ridge_case('duplicate_alphas', X, Y, np.arange(40), [30.0, 0.3, 2.0, 0.3, 30.0]))
    # all-zero activations: every alpha ties, index 0 wins, predictions are the train mean
    X = np.zeros((20, 5))
    Y = rng.normal(size=(20, 2))
    cases.append(ridge_case('all_zero_layer', X, Y, np.arange(15), [1.0, 10.0, 100.0]))
    # float32 activations with a large common offset (like a residual stream), three targets
    n, d = 120, 16
    X = (rng.normal(size=(n, d)) * 0.7 + rng.normal(size=d) * 40).astype(np.float32)
    Y = X.astype(np.float64) @ rng.normal(size=(d, 3)) + rng.normal(size=(n, 3))
    train = np.sort(rng.permutation(n)[:90])
    cases.append(ridge_case('float32_offset', X, Y, train, np.logspace(-1, 4, 8), x_float32=True))
    # a store-like layer: float32 activations, (lon, lat) targets, a 25% test split (used by the probeStore test)
    n, d = 100, 12
    X = (rng.normal(size=(n, d)) * 2 + rng.normal(size=d) * 10).astype(np.float32)
    lonlat = np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-60, 70, n)])
    X[:, :2] += (lonlat / [90, 45]).astype(np.float32)
    train = np.sort(rng.permutation(n)[:75])
    cases.append(ridge_case('store_layer', X, lonlat, train, np.logspace(-1, 3, 6), x_float32=True))
    # d >= 512: the blocked (lower-triangle) Gram path and multi-panel tridiagonalisation. X is generated by a
    # formula the test reproduces exactly (integers, one correctly rounded division), so only Y and results are stored.
    n, d = 700, 530
    i, j = np.meshgrid(np.arange(n), np.arange(d), indexing='ij')
    X = ((i * 7919 + j * 104729 + i * j * 31) % 2003) / 100.0 - 10.0
    Y = X[:, :6] @ rng.normal(size=(6, 2)) + rng.normal(size=(n, 2)) * 3
    case = ridge_case('formula_wide', X, Y, np.arange(560), np.logspace(0, 5, 7))
    del case['X'], case['expected']['looErrors']
    case['xFormula'] = '((i*7919 + j*104729 + i*j*31) % 2003) / 100 - 10'
    cases.append(case)
    # one feature
    n = 15
    X = rng.normal(size=(n, 1))
    Y = 3 * X + rng.normal(size=(n, 1))
    cases.append(ridge_case('one_feature', X, Y, np.arange(n), [0.01, 1.0, 100.0]))
    return {'cases': cases}


def haversine(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * R_EARTH * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def space_distance(a, b, swapped):
    """a, b: (..., 2) arrays of (lon, lat). Swapped = the authors' quirk: column 0 taken as latitude."""
    if swapped:
        return haversine(a[..., 0], a[..., 1], b[..., 0], b[..., 1])
    return haversine(a[..., 1], a[..., 0], b[..., 1], b[..., 0])


def proximity(true, pred, is_test, dist):
    """Brute force: E[i, j] = d(t_i, p_j) < d(t_i, p_i)."""
    n = len(true)
    own = np.array([dist(true[i], pred[i]) for i in range(n)])
    counts_all = np.zeros(n)
    counts_test = np.zeros(n)
    counts_train = np.zeros(n)
    for i in range(n):
        e = dist(true[i][None], pred) < own[i]
        counts_all[i] = e.sum()
        counts_test[i] = e[is_test].sum()
        counts_train[i] = e[~is_test].sum()
    n_test = is_test.sum()
    n_train = n - n_test
    return {
        'perPointAll': flat(counts_all / n),
        'testScore': float((counts_test[is_test] / n_test).mean()),
        'trainScore': float((counts_train[~is_test] / n_train).mean()),
    }


def split_metrics(true, pred):
    t = true.shape[1]
    return {
        'r2': float(r2_score(true, pred)),
        'r2PerTarget': flat(r2_score(true, pred, multioutput='raw_values')),
        'spearman': [float(stats.spearmanr(true[:, j], pred[:, j]).correlation) for j in range(t)],
        'kendall': [float(stats.kendalltau(true[:, j], pred[:, j]).correlation) for j in range(t)],
        'pearson': [float(stats.pearsonr(true[:, j], pred[:, j])[0]) for j in range(t)],
        'mae': float(np.abs(true - pred).mean()),
        'rmse': float(np.sqrt(((true - pred) ** 2).mean())),
    }


def metrics_case(name, kind, true, pred, is_test):
    case = {'name': name, 'kind': kind, 'true': flat(true), 'pred': flat(pred), 'isTest': [int(v) for v in is_test]}
    case['test'] = split_metrics(true[is_test], pred[is_test])
    case['train'] = split_metrics(true[~is_test], pred[~is_test])
    if kind == 'space':
        for mode, swapped in (('haversine', False), ('haversine-swapped', True)):
            dist = lambda a, b, s=swapped: space_distance(a, b, s)
            case[mode] = {
                'proximity': proximity(true, pred, is_test, dist),
                'haversineMaeKmTest': float(dist(true[is_test], pred[is_test]).mean()),
                'haversineMaeKmTrain': float(dist(true[~is_test], pred[~is_test]).mean()),
            }
    else:
        case['absolute'] = {'proximity': proximity(true[:, 0], pred[:, 0], is_test, lambda a, b: np.abs(a - b))}
    return case


def metrics_goldens():
    rng = np.random.default_rng(7)
    cases = []
    n = 240
    true = np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-80, 80, n)])
    pred = true + rng.normal(size=(n, 2)) * [40, 15]
    pred[::17] = pred[3]  # exact duplicate predictions
    true = np.round(true, 0)  # ties for the rank correlations
    is_test = rng.uniform(size=n) < 0.3
    cases.append(metrics_case('world', 'space', true, pred, is_test))
    n = 150
    true = np.column_stack([-74.0 + rng.normal(size=n) * 0.08, 40.7 + rng.normal(size=n) * 0.06])
    pred = true + rng.normal(size=(n, 2)) * 0.03
    is_test = rng.uniform(size=n) < 0.25
    cases.append(metrics_case('nyc_small_extent', 'space', true, pred, is_test))
    n = 200
    true = np.round(rng.uniform(1900, 2020, n))[:, None]
    pred = true + np.round(rng.normal(size=(n, 1)) * 12, 1)
    pred[::11] = pred[5]
    is_test = rng.uniform(size=n) < 0.2
    cases.append(metrics_case('years', 'time', true, pred, is_test))
    return {'cases': cases}


def eigen_goldens():
    """Symmetric matrices and their eigenvalues (numpy.linalg.eigvalsh, LAPACK) for the tridiagonalisation."""
    rng = np.random.default_rng(11)
    cases = []
    for d in (1, 2, 5, 67, 97):
        a = rng.normal(size=(d, d))
        a = a + a.T
        cases.append({'d': d, 'A': flat(a), 'eigenvalues': flat(np.linalg.eigvalsh(a))})
    # a Gram matrix with a huge spread of eigenvalues (rank-deficient: 40 rows, 60 columns)
    x = rng.normal(size=(40, 60)) * np.logspace(0, -6, 60)
    g = x.T @ x
    cases.append({'d': 60, 'A': flat(g), 'eigenvalues': flat(np.linalg.eigvalsh(g))})
    return {'cases': cases}


def main():
    os.makedirs(OUT, exist_ok=True)
    for fname, data in (
        ('ridge_goldens.json', ridge_goldens()),
        ('metrics_goldens.json', metrics_goldens()),
        ('eigen_goldens.json', eigen_goldens()),
    ):
        with open(os.path.join(OUT, fname), 'w') as f:
            json.dump(data, f)
        print(fname, os.path.getsize(os.path.join(OUT, fname)), 'bytes')


if __name__ == '__main__':
    main()
