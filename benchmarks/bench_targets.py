"""Time to each target loss: the end-to-end flow against tuned gradient descent, side by side in one run.

Same instances as benchmarks/bench_scale.py: a random d×d rank-r completion (ground truth scaled to
‖W*‖_F = d), start 1e-3 (Gaussian / sqrt(d)), the normalized convention. Rows, each in a fresh Python process
(its own peak RSS; ``--row``, used internally):

- ``flow N=3`` and ``flow N=inf``: :func:`riemdln.end_to_end_flow` (defaults, ``formulation`` as given), one
  run to the smallest target; the wall and CPU time at which each target loss is first seen at an accepted
  step (every row runs on one thread, so on a shared machine the CPU time is the fairer figure).
- ``descent``: :func:`riemdln.factor_descent` on three balanced factors of the same start, at the learning
  rate found by bisection at its stability limit (below): the best plain descent, not a handicapped one.

The learning rate: bisection (``--bisect`` rounds) on [lr0/4, 4 lr0], lr0 = 1/(3 s1^{4/3}) (about the inverse
of the raw flow's fastest rate at the target), for the largest rate at which descent reaches loss 1e-4 · E(0)
within ``--probe-steps`` steps and then decreases its loss at every one of 500 more steps (a first version,
which only asked the loss not to rise tenfold, accepted rates at which descent oscillates and slows down).
``--old PATH`` adds the flow rows of another checkout (e.g. a detached worktree of the previous
release) in the same run, interleaved with the current ones, so that both see the same load.

    python benchmarks/bench_targets.py                           # d = 30, 100, 200; N = 3 and N = inf at d <= 100
    python benchmarks/bench_targets.py --sizes 100 --old /work/wt/old --budget 120
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import numpy as np

TARGETS = (1e-2, 1e-4, 1e-6, 1e-8)
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def problem(d: int, rank: int, k: int, seed: int = 0):
    import riemdln

    p = riemdln.CompletionProblem.random(d, d, rank, k, seed=seed)
    scale = d / np.linalg.norm(p.ground_truth)
    p = riemdln.CompletionProblem((d, d), p.mask, p.target * scale, ground_truth=p.ground_truth * scale)
    X0 = 1e-3 * np.random.default_rng(seed + 1).standard_normal((d, d)) / np.sqrt(d)
    return p, X0


def observed(d: int) -> int:
    return {20: 160, 30: 360, 100: 3500, 200: 8000}.get(d, int(0.35 * d * d))


class Clock:
    """Recording events: the wall time at which the loss first falls to each target."""

    def __init__(self, p, targets):
        import riemdln

        self.p, self.start, self.cpu, self.hit = p, time.perf_counter(), time.process_time(), {}
        self.events = [riemdln.Event(f"reach_{tau:.0e}", self._fn(tau), False, -1.0) for tau in targets]

    def _fn(self, tau):
        def fn(t, X, problem):
            value = float(self.p.loss(np.asarray(X))) - tau
            if value <= 0 and tau not in self.hit:
                self.hit[tau] = (time.perf_counter() - self.start, time.process_time() - self.cpu)
            return value

        return fn


def descent(p, X0, lr, steps, events):
    import riemdln

    return riemdln.factor_descent(p, riemdln.balanced_factors(X0, 3), lr=lr, steps=steps, events=events)


def stable(p, X0, lr: float, probe_steps: int) -> bool:
    """Descent at ``lr`` reaches 1e-4 E(0) within ``probe_steps`` and its loss then decreases at every one of
    500 more steps (above the limit descent oscillates: it may still not diverge, but it slows down)."""
    import riemdln

    goal = 1e-4 * float(p.loss(X0))
    res = descent(p, X0, lr, probe_steps, [riemdln.loss_below(goal)])
    if res.status.name != "EVENT":
        return False
    W = [f[-1] for f in res.factors]
    after = riemdln.factor_descent(p, W, lr=lr, steps=500, record_every=1)
    return after.status.name == "FINISHED" and bool(np.all(np.diff(after["loss"]) <= 0))


def tune(p, X0, rounds: int, probe_steps: int) -> tuple[float, float]:
    """(largest stable rate found, smallest unstable one) by bisection in log lr."""
    s1 = float(np.linalg.svd(p.target, compute_uv=False)[0])
    lr0 = 1.0 / (3 * s1 ** (4 / 3))
    lo, hi = lr0 / 4, 4 * lr0
    if not stable(p, X0, lo, probe_steps):
        return math.nan, lo
    for _ in range(rounds):
        mid = math.sqrt(lo * hi)
        lo, hi = (mid, hi) if stable(p, X0, mid, probe_steps) else (lo, mid)
    return lo, hi


def row_in_process(spec: dict) -> None:
    """``--row``: one run; prints a JSON line with the wall times to the targets, RSS and the status."""
    import riemdln

    d = spec["d"]
    p, X0 = problem(d, spec["rank"], observed(d))
    if spec["kind"] == "tune":
        lo, hi = tune(p, X0, spec["rounds"], spec["probe_steps"])
        print(json.dumps({"lr": lo, "lr_unstable": hi}))
        return
    targets = list(TARGETS)
    clock = Clock(p, targets)
    stop = [riemdln.loss_below(min(targets)), riemdln.time_budget(spec["budget"])]
    clock.start, clock.cpu = time.perf_counter(), time.process_time()
    if spec["kind"] == "flow":
        N = math.inf if spec["N"] == "inf" else float(spec["N"])
        kwargs = {} if spec.get("form", "auto") == "auto" else {"formulation": spec["form"]}
        res = riemdln.end_to_end_flow(p, X0, N, 1e9, normalized=True, events=[*clock.events, *stop], **kwargs)
        extra = {"formulation": res.formulation, "nfev": int(res.nfev)}
    else:
        res = descent(p, X0, spec["lr"], 10**9, [*clock.events, *stop])
        extra = {"formulation": f"descent lr={spec['lr']:.4g}", "nfev": int(res.nfev)}
    wall = time.perf_counter() - clock.start
    info = {
        "hit": {f"{k:.0e}": v for k, v in clock.hit.items()},
        "wall": wall,
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "status": res.status.name + (f" ({res.stop_event})" if res.stop_event else ""),
        "loss": float(res["loss"][-1]),
        "test_error": float(res["test_error"][-1]) if "test_error" in res.diagnostics else math.nan,
        **extra,
    }
    print(json.dumps(info))


def run_row(spec: dict, tree: str) -> dict | None:
    env = {**os.environ, "PYTHONPATH": tree}
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--row", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd="/tmp",
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"| {spec.get('label', spec['kind'])} | row failed (exit {proc.returncode}): {tail} |", flush=True)
        return None
    return json.loads(lines[-1])


def line(label: str, info: dict | None) -> str:
    if info is None:
        return f"| {label} | failed |"
    hit = info["hit"]
    keys = [f"{tau:.0e}" for tau in TARGETS]
    cells = [f"{hit[k][0]:.1f} / {hit[k][1]:.1f}" if k in hit else "—" for k in keys]
    return (
        f"| {label} | " + " | ".join(cells) + f" | {info['rss']:.0f} | {info['status']} | {info['loss']:.2e} | "
        f"{info['test_error']:.2e} | {info['formulation']} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="30,100,200")
    ap.add_argument("--budget", type=float, default=300.0, help="wall seconds for each row")
    ap.add_argument("--old", help="another checkout whose flow rows run beside the current ones")
    ap.add_argument("--inf-max", type=int, default=100, help="N = inf rows up to this d")
    ap.add_argument("--form", default="auto", help="formulations of the flow rows, comma-separated (auto, matrix)")
    ap.add_argument("--bisect", type=int, default=8, help="bisection rounds for descent's learning rate")
    ap.add_argument("--probe-steps", type=int, default=20000)
    ap.add_argument("--lr", type=float, help="skip the bisection: descent at this rate")
    ap.add_argument("--no-descent", action="store_true")
    ap.add_argument("--no-flow", action="store_true")
    ap.add_argument("--row", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.row is not None:
        row_in_process(json.loads(args.row))
        return
    trees = [("", HERE)] + ([(" (previous)", os.path.abspath(args.old))] if args.old else [])
    head = " | ".join(f"to {tau:.0e}: wall / CPU s" for tau in TARGETS)
    print(f"| run | {head} | peak RSS MB | status | final loss | test error | formulation |")
    print("|---|" + "---|" * (len(TARGETS) + 5))
    for d in (int(v) for v in args.sizes.split(",")):
        base = {"d": d, "rank": 5 if d >= 100 else 2, "budget": args.budget}
        for N in [] if args.no_flow else ["3", "inf"] if d <= args.inf_max else ["3"]:
            for form in args.form.split(","):
                for suffix, tree in trees:
                    spec = {**base, "kind": "flow", "N": N, "form": form}
                    label = f"flow d={d} N={N}" + ("" if form == "auto" else f" formulation={form}") + suffix
                    print(line(label, run_row(spec, tree)), flush=True)
        if args.no_descent:
            continue
        lr = args.lr
        if lr is None:
            t0 = time.perf_counter()
            tuned = run_row({**base, "kind": "tune", "rounds": args.bisect, "probe_steps": args.probe_steps}, HERE)
            lr = None if tuned is None else tuned["lr"]
            if tuned is not None:
                print(
                    f"| (descent d={d}: stable at lr {tuned['lr']:.5g}, not at {tuned['lr_unstable']:.5g}; "
                    f"bisection {time.perf_counter() - t0:.0f} s) |",
                    flush=True,
                )
        if lr is not None and math.isfinite(lr):
            print(line(f"descent d={d} N=3", run_row({**base, "kind": "descent", "lr": lr}, HERE)), flush=True)


if __name__ == "__main__":
    main()
