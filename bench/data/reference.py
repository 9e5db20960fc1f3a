#!/usr/bin/env python3
"""Python reference for bench/data/load.ts: load a paper CSV the way a NumPy user would (csv module + float() +
np.datetime64), build the target array and the split mask. Prints JSON {name: {wall: [s...], cpu: [s...]}}.
pandas is not installed on this machine; the csv module is the standard-library equivalent."""
import csv
import json
import sys
import time

import numpy as np

NS_PER_YEAR = 1e9 * 60 * 60 * 24 * 365.25


def load(path, kind, column=None):
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    if kind == 'space':
        y = np.array([[float(r['longitude']), float(r['latitude'])] for r in rows])
    else:
        ns = np.array([r[column] for r in rows], dtype='datetime64[ns]').astype(np.int64)
        y = ns / NS_PER_YEAR
    is_test = np.array([r['is_test'] == 'True' for r in rows])
    return len(rows), y, is_test


def main():
    paper, runs = sys.argv[1], int(sys.argv[2])
    specs = {'world_place': ('space', None), 'us_place': ('space', None), 'nyc_place': ('space', None),
             'art': ('time', 'release_date')}
    out = {}
    for name, (kind, col) in specs.items():
        wall, cpu = [], []
        for _ in range(runs):
            t, c = time.perf_counter(), time.process_time()
            load(f'{paper}/{name}.csv', kind, col)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        out[name] = {'wall': wall, 'cpu': cpu}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
