#!/usr/bin/python3
"""How much test R² a truncated surface baseline loses (docs/controls.md): for one full paper dataset and kinds, the
paper's probe (targets standardised on the train rows, RidgeCV(alphas=logspace(-2, 3.5, 12)), exact LOO) on
  - `full`: the sparse TF-IDF matrix X itself (skipped when min(train rows, vocabulary) > 16,000: hours here), and
  - `rR`:   X times its top-R right singular vectors (NumPy eigh of XᵀX when the vocabulary is <= 16,000, else
            sklearn's randomized_svd at the largest R, n_iter=4).
Input: the dump of reference/controls_full_dump.ts. Prints one JSON line per kind: (test R², chosen alpha) per mode.
Run: /usr/bin/python3 reference/controls_rank_study.py DUMP_DIR DATASET tfidf,bag-of-tokens,char-ngrams 512,1024,2048,4096
"""
import json
import os
import sys
import time

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.utils.extmath import randomized_svd

from surface_sklearn import ALPHAS, vectorizer


def probe(X, y, test):
    train = ~test
    mu, sd = y[train].mean(0), y[train].std(0)
    model = RidgeCV(alphas=ALPHAS).fit(X[train], (y[train] - mu) / sd)
    return float(r2_score(y[test], model.predict(X[test]) * sd + mu)), float(model.alpha_)


def main():
    folder, name, kinds, ranks = sys.argv[1], sys.argv[2], sys.argv[3].split(','), [int(r) for r in sys.argv[4].split(',')]
    with open(os.path.join(folder, f'{name}.json')) as f:
        d = json.load(f)
    y = np.asarray(d['targets'], dtype=np.float64)
    test = np.asarray(d['isTest'], dtype=bool)
    for kind in kinds:
        X = vectorizer(kind).fit_transform(d['texts'] if kind == 'char-ngrams' else d['tokens']).tocsr()
        out = {'dataset': name, 'kind': kind, 'n': X.shape[0], 'vocabulary': X.shape[1], 'nnz': X.nnz}
        if min(int((~test).sum()), X.shape[1]) <= 16000:
            t0 = time.time()
            out['full'] = probe(X, y, test)
            out['seconds_full'] = time.time() - t0
            print(json.dumps(out), flush=True)
        if X.shape[1] <= 16000:
            _, vecs = np.linalg.eigh((X.T @ X).toarray())
            top = vecs[:, ::-1]
        else:
            top = randomized_svd(X, max(ranks), n_iter=4, random_state=0)[2].T
        for r in ranks:
            if r < X.shape[1]:
                out[f'r{r}'] = probe(X @ top[:, :r], y, test)
                print(json.dumps(out), flush=True)


main()
