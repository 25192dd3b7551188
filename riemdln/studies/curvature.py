r"""Study — curvature of :math:`g^N` (docs/theory.md §11).

* :math:`R(N g^N)` over the chamber :math:`s_2/s_1 \in (0, 1]` (d = 2; it depends on the ratio up to the
  scaling :math:`R(cX) = c^{-2/N} R(X)`) for N = 1, 2, 3, 4, 8, ∞: positive for N > 1, maximal 1/3 at
  :math:`s_1 = s_2` for :math:`\hat g^\infty`.
* :math:`|R(N g^N) - R(\hat g^\infty)|` against N: fitted log-log slope (theory: −1).
* Sectional curvatures at a sample point: both signs (theory), although R > 0.
* d = 3: the numeric scalar curvature at random points (sign statistics — not known in the literature;
  reported as an observation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from riemdln.studies import (
    PAPER_WIDTH,
    Claim,
    depth_label,
    fmt,
    legacy_summary,
    legend_above,
    loglog_slope,
    pyplot,
    save_figure,
    table,
)
from riemdln.studies._params import StudyParams, depth_list, integer, ints

NAME = "curvature"
RUN_KEYS = ()  # evaluations of closed forms and of the numeric curvature: no simulator runs
TITLE = "Curvature of g^N: scalar curvature by depth, rate 1/N, sectional signs, d = 3"


@dataclass(frozen=True)
class CurvatureParams(StudyParams):
    """Depths and sample counts of the curvature study."""

    depths: tuple[float, ...] = depth_list((1, 2, 3, 4, 8, math.inf), spelling="float")
    ratios: int = integer(200, low=2, doc="singular-value ratios sampled")
    log2_depths: tuple[int, ...] = ints(range(2, 16), low=0, high=60, doc="N = 2^k for the 1/N rate")
    d3_points: int = integer(12, low=1, doc="random 3×3 points")
    seed: int = integer(0)

    @classmethod
    def quick(cls) -> CurvatureParams:
        return cls(ratios=40, log2_depths=tuple(range(2, 12)), d3_points=2)


PARAMS = CurvatureParams


def parameters(quick: bool) -> dict:
    return (PARAMS.quick() if quick else PARAMS.full()).to_json()


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    import riemdln

    ratios = np.geomspace(1e-3, 1.0, params["ratios"])
    X = np.zeros((ratios.size, 2, 2))
    X[:, 0, 0], X[:, 1, 1] = 1.0, ratios
    chamber = {}
    for N in params["depths"]:
        R = riemdln.scalar_curvature(X, N, normalized=True)
        chamber[depth_label(N)] = [float(v) for v in R]
    # the derived O(1/N) coefficient is -(log s1 + log s2) R_inf: it vanishes at s1 s2 = 1 (rate 1/N^2 there)
    X0 = np.diag([2.0, 0.5])
    depths = [2.0**k for k in params["log2_depths"]]

    def gaps_at(Y):
        R_inf = float(riemdln.scalar_curvature(Y, math.inf, normalized=True))
        return [abs(float(riemdln.scalar_curvature(Y, N, normalized=True)) - R_inf) for N in depths]

    gaps = gaps_at(np.diag([2.0, 1.0]))
    gaps_unit_det = gaps_at(X0)
    e = [np.eye(4)[k].reshape(2, 2) for k in range(4)]
    rot, sym = np.array([[0.0, 1.0], [-1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    planes = {
        "(E11, E22)": (e[0], e[3]),
        "(E11, rot)": (e[0], rot),
        "(E11, sym)": (e[0], sym),
        "(rot, sym)": (rot, sym),
    }
    sectional = {k: float(riemdln.sectional_curvature(X0, a, b, 3)) for k, (a, b) in planes.items()}
    rng = np.random.default_rng(params["seed"])
    d3: list[dict[str, Any]] = []
    for _ in range(params["d3_points"]):
        Y = rng.standard_normal((3, 3))
        d3.append(
            {"s": [float(v) for v in np.linalg.svd(Y, compute_uv=False)], "R": float(riemdln.scalar_curvature(Y, 3))}
        )
    return {
        "ratios": [float(r) for r in ratios],
        "chamber": chamber,
        "max_infinite": max(chamber["inf"]),
        "min_by_depth": {k: min(v) for k, v in chamber.items()},
        "rate_depths": depths,
        "rate_gaps": gaps,
        "rate_slope": loglog_slope(depths[2:], gaps[2:]),
        "rate_gaps_unit_det": gaps_unit_det,
        "rate_slope_unit_det": loglog_slope(depths[2:], gaps_unit_det[2:]),
        "sectional_N3": sectional,
        "d3": d3,
        "d3_positive_fraction": float(np.mean([p["R"] > 0 for p in d3])) if d3 else None,
    }


def figures(results: dict, outdir) -> list[str]:
    plt = pyplot()
    fig, ax = plt.subplots(2, 1, figsize=(PAPER_WIDTH, 4.6))
    for k, v in results["chamber"].items():
        ax[0].semilogx(results["ratios"], v, label=f"N = {k}")
    ax[0].set_xlabel("$s_2/s_1$ ($s_1 = 1$)")
    ax[0].set_ylabel("$R(N g^N)$")
    ax[1].loglog(results["rate_depths"], results["rate_gaps"], "o", label="s = (2, 1)")
    ax[1].loglog(results["rate_depths"], results["rate_gaps_unit_det"], "s", label="s = (2, 0.5)")
    ax[1].set_xlabel("N")
    ax[1].set_ylabel(r"$|R(N g^N) - R(\hat g^\infty)|$")
    ax[1].legend(loc="lower left")
    legend_above(fig, ax[0], 3)
    return [save_figure(fig, outdir, f"{NAME}.png", dpi=200)]


_CAPTION = (
    "*Top: the scalar curvature R(N g^N) of the d = 2 chamber against s₂/s₁, one line per depth. Bottom: its "
    "distance to R(ĝ^∞) against N at two points; at s = (2, 0.5), where s₁s₂ = 1, the 1/N coefficient "
    "vanishes.*"
)


def markdown(results: dict, figs: list[str]) -> str:
    rows = [[k, v] for k, v in results["min_by_depth"].items()]
    sec = [[k, v] for k, v in results["sectional_N3"].items()]
    d3 = results["d3"]
    return "\n\n".join(
        [
            "Minimum of R(N g^N) over the sampled chamber s₂/s₁ ∈ [1e-3, 1] (s₁ = 1), by depth "
            "(theory: 0 at N = 1, positive for N > 1):",
            table(["N", "min R(N g^N)"], rows),
            f"Maximum of R(ĝ^∞) on the chamber: {fmt(results['max_infinite'], 6)} (theory: 1/3 at s₁ = s₂).",
            f"|R(N g^N) − R(ĝ^∞)| at s = (2, 1): fitted log-log slope {fmt(results['rate_slope'], 4)} (theory: −1).",
            "Sectional curvatures of g³ at diag(2, 0.5) (the diagonal plane is flat and totally geodesic):",
            table(["plane", "K"], sec),
            f"d = 3, N = 3, {len(d3)} Gaussian random X (numeric curvature): R > 0 at a fraction "
            f"{fmt(results['d3_positive_fraction'])} of them, range {fmt(min(p['R'] for p in d3))} … "
            f"{fmt(max(p['R'] for p in d3))}. This is an observation on a small sample, not a theorem.",
            *[f"![{NAME}: scalar curvature by depth, and its rate]({f})\n\n{_CAPTION}" for f in figs],
        ]
    )


def claims(results: dict) -> list[Claim]:
    """Positivity by depth, the maximum 1/3 of R(ĝ^∞), the rate 1/N, both signs of sectional curvature; d = 3."""
    finite = {k: v for k, v in results["min_by_depth"].items() if k not in ("1", "inf")}
    pos = all(v > 0 for v in finite.values())
    flat = abs(results["min_by_depth"].get("1", 0.0)) < 1e-12
    signs = list(results["sectional_N3"].values())
    n_ratios = len(results["ratios"])
    d3 = results["d3"]
    n_pos = sum(p["R"] > 0 for p in d3)
    rows = [
        Claim(
            claim="R(N g^N) > 0 on the chamber for N > 1, 0 at N = 1 (d = 2)",
            kind="derived",
            measured=f"min over N > 1: {fmt(min(finite.values()))}; N = 1: {fmt(results['min_by_depth'].get('1'))} "
            f"({n_ratios} ratios s₂/s₁ per depth)",
            expected="positive for N > 1, 0 at N = 1 (|R| < 1e-12 in floating point)",
            verdict="supported" if pos and flat else "contradicted",
            reference="docs/theory.md §11",
        ),
        Claim(
            claim="max R(ĝ^∞) = 1/3, at s₁ = s₂",
            kind="derived",
            measured=f"{fmt(results['max_infinite'], 6)} over {n_ratios} ratios",
            expected="1/3 (to 1e-9)",
            verdict="supported" if abs(results["max_infinite"] - 1 / 3) < 1e-9 else "contradicted",
            reference="docs/theory.md §11",
        ),
        Claim(
            claim="R(N g^N) → R(ĝ^∞) at rate 1/N",
            kind="derived",
            measured=f"fitted slope {fmt(results['rate_slope'], 4)} (at s = (2, 1))",
            expected="−1 ± 0.05 (the derived O(1/N) coefficient)",
            verdict="supported" if abs(results["rate_slope"] + 1) < 0.05 else "contradicted",
            reference="docs/theory.md §11",
        ),
        Claim(
            claim="sectional curvatures of g³ take both signs (d = 2)",
            kind="derived",
            measured=f"{sum(v > 1e-12 for v in signs)} positive, {sum(v < -1e-12 for v in signs)} negative of "
            f"{len(signs)} planes at diag(2, 0.5)",
            expected="both signs",
            verdict="supported" if any(v > 1e-12 for v in signs) and any(v < -1e-12 for v in signs) else "contradicted",
            reference="docs/theory.md §11",
        ),
    ]
    if d3:
        rows.append(
            Claim(
                claim="d = 3, N = 3: R(g³) > 0 at Gaussian random X" + (" (single instance)" if len(d3) == 1 else ""),
                kind="observed",
                measured=f"positive at {n_pos} of {len(d3)} points (numeric curvature)",
                expected="unknown in the literature: an exploratory observation",
                verdict="supported" if n_pos == len(d3) else "contradicted",
                n=len(d3),
            )
        )
    return rows


def summary(results: dict) -> list[dict]:
    """The claims in the older row form (``holds``)."""
    return legacy_summary(claims(results))
