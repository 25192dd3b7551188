"""Simulators at the literature's scale, side by side in one run (issue: trust, scale, energies).

Random d×d rank-r completion (ground truth scaled to ‖W*‖_F = d), init 1e-3 (Gaussian / sqrt(d)), target loss,
normalized convention. Rows: the end-to-end flow (``method="auto"``: matrix-free CVODE above 1600 states, exact
Jacobian-vector products and the spectral preconditioner; split charts once the smallest singular values are no
longer resolved in the matrix form) at N = 3 and N = ∞ (d = 200: also ``formulation="matrix"``, which stays in the
matrix form throughout), and plain
gradient descent on the factors at a learning rate near its stability limit, from the same start, to the same
loss (or its step budget). Prints wall time, CPU time, peak RSS (absolute, and its growth during the run) and
status. Each row runs in a fresh Python process (``--row``, used internally), so its peak RSS is its own: the
absolute figure includes the interpreter, numpy/scipy and the problem (about 100 MB before any run), the growth
only what the run itself added.

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
import json
import math
import resource
import subprocess
import sys
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
    """Run ``fn`` here and print its table line; return the wall time."""
    before = rss_mb()
    w0, c0 = time.perf_counter(), time.process_time()
    res = fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    loss = float(res["loss"][-1])
    err = float(res["test_error"][-1]) if "test_error" in res.diagnostics else math.nan
    status = res.status.name + (f" ({res.stop_event})" if res.stop_event else "")
    peak = rss_mb()
    print(
        f"| {label} | {wall:7.1f} | {cpu:7.1f} | {peak:6.0f} | {max(0.0, peak - before):6.0f} | {status} | "
        f"{loss:.2e} | {err:.2e} | {res.t[-1]:.3g} |",
        flush=True,
    )
    return wall


def run_row(spec: dict) -> float:
    """Run one row (``spec``, see :func:`row_in_process`) in a fresh Python process; return its wall time."""
    proc = subprocess.run(
        [sys.executable, __file__, "--row", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not lines[-1].startswith("WALL "):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"| {spec['label']} | row failed (exit {proc.returncode}): {tail} | | | | | | | |", flush=True)
        return math.nan
    print("\n".join(lines[:-1]), flush=True)
    return float(lines[-1].split()[1])


def row_in_process(spec: dict) -> None:
    """``--row``: build the problem, run one row, print its line and then ``WALL <seconds>``."""
    d, target = spec["d"], spec["target"]
    p, X0 = problem(d, spec["rank"], spec["k"])
    if spec["kind"] == "flow":
        ev = [riemdln.loss_below(target), riemdln.time_budget(600)]
        N = math.inf if spec["N"] == "inf" else float(spec["N"])

        def fn():
            return riemdln.end_to_end_flow(p, X0, N, 1e9, normalized=True, events=ev, formulation=spec["form"])

    else:
        W = riemdln.balanced_factors(X0, 3)
        evd = [riemdln.loss_below(target), riemdln.time_budget(spec["gd_budget"])]

        def fn():
            return riemdln.factor_descent(p, W, lr=spec["lr"], steps=10**9, events=evd)

    wall = row(spec["label"], fn)
    print(f"WALL {wall!r}", flush=True)


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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,200")
    ap.add_argument("--target", type=float, default=1e-8)
    ap.add_argument("--gd-budget", type=float, default=300.0, help="wall seconds for each descent row")
    ap.add_argument("--phases", action="store_true", help="steps per learning event at d = 100 (N = 3, ∞)")
    ap.add_argument("--row", help=argparse.SUPPRESS)  # internal: one row (JSON spec) in this process
    args = ap.parse_args()
    if args.row is not None:
        row_in_process(json.loads(args.row))
        return
    if args.phases:
        phases(100, args.target)
        return
    print("| run | wall s | CPU s | peak RSS MB | peak RSS growth MB | status | final loss | test error | t (τ) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for d in (int(v) for v in args.sizes.split(",")):
        k = {20: 160, 30: 360, 100: 3500, 200: 8000}.get(d, int(0.35 * d * d))
        rank = 5 if d >= 100 else 2
        base = {"d": d, "rank": rank, "k": k}
        flow_wall = {}
        for N in [3.0, math.inf] if d <= 100 else [3.0]:
            for form in ("auto", "matrix") if d > 100 else ("auto",):
                label = f"flow d={d} N={N:g} formulation={form}"
                spec = {**base, "kind": "flow", "N": "inf" if math.isinf(N) else N, "form": form}
                flow_wall[N] = run_row({**spec, "target": args.target, "label": label})
        if d <= 100:
            print(
                f"|  N = inf / N = 3 wall ratio at d={d}: {flow_wall[math.inf] / flow_wall[3.0]:.1f}x | | | | | | | | |"
            )
        if d <= 100:
            p, X0 = problem(d, rank, k)
            s1 = float(np.linalg.svd(p.target, compute_uv=False)[0])
            lr = 0.9 / (3 * s1 ** (4 / 3))  # the raw flow's fastest rate is about N s1^{2(N-1)/N}
            for target in (args.target, 1e-2 * float(p.loss(np.zeros_like(X0)))):
                label = f"descent d={d} N=3 lr={lr:.2g} to {target:.0e}"
                spec = {**base, "kind": "descent", "lr": lr, "gd_budget": args.gd_budget}
                gd = run_row({**spec, "target": target, "label": label})
                if target == args.target:
                    print(
                        f"|  descent / flow (N = 3) wall ratio at {target:.0e}: {gd / flow_wall[3.0]:.1f}x "
                        "(a lower bound if descent hit its budget) | | | | | | | | |"
                    )


if __name__ == "__main__":
    main()
