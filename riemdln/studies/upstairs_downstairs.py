r"""Study upstairs_downstairs — upstairs = downstairs: gradient flow of the N factors against the end-to-end flow.

From a balanced start (:func:`riemdln.balanced_factors`), :math:`W_N\cdots W_1(t)` from
:func:`riemdln.factor_flow` must equal :func:`riemdln.end_to_end_flow` at every saved time (docs/theory.md §2:
:math:`A_N = D\varphi D\varphi^T` at balanced points); balancedness must be preserved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riemdln.studies import Claim, fmt, legacy_summary, run_record, table
from riemdln.studies._params import Spec, StudyParams, depth_list, integer, listing, real

NAME = "upstairs_downstairs"
RUN_KEYS = ("rows",)
TITLE = "Upstairs = downstairs: factor flow against end-to-end flow"


@dataclass(frozen=True)
class UpstairsDownstairsParams(StudyParams):
    """Shapes, depths and tolerances of the factor-flow against end-to-end-flow comparison."""

    cases: tuple[tuple[int, ...], ...] = listing(
        ((4, 4), (3, 5)), Spec("list", item=Spec("int", low=1), min_len=2, max_len=2), doc="matrix shapes (m, n)"
    )
    depths: tuple[float, ...] = depth_list((1, 2, 3, 4, 5, 6), whole=True, infinite=False, doc="factor counts N")
    t_final: float = real(2.0, positive=True)
    n_times: int = integer(11, low=2)
    seed: int = integer(7)
    rtol: float = real(1e-11, positive=True)
    atol: float = real(1e-13, positive=True)

    @classmethod
    def quick(cls) -> UpstairsDownstairsParams:
        return cls(depths=(1.0, 2.0, 3.0, 4.0))


PARAMS = UpstairsDownstairsParams


def parameters(quick: bool) -> dict:
    return (PARAMS.quick() if quick else PARAMS.full()).to_json()


def _compare(shape, depth, t_final, n_times, seed, rtol, atol) -> dict:
    from riemdln import CompletionProblem, balanced_factors, end_to_end_flow, factor_flow

    m, n = shape
    problem = CompletionProblem.random(m, n, 2, max(2, (m * n * 2) // 3), seed=seed)
    X0 = 0.5 * np.random.default_rng(seed + 1).standard_normal((m, n))
    t_eval = np.linspace(0.0, t_final, n_times)
    up = factor_flow(problem, balanced_factors(X0, depth), t_final, t_eval=t_eval, rtol=rtol, atol=atol, progress=False)
    down = end_to_end_flow(problem, X0, depth, t_final, t_eval=t_eval, rtol=rtol, atol=atol, progress=False)
    if not (up.success and down.success):
        raise RuntimeError(f"upstairs_downstairs N = {depth}: {up.message} / {down.message}")
    dev = max(
        float(np.linalg.norm(a - b) / max(float(np.linalg.norm(b)), 1e-300)) for a, b in zip(up.X, down.X, strict=True)
    )
    balance = 0.0
    assert up.factors is not None  # a factor flow always returns its factors
    final = [np.asarray(F[-1]) for F in up.factors]  # W_1, ..., W_N at the final time
    for W, V in zip(final[:-1], final[1:], strict=True):
        balance = max(balance, float(np.linalg.norm(V.T @ V - W @ W.T) / max(float(np.linalg.norm(W @ W.T)), 1e-300)))
    return run_record(
        status=down.status.name,
        final_loss=float(down.diagnostics["loss"][-1]),
        target_loss=None,  # both simulators are asked for the time t_final
        factor_status=up.status.name,
        shape=list(shape),
        depth=depth,
        max_relative_deviation=dev,
        balance_defect=balance,
    )


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.studies.sweep import run_sweep

    tasks = [
        dict(
            shape=shape,
            depth=N,
            t_final=params["t_final"],
            n_times=params["n_times"],
            seed=params["seed"],
            rtol=params["rtol"],
            atol=params["atol"],
        )
        for shape in params["cases"]
        for N in params["depths"]
    ]
    rows = run_sweep(_compare, tasks, executor=executor, progress=progress, desc=NAME)
    return {
        "rows": rows,
        "max_deviation": max(r["max_relative_deviation"] for r in rows),
        "max_balance_defect": max(r["balance_defect"] for r in rows),
    }


def figures(results: dict, outdir) -> list[str]:
    return []


#: the deviation the two simulators may show, both integrated at rtol 1e-11 over t ≤ 2 (error accumulated
#: over the run, not per step)
AGREEMENT = 1e-7


def _agree(results: dict) -> bool:
    both = all(r["reached_target"] and r["factor_status"] in ("FINISHED", "EVENT") for r in results["rows"])
    return both and results["max_deviation"] < AGREEMENT


def markdown(results: dict, figs: list[str]) -> str:
    rows = [
        [
            f"{r['shape'][0]}×{r['shape'][1]}",
            r["depth"],
            r["max_relative_deviation"],
            r["balance_defect"],
            r["final_loss"],
        ]
        for r in results["rows"]
    ]
    if _agree(results):
        verdict = (
            f"Largest deviation {fmt(results['max_deviation'])}, below {fmt(AGREEMENT)}: the two simulators agree "
            "to integration tolerance."
        )
    else:
        verdict = (
            f"Largest deviation {fmt(results['max_deviation'])}: the two simulators do NOT agree to integration "
            f"tolerance ({fmt(AGREEMENT)}), or one of them did not finish."
        )
    return "\n\n".join(
        [
            "Maximum over the saved times of ‖W_N⋯W_1(t) − X(t)‖/‖X(t)‖ (factor flow against end-to-end flow, "
            "same balanced start, tolerances 1e-11), and the largest balancedness defect "
            "‖W_{p+1}ᵀW_{p+1} − W_pW_pᵀ‖/‖W_pW_pᵀ‖ at the final time.",
            table(["shape", "N", "max relative deviation", "balance defect", "final loss"], rows),
            verdict,
        ]
    )


def claims(results: dict) -> list[Claim]:
    """Factor flow = end-to-end flow from balanced starts; balancedness is conserved."""
    n = len(results["rows"])
    return [
        Claim(
            claim="W_N⋯W_1(t) from the factor flow equals the end-to-end flow (balanced start)",
            kind="theorem",
            measured=f"max relative deviation {fmt(results['max_deviation'])} over {n} (shape, N) runs",
            expected=f"≤ {fmt(AGREEMENT)} (integration tolerance 1e-11): A_N = DφDφᵀ at balanced points",
            verdict="supported" if _agree(results) else "contradicted",
            n=n,
            reference="docs/theory.md §2",
        ),
        Claim(
            claim="the factor flow conserves balancedness W_{p+1}ᵀW_{p+1} = W_pW_pᵀ",
            kind="theorem",
            measured=f"max relative defect {fmt(results['max_balance_defect'])} at the final time over {n} runs",
            expected=f"0 up to integration error (≤ {fmt(AGREEMENT)})",
            verdict="supported" if results["max_balance_defect"] < AGREEMENT else "contradicted",
            n=n,
            reference="docs/theory.md §2",
        ),
    ]


def summary(results: dict) -> list[dict]:
    """The claims in the older row form (``holds``)."""
    return legacy_summary(claims(results))
