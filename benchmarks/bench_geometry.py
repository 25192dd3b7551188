"""Benchmark of the curvature and geodesic API (issue 13 figures).

Run: ``PYTHONPATH=$PWD python benchmarks/bench_geometry.py [--pairs 20]``. Prints the median and 95th
percentile of ``riemdln.distance`` on random well-conditioned 2x2 and 3x3 pairs (depth 3), the time of
``exp_map`` on 3x3, the throughput of the d = 2 scalar curvature twin, and the d = 3 numeric scalar curvature
per point: the batched implementation against the earlier pair-by-pair loop (``_reference_scalar_curvature``,
kept here only to print the two side by side, with their relative difference; that gap is the old path's
error where s_min << ||X||, its stencil step having followed ||X||), and ``discrete_distance`` against shooting.

``--small-start`` prints only ``geodesic_between`` without ``path`` from the small start of the tests (menon-2x2,
normalized flow from 1e-2 times a random unit start, N = 2 and 4): the root-shooting stage with its integrations
stopped at the box around the endpoints (as the library does) against the same stage without a box (as before),
then the whole call.

``--rectangular`` prints only the rectangular (finite N) figures: ``distance`` on random 2x3 and 3x2 pairs
(median, p95, failures), ``exp_map`` on 2x3 and 3x4, and the numeric scalar curvature per point on 2x3 and 3x4.
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


def _reference_scalar_curvature(X, depth, normalized=False):
    """The pre-batching d >= 3 path: every pair of frame vectors, each R(E, F)F with its own SVD frame and
    4 Christoffel evaluations per derivative (riemdln.geodesics._christoffel, one point at a time)."""
    import math

    from riemdln import geometry
    from riemdln.geodesics import _christoffel, _frame

    frame = _frame(X, depth, normalized)

    def gam(Y, A, B, fr=None):
        return _christoffel(Y, depth, normalized, A, B, fr)

    def dgam(dirn, A, B):
        h = 1e-3 * np.linalg.norm(X) / max(np.linalg.norm(dirn), 1e-300)
        vals = [gam(X + c * h * dirn, A, B) for c in (-2, -1, 1, 2)]
        return (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)

    def riemann(U, V, W):
        return (
            dgam(U, V, W)
            - dgam(V, U, W)
            + gam(X, U, gam(X, V, W, frame), frame)
            - gam(X, V, gam(X, U, W, frame), frame)
        )

    Q, s, Rt = np.linalg.svd(X)
    M = geometry._multiplier((s * s)[:, None], (s * s)[None, :], depth, normalized)
    d = X.shape[0]
    basis = []
    for a in range(d):
        for b in range(d):
            E = np.zeros_like(X)
            E[a, b] = math.sqrt(M[a, b])
            basis.append(Q @ E @ Rt)
    total = 0.0
    for p in range(len(basis)):
        for q in range(p + 1, len(basis)):
            E, F = basis[p], basis[q]
            total += 2.0 * float(geometry.metric(X, riemann(E, F, F), E, depth, normalized))
    return total


def _bench_numeric_curvature(points: int) -> None:
    rng = np.random.default_rng(4)
    Xs = [np.eye(3) + 0.4 * rng.normal(size=(3, 3)) for _ in range(points)]
    riemdln.scalar_curvature(Xs[0], 3)  # warm up (imports)
    t0 = time.perf_counter()
    new = [float(riemdln.scalar_curvature(X, 3)) for X in Xs]
    t_new = (time.perf_counter() - t0) / points
    t0 = time.perf_counter()
    old = [_reference_scalar_curvature(X, 3.0) for X in Xs]
    t_old = (time.perf_counter() - t0) / points
    gap = max(abs(a - b) / abs(b) for a, b in zip(new, old, strict=True))
    print(
        f"scalar_curvature 3x3 (N = 3, numeric, {points} points): {t_new * 1e3:.1f} ms per point "
        f"(pair-by-pair loop before: {t_old * 1e3:.0f} ms; speed-up {t_old / t_new:.0f}x; max relative gap {gap:.1e})"
    )


def _small_start(depth: float):
    """X0 and X1 of the tests' small start (tests/test_geodesics.py::_small_start_flow)."""
    rng = np.random.default_rng(1313)
    D = rng.standard_normal((2, 2))
    D = D if np.linalg.det(D) > 0 else D[::-1]
    X0 = 1e-2 * D / np.linalg.norm(D)
    problem = riemdln.CompletionProblem.named("menon-2x2")
    res = riemdln.end_to_end_flow(
        problem, X0, depth, 1e9, normalized=True, events=riemdln.loss_below(1e-10), progress=False
    )
    return X0, res.X[-1]


def _bench_small_start() -> None:
    from riemdln import geodesics

    boxed = geodesics._shooter_for
    for depth in (2.0, 4.0):
        X0, X1 = _small_start(depth)
        upper = geodesics._straight_length(X0, X1, depth, True)
        line = []
        for label, shooter in (
            ("box", boxed),
            ("no box", lambda X0, p, N, n, m: geodesics._Shooter(X0, N, n, (1e-10, np.inf), m)),
        ):
            geodesics._shooter_for = shooter
            t0 = time.perf_counter()
            route = geodesics._shoot_root(X0, X1, depth, True, 1e-11, 60, 20_000, upper)
            line.append(f"{label} {time.perf_counter() - t0:.1f} s ({route.calls} integrations)")
        geodesics._shooter_for = boxed
        t0 = time.perf_counter()
        res = riemdln.geodesic_between(X0, X1, depth, normalized=True)
        print(
            f"small start N = {depth:g}: root-shooting stage {', '.join(line)}; whole call "
            f"{time.perf_counter() - t0:.1f} s, {res.status.name}, {res.method}, length {res.length:.10g}",
            flush=True,
        )


def _rect_pairs(shape, count, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        X0, X1 = (np.eye(*shape) + 0.4 * rng.normal(size=shape) for _ in range(2))
        if all(np.linalg.svd(X, compute_uv=False)[-1] > 0.3 for X in (X0, X1)):
            out.append((X0, X1))
    return out


def _time_distances(label: str, pairs) -> None:
    """Median and 95th percentile of geodesic_between (N = 3) over the pairs, with the failures."""
    times, fails = [], 0
    for X0, X1 in pairs:
        t0 = time.perf_counter()
        res = riemdln.geodesic_between(X0, X1, 3)
        times.append(time.perf_counter() - t0)
        fails += not res.success
    print(
        f"distance {label} (N = 3, {len(times)} pairs): median {np.median(times):.3f} s, "
        f"p95 {np.percentile(times, 95):.3f} s, failures {fails}"
    )


def _bench_rectangular(pairs: int) -> None:
    for shape in ((2, 3), (3, 2)):
        _time_distances(f"{shape[0]}x{shape[1]}", _rect_pairs(shape, pairs, 5))
    for shape in ((2, 3), (3, 4)):
        rng = np.random.default_rng(6)
        X, V = np.eye(*shape) + 0.3 * rng.normal(size=shape), 0.2 * rng.normal(size=shape)
        riemdln.exp_map(X, V, 3)
        t0 = time.perf_counter()
        for _ in range(5):
            riemdln.exp_map(X, V, 3)
        t_exp = (time.perf_counter() - t0) / 5
        t0 = time.perf_counter()
        for _ in range(5):
            riemdln.scalar_curvature(X, 3)
        t_curv = (time.perf_counter() - t0) / 5
        print(
            f"{shape[0]}x{shape[1]} (N = 3): exp_map {t_exp * 1e3:.1f} ms, numeric scalar_curvature "
            f"{t_curv * 1e3:.1f} ms per point"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--curvature-points", type=int, default=10)
    parser.add_argument("--discrete-pairs", type=int, default=3)
    parser.add_argument("--only-curvature", action="store_true", help="only the d = 3 numeric curvature line")
    parser.add_argument("--small-start", action="store_true", help="only geodesic_between from a small start")
    parser.add_argument("--rectangular", action="store_true", help="only the rectangular (2x3, 3x2, 3x4) figures")
    args = parser.parse_args()
    if args.rectangular:
        _bench_rectangular(args.pairs)
        return
    if args.small_start:
        _bench_small_start()
        return
    _bench_numeric_curvature(args.curvature_points)
    if args.only_curvature:
        return
    for d in (2, 3):
        _time_distances(f"{d}x{d}", _pairs(d, args.pairs, d))
    for d in (2, 3):
        times, gaps = [], []
        for X0, X1 in _pairs(d, args.discrete_pairs, d):
            shoot = riemdln.distance(X0, X1, 3)
            t0 = time.perf_counter()
            res = riemdln.discrete_distance(X0, X1, 3)
            times.append(time.perf_counter() - t0)
            gaps.append(abs(res.extrapolated - shoot) / shoot if res.success else float("inf"))
        print(
            f"discrete_distance {d}x{d} (N = 3, K = 16, 32, 64, {args.discrete_pairs} pairs): median "
            f"{np.median(times):.2f} s, max relative gap to shooting {max(gaps):.1e}"
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
