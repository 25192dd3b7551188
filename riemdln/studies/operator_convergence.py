r"""Study operator_convergence: :math:`\|A_N/N - A_\infty\| \sim c/N`, with the derived coefficient.

For random X (spread singular values) and Z, the relative error
:math:`\|(A_N/N - A_\infty)Z\|/\|A_\infty Z\|` is measured for :math:`N = 2, 4, \dots`; the fitted
log-log slope should be −1. The derived first-order term (catalog formula ``multiplier_correction``,
:math:`c_1(x, y) = -L(x, y)\log(xy)/2`) predicts :math:`N(A_N/N - A_\infty)Z \to Q(c_1 \circ \tilde Z)R^T`;
the measured value at the largest N is compared with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from riemdln.studies import Claim, convergence_figure, fmt, instances, legacy_summary, loglog_slope, run_record, table
from riemdln.studies._params import StudyParams, integer, ints

NAME = "operator_convergence"
RUN_KEYS = ("runs",)
RECORDS = "operator evaluations"  # its records are evaluations of A_N, not simulator runs
TITLE = "Operator convergence: A_N/N → A_∞ at rate 1/N"


@dataclass(frozen=True)
class OperatorConvergenceParams(StudyParams):
    """Matrix size, depths N = 2^k and seeds of the operator-convergence study."""

    d: int = integer(6, low=1, doc="size of the square matrices X and Z")
    log2_depths: tuple[int, ...] = ints(range(1, 15), low=0, high=60, doc="the depths N = 2^k, k in this list")
    seeds: tuple[int, ...] = ints((0, 1, 2), doc="one random X, Z per seed")

    @classmethod
    def quick(cls) -> OperatorConvergenceParams:
        return cls(d=4, log2_depths=tuple(range(1, 11)), seeds=(0,))

    def largest_array(self) -> tuple[float, str, str]:
        return 8.0 * self.d**2, "d", "a d×d float64 matrix"


PARAMS = OperatorConvergenceParams


def parameters(quick: bool) -> dict:
    return (PARAMS.quick() if quick else PARAMS.full()).to_json()


def _one(d: int, seed: int, log2_depths: list[int]) -> dict:
    from riemdln import apply_A, catalog

    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    R, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.exp(rng.uniform(-1.0, 1.0, d))
    X = Q @ np.diag(s) @ R.T
    Z = rng.standard_normal((d, d))
    A_inf = apply_A(X, Z, math.inf, normalized=True)
    depths = [2.0**k for k in log2_depths]
    errors = [float(np.linalg.norm(apply_A(X, Z, N, normalized=True) - A_inf) / np.linalg.norm(A_inf)) for N in depths]
    c1 = catalog()["multiplier_correction"].numpy
    x = s**2
    C = c1(x[:, None], x[None, :])
    predicted = Q @ (C * (Q.T @ Z @ R)) @ R.T
    N = depths[-1]
    measured = N * (apply_A(X, Z, N, normalized=True) - A_inf)
    # no simulation: an operator evaluation, always finished; no loss
    return run_record(
        status="FINISHED",
        final_loss=None,
        target_loss=None,
        seed=seed,
        depths=depths,
        relative_errors=errors,
        slope=loglog_slope(depths[3:], errors[3:]),
        coefficient_predicted_norm=float(np.linalg.norm(predicted)),
        coefficient_measured_norm=float(np.linalg.norm(measured)),
        coefficient_relative_gap=float(np.linalg.norm(measured - predicted) / np.linalg.norm(predicted)),
        largest_depth=N,
    )


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.studies.sweep import run_sweep

    tasks = [(params["d"], seed, params["log2_depths"]) for seed in params["seeds"]]
    runs = run_sweep(_one, tasks, executor=executor, progress=progress, desc=NAME)
    slopes = [r["slope"] for r in runs]
    return {
        "runs": runs,
        "slope_mean": float(np.mean(slopes)),
        "slope_min": float(np.min(slopes)),
        "slope_max": float(np.max(slopes)),
        "coefficient_relative_gap_max": float(max(r["coefficient_relative_gap"] for r in runs)),
    }


def figures(results: dict, outdir) -> list[str]:
    return [
        convergence_figure(
            results["runs"],
            "depths",
            "relative_errors",
            lambda r: f"seed {r['seed']} (slope {r['slope']:.3f})",
            r"$\|(A_N/N - A_\infty)Z\| / \|A_\infty Z\|$",
            outdir,
            f"{NAME}.png",
        )
    ]


def markdown(results: dict, figs: list[str]) -> str:
    rows = [
        [
            r["seed"],
            r["slope"],
            r["largest_depth"],
            r["coefficient_predicted_norm"],
            r["coefficient_measured_norm"],
            r["coefficient_relative_gap"],
        ]
        for r in results["runs"]
    ]
    return "\n\n".join(
        [
            f"Fitted log-log slope of the relative operator error: mean {fmt(results['slope_mean'], 4)} "
            f"(range {fmt(results['slope_min'], 4)} … {fmt(results['slope_max'], 4)}); the theory says −1.",
            table(["seed", "slope", "largest N", "‖derived c₁ term‖", "‖N(A_N/N − A_∞)Z‖", "relative gap"], rows),
            _coefficient_sentence(results),
            *[f"![{NAME}]({f})" for f in figs],
        ]
    )


#: the relative gap between the derived and the measured first-order term allowed at the largest N
COEFFICIENT_GAP = 1e-2


def _coefficient_sentence(results: dict) -> str:
    gap = results["coefficient_relative_gap_max"]
    said = "matches" if gap < COEFFICIENT_GAP else f"does NOT match (gap above {fmt(COEFFICIENT_GAP)})"
    return (
        f"The derived first-order coefficient c₁(x, y) = −L(x, y) log(xy)/2 {said} the measured "
        f"N(A_N/N − A_∞)Z: relative gap at most {fmt(gap)} at the largest N (the gap itself is O(1/N))."
    )


def claims(results: dict) -> list[Claim]:
    """The rate of A_N/N → A_∞ and the derived first-order coefficient (operator evaluations, no solver)."""
    n = len(results["runs"])
    ok = abs(results["slope_mean"] + 1) < 0.05 and abs(results["slope_max"] - results["slope_min"]) < 0.1
    where = instances(n, "random (X, Z)")
    return [
        Claim(
            claim="‖(A_N/N − A_∞)Z‖ = O(1/N)" + (" (single instance)" if n == 1 else ""),
            kind="derived",
            measured=f"fitted log-log slope {fmt(results['slope_mean'], 4)} "
            f"({fmt(results['slope_min'], 4)} … {fmt(results['slope_max'], 4)}; {where})",
            expected="−1 ± 0.05: the first-order term c₁/N of the SymPy expansion",
            verdict="supported" if ok else "contradicted",
            n=n,
            reference="docs/theory.md §3",
        ),
        Claim(
            claim="the first-order coefficient is c₁ = −L(x, y) log(xy)/2",
            kind="derived",
            measured=f"relative gap ≤ {fmt(results['coefficient_relative_gap_max'])} at N = "
            f"{fmt(results['runs'][0]['largest_depth'])} ({where})",
            expected=f"gap O(1/N): ≤ {fmt(COEFFICIENT_GAP)} at the largest N",
            verdict="supported" if results["coefficient_relative_gap_max"] < COEFFICIENT_GAP else "contradicted",
            n=n,
            reference="docs/theory.md §3",
        ),
    ]


def summary(results: dict) -> list[dict]:
    """The claims in the older row form (``holds``)."""
    return legacy_summary(claims(results))
