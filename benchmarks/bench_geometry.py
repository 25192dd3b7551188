"""Benchmark of the curvature and geodesic API (issue 13 figures).

Run: ``PYTHONPATH=$PWD python benchmarks/bench_geometry.py [--pairs 20]``. Prints the median and 95th
percentile of ``riemdln.distance`` on random well-conditioned 2x2 and 3x3 pairs (depth 3), the time of
``exp_map`` on 3x3, and the throughput of the d = 2 scalar curvature twin.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import riemdln
from riemdln import _twins


def _pairs(d, count, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        X0, X1 = (np.eye(d) + 0.4 * rng.normal(size=(d, d)) for _ in range(2))
        ok = all(np.linalg.det(X) > 0 and np.linalg.svd(X, compute_uv=False)[-1] > 0.3 for X in (X0, X1))
        if ok:
            out.append((X0, X1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args()
    for d in (2, 3):
        times, fails = [], 0
        for X0, X1 in _pairs(d, args.pairs, d):
            t0 = time.perf_counter()
            res = riemdln.geodesic_between(X0, X1, 3)
            times.append(time.perf_counter() - t0)
            fails += not res.success
        print(
            f"distance {d}x{d} (N = 3, {args.pairs} pairs): median {np.median(times):.3f} s, "
            f"p95 {np.percentile(times, 95):.3f} s, failures {fails}"
        )
    X = np.eye(3) + 0.3 * np.random.default_rng(0).normal(size=(3, 3))
    V = 0.2 * np.random.default_rng(1).normal(size=(3, 3))
    riemdln.exp_map(X, V, 3)
    t0 = time.perf_counter()
    for _ in range(5):
        riemdln.exp_map(X, V, 3)
    print(f"exp_map 3x3 (N = 3): {(time.perf_counter() - t0) / 5 * 1e3:.1f} ms")
    s = np.sort(np.random.default_rng(2).uniform(0.1, 5.0, size=(2, 1_000_000)), axis=0)[::-1]
    t0 = time.perf_counter()
    _twins.scalar_curvature_d2(s[0], s[1], 3.0)
    dt = time.perf_counter() - t0
    print(f"scalar_curvature_d2 twin: {1e6 / dt:.3g} points/s")
    Xs = np.random.default_rng(3).normal(size=(1_000_000, 2, 2))
    t0 = time.perf_counter()
    riemdln.scalar_curvature(Xs, 3)
    print(f"riemdln.scalar_curvature (SVD + twin): {1e6 / (time.perf_counter() - t0):.3g} points/s")


if __name__ == "__main__":
    main()
