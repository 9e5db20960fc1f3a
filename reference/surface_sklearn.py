"""scikit-learn's side of the surface-form baselines (docs/controls.md), shared by the goldens
(controls_make_goldens.py), the rank study (controls_rank_study.py) and bench/controls/sklearn_surface.py:
the vectorizer of each kind and the probe's alpha grid (the project's `surface` alpha preset)."""
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

ALPHAS = np.logspace(-2, 3.5, 12)


def token_strings(ids):
    return [str(i) for i in ids]


def vectorizer(kind):
    """tfidf: smooth idf, l2 rows; bag-of-tokens: raw counts (= CountVectorizer); char-ngrams: char_wb 2-4."""
    if kind == 'tfidf':
        return TfidfVectorizer(analyzer=token_strings)
    if kind == 'bag-of-tokens':
        return TfidfVectorizer(analyzer=token_strings, use_idf=False, norm=None)
    return TfidfVectorizer(analyzer='char_wb', ngram_range=(2, 4))
