r"""Study 2 — depth convergence of trajectories: normalized flows at growing N against :math:`N = \infty`.

From one O(1) initialization on a small random completion problem, the normalized flows
(:math:`dX/d\tau = -(A_N/N)\nabla E`) at N = 4, 16, 64, 256 are integrated to the same time τ and
compared with the :math:`N = \infty` flow (logarithmic-mean operator); the fitted order should be 1.
"""

from __future__ import annotations

import math

import numpy as np

from riemdln.studies import convergence_figure, depth_label, fmt, loglog_slope, table

NAME = "depth_convergence"
TITLE = "Depth convergence of normalized flows to the N = ∞ flow"


def parameters(quick: bool) -> dict:
    return {
        "shape": [5, 5] if quick else [6, 6],
        "rank": 2,
        "n_observed": 15 if quick else 22,
        "tau": 1.0,
        "depths": [4, 16, 64, 256],
        "seeds": [0] if quick else [0, 1, 2],
        "rtol": 1e-11,
        "atol": 1e-13,
    }


def _flow(shape, rank, n_observed, seed, depth, tau, rtol, atol) -> list:
    from riemdln import CompletionProblem, end_to_end_flow

    problem = CompletionProblem.random(shape[0], shape[1], rank, n_observed, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    X0 = 0.5 * rng.standard_normal(tuple(shape))
    res = end_to_end_flow(problem, X0, depth, tau, normalized=True, rtol=rtol, atol=atol, progress=False)
    if not res.success:
        raise RuntimeError(f"depth_convergence flow at N = {depth} failed: {res.message}")
    return res.X[-1].tolist()


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.sweep import run_sweep

    depths = [float(N) for N in params["depths"]] + [math.inf]
    tasks = [
        dict(
            shape=params["shape"],
            rank=params["rank"],
            n_observed=params["n_observed"],
            seed=seed,
            depth=N,
            tau=params["tau"],
            rtol=params["rtol"],
            atol=params["atol"],
        )
        for seed in params["seeds"]
        for N in depths
    ]
    finals = run_sweep(_flow, tasks, executor=executor, progress=progress, desc=NAME)
    runs = []
    for k, seed in enumerate(params["seeds"]):
        block = [np.array(finals[k * len(depths) + j]) for j in range(len(depths))]
        ref = block[-1]
        errs = [float(np.linalg.norm(Xn - ref) / np.linalg.norm(ref)) for Xn in block[:-1]]
        runs.append(
            {"seed": seed, "depths": depths[:-1], "relative_errors": errs, "order": -loglog_slope(depths[:-1], errs)}
        )
    orders = [r["order"] for r in runs]
    return {
        "runs": runs,
        "order_mean": float(np.mean(orders)),
        "order_min": float(min(orders)),
        "order_max": float(max(orders)),
        "tau": params["tau"],
    }


def figures(results: dict, outdir) -> list[str]:
    return [
        convergence_figure(
            results["runs"],
            "depths",
            "relative_errors",
            lambda r: f"seed {r['seed']} (order {r['order']:.3f})",
            r"$\|X_N(\tau) - X_\infty(\tau)\| / \|X_\infty(\tau)\|$",
            outdir,
            f"{NAME}.png",
        )
    ]


def markdown(results: dict, figs: list[str]) -> str:
    header = ["seed"] + [f"N = {depth_label(N)}" for N in results["runs"][0]["depths"]] + ["fitted order"]
    rows = [[r["seed"], *r["relative_errors"], r["order"]] for r in results["runs"]]
    return "\n\n".join(
        [
            f"Relative distance at τ = {fmt(results['tau'])} between the normalized depth-N flow and the N = ∞ flow "
            f"from the same start. Fitted order: mean {fmt(results['order_mean'], 4)} (range "
            f"{fmt(results['order_min'], 4)} … {fmt(results['order_max'], 4)}); the theory says 1.",
            table(header, rows),
            *[f"![{NAME}]({f})" for f in figs],
        ]
    )
