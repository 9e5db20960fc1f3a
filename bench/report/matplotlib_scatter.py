"""Python side of bench/report/bench.ts: the same 40k-point world scatter as a static figure with matplotlib
(what a notebook user does today), timed for SVG and PNG. Prints JSON."""
import csv
import json
import sys
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

path, out = sys.argv[1], sys.argv[2]
lon, lat, group = [], [], []
with open(path) as f:
    for row in csv.DictReader(f):
        lon.append(float(row["plon"]))
        lat.append(float(row["plat"]))
        group.append(row["group"])
groups = sorted(set(group))
timings = {}
for fmt in ("svg", "png"):
    t0 = time.perf_counter()
    fig, ax = plt.subplots(figsize=(8.8, 4.4), dpi=200)
    for g in groups:
        idx = [i for i, x in enumerate(group) if x == g]
        ax.scatter([lon[i] for i in idx], [lat[i] for i in idx], s=1, label=g)
    ax.legend(markerscale=4, fontsize=6)
    fig.savefig(f"{out}.{fmt}")
    plt.close(fig)
    timings[fmt] = time.perf_counter() - t0
print(json.dumps(timings))
