#!/usr/bin/env python3
"""Golden rows for `--sample N --seed S` (src/data/sample.ts), written independently from its documented algorithm.

Strata are (entity_type, is_test) pairs in order of first appearance; Hamilton (largest-remainder) allocation of N
over the strata, ties to the earlier stratum; within a stratum the rows with the smallest
SHA-256("<seed>:<row>") (first 8 bytes, big-endian) are kept. Rows come out in dataset order.

Run from the repository root:  /usr/bin/python3 reference/data_sample_golden.py
Writes test/fixtures/data/sample_rows.json. Reads the paper CSVs from ../shared/data/paper.
"""
import csv
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAPER = os.path.join(os.environ.get('SPACETIME_LENS_SHARED', os.path.join(ROOT, '..', 'shared')), 'data', 'paper')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'data', 'sample_rows.json')


def sample(rows, size, seed):
    n = len(rows)
    if size >= n:
        return list(range(n))
    strata = {}
    for i, r in enumerate(rows):
        strata.setdefault((r['entity_type'], r['is_test']), []).append(i)
    groups = list(strata.values())
    quotas = [size * len(g) // n for g in groups]
    left = size - sum(quotas)
    order = sorted(range(len(groups)), key=lambda i: (-(size * len(groups[i]) % n), i))
    for i in order[:left]:
        quotas[i] += 1
    rank = lambda r: int.from_bytes(hashlib.sha256(f'{seed}:{r}'.encode()).digest()[:8], 'big')
    kept = []
    for g, q in zip(groups, quotas):
        kept += sorted(g, key=rank)[:q]
    return sorted(kept)


def main():
    out = {}
    for name, size, seed in [('world_place', 60, 7), ('world_place', 60, 8), ('art', 45, 0)]:
        with open(os.path.join(PAPER, name + '.csv'), newline='', encoding='utf-8') as f:
            rows = list(csv.DictReader(f))
        out[f'{name}:{size}:{seed}'] = sample(rows, size, seed)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(out, f)
        f.write('\n')


if __name__ == '__main__':
    main()
