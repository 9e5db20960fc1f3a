#!/usr/bin/env python3
"""Golden for spatial autocorrelation (docs/experiments.md#spatial): a NumPy implementation of k-nearest-neighbour
weights on the sphere, global Moran's I with the randomisation variance and the permutation pseudo p-value (as PySAL
esda's Moran: folded one-sided, (larger + 1) / (P + 1)), and local Moran's I with its quadrants (esda Moran_Local).

Places: 400 real world_place rows (../shared/data/paper/world_place.csv) plus 5 exact duplicates of some of them
(ties are broken by the lower row index). Values: latitude (spatially organised), log10 page views (the dataset's
own column) and Gaussian noise. The permutation orders are stored so the test can replay them exactly.
Writes test/fixtures/experiments/moran_golden.{json,bin}.
Run: /usr/bin/python3 reference/experiments_moran_golden.py
"""
import csv
import json
import os

import numpy as np
from scipy.stats import norm

HERE = os.path.dirname(__file__)
PAPER = os.path.join(HERE, '..', '..', 'shared', 'data', 'paper')
OUT = os.path.join(HERE, '..', 'test', 'fixtures', 'experiments')
rng = np.random.default_rng(5)
K = 6
PERMUTATIONS = 99
blob, index = [], {}


def put(name, arr):
    arr = np.asarray(arr, dtype=np.float64)
    index[name] = {'offset': sum(a.size for a in blob), 'shape': list(arr.shape)}
    blob.append(arr.ravel())


with open(os.path.join(PAPER, 'world_place.csv'), newline='') as f:
    rows = list(csv.DictReader(f))
pick = list(rng.choice(len(rows), 400, replace=False))
pick += [pick[i] for i in (3, 3, 10, 57, 200)]  # exact duplicates (3 appears three times in all)
lon = np.array([float(rows[i]['longitude']) for i in pick])
lat = np.array([float(rows[i]['latitude']) for i in pick])
views = np.log10(np.array([float(rows[i]['page_views']) for i in pick]))
n = len(pick)

# k-NN on the sphere: largest u_i.u_j, ties by lower index; the dot in the fixed order ((x x' + y y') + z z').
phi, lam = np.radians(lat), np.radians(lon)
u = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=1)
dots = (u[:, None, 0] * u[None, :, 0] + u[:, None, 1] * u[None, :, 1]) + u[:, None, 2] * u[None, :, 2]
nbrs = np.zeros((n, K), dtype=np.int64)
for i in range(n):
    order = np.lexsort((np.arange(n), -dots[i]))
    order = order[order != i]
    nbrs[i] = order[:K]
W = np.zeros((n, n))
for i in range(n):
    W[i, nbrs[i]] = 1.0 / K
s0 = W.sum()
s1 = 0.5 * ((W + W.T) ** 2).sum()
s2 = ((W.sum(1) + W.sum(0)) ** 2).sum()


def moran(x):
    z = x - x.mean()
    return (n / s0) * (z @ W @ z) / (z @ z)


def inference(x):
    z = x - x.mean()
    I = moran(x)
    EI = -1.0 / (n - 1)
    k = (np.sum(z**4) / n) / (np.sum(z**2) / n) ** 2
    n2, s02 = n * n, s0 * s0
    A = n * ((n2 - 3 * n + 3) * s1 - n * s2 + 3 * s02)
    B = k * ((n2 - n) * s1 - 2 * n * s2 + 6 * s02)
    VI = (A - B) / ((n - 1) * (n - 2) * (n - 3) * s02) - EI * EI
    zr = (I - EI) / np.sqrt(VI)
    return I, EI, VI, zr, 2 * norm.sf(abs(zr))


orders = np.stack([rng.permutation(n) for _ in range(PERMUTATIONS)])
put('lon_lat', np.stack([lon, lat], axis=1))
put('neighbours', nbrs)
put('orders', orders)
noise = rng.standard_normal(n)
values = {'latitude': lat, 'log_page_views': views, 'noise': noise}
meta = {'n': n, 'k': K, 'permutations': PERMUTATIONS, 's0': s0, 's1': s1, 's2': s2, 'values': list(values)}
for name, x in values.items():
    I, EI, VI, zr, pr = inference(x)
    sim = np.array([moran(x[o]) for o in orders])
    larger = int((sim >= I).sum())
    larger = min(larger, PERMUTATIONS - larger)
    z = x - x.mean()
    lag = W @ z
    Is = (n - 1) * z * lag / (z @ z)
    zp, lp = z > 0, lag > 0
    q = 1 * (zp & lp) + 2 * (~zp & lp) + 3 * (~zp & ~lp) + 4 * (zp & ~lp)
    put(f'{name}.values', x)
    put(f'{name}.simulated', sim)
    put(f'{name}.Is', Is)
    put(f'{name}.q', q)
    meta[name] = {
        'I': I, 'EI': EI, 'VI_rand': VI, 'z_rand': zr, 'p_rand': pr,
        'p_sim': (larger + 1.0) / (PERMUTATIONS + 1.0), 'EI_sim': sim.mean(), 'seI_sim': sim.std(),
    }
    print(name, 'I', round(I, 4), 'z', round(zr, 2), 'p_sim', meta[name]['p_sim'])
# normal tail values for the erfc approximation
zs = np.array([0.0, 0.5, 1.0, 1.96, 3.0, 5.0, 8.0, -1.5])
put('normal_z', zs)
put('normal_sf', norm.sf(zs))
meta['index'] = index
with open(os.path.join(OUT, 'moran_golden.json'), 'w') as f:
    json.dump(meta, f)
np.concatenate(blob).astype('<f8').tofile(os.path.join(OUT, 'moran_golden.bin'))
print('wrote', sum(a.size for a in blob), 'values')
