"""Benchmark of the curvature and geodesic API.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_geometry.py [--pairs 20]``. Prints the solver comparison below,
the time of ``exp_map`` on 3x3, the throughput of the d = 2 scalar curvature twin, and the d = 3 numeric scalar
curvature per point: the batched implementation against the earlier pair-by-pair loop (``_reference_scalar_curvature``,
kept here only to print the two side by side, with their relative difference; that gap is the old path's
error where s_min << ||X||, its stencil step having followed ||X||).

``--only-distances`` prints only the solver comparison: ``riemdln.geodesic_between`` (the boundary-value solver)
and the earlier shooting solver (``riemdln.geometry._shooting``, kept for this comparison only) side by side in one
run, on
random well-conditioned 2x2 and 3x3 pairs, pairs with s_min/s_max = 1e-3 at X0 (half SPD with an eigenvalue 1e-3,
half with random frames) and the small starts of the tests (menon-2x2, normalized flow from 1e-2 times a random
unit start, N = 2 and 4): median, 95th percentile, largest time (wall clock), median and largest CPU time of the
process (the better figure on a shared machine), failures, the ratio of the medians, the largest relative length
difference, and the gap to ``discrete_distance`` on the first pair of each line.

``--rectangular`` prints only the rectangular (finite N) figures: ``distance`` on random 2x3 and 3x2 pairs
(median, p95, failures), ``exp_map`` on 2x3 and 3x4, and the numeric scalar curvature per point on 2x3 and 3x4.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import riemdln
from riemdln.symbolic import _twins


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
    4 Christoffel evaluations per derivative (riemdln.geometry.geodesics._christoffel, one point at a time)."""
    import math

    from riemdln.geometry import _metric as geometry
    from riemdln.geometry.geodesics import _christoffel, _frame

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
    M = geometry.unchecked_multiplier((s * s)[:, None], (s * s)[None, :], depth, normalized)
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


def _ill_pairs(d, count, seed):
    """Endpoint pairs with s_min/s_max = 1e-3 at X0: half SPD (an eigenvalue 1e-3), half with random frames."""
    rng = np.random.default_rng(seed)

    def orth():
        q, r = np.linalg.qr(rng.normal(size=(d, d)))
        return q * np.sign(np.diag(r))

    out = []
    while len(out) < count:
        s0, s1 = np.geomspace(1.0, 1e-3, d), rng.uniform(0.3, 1.5, d)
        if len(out) % 2 == 0:
            Q0, Q1 = orth(), orth()
            X0, X1 = Q0 @ np.diag(s0) @ Q0.T, Q1 @ np.diag(s1) @ Q1.T
        else:
            X0, X1 = orth() @ np.diag(s0) @ orth().T, orth() @ np.diag(s1) @ orth().T
        if np.linalg.det(X0) * np.linalg.det(X1) > 0:
            out.append((X0, X1))
    return out


def _compare(label: str, pairs, depth: float, normalized: bool, discrete: int) -> None:
    """The boundary-value solver (riemdln.geodesic_between) and the earlier shooting solver side by side, in one
    run: median, 95th percentile, failures, largest relative length difference; then discrete_distance (the
    Richardson-extrapolated discrete path energy) on the first ``discrete`` pairs."""
    from riemdln.geometry._shooting import shooting_geodesic_between

    stats = {}
    lengths = {}
    for name, solve in (("new", riemdln.geodesic_between), ("old", shooting_geodesic_between)):
        times, cpu, fails, ls = [], [], 0, []
        for X0, X1 in pairs:
            t0, c0 = time.perf_counter(), time.process_time()
            res = solve(X0, X1, depth, normalized)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            fails += not res.success
            ls.append(res.length if res.success else np.nan)
        stats[name] = (np.median(times), np.percentile(times, 95), max(times), fails, np.median(cpu), max(cpu))
        lengths[name] = np.array(ls)
    with np.errstate(invalid="ignore"):
        gap = np.nanmax(np.abs(lengths["new"] - lengths["old"]) / lengths["old"]) if len(pairs) else np.nan
    disc = []
    for (X0, X1), L in list(zip(pairs, lengths["new"], strict=True))[:discrete]:
        ref = riemdln.discrete_distance(X0, X1, depth, normalized)
        disc.append(abs(ref.extrapolated - L) / L if ref.success else np.inf)
    (nm, np95, nmax, nf, nc, ncx), (om, op95, omax, of, oc, ocx) = stats["new"], stats["old"]
    print(
        f"{label} (N = {depth:g}{', normalized' if normalized else ''}, {len(pairs)} pairs): "
        f"new median {nm:.2f} s, p95 {np95:.2f} s, max {nmax:.2f} s, CPU median {nc:.2f} s, max {ncx:.2f} s, "
        f"failures {nf} | "
        f"old median {om:.2f} s, p95 {op95:.2f} s, max {omax:.2f} s, CPU median {oc:.2f} s, max {ocx:.2f} s, "
        f"failures {of} | ratio of medians {om / nm:.0f}x (CPU {oc / nc:.0f}x) | "
        f"max length difference {gap:.1e}"
        + (f"; discrete_distance gap (first {len(disc)}) {max(disc):.1e}" if disc else ""),
        flush=True,
    )


def _bench_distances(pairs: int, ill: int, discrete: int) -> None:
    for d in (2, 3):
        _compare(f"{d}x{d} well-conditioned", _pairs(d, pairs, d), 3.0, False, discrete)
    for d in (2, 3):
        _compare(f"{d}x{d} s_min/s_max = 1e-3", _ill_pairs(d, ill, 10 + d), 3.0, False, discrete)
    for depth in (2.0, 4.0):
        _compare("small start (menon-2x2)", [_small_start(depth)], depth, True, discrete)


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


def _rect_pairs(shape, count, seed):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        X0, X1 = (np.eye(*shape) + 0.4 * rng.normal(size=shape) for _ in range(2))
        if all(np.linalg.svd(X, compute_uv=False)[-1] > 0.3 for X in (X0, X1)):
            out.append((X0, X1))
    return out


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
    parser.add_argument("--pairs", type=int, default=10, help="well-conditioned pairs per size")
    parser.add_argument("--ill-pairs", type=int, default=4, help="pairs with s_min/s_max = 1e-3 per size")
    parser.add_argument("--discrete-pairs", type=int, default=1, help="pairs per line checked by discrete_distance")
    parser.add_argument("--curvature-points", type=int, default=10)
    parser.add_argument("--only-curvature", action="store_true", help="only the d = 3 numeric curvature line")
    parser.add_argument("--only-distances", action="store_true", help="only the old/new solver comparison")
    parser.add_argument("--rectangular", action="store_true", help="only the rectangular (2x3, 3x2, 3x4) figures")
    args = parser.parse_args()
    if args.rectangular:
        _bench_rectangular(args.pairs)
        return
    if not args.only_distances:
        _bench_numeric_curvature(args.curvature_points)
    if args.only_curvature:
        return
    _bench_distances(args.pairs, args.ill_pairs, args.discrete_pairs)
    if args.only_distances:
        return
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
