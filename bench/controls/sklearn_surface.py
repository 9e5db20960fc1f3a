#!/usr/bin/python3
"""scikit-learn side of bench/controls/surface.bench.ts: the same surface baselines from the same entity strings and
token ids, timed.

For every dataset and kind: TfidfVectorizer (the settings of src/extract/surface-features.ts), then the paper's
probe (targets standardised on the train rows, RidgeCV(alphas=logspace(-2, 3.5, 12)), exact LOO) on
  - `svd`:  ours' representation: the dense matrix itself when the vocabulary is at most `exact` columns (ours'
            default, SURFACE_EXACT_COLUMNS; 0 with an explicit --rank), else TruncatedSVD(rank, algorithm='randomized',
            n_iter=4) features (the same rank as ours; a comparable pipeline), and
  - `full`: the sparse TF-IDF matrix itself (RidgeCV's eigen mode on the smaller of XᵀX / XXᵀ), only when that
            dense min(n, vocabulary)² matrix stays under --max-full-gb (else reported as skipped).
Prints one JSON object per line: {dataset, kind, mode, vocabulary, seconds_features, seconds_probe, test_r2}.
"""
import json
import os
import sys
import time

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'reference'))
from surface_sklearn import ALPHAS, vectorizer  # noqa: E402


def probe(X, y, test):
    train = ~test
    mu, sd = y[train].mean(0), y[train].std(0)
    t0 = time.perf_counter()
    model = RidgeCV(alphas=ALPHAS).fit(X[train], (y[train] - mu) / sd)
    pred = model.predict(X[test]) * sd + mu
    return time.perf_counter() - t0, float(r2_score(y[test], pred))


def main():
    path, rank, max_full_gb = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    exact = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    with open(path) as f:
        data = json.load(f)
    for name, d in data['datasets'].items():
        y = np.asarray(d['targets'], dtype=np.float64)
        test = np.asarray(d['isTest'], dtype=bool)
        for kind in data['kinds']:
            docs = d['texts'] if kind == 'char-ngrams' else d['tokens']
            t0 = time.perf_counter()
            X = vectorizer(kind).fit_transform(docs)
            t_vec = time.perf_counter() - t0
            base = {'dataset': name, 'kind': kind, 'vocabulary': X.shape[1]}
            if X.shape[1] > max(rank, exact):
                t0 = time.perf_counter()
                F = TruncatedSVD(rank, algorithm='randomized', n_iter=4, random_state=0).fit_transform(X)
                t_svd = time.perf_counter() - t0
            else:
                F, t_svd = X.toarray(), 0.0
            t_probe, r2 = probe(F, y, test)
            print(json.dumps({**base, 'mode': 'svd', 'seconds_features': t_vec + t_svd,
                              'seconds_probe': t_probe, 'test_r2': r2}), flush=True)
            side = min(int((~test).sum()), X.shape[1])
            if data.get('full', True) and side * side * 8 / 2**30 <= max_full_gb:
                t_probe, r2 = probe(X.tocsr(), y, test)
                print(json.dumps({**base, 'mode': 'full', 'seconds_features': t_vec,
                                  'seconds_probe': t_probe, 'test_r2': r2}), flush=True)
            else:
                print(json.dumps({**base, 'mode': 'full', 'skipped':
                                  f'a dense {side}x{side} matrix ({side * side * 8 / 2**30:.1f} GB)'}), flush=True)


main()
