"""Experiment: does a time change by the relative speed cut N = ∞'s CVODE steps? (README, "Scale")

The normalized N = ∞ flow learns its singular values one after another, each escape a blow-up ds/dτ ≈ s²σ.
This integrates the same 100×100 rank-5 completion (3500 observed, init 1e-3, loss 1e-8) in the variable θ
with dθ = (r(X) + κ) dτ, in which each escape is smooth (d log s/dθ ≈ 1), and counts accepted steps against
the run in τ. The rate r is the relative speed ‖Ẋ‖/‖X‖ (``--rate speed``) or the relative speeds of all
singular values, ‖(ṡ_j/s_j)_j‖ with ṡ_j = u_jᵀẊv_j (``--rate values``: it also sees the escape of a value
small against ‖X‖; one more SVD per right-hand side, in the wall time). Instrumentation only: CVODE's
right-hand side, Jacobian-vector products and preconditioner are wrapped (the products and the
preconditioner's γ scaled by the factor at the last setup, the rank-one part of the Jacobian dropped: CVODE's
Newton iteration only needs an approximation). The factor at a setup costs one more right-hand side, which the
printed count (CVODE's) leaves out and the wall time includes.

    python benchmarks/time_change.py                  # κ = 1e-6, seed 0; then the run in τ for comparison
    python benchmarks/time_change.py --rate values
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from bench_scale import problem

import riemdln
from riemdln.flows import _cvode


def relative_rate(y: np.ndarray, f: np.ndarray, rate: str) -> float:
    """r(X) of the module docstring, X = y and Ẋ = f (100×100)."""
    if rate == "speed":
        return float(np.linalg.norm(f) / np.linalg.norm(y))
    Q, s, Rt = np.linalg.svd(y.reshape(100, 100))
    s_dot = np.einsum("ik,ij,kj->k", Q, f.reshape(100, 100), Rt)
    return float(np.linalg.norm(s_dot / s))


def patched_init(original, kappa: float, rate: str):
    """CVODESolver.__init__ integrating in θ instead of τ (module docstring)."""

    def init(self, fun, t0, y0, t_bound, **kw):
        held = {"c": 1.0}

        def factor(y, f):
            return 1.0 / (relative_rate(y, f, rate) + kappa)

        def fun_theta(t, y):
            f = fun(t, y)
            return factor(y, f) * f

        jvp, pre = kw.get("jvp"), kw.get("precond")
        if jvp is not None:
            kw["jvp"] = lambda t, y, v: held["c"] * jvp(t, y, v)
        if pre is not None:

            class Scaled:
                def setup(self, t, y, gamma, jok=False):
                    renewed = pre.setup(t, y, gamma * held["c"], jok)
                    if renewed:
                        held["c"] = factor(y, fun(t, y))
                    return renewed

                def solve(self, r, gamma):
                    return pre.solve(r, gamma * held["c"])

            kw["precond"] = Scaled()
        original(self, fun_theta, t0, y0, t_bound, **kw)

    return init


def run(label: str, kappa: float | None, seed: int, rate: str = "speed") -> None:
    original_init, original_step = _cvode.CVODESolver.__init__, _cvode.CVODESolver.step
    steps = [0]

    def counted(self):
        steps[0] += 1
        return original_step(self)

    if kappa is not None:
        _cvode.CVODESolver.__init__ = patched_init(original_init, kappa, rate)
    _cvode.CVODESolver.step = counted
    try:
        p, X0 = problem(100, 5, 3500, seed)
        w0 = time.perf_counter()
        res = riemdln.end_to_end_flow(p, X0, math.inf, 1e9, normalized=True, events=[riemdln.loss_below(1e-8)])
        wall = time.perf_counter() - w0
    finally:
        _cvode.CVODESolver.__init__, _cvode.CVODESolver.step = original_init, original_step
    print(
        f"| {label} | {wall:.1f} | {steps[0]} | {res.nfev} | {res.status.name} ({res.stop_event}) | "
        f"{res['loss'][-1]:.2e} | {res['test_error'][-1]:.3e} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kappa", type=float, default=1e-6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", choices=("speed", "values"), default="speed")
    args = ap.parse_args()
    print("| run (100×100 rank 5, N = ∞) | wall s | accepted steps | right-hand sides | status | loss | test error |")
    print("|---|---|---|---|---|---|---|")
    run(f"in θ, r = {args.rate}, κ = {args.kappa:g}", args.kappa, args.seed, args.rate)
    run("in τ (the library)", None, args.seed)


if __name__ == "__main__":
    main()
