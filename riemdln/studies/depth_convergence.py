r"""Study depth_convergence — trajectories: normalized flows at growing N against :math:`N = \infty`.

From one O(1) initialization on a small random completion problem, the normalized flows
(:math:`dX/d\tau = -(A_N/N)\nabla E`) at N = 4, 16, 64, 256 are integrated to the same time τ and
compared with the :math:`N = \infty` flow (logarithmic-mean operator); the fitted order should be 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from riemdln.studies import (
    Claim,
    convergence_figure,
    depth_label,
    fmt,
    instances,
    legacy_summary,
    loglog_slope,
    power_fit,
    run_record,
    table,
)
from riemdln.studies._params import StudyParams, depth_list, integer, ints, nested, real

NAME = "depth_convergence"
RUN_KEYS = ("flows", "small_init_flows")
TITLE = "Depth convergence of normalized flows to the N = ∞ flow"


@dataclass(frozen=True)
class SmallInitParams(StudyParams):
    """The small-initialization part (saddle-to-saddle over long times): same problem, one seed."""

    scale: float = real(1e-3, positive=True, doc="the initial X is this times a random matrix")
    tau_final: float = real(1e6, positive=True, doc="the final (normalized) time")
    n_times: int = integer(40, low=2, doc="saved times, log-spaced")
    depths: tuple[float, ...] = depth_list((4, 16, 64, 256), doc="finite depths compared with N = ∞")
    seed: int = integer(0)
    loss_tol: float = real(1e-7, positive=True, doc="the loss the small-init runs stop at")


@dataclass(frozen=True)
class DepthConvergenceParams(StudyParams):
    """Sizes, depths, tolerances and seeds of the depth-convergence study."""

    shape: tuple[int, ...] = ints((6, 6), low=1, min_len=2, max_len=2, doc="the matrix shape (m, n)")
    rank: int = integer(2, low=1, doc="rank of the ground truth")
    n_observed: int = integer(22, low=1, doc="observed entries")
    tau: float = real(1.0, positive=True, doc="the compared (normalized) time")
    depths: tuple[float, ...] = depth_list((4, 16, 64, 256), doc="finite depths compared with N = ∞")
    seeds: tuple[int, ...] = ints((0, 1, 2))
    rtol: float = real(1e-11, positive=True)
    atol: float = real(1e-13, positive=True)
    small_init: SmallInitParams = nested(SmallInitParams, SmallInitParams())

    @classmethod
    def quick(cls) -> DepthConvergenceParams:
        small = SmallInitParams(tau_final=1e5, depths=(4.0, 16.0, 64.0))
        return cls(shape=(5, 5), n_observed=15, seeds=(0,), small_init=small)


PARAMS = DepthConvergenceParams


def parameters(quick: bool) -> dict:
    return (PARAMS.quick() if quick else PARAMS.full()).to_json()


def _flow(shape, rank, n_observed, seed, depth, tau, rtol, atol) -> dict:
    from riemdln import CompletionProblem, end_to_end_flow

    problem = CompletionProblem.random(shape[0], shape[1], rank, n_observed, seed=seed)
    rng = np.random.default_rng(1000 + seed)
    X0 = 0.5 * rng.standard_normal(tuple(shape))
    res = end_to_end_flow(problem, X0, depth, tau, normalized=True, rtol=rtol, atol=atol, progress=False)
    return run_record(
        status=res.status.name,
        final_loss=float(res.diagnostics["loss"][-1]),
        target_loss=None,  # asked for the time tau
        seed=seed,
        depth=depth_label(depth),
        t_end=float(res.t[-1]),
        X=res.X[-1].tolist(),
    )


def _small_flow(shape, rank, n_observed, seed, depth, scale, tau_final, n_times, loss_tol, rtol, atol) -> dict:
    from riemdln import CompletionProblem, end_to_end_flow

    problem = CompletionProblem.random(shape[0], shape[1], rank, n_observed, seed=seed)
    X0 = scale * np.random.default_rng(2000 + seed).standard_normal(tuple(shape)) / np.sqrt(shape[0])
    t_eval = np.concatenate([[0.0], np.logspace(0, np.log10(tau_final), n_times - 1)])
    res = end_to_end_flow(
        problem, X0, depth, tau_final, normalized=True, t_eval=t_eval, rtol=rtol, atol=atol, progress=False
    )
    d = res.diagnostics
    return run_record(
        status=res.status.name,
        final_loss=float(d["loss"][-1]),
        target_loss=loss_tol,  # asked for tau_final; by then the loss should be below loss_tol
        seed=seed,
        depth=depth_label(depth),
        t=res.t.tolist(),
        X=[x.tolist() for x in res.X],
        loss=d["loss"].tolist(),
        singular_values=d["singular_values"].tolist(),
    )


def _small_init(params: dict, executor, progress) -> tuple[list, dict]:
    sp = params["small_init"]
    depths = [float(N) for N in sp["depths"]] + [math.inf]
    tasks = [
        dict(
            shape=params["shape"],
            rank=params["rank"],
            n_observed=params["n_observed"],
            seed=sp["seed"],
            depth=N,
            scale=sp["scale"],
            tau_final=sp["tau_final"],
            n_times=sp["n_times"],
            loss_tol=sp["loss_tol"],
            rtol=params["rtol"],
            atol=params["atol"],
        )
        for N in depths
    ]
    from riemdln.studies.sweep import run_sweep

    flows = run_sweep(_small_flow, tasks, executor=executor, progress=progress, desc=f"{NAME} small init")
    ref = flows[-1]
    ok = all(len(f["t"]) == len(ref["t"]) for f in flows)
    dist_max: list[float | None] = []
    dist_final: list[float | None] = []
    for f in flows[:-1]:
        if not ok:
            dist_max.append(None)
            dist_final.append(None)
            continue
        X, R = np.array(f["X"]), np.array(ref["X"])
        # distances in units of the limit's norm, so the plateau (‖X‖ ~ 1e-3) does not inflate them
        rel = np.linalg.norm(X - R, axis=(1, 2)) / np.linalg.norm(R[-1])
        dist_max.append(float(rel[1:].max()))
        dist_final.append(float(rel[-1]))
    fit = [(N, e) for N, e in zip(depths[:-1], dist_max, strict=True) if e is not None and e > 0]
    order = -loglog_slope(*zip(*fit, strict=True)) if len(fit) >= 2 else None
    fit_end = [(N, e) for N, e in zip(depths[:-1], dist_final, strict=True) if e is not None and e > 0]
    order_end = -loglog_slope(*zip(*fit_end, strict=True)) if len(fit_end) >= 2 else None
    summary_ = {
        "depths": depths[:-1],
        "max_relative_distance": dist_max,
        "final_relative_distance": dist_final,
        "order_max_distance": order,
        "order_final_distance": order_end,
        "all_reached": all(f["reached_target"] for f in flows),
        "scale": sp["scale"],
        "tau_final": sp["tau_final"],
    }
    return flows, summary_


#: the tolerance on a fitted order of convergence (the higher-order terms at the smallest depths)
ORDER_TOL = 0.1


def small_init_claim(small: dict) -> Claim:
    """Summary row of the small-initialization, long-time depth convergence (one problem, one seed): the order
    α of sup_τ distance ∝ N^(−α), fitted with its 95% interval (:func:`riemdln.studies.power_fit`); supported
    when the whole interval is at least 1 − :data:`ORDER_TOL`, contradicted when it is wholly below."""
    d = small["max_relative_distance"]
    pts = [(N, e) for N, e in zip(small["depths"], d, strict=True) if e is not None and e > 0]
    fit = power_fit([N for N, _ in pts], [e for _, e in pts]) if len(pts) >= 2 else None
    if fit is None or fit["lo"] is None:
        verdict, order = "cannot tell", "—"
    else:
        lo, hi = -fit["hi"], -fit["lo"]
        verdict = "supported" if lo >= 1 - ORDER_TOL else "contradicted" if hi < 1 - ORDER_TOL else "cannot tell"
        order = f"{fmt(-fit['p'], 3)} [{fmt(lo, 3)}, {fmt(hi, 3)}]"
    return Claim(
        claim=f"from a small start ({fmt(small['scale'])}), sup over τ ≤ {fmt(small['tau_final'])} of the distance "
        "to the N = ∞ flow falls like 1/N or faster (single instance)",
        kind="observed",
        measured="sup distance "
        + ", ".join(f"{fmt(e)} (N = {depth_label(N)})" for N, e in zip(small["depths"], d, strict=True))
        + f"; fitted order {order} (95% interval)"
        + ("" if small["all_reached"] else " (not every run reached its loss target)"),
        expected=f"no theorem uniform in τ from small starts; an order ≥ {fmt(1 - ORDER_TOL)} would extend the "
        "τ = 1 rate (cannot tell when the interval straddles it)",
        verdict=verdict,
        n=1,
        reference="docs/theory.md §3",
    )


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.studies.sweep import run_sweep

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
        recs = finals[k * len(depths) : (k + 1) * len(depths)]
        if not all(r["reached_target"] for r in recs):
            bad = [f"N = {r['depth']}: {r['status']}" for r in recs if not r["reached_target"]]
            raise RuntimeError(f"depth_convergence seed {seed}: a flow did not reach τ ({', '.join(bad)})")
        block = [np.array(r["X"]) for r in recs]
        ref = block[-1]
        errs = [float(np.linalg.norm(Xn - ref) / np.linalg.norm(ref)) for Xn in block[:-1]]
        runs.append(
            {"seed": seed, "depths": depths[:-1], "relative_errors": errs, "order": -loglog_slope(depths[:-1], errs)}
        )
    orders = [r["order"] for r in runs]
    small_flows, small = _small_init(params, executor, progress)
    return {
        "small_init_flows": small_flows,
        "small_init": small,
        "flows": finals,
        "runs": runs,
        "order_mean": float(np.mean(orders)),
        "order_min": float(min(orders)),
        "order_max": float(max(orders)),
        "tau": params["tau"],
    }


def small_init_distances(results: dict) -> dict[str, list[float]]:
    """The claimed distance ‖X_N(τ) − X_∞(τ)‖ / ‖X_∞(τ_final)‖ at every saved τ > 0, by depth label."""
    flows = results["small_init_flows"]
    ref = np.array(flows[-1]["X"])
    out = {}
    for f in flows[:-1]:
        X = np.array(f["X"])
        if X.shape == ref.shape:
            out[f["depth"]] = (np.linalg.norm(X - ref, axis=(1, 2)) / np.linalg.norm(ref[-1]))[1:].tolist()
    return out


def figures(results: dict, outdir) -> list[str]:
    from riemdln.studies import PAPER_WIDTH, legend_above, pyplot, save_figure

    out = []
    if results.get("small_init_flows"):
        plt = pyplot()
        fig, axes = plt.subplots(3, 1, figsize=(PAPER_WIDTH, 5.2), sharex=True)
        dist = small_init_distances(results)
        for k, f in enumerate(results["small_init_flows"]):
            t = np.array(f["t"][1:])
            sv = np.array(f["singular_values"])[1:]
            colour = f"C{k}"
            dots = dict(color=colour, marker=".", ms=3)
            axes[0].loglog(t, np.array(f["loss"])[1:], label=f"N = {f['depth']}", **dots)
            axes[1].loglog(t, sv[:, 0], **dots)
            axes[1].loglog(t, sv[:, 1], ls="--", **dots)
            if f["depth"] in dist:
                axes[2].loglog(t, dist[f["depth"]], **dots)
        axes[0].set_ylabel("loss E(X)")
        axes[1].set_ylabel("σ₁ (solid), σ₂ (dashed)")
        axes[2].set_ylabel(r"$\|X_N - X_\infty\| \,/\, \|X_\infty(\tau_{\rm end})\|$")
        axes[2].set_xlabel("τ (normalized time, τ = N t)")
        legend_above(fig, axes[0], 4, columnspacing=0.8, handlelength=1.5)
        out.append(save_figure(fig, outdir, f"{NAME}_small_init.png", dpi=200))
    return out + [
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
            *[f"![{NAME}]({f})" for f in figs if "small_init" not in f],
            *_small_markdown(results, [f for f in figs if "small_init" in f]),
        ]
    )


def claims(results: dict) -> list[Claim]:
    """Order of convergence of the normalized flows to N = ∞ at τ = 1; the same from a small start."""
    n = len(results["runs"])
    ok = abs(results["order_mean"] - 1) < ORDER_TOL and abs(results["order_min"] - 1) < ORDER_TOL
    out = [
        Claim(
            claim=f"normalized depth-N flows → N = ∞ flow at rate 1/N (τ = {fmt(results['tau'])}, O(1) start)"
            + (" (single instance)" if n == 1 else ""),
            kind="observed",
            measured=f"fitted order {fmt(results['order_mean'], 4)} ({fmt(results['order_min'], 4)} … "
            f"{fmt(results['order_max'], 4)}; {instances(n)})",
            expected=f"1 ± {fmt(ORDER_TOL)} (the operator's 1/N expansion, over a finite time)",
            verdict="supported" if ok else "contradicted",
            n=n,
            reference="docs/theory.md §3",
        )
    ]
    small = results.get("small_init")
    if small:
        out.append(small_init_claim(small))
    return out


def summary(results: dict) -> list[dict]:
    """The claims in the older row form (``holds``)."""
    return legacy_summary(claims(results))


def _small_markdown(results: dict, figs: list[str]) -> list[str]:
    small = results.get("small_init")
    if not small:
        return []
    rows = [
        [depth_label(N), a, b]
        for N, a, b in zip(
            small["depths"], small["max_relative_distance"], small["final_relative_distance"], strict=True
        )
    ]
    status = ", ".join(
        f"N = {f['depth']}: {f['status']}, loss {fmt(f['final_loss'])}" for f in results["small_init_flows"]
    )
    return [
        f"From small initialization (scale {fmt(small['scale'])}) to τ = {fmt(small['tau_final'])}: distance "
        "‖X_N(τ) − X_∞(τ)‖ / ‖X_∞(τ_final)‖, the maximum over the saved times (log-spaced) and at the end; fitted "
        f"orders {fmt(small['order_max_distance'], 3)} and {fmt(small['order_final_distance'], 3)}. Runs: "
        + status
        + ".",
        table(["N", "max over τ", "at τ final"], rows),
        *[
            f"![{NAME}: loss, singular values and distance to the N = ∞ flow against τ]({f})\n\n*From a small "
            "start, one colour per depth: the loss, the two largest singular values, and the "
            "distance ‖X_N(τ) − X_∞(τ)‖/‖X_∞(τ_final)‖ whose supremum the summary reports (the N = ∞ flow is "
            "the reference, so it has no line in the bottom panel). Dots: the saved times (log-spaced), joined "
            "by straight segments; the distance is measured at them only.*"
            for f in figs
        ],
    ]
