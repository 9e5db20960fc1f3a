#!/usr/bin/python3
"""Golden R² of the surface-form baselines (docs/controls.md), from scikit-learn (Debian python3-sklearn).

Input: test/fixtures/controls/surface_input.json (entity strings and their token ids, targets, split; written by
reference/controls_surface_input.ts). For each dataset and baseline:
  tfidf:          TfidfVectorizer(analyzer=<the token ids>)                       (smooth idf, l2 rows)
  bag-of-tokens:  TfidfVectorizer(analyzer=<the token ids>, use_idf=False, norm=None)   (= CountVectorizer)
  char-ngrams:    TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 4))
fitted on every entity string, then the paper's probe: targets standardised with the train mean/std (ddof 0),
RidgeCV(alphas=logspace(-2, 3.5, 12)) (exact LOO) on the train rows, predictions de-standardised, r2_score
(uniform mean over targets) on train and test rows.
`small_*` cases use only the first 40 rows, for the projected representation (rank 60 < vocabulary, 40 rows:
the projection spans every row, so the fit must still equal the full sparse one).
`full_vocabulary`: the token vocabulary of every full dataset (its token ids written by controls_surface_input.ts
outside the repository, argument 1), which decides the default representation (the matrix itself up to 10,000
columns: exactly the full sparse ridge).
`truncation`: the squared singular values of world_place's token TF-IDF matrix (numpy SVD of the dense matrix), so
that a rank-k projection's captured energy ||X W||_F^2 can be checked against the optimum, the top-k sum.

Run: /usr/bin/python3 reference/controls_make_goldens.py [FULL_TOKENS_JSON]
"""
import json
import os
import sys
import tempfile

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

from surface_sklearn import ALPHAS, vectorizer

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, '..', 'test', 'fixtures', 'controls')


def case(data, kind, rows=None):
    texts, tokens = data['texts'], data['tokens']
    y = np.asarray(data['targets'], dtype=np.float64)
    test = np.asarray(data['isTest'], dtype=bool)
    if rows is not None:
        texts, tokens, y, test = texts[:rows], tokens[:rows], y[:rows], test[:rows]
    docs = texts if kind == 'char-ngrams' else tokens
    X = vectorizer(kind).fit_transform(docs).toarray()
    train = ~test
    mu, sd = y[train].mean(0), y[train].std(0)
    model = RidgeCV(alphas=ALPHAS).fit(X[train], (y[train] - mu) / sd)
    pred = model.predict(X) * sd + mu
    return {
        'kind': kind,
        'rows': len(texts),
        'vocabulary': X.shape[1],
        'alpha': float(model.alpha_),
        'train_r2': float(r2_score(y[train], pred[train])),
        'test_r2': float(r2_score(y[test], pred[test])),
    }


def main():
    with open(os.path.join(FIX, 'surface_input.json')) as f:
        inputs = json.load(f)
    out = {'alphas': list(ALPHAS), 'cases': {}}
    for name, data in inputs.items():
        for kind in ['tfidf', 'bag-of-tokens', 'char-ngrams']:
            out['cases'][f'{name}/{kind}'] = case(data, kind)
        for kind in ['tfidf', 'char-ngrams']:
            out['cases'][f'small_{name}/{kind}'] = case(data, kind, rows=40)
    world = inputs['world_place']
    X = vectorizer('tfidf').fit_transform(world['tokens']).toarray()
    out['truncation'] = {'kind': 'tfidf', 'dataset': 'world_place',
                         'singular_values_squared': [float(v) for v in np.linalg.svd(X, compute_uv=False) ** 2]}
    full = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), 'stl-surface-full-tokens.json')
    with open(full) as f:
        out['full_vocabulary'] = {name: vectorizer('tfidf').fit_transform(tokens).shape[1]
                                  for name, tokens in json.load(f).items()}
    with open(os.path.join(FIX, 'surface_goldens.json'), 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')


main()
