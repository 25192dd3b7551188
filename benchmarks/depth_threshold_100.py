"""The depth threshold at the literature's size: one 100×100 rank-5 instance, N = 2 … 32 and ∞, side by side.

The instance, the start and the flows are those of the ``depth_threshold`` and ``deep_completion`` studies
(``CompletionProblem.random(100, 100, 5, k, seed)``, init 1e-3 Gaussian / sqrt(d), normalized flows asked for
loss ``--loss``), with a CPU budget per run on top of ``max_steps``: a run cut by either is reported with its
status and the values it had reached — it is not a converged run. Prints one row per depth.

    python benchmarks/depth_threshold_100.py                      # 2000 observed, seed 0, N = 2 3 4 6 8 16 32 inf
    python benchmarks/depth_threshold_100.py --depths 8 16 --observed 4000 --budget 600
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import riemdln
from riemdln.flows import loss_below, time_budget


def run(k: int, seed: int, depth: float, loss: float, budget: float, max_steps: int) -> dict:
    problem = riemdln.CompletionProblem.random(100, 100, 5, k, seed=seed)
    X0 = 1e-3 * np.random.default_rng(10_000 + seed).standard_normal((100, 100)) / 10.0
    c0 = time.process_time()
    res = riemdln.end_to_end_flow(
        problem,
        X0,
        depth,
        1e7,
        normalized=True,
        events=[loss_below(loss), time_budget(budget)],
        max_steps=max_steps,
        progress=False,
    )
    d = res.diagnostics
    return dict(
        depth=depth,
        status=res.status.name,
        event=res.stop_event,
        loss=float(d["loss"][-1]),
        test=float(d["test_error"][-1]),
        s1=float(d["singular_values"][-1][0]),
        erank=float(d["effective_rank"][-1]),
        tau=float(res.t[-1]),
        cpu=time.process_time() - c0,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", nargs="+", default=["2", "3", "4", "6", "8", "16", "32", "inf"])
    ap.add_argument("--observed", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--loss", type=float, default=1e-6)
    ap.add_argument("--budget", type=float, default=900.0, help="wall seconds per run")
    ap.add_argument("--max-steps", type=int, default=20000)
    a = ap.parse_args()
    print(f"100x100 rank 5, {a.observed} observed, seed {a.seed}, target loss {a.loss:g}, budget {a.budget:g} s/run")
    head = ("N", 4), ("status", 11), ("stop", 12), ("loss", 9), ("test err", 9), ("sigma1", 9), ("erank", 6)
    print(" ".join(f"{h:>{w}}" for h, w in (*head, ("tau", 9), ("CPU s", 7))))
    for label in a.depths:
        depth = math.inf if label == "inf" else float(label)
        r = run(a.observed, a.seed, depth, a.loss, a.budget, a.max_steps)
        print(
            f"{label:>4} {r['status']:>11} {str(r['event']):>12} {r['loss']:9.2e} {r['test']:9.2e} {r['s1']:9.3g} "
            f"{r['erank']:6.2f} {r['tau']:9.3g} {r['cpu']:7.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
