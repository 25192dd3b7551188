"""Benchmark of the DLN simulators (not a timed test).

Run:  python benchmarks/bench_flows.py [--budget SECONDS]

1. Random 30x30 rank-2 completion (40 % observed, seed 0), raw depth N = 4, init 1e-3, to loss 1e-10:
   wall time and final error of factor_descent (largest stable learning rate), factor_flow,
   end_to_end_flow (matrix form) and the SVD-coordinate flow, side by side. Every run also stops on a
   wall-clock budget, and then reports how far it got.
2. Cost of N = inf against N = 3 (normalized, end_to_end_flow defaults, same problem and init), to test
   error 1e-3 and to loss 1e-10: wall time, steps, wall per step, when s_1 and s_2 escape the plateau,
   and the cost of one right-hand side and one Jacobian at the same point.
3. One right-hand-side evaluation against one numpy.linalg.svd at d = 200.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from riemdln import CompletionProblem
from riemdln.flows import (
    Event,
    Status,
    balanced_factors,
    end_to_end_flow,
    factor_descent,
    factor_flow,
    loss_below,
    time_budget,
)
from riemdln.flows.end_to_end import _aligned_svd, _matrix_jacobian, _matrix_rhs, _SVDSystem


def line(name, res, wall):
    print(
        f"{name:<34} {wall:9.2f} s  {res.status.name:<9} t={res.t[-1]:<10.4g} loss={res['loss'][-1]:<10.3g} "
        f"test_err={res['test_error'][-1]:<10.3g} eff_rank={res['effective_rank'][-1]:<7.4f} nfev={res.nfev}"
    )


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    res = fn(*args, **kwargs)
    return res, time.perf_counter() - t0


def per_call(fn, reps):
    fn()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps


def largest_stable_lr(problem, W0, N):
    """Largest lr = 2^(-k/2) (1 / lambda) that does not diverge; lambda = N s_1^(2 - 2/N) of the target."""
    s1 = np.linalg.svd(problem.ground_truth, compute_uv=False)[0]
    lr = 4.0 / (N * s1 ** (2 - 2 / N))
    while True:
        # a run long enough to escape the plateau and reach the large singular values
        res = factor_descent(problem, W0, lr=lr, steps=int(60 / lr), record_every=1000, events=loss_below(1e-6))
        if res.status != Status.DIVERGED and np.all(np.isfinite(res["loss"])) and res["loss"][-1] < 1e-2:
            return lr
        lr /= math.sqrt(2)


def depth_costs(p, X0, budget):
    """Wall time of normalized N = inf against N = 3, to test error 1e-3 and to loss 1e-10, and why."""
    stop = [loss_below(1e-10), time_budget(budget)]
    rank = int(np.linalg.matrix_rank(p.ground_truth))
    gt = p.ground_truth
    gt_norm = float(np.linalg.norm(gt))
    test_ok = Event("test_error_below_1e-3", lambda t, X, prob: np.linalg.norm(X - gt) / gt_norm - 1e-3, True, -1.0)
    walls, runs = {}, {}
    for depth in (3, math.inf):
        for name, events in (("to test error 1e-3", [test_ok, time_budget(budget)]), ("to loss 1e-10", stop)):
            res, wall = timed(end_to_end_flow, p, X0, depth, 1e12, True, events=events)
            walls[depth, name], runs[depth, name] = wall, res
            line(f"N={depth:g} {name}", res, wall)
    for name in ("to test error 1e-3", "to loss 1e-10"):
        n3, ninf = len(runs[3, name].t) - 1, len(runs[math.inf, name].t) - 1
        w3, winf = walls[3, name], walls[math.inf, name]
        print(
            f"  {name}: cost ratio N=inf / N=3 {winf / w3:.2f}  (steps {ninf} / {n3} = {ninf / n3:.2f}; "
            f"wall per step {1e3 * winf / ninf:.2f} / {1e3 * w3 / n3:.2f} ms = {(winf / ninf) / (w3 / n3):.2f})"
        )
    # where the steps go: how many separate escapes from the plateau (rank 2: N = 3 learns s_1 and s_2
    # together, N = inf one after the other)
    for depth in (3, math.inf):
        res = runs[depth, "to loss 1e-10"]
        s = res["singular_values"]
        escapes = ", ".join(f"{float(res.t[np.argmax(s[:, r] > 0.5 * s[-1, r])]):.3g}" for r in range(rank))
        print(f"  N={depth:g}: the top {rank} singular value(s) reach half their final values at tau = {escapes}")
    for depth in (3, math.inf):
        phase_costs(p, depth, runs[depth, "to loss 1e-10"], rank)
    # one right-hand side and one Jacobian at the same X, N = inf against N = 3
    Xr = runs[3, "to loss 1e-10"].X[-1]
    for what, make in (("right-hand side", _matrix_rhs), ("Jacobian", _matrix_jacobian)):
        costs = {}
        for depth in (3, math.inf):
            fn = make(p, float(depth), True)
            costs[depth] = per_call(lambda fn=fn: fn(0.0, Xr.ravel()), 20)
        print(f"  one {what}: N=inf / N=3 = {costs[math.inf] / costs[3]:.2f} ({1e3 * costs[3]:.2f} ms at N=3)")


def phase_costs(p, depth, res, rank):
    """Re-run `res` phase by phase (matrix form, and SVD coordinates for the escapes): where the cost goes.

    The escape of s_r runs from when s_r first exceeds 10 s_r(0) to when it is within 1 % of its final
    value; the phases are the plateau before the first escape, the escapes, the waits between them and the
    tail to the target loss. Each phase restarts the solver from the recorded state (a small overhead).
    """
    s, t = res["singular_values"], res.t
    cuts = [0.0]
    for r in range(rank):
        start = float(t[np.argmax(s[:, r] > 10 * s[0, r])])
        end = float(t[np.argmax(np.abs(s[:, r] - s[-1, r]) < 1e-2 * s[-1, r])])
        cuts += [max(start, cuts[-1]), max(end, start)]
    names = ["plateau"] + [f"escape s{r + 1}" if i % 2 == 0 else "wait" for r in range(rank) for i in range(2)][:-1]
    names.append("tail to loss 1e-10")
    cuts.append(math.inf)
    print(f"  N={depth:g} by phase (matrix form; SVD coordinates for the escapes):")
    for name, a, b in zip(names, cuts[:-1], cuts[1:], strict=True):
        Xa = res.X[min(np.searchsorted(t, a), len(t) - 1)]
        events = loss_below(1e-10)
        t_span = 1e12 if math.isinf(b) else b - a
        if not t_span > 0:  # a phase the (budget-stopped) run never reached: nothing to time
            print(f"    {name:<20} tau {a:9.4g} .. {b:<9.4g} (not reached by the run)")
            continue
        cells = []
        for form in ("matrix", "svd") if name.startswith("escape") else ("matrix",):
            r, wall = timed(end_to_end_flow, p, Xa, depth, t_span, True, formulation=form, events=events)
            cells.append(f"{form} {wall:6.2f} s, {len(r.t) - 1:5d} steps, {r.njev:3d} Jacobians")
        print(f"    {name:<20} tau {a:9.4g} .. {b:<9.4g} " + " | ".join(cells))
    # the escapes' stiffness in matrix coordinates is largely an effect of the coordinates: the derivative of
    # the multiplier in a small singular value s_b (L(x, y) has infinite slope at y = 0) makes the Jacobian
    # far from normal; its norm, not its eigenvalues, limits an explicit method
    mid = int(np.argmax(s[:, 0] > 0.5 * s[-1, 0]))
    Jm = _matrix_jacobian(p, float(depth), True)(0.0, res.X[mid].ravel())
    print(
        f"    mid-escape of s1: ||J||_2 = {np.linalg.norm(Jm, 2):.3g}, "
        f"largest |eigenvalue| = {np.abs(np.linalg.eigvals(Jm)).max():.3g}"
    )


def main(budget: float) -> None:
    p = CompletionProblem.random(30, 30, rank=2, n_observed=360, seed=0)
    X0 = 1e-3 * np.random.default_rng(1).standard_normal((30, 30)) / np.sqrt(30)
    N = 4
    stop = [loss_below(1e-10), time_budget(budget)]
    print(f"problem: {p!r}; X0 = 1e-3 * gaussian / sqrt(30); N = {N} (raw); target loss 1e-10; budget {budget:g} s")
    print(f"{'simulator':<34} {'wall':>11}  status    reached")
    W0 = balanced_factors(X0, N)
    t0 = time.perf_counter()
    lr = largest_stable_lr(p, W0, N)
    print(f"  (largest stable lr found: {lr:.4g}, search took {time.perf_counter() - t0:.1f} s)")
    res, wall = timed(factor_descent, p, W0, lr=lr, steps=10**9, record_every=10**5, events=stop)
    line(f"factor_descent lr={lr:.3g}", res, wall)
    gd = (res, wall)
    res, wall = timed(factor_flow, p, W0, 1e9, events=stop)
    line("factor_flow (LSODA)", res, wall)
    res, wall = timed(end_to_end_flow, p, X0, N, 1e9, formulation="matrix", events=stop)
    line("end_to_end_flow matrix (LSODA)", res, wall)
    res, wall = timed(end_to_end_flow, p, X0, N, 1e9, formulation="svd", events=stop)
    line("svd_flow (LSODA)", res, wall)
    res, wall = timed(end_to_end_flow, p, X0, N, 1e9, events=stop)
    line(f"end_to_end_flow auto -> {res.formulation}", res, wall)
    # equal final accuracy: time for the default flow to reach the loss gradient descent reached
    target = float(gd[0]["loss"][-1])
    if gd[0].status != Status.EVENT or "loss_below" not in gd[0].message:
        res2, wall2 = timed(end_to_end_flow, p, X0, N, 1e9, events=[loss_below(target), time_budget(budget)])
        line(f"auto to GD's final loss {target:.3g}", res2, wall2)
        print(
            f"  factor_descent ran out of budget at loss {target:.3g}: the end-to-end flow gets there "
            f"{gd[1] / wall2:.0f}x faster, and to loss 1e-10 in {wall:.1f} s"
        )
    else:
        print(f"  speed-up over factor_descent (both to loss 1e-10): {gd[1] / wall:.1f}x")

    print("\nN = inf vs N = 3 (normalized, end_to_end_flow defaults)")
    depth_costs(p, X0, budget)
    print("\nThe same on a rank-1 ground truth (30x30, 360 observed, seed 0): one escape at either depth")
    depth_costs(CompletionProblem.random(30, 30, rank=1, n_observed=360, seed=0), X0, budget)

    print("\nOne right-hand side at d = 200 (random problem, 40 % observed, N = 4)")
    d = 200
    q = CompletionProblem.random(d, d, rank=5, n_observed=16000, seed=2)
    X = np.random.default_rng(3).standard_normal((d, d))
    t_svd = per_call(lambda: np.linalg.svd(X), 20)
    f = _matrix_rhs(q, 4.0, False)
    t_mat = per_call(lambda: f(0.0, X.ravel()), 20)
    system = _SVDSystem(q, 4.0, False)
    y = system.join(*_aligned_svd(X, system))
    t_svdrhs = per_call(lambda: system.rhs(0.0, y), 20)
    print(f"numpy.linalg.svd(X):           {1e3 * t_svd:8.2f} ms")
    print(f"matrix-form right-hand side:   {1e3 * t_mat:8.2f} ms  ({t_mat / t_svd:.2f}x the SVD)")
    print(f"SVD-coordinate right-hand side:{1e3 * t_svdrhs:8.2f} ms  ({t_svdrhs / t_svd:.2f}x the SVD)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=120.0, help="wall-clock budget per run (seconds)")
    main(parser.parse_args().budget)
