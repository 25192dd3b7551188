"""Benchmark of the Langevin samplers and the quadrature oracle (not a timed test).

Run:  python benchmarks/bench_langevin.py [--fraction F]

1. 10^4 chains of 2x2 (QuadraticEnergy, N = 3, beta = 4, coordinates "auto" and "X") for 10^4 steps.
2. 10^3 chains of 10x10 (QuadraticEnergy(I), N = 3, beta = 50, "auto") for 10^3 steps.
3. The quadrature oracle gibbs_expectation (2x2, N = 3, beta = 4, five observables) to tol = 1e-6.
At d = 2 the compiled step (numba) is timed beside the numpy step (on ``--numpy-fraction`` of the steps,
extrapolated), with their ratio. ``--fraction F`` runs F times the steps and extrapolates the wall time
linearly (the cost per step is constant). Each timed run follows a two-step warm-up (numba's cache load, the
thread pool). Every row prints its goal (issue 14) and whether it was met
("met?" says "extrapolated" beside yes/no when ``--fraction`` < 1).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import riemdln
from riemdln.thermo import langevin_dynamics


def _run(energy, X0, n_chains, steps, coordinates, beta, fraction):
    n = max(1, int(steps * fraction))
    riemdln.langevin(energy, X0, 3, beta, 2e-3, 1e-3, n_chains=n_chains, seed=0, coordinates=coordinates)  # warm-up
    t0 = time.perf_counter()
    r = riemdln.langevin(
        energy,
        X0,
        3,
        beta,
        t_final=n * 1e-3,
        dt=1e-3,
        n_chains=n_chains,
        seed=0,
        coordinates=coordinates,
        save_every=max(1, n // 10),
    )
    wall = time.perf_counter() - t0
    return wall * steps / n, r


GOAL_S = {"2x2": 30.0, "10x10": 30.0, "quadrature": 10.0}  # issue 14: wall-clock goals on 2 cores


def _row(name: str, wall: float, goal: float, extra: str = "", extrapolated: bool = False, ok: bool = True) -> str:
    met = "yes" if ok and wall <= goal else "no"
    if extrapolated:
        met += " (extrapolated)"
    return f"{name:<40} {wall:7.1f} s   <= {goal:3.0f} s   {met:<18}   {extra}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--numpy-fraction", type=float, default=0.1, help="share of the steps for the numpy step's row")
    args = ap.parse_args()
    E2 = riemdln.QuadraticEnergy(np.array([[1.0, 0.3], [0.0, 0.5]]))
    compiled = langevin_dynamics._langevin_jit.AVAILABLE
    partial = args.fraction < 1.0
    print(f"{'run':<40} {'wall':>9}   {'goal':<8}   {'met?':<18}   notes", flush=True)
    for coords in ("auto", "X"):
        wall, r = _run(E2, np.eye(2), 10_000, 10_000, coords, 4.0, args.fraction)
        extra = f"Y fraction {r['y_fraction'][1:].mean():.2f}"
        if compiled:  # the numpy step on a tenth of the steps, extrapolated
            langevin_dynamics._JIT_D2 = False
            slow, _ = _run(E2, np.eye(2), 10_000, 10_000, coords, 4.0, args.fraction * args.numpy_fraction)
            langevin_dynamics._JIT_D2 = True
            extra += f"; numpy step {slow:7.1f} s, ratio {slow / wall:4.1f}x"
        name = f"2x2, 1e4 chains x 1e4 steps, {coords}"
        print(_row(name, wall, GOAL_S["2x2"], extra, partial), flush=True)
    E10 = riemdln.QuadraticEnergy(np.eye(10))
    wall, r = _run(E10, np.eye(10), 1_000, 1_000, "auto", 50.0, args.fraction)
    extra = f"Y fraction {r['y_fraction'][1:].mean():.2f}; {langevin_dynamics._svd_threads()} thread(s)"
    print(_row("10x10, 1e3 chains x 1e3 steps, auto", wall, GOAL_S["10x10"], extra, partial), flush=True)

    def f(X):
        return np.stack([X[:, 0, 0], X[:, 1, 1], X[:, 0, 1], (np.linalg.det(X) < 0).astype(float), E2.loss(X)], -1)

    t0 = time.perf_counter()
    q = riemdln.gibbs_expectation(E2, f, 3, 4.0, rtol=1e-6)
    wall = time.perf_counter() - t0
    ok = q.status == riemdln.flows.result.Status.FINISHED  # the goal is the time *at* 1e-6 accuracy
    print(_row("quadrature oracle, 2x2, tol 1e-6", wall, GOAL_S["quadrature"], q.message, ok=ok))


if __name__ == "__main__":
    main()
