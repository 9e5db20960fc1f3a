#!/usr/bin/env python3
"""Runs a bench's Python reference script and, when it exits, records what its BLAS and PyTorch actually were.

  /usr/bin/python3 bench/lib/py_run.py SCRIPT [ARGS...]      (started by bench/lib/python.ts, never by hand)

SCRIPT runs as __main__ with its own argv and sys.path[0], exactly as `python3 SCRIPT ARGS` would. At exit, JSON goes
to the file named by STL_BENCH_BLAS_OUT: threadpoolctl's view of every BLAS/OpenMP library the script loaded
(internal_api, architecture = OpenBLAS's core name, threads, version), torch's version, thread counts and
parallel_info() when the script imported torch, and the OPENBLAS_* variables it ran with (none, from python.ts).
Taken after the script ran, so thread counts are the ones the script set.
"""
import atexit
import json
import os
import runpy
import sys


def _record():
    out = os.environ.get("STL_BENCH_BLAS_OUT")
    if not out:
        return
    info = {"python": sys.version.split()[0],
            "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}}
    try:
        from threadpoolctl import threadpool_info

        info["threadpoolctl"] = [
            {k: lib.get(k) for k in ("user_api", "internal_api", "architecture", "num_threads", "version",
                                     "threading_layer", "filepath")}
            for lib in threadpool_info()
        ]
    except Exception as e:  # threadpoolctl missing: say so rather than guess
        info["threadpoolctl_error"] = repr(e)
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads(),
                         "interop_threads": torch.get_num_interop_threads(),
                         "parallel_info": torch.__config__.parallel_info(),
                         "cpu_capability": next((line.split(":", 1)[1].strip() for line in
                                                 torch.__config__.show().splitlines()
                                                 if "CPU capability" in line), None)}
    for name in ("numpy", "scipy", "sklearn", "matplotlib"):
        if name in sys.modules:
            info.setdefault("versions", {})[name] = getattr(sys.modules[name], "__version__", None)
    with open(out, "w") as f:
        json.dump(info, f)


script = os.path.abspath(sys.argv[1])
sys.argv = sys.argv[1:]
sys.path[0] = os.path.dirname(script)
atexit.register(_record)
runpy.run_path(script, run_name="__main__")
