"""Simulators at the literature's scale, side by side in one run (issue: trust, scale, energies).

Random d×d rank-r completion (ground truth scaled to ‖W*‖_F = d), init 1e-3 (Gaussian / sqrt(d)), target loss,
normalized convention. Rows: the end-to-end flow (``method="auto"``: matrix-free CVODE above 1600 states, exact
Jacobian-vector products and the spectral preconditioner; split charts once the smallest singular values are no
longer resolved in the matrix form) at N = 3 and N = ∞ (d = 200: also ``formulation="matrix"``, which stays in the
matrix form throughout), and plain
gradient descent on the factors at a learning rate near its stability limit, from the same start, to the same
loss (or its step budget). Prints wall time, CPU time, peak RSS growth and status.

    python benchmarks/bench_scale.py                 # d = 100 (N = 3, ∞), d = 200 (N = 3), GD rows
    python benchmarks/bench_scale.py --sizes 30 --gd-budget 60
    python benchmarks/bench_scale.py --phases        # d = 100: where N = 3 and N = ∞ spend their CVODE steps

``--phases`` counts CVODE's accepted steps (by wrapping the internal solver's ``step``, instrumentation only)
and attributes them to the learning events: event k runs from the step where σ_k first reaches half its final
value to the step where σ_{k+1} does (the first event starts at τ = 0, the last one ends at the target loss).
A second table splits the same steps by what the value being learned (the first σ_j below 90 % of its final
value) is doing: waiting (σ_j < 1 % of its final value, the plateau before its escape), escaping (1–50 %),
settling (50–90 %), or the tail (all five at ≥ 90 %).
"""

from __future__ import annotations

import argparse
import math
import resource
import time

import numpy as np

import riemdln


def problem(d: int, rank: int, k: int, seed: int = 0):
    p = riemdln.CompletionProblem.random(d, d, rank, k, seed=seed)
    scale = d / np.linalg.norm(p.ground_truth)
    p = riemdln.CompletionProblem((d, d), p.mask, p.target * scale, ground_truth=p.ground_truth * scale)
    X0 = 1e-3 * np.random.default_rng(seed + 1).standard_normal((d, d)) / np.sqrt(d)
    return p, X0


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def row(label, fn):
    before = rss_mb()
    w0, c0 = time.perf_counter(), time.process_time()
    res = fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    loss = float(res["loss"][-1])
    err = float(res["test_error"][-1]) if "test_error" in res.diagnostics else math.nan
    status = res.status.name + (f" ({res.stop_event})" if res.stop_event else "")
    print(
        f"| {label} | {wall:7.1f} | {cpu:7.1f} | {max(0.0, rss_mb() - before):6.0f} | {status} | "
        f"{loss:.2e} | {err:.2e} | {res.t[-1]:.3g} |",
        flush=True,
    )
    return wall


def phases(d: int, target: float) -> None:
    """Accepted CVODE steps per learning event at N = 3 and N = ∞ (module docstring)."""
    from riemdln.flows import _cvode

    k = {100: 3500, 200: 8000}.get(d, int(0.35 * d * d))
    p, X0 = problem(d, 5, k)
    original = _cvode.CVODESolver.step
    by_event: list[str] = []
    by_stage: list[str] = []
    for N in (3.0, math.inf):
        steps: list[tuple[float, np.ndarray]] = []

        def counted(self, steps=steps):
            message = original(self)
            steps.append((self.t, np.linalg.svd(self.y.reshape(d, d), compute_uv=False)[:5]))
            return message

        _cvode.CVODESolver.step = counted
        try:
            w0 = time.perf_counter()
            res = riemdln.end_to_end_flow(p, X0, N, 1e9, normalized=True, events=[riemdln.loss_below(target)])
            wall = time.perf_counter() - w0
        finally:
            _cvode.CVODESolver.step = original
        t = np.array([a for a, _ in steps])
        sv = np.array([b for _, b in steps])
        final = sv[-1]
        starts = [0] + [int(np.argmax(sv[:, j] >= 0.5 * final[j])) for j in range(1, 5)] + [len(t)]
        cells = [f"{b - a} steps, τ {t[a]:.3g}–{t[b - 1]:.3g}" for a, b in zip(starts[:-1], starts[1:], strict=True)]
        by_event.append(f"| N = {N:g} ({res.status.name}, {wall:.1f} s, {len(t)} steps) | " + " | ".join(cells) + " |")
        by_stage.append(f"| N = {N:g} | " + " | ".join(str(c) for c in stage_counts(sv, final)) + " |")
    print("| run | event 1 | event 2 | event 3 | event 4 | event 5 and the tail |")
    print("|---|---|---|---|---|---|")
    print("\n".join(by_event))
    print("\n| run | waiting (σ_j < 1 %) | escaping (1–50 %) | settling (50–90 %) | tail (all ≥ 90 %) |")
    print("|---|---|---|---|---|")
    print("\n".join(by_stage))


def stage_counts(sv: np.ndarray, final: np.ndarray) -> list[int]:
    """Steps waiting / escaping / settling / in the tail, by the first σ_j below 90 % of its final value."""
    counts = [0, 0, 0, 0]
    for row in sv:
        below = np.nonzero(row < 0.9 * final)[0]
        if below.size == 0:
            counts[3] += 1
            continue
        fraction = row[below[0]] / final[below[0]]
        counts[0 if fraction < 0.01 else 1 if fraction < 0.5 else 2] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,200")
    ap.add_argument("--target", type=float, default=1e-8)
    ap.add_argument("--gd-budget", type=float, default=300.0, help="wall seconds for each descent row")
    ap.add_argument("--phases", action="store_true", help="steps per learning event at d = 100 (N = 3, ∞)")
    args = ap.parse_args()
    if args.phases:
        phases(100, args.target)
        return
    print("| run | wall s | CPU s | peak RSS growth MB | status | final loss | test error | t (τ) |")
    print("|---|---|---|---|---|---|---|---|")
    for d in (int(v) for v in args.sizes.split(",")):
        k = {20: 160, 30: 360, 100: 3500, 200: 8000}.get(d, int(0.35 * d * d))
        p, X0 = problem(d, 5 if d >= 100 else 2, k)
        ev = [riemdln.loss_below(args.target), riemdln.time_budget(600)]
        flow_wall = {}
        for N in [3.0, math.inf] if d <= 100 else [3.0]:
            for form in ("auto", "matrix") if d > 100 else ("auto",):
                flow_wall[N] = row(
                    f"flow d={d} N={N:g} formulation={form}",
                    lambda N=N, p=p, X0=X0, ev=ev, form=form: riemdln.end_to_end_flow(
                        p, X0, N, 1e9, normalized=True, events=ev, formulation=form
                    ),
                )
        if d <= 100:
            print(
                f"|  N = inf / N = 3 wall ratio at d={d}: {flow_wall[math.inf] / flow_wall[3.0]:.1f}x | | | | | | | |"
            )
        if d <= 100:
            W = riemdln.balanced_factors(X0, 3)
            s1 = float(np.linalg.svd(p.target, compute_uv=False)[0])
            lr = 0.9 / (3 * s1 ** (4 / 3))  # the raw flow's fastest rate is about N s1^{2(N-1)/N}
            for target in (args.target, 1e-2 * float(p.loss(np.zeros_like(X0)))):
                evd = [riemdln.loss_below(target), riemdln.time_budget(args.gd_budget)]
                gd = row(
                    f"descent d={d} N=3 lr={lr:.2g} to {target:.0e}",
                    lambda evd=evd, p=p, W=W, lr=lr: riemdln.factor_descent(p, W, lr=lr, steps=10**9, events=evd),
                )
                if target == args.target:
                    print(
                        f"|  descent / flow (N = 3) wall ratio at {target:.0e}: {gd / flow_wall[3.0]:.1f}x "
                        "(a lower bound if descent hit its budget) | | | | | | | |"
                    )


if __name__ == "__main__":
    main()
