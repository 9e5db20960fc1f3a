#!/usr/bin/env python3
"""Golden for the fame and region bias analysis (docs/experiments.md#bias), from NumPy and SciPy, on real rows of the
paper's files (../shared/data/paper): world_place (page_views, population, country) and art (page_views, entity_type,
decade), with made-up predictions whose error shrinks with page views. On the test rows: the per-row error
(great-circle km, R = 6371 km; |years|), scipy.stats.linregress of the error on log10 of each column (positive values
only) with Spearman's rho, quintile bins of log10 (np.quantile, linear), and per-group n, share of all rows, mean and
median error and the spherical mean of the true positions.
Writes test/fixtures/experiments/bias_golden.json.
Run: /usr/bin/python3 reference/experiments_bias_golden.py
"""
import csv
import datetime
import json
import os

import numpy as np
from scipy import stats

HERE = os.path.dirname(__file__)
PAPER = os.path.join(HERE, '..', '..', 'shared', 'data', 'paper')
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'experiments')
rng = np.random.default_rng(23)


def read(name):
    with open(os.path.join(PAPER, name), newline='') as f:
        return list(csv.DictReader(f))


def km(lon1, lat1, lon2, lat2):
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def regression(values, errors, test):
    v = np.array([float(s) if s not in ('',) else np.nan for s in values])
    keep = test & np.isfinite(v) & (v > 0)
    x, y = np.log10(v[keep]), errors[keep]
    lr = stats.linregress(x, y)
    edges = np.quantile(x, [0, 0.2, 0.4, 0.6, 0.8, 1])
    bins = []
    for b in range(5):
        lo, hi = edges[b], edges[b + 1]
        inb = y[(x >= lo) & ((x <= hi) if b == 4 else (x < hi))]
        if len(inb):
            bins.append({'lo': lo, 'hi': hi, 'n': int(len(inb)), 'meanError': float(inb.mean()), 'medianError': float(np.median(inb))})
    return {'n': int(keep.sum()), 'slope': lr.slope, 'slopeSe': lr.stderr, 'intercept': lr.intercept,
            'r2': lr.rvalue**2, 'spearman': stats.spearmanr(x, y).correlation, 'bins': bins}


def groups(labels, errors, test, lonlat=None):
    labels = np.asarray(labels)
    out = {}
    for g in sorted(set(labels[test])):
        rows = np.flatnonzero(test & (labels == g))
        e = errors[rows]
        entry = {'n': int(len(rows)), 'share': float((labels == g).mean()), 'meanError': float(e.mean()),
                 'medianError': float(np.median(e))}
        if lonlat is not None:
            lam, phi = np.radians(lonlat[rows, 0]), np.radians(lonlat[rows, 1])
            x, y, z = (np.cos(phi) * np.cos(lam)).sum(), (np.cos(phi) * np.sin(lam)).sum(), np.sin(phi).sum()
            entry['centroid'] = [float(np.degrees(np.arctan2(y, x))), float(np.degrees(np.arctan2(z, np.hypot(x, y))))]
        out[g] = entry
    return out


world = read('world_place.csv')
pick = np.sort(rng.choice(len(world), 600, replace=False))
rows = [world[i] for i in pick]
lonlat = np.array([[float(r['longitude']), float(r['latitude'])] for r in rows])
views = np.array([float(r['page_views']) for r in rows])
sigma = 40.0 / np.log10(views)  # degrees: famous places are predicted better
pred = lonlat + rng.standard_normal(lonlat.shape) * sigma[:, None]
pred[:, 1] = np.clip(pred[:, 1], -89, 89)
pred[:, 0] = (pred[:, 0] + 180) % 360 - 180
test = np.array([r['is_test'] == 'True' for r in rows])
err = km(lonlat[:, 0], lonlat[:, 1], pred[:, 0], pred[:, 1])
space = {
    'lonLat': lonlat.ravel().tolist(), 'pred': pred.ravel().tolist(), 'isTest': test.tolist(),
    'columns': {c: [r[c] for r in rows] for c in ('country', 'page_views', 'population', 'entity_type')},
    'meanError': float(err[test].mean()), 'medianError': float(np.median(err[test])),
    'regressions': {c: regression([r[c] for r in rows], err, test) for c in ('page_views', 'population')},
    'groups': {'country': groups([r['country'] for r in rows], err, test, lonlat)},
}

art = read('art.csv')
pick = np.sort(rng.choice(len(art), 500, replace=False))
rows = [art[i] for i in pick]
epoch = datetime.date(1970, 1, 1)
years = np.array([(datetime.date.fromisoformat(r['release_date']) - epoch).days / 365.25 for r in rows])
views = np.array([float(r['page_views']) for r in rows])
pred_y = years + rng.standard_normal(len(rows)) * 30.0 / np.log10(views)
test = np.array([r['is_test'] == 'True' for r in rows])
err = np.abs(pred_y - years)
time = {
    'years': years.tolist(), 'pred': pred_y.tolist(), 'isTest': test.tolist(),
    'columns': {c: [r[c] for r in rows] for c in ('page_views', 'entity_type', 'decade')},
    'meanError': float(err[test].mean()), 'medianError': float(np.median(err[test])),
    'regressions': {'page_views': regression([r['page_views'] for r in rows], err, test)},
    'groups': {c: groups([r[c] for r in rows], err, test) for c in ('entity_type', 'decade')},
}
with open(os.path.join(OUT, 'bias_golden.json'), 'w') as f:
    json.dump({'space': space, 'time': time}, f)
print('space slope km/decade of views', space['regressions']['page_views']['slope'],
      'time slope', time['regressions']['page_views']['slope'])
