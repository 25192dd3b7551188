r"""Study menon_2x2 — the 2×2 diagonal problem: where do small initializations land?

Observe :math:`X_{11} = X_{22} = 1`; the zero-loss set is :math:`\{[[1, a], [b, 1]]\}` and its rank-one
points are the hyperbola :math:`ab = 1` (docs/theory.md §9). From :math:`X_0 = \varepsilon D` (D a random
unit direction, both signs of :math:`\det D`), the normalized flow is integrated until the loss is
below 1e-14, for N = 1, 2, 3, 4, 8, ∞. Reported: the limits in the :math:`(X_{12}, X_{21})` plane over the
log volume density that :math:`\hat g^N` induces on the zero-loss set, the fraction that reaches rank one
(:math:`\sigma_{\min} \le 10\varepsilon`, descriptive) by depth and sign of :math:`\det X_0`, and the
scaling law :math:`\sigma_{\min}(\text{limit}) \propto \varepsilon^p`, p fitted with an interval (the verdicts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from riemdln.studies import (
    PAPER_WIDTH,
    Claim,
    depth_label,
    depth_value,
    fmt,
    fmt_fit,
    legacy_summary,
    legend_above,
    loglog_slope,
    power_fit,
    pyplot,
    run_record,
    save_figure,
    table,
)
from riemdln.studies._params import StudyParams, depth_list, integer, real, reals

NAME = "menon_2x2"
RUN_KEYS = ("landing", "slope_runs")
TITLE = "The 2×2 diagonal problem: limits, rank one, and scale"

E12 = np.array([[0.0, 1.0], [0.0, 0.0]])
E21 = E12.T


@dataclass(frozen=True)
class Menon2x2Params(StudyParams):
    """Depths, directions and scales of the 2×2 diagonal problem."""

    depths: tuple[float, ...] = depth_list((1, 2, 3, 4, 8, math.inf))
    n_directions: int = integer(16, low=1, doc="random initial directions")
    scale: float = real(1e-3, positive=True, doc="the initial scale")
    slope_depths: tuple[float, ...] = depth_list((2, 3, 4, math.inf))
    slope_scales: tuple[float, ...] = reals((1e-1, 1e-2, 1e-3, 1e-4), positive=True)
    slope_directions: int = integer(4, low=1)
    seed: int = integer(2023)
    loss_tol: float = real(1e-14, positive=True)
    t_final: float = real(1e9, positive=True)

    @classmethod
    def quick(cls) -> Menon2x2Params:
        return cls(n_directions=4, slope_directions=2)


PARAMS = Menon2x2Params


def parameters(quick: bool) -> dict:
    return (PARAMS.quick() if quick else PARAMS.full()).to_json()


def direction(seed: int, index: int, sign: int) -> np.ndarray:
    """The index-th random unit direction with sign(det D) = sign, reproducibly."""
    rng = np.random.default_rng([seed, index, 1 if sign > 0 else 0])
    while True:
        D = rng.standard_normal((2, 2))
        if np.sign(np.linalg.det(D)) == sign:
            return D / np.linalg.norm(D)


def _limit(seed, index, sign, depth, scale, loss_tol, t_final) -> dict:
    from riemdln import CompletionProblem, end_to_end_flow
    from riemdln.flows import loss_below

    problem = CompletionProblem.named("menon-2x2")
    D = direction(seed, index, sign)
    N = depth_value(depth)
    res = end_to_end_flow(problem, scale * D, N, t_final, normalized=True, events=loss_below(loss_tol), progress=False)
    X = res.X[-1]
    s = np.linalg.svd(X, compute_uv=False)
    return run_record(
        status=res.status.name,
        final_loss=float(res.diagnostics["loss"][-1]),
        target_loss=loss_tol,
        index=index,
        sign=sign,
        depth=depth,
        scale=scale,
        X=X.tolist(),
        sigma_min=float(s[-1]),
        t_end=float(res.t[-1]),
        loss=float(res.diagnostics["loss"][-1]),
    )


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.studies.sweep import run_sweep

    common = dict(seed=params["seed"], loss_tol=params["loss_tol"], t_final=params["t_final"])
    tasks = [
        dict(index=k, sign=sign, depth=depth_label(depth_value(N)), scale=params["scale"], **common)
        for N in params["depths"]
        for sign in (1, -1)
        for k in range(params["n_directions"])
    ]
    tasks += [
        dict(index=k, sign=sign, depth=depth_label(depth_value(N)), scale=eps, **common)
        for N in params["slope_depths"]
        for sign in (1, -1)
        for k in range(params["slope_directions"])
        for eps in params["slope_scales"]
    ]
    out = run_sweep(_limit, tasks, executor=executor, progress=progress, desc=NAME)
    landing = [r for r in out[: len(out) - _n_slope(params)]]
    slope_runs = out[len(out) - _n_slope(params) :]
    fractions = []
    for N in params["depths"]:
        label = depth_label(depth_value(N))
        for sign in (1, -1):
            rs = [r for r in landing if r["depth"] == label and r["sign"] == sign]
            rank_one = [r["sigma_min"] <= 10 * r["scale"] for r in rs]
            # how close to rank one the starting directions of the rank-one runs were themselves
            conditioning = [
                float(
                    np.divide(*np.linalg.svd(direction(params["seed"], r["index"], r["sign"]), compute_uv=False)[::-1])
                )
                for r, one in zip(rs, rank_one, strict=True)
                if one
            ]
            fractions.append(
                {
                    "depth": label,
                    "sign": sign,
                    "runs": len(rs),
                    "rank_one_fraction": float(np.mean(rank_one)),
                    "rank_one_start_conditioning": conditioning,
                    "sigma_min_median": float(np.median([r["sigma_min"] for r in rs])),
                    "converged": sum(r["reached_target"] for r in rs),
                }
            )
    slopes = []
    for N in params["slope_depths"]:
        label = depth_label(depth_value(N))
        for sign in (1, -1):
            for k in range(params["slope_directions"]):
                rs = [r for r in slope_runs if r["depth"] == label and r["sign"] == sign and r["index"] == k]
                rs.sort(key=lambda r: -r["scale"])
                slopes.append(
                    {
                        "depth": label,
                        "sign": sign,
                        "index": k,
                        "scales": [r["scale"] for r in rs],
                        "sigma_min": [r["sigma_min"] for r in rs],
                        "slope": loglog_slope([r["scale"] for r in rs], [r["sigma_min"] for r in rs]),
                    }
                )
    return {
        "landing": landing,
        "slope_runs": slope_runs,
        "fractions": fractions,
        "slopes": slopes,
        "scale": params["scale"],
        "depths": [depth_label(depth_value(N)) for N in params["depths"]],
    }


def _n_slope(params) -> int:
    return len(params["slope_depths"]) * 2 * params["slope_directions"] * len(params["slope_scales"])


def zero_loss_point(a, b) -> np.ndarray:
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    return np.stack([np.ones_like(a), a, b, np.ones_like(a)], axis=-1).reshape(a.shape + (2, 2))


def restricted_log_density(a, b, depth: float) -> np.ndarray:
    """½ log det of the Gram matrix of E12, E21 in ĝ^N at [[1, a], [b, 1]] (nan on the hyperbola ab = 1)."""
    from riemdln import induced_log_volume_density

    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    out = np.full(a.shape, np.nan)
    ok = np.abs(1.0 - a * b) > 1e-9 * np.maximum(1.0, np.abs(a * b))
    if ok.any():
        out[ok] = induced_log_volume_density(zero_loss_point(a[ok], b[ok]), [E12, E21], depth, normalized=True)
    return out


# each figure's alt text and caption (``{path}``: where the report finds it)
_FIGURE_TEXT = {
    f"{NAME}_limits.png": (
        f"![{NAME}: the flow's limits on the zero-loss set, one panel per depth N, over the log volume density of "
        "ĝ^N]({path})\n\n*Where the limits land: X₁₂ and X₂₁ of each limit (red circles: det X₀ > 0, orange "
        "triangles: det X₀ < 0) over the log volume density that ĝ^N induces on the zero-loss set (colour bar: "
        "½ log det of the Gram matrix of E₁₂, E₂₁ in ĝ^N, clipped to its 2nd–98th percentiles; N = 1 is flat); "
        "the white curve is the rank-one hyperbola X₁₂X₂₁ = 1.*"
    ),
    f"{NAME}_scale.png": (
        f"![{NAME}: the smallest singular value of the limit against the initialization scale ε, log-log, one line "
        "per direction]({path})\n\n*Scale: σ_min of the limit against ε on log-log axes, one colour per depth, "
        "filled markers for det X₀ > 0 (+) and open for det X₀ < 0 (−), one marker per run; the lines are the "
        "fitted law ε^p of the table (solid +, dashed −) through each direction's smallest-ε point.*"
    ),
}


def figures(results: dict, outdir) -> list[str]:
    plt = pyplot()
    depths = results["depths"]
    rows = (len(depths) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(PAPER_WIDTH, 2.05 * rows + 0.3), sharex=True, sharey=True)
    grid = np.linspace(-2.5, 2.5, 161)
    A, B = np.meshgrid(grid, grid)
    hyper = np.linspace(0.4, 2.5, 100)
    for ax, label in zip(axes.ravel(), depths, strict=False):
        N = depth_value(label)
        dens = restricted_log_density(A, B, N)
        lo, hi = np.nanpercentile(dens, 2), np.nanpercentile(dens, 98)
        if hi - lo < 1e-9:  # N = 1: the Euclidean metric, a constant density
            lo, hi = lo - 1.0, hi + 1.0
        im = ax.pcolormesh(A, B, dens, shading="auto", cmap="viridis", vmin=lo, vmax=hi, rasterized=True)
        ax.plot(hyper, 1 / hyper, "w-", lw=0.8)
        ax.plot(-hyper, -1 / hyper, "w-", lw=0.8)
        for sign, marker in ((1, "o"), (-1, "^")):
            pts = np.array(
                [[r["X"][0][1], r["X"][1][0]] for r in results["landing"] if r["depth"] == label and r["sign"] == sign]
            )
            if len(pts):
                ax.scatter(
                    pts[:, 0],
                    pts[:, 1],
                    marker=marker,
                    s=14,
                    c="red" if sign > 0 else "orange",
                    edgecolors="k",
                    linewidths=0.4,
                    label=_sign(sign),
                )
        ax.text(0.04, 0.96, f"N = {label}", transform=ax.transAxes, va="top", color="w", fontsize=8)
        ax.set_xlim(-2.5, 2.5)
        ax.set_ylim(-2.5, 2.5)
        ax.set_xticks([-2, 0, 2])
        ax.set_yticks([-2, 0, 2])
        cb = fig.colorbar(im, ax=ax, fraction=0.08, pad=0.03)
        cb.set_label("log density", labelpad=1)
        cb.ax.tick_params(labelsize=8)
        cb.locator = plt.MaxNLocator(3)
        cb.update_ticks()
    for ax in axes[-1]:
        ax.set_xlabel("X₁₂")
    for ax in axes[:, 0]:
        ax.set_ylabel("X₂₁")
    for ax in axes.ravel()[len(depths) :]:
        ax.set_visible(False)
    legend_above(fig, axes.ravel()[0], 2)
    first = save_figure(fig, outdir, f"{NAME}_limits.png", dpi=200)

    fig, ax = plt.subplots(figsize=(PAPER_WIDTH, 3.0))
    fits = {(f["depth"], f["sign"]): f["fit"] for f in scale_fits(results)}
    colours = {d: f"C{k}" for k, d in enumerate(dict.fromkeys(r["depth"] for r in results["slopes"]))}
    for row in results["slopes"]:
        key = (row["depth"], row["sign"])
        ax.loglog(
            row["scales"],
            row["sigma_min"],
            "o" if row["sign"] > 0 else "^",
            mfc=colours[row["depth"]] if row["sign"] > 0 else "none",
            color=colours[row["depth"]],
            ms=4,
            label=f"{row['depth']}, {'+' if row['sign'] > 0 else '−'}" if row["index"] == 0 else None,
        )
        e = np.geomspace(min(row["scales"]), max(row["scales"]), 20)
        i = int(np.argmin(row["scales"]))  # the fitted law through this direction's smallest-ε point
        ax.loglog(
            e,
            row["sigma_min"][i] * (e / row["scales"][i]) ** fits[key]["p"],
            "-" if row["sign"] > 0 else "--",
            color=colours[row["depth"]],
            lw=0.7,
        )
    ax.set_xlabel(r"initialization scale $\varepsilon$ ($X_0 = \varepsilon D$)")
    ax.set_ylabel(r"$\sigma_{\min}$ of the limit")
    legend_above(fig, ax, 4, title="N, sign of det X₀", columnspacing=1.0, handletextpad=0.3)
    second = save_figure(fig, outdir, f"{NAME}_scale.png", dpi=200)
    return [first, second]


#: the decay of σ_min with ε is called resolved-absent when the fitted exponent's whole interval lies below this:
#: less than a factor 10^(0.1·3) ≈ 2 over the three decades of ε sampled
FLAT_EXPONENT = 0.1


def scale_fits(results: dict) -> list[dict]:
    """Per (depth, sign of det X₀): the fit σ_min(limit) = c_D ε^p over the directions D (common p, one prefactor
    per direction; :func:`riemdln.studies.power_fit`, 95% interval), and the decay it shows: ``"flat"`` (the
    whole interval below :data:`FLAT_EXPONENT`), else ``"decays"`` (the interval above 0) or ``"unresolved"``."""
    groups: dict = {}
    for r in results["slopes"]:
        groups.setdefault((r["depth"], r["sign"]), []).append(r)
    out = []
    for (depth, sign), rows in groups.items():
        x = [e for r in rows for e in r["scales"]]
        y = [v for r in rows for v in r["sigma_min"]]
        g = [r["index"] for r in rows for _ in r["scales"]]
        fit = power_fit(x, y, groups=g)
        if fit["hi"] is not None and fit["hi"] < FLAT_EXPONENT:
            trend = "flat"
        elif fit["lo"] is not None and fit["lo"] > 0:
            trend = "decays"
        else:
            trend = "unresolved"
        out.append({"depth": depth, "sign": sign, "directions": len(rows), "fit": fit, "trend": trend})
    return out


def _sign(sign: int) -> str:
    return f"det X₀ {'>' if sign > 0 else '<'} 0"


def markdown(results: dict, figs: list[str]) -> str:
    rows = [
        [
            f["depth"],
            "+" if f["sign"] > 0 else "−",
            f["runs"],
            f"{f['converged']}/{f['runs']}",
            f"{round(f['rank_one_fraction'] * f['runs'])}/{f['runs']}",
            f["sigma_min_median"],
        ]
        for f in results["fractions"]
    ]
    fits = scale_fits(results)
    scales = sorted({e for r in results["slopes"] for e in r["scales"]}, reverse=True)
    slope_rows = [
        [
            f["depth"],
            "+" if f["sign"] > 0 else "−",
            f["directions"],
            fmt_fit(f["fit"]),
            fmt(min(r["slope"] for r in results["slopes"] if (r["depth"], r["sign"]) == (f["depth"], f["sign"]))),
            fmt(max(r["slope"] for r in results["slopes"] if (r["depth"], r["sign"]) == (f["depth"], f["sign"]))),
        ]
        for f in fits
    ]
    return "\n\n".join(
        [
            f"From X₀ = εD with ε = {fmt(results['scale'])} (D a random unit direction), the normalized flow run to "
            "loss < 1e-14. The count σ_min ≤ 10ε is descriptive (a fixed cut, not a verdict); the verdicts come "
            "from the scaling law below.",
            table(["N", "sign det X₀", "runs", "reached loss 1e-14", "σ_min(limit) ≤ 10ε", "median σ_min"], rows),
            "Scaling law σ_min(limit) = c_D ε^p (ε = "
            + ", ".join(fmt(e) for e in scales)
            + "): p fitted by least squares over the directions D (one prefactor c_D each), with its 95% "
            "interval (least-squares standard error, Student t); the per-direction slopes for comparison:",
            table(["N", "sign det X₀", "directions", "fitted p [95% interval]", "min slope", "max slope"], slope_rows),
            _summary(results),
            *[_FIGURE_TEXT.get(f.rsplit("/", 1)[-1], "![{NAME}]({path})").format(NAME=NAME, path=f) for f in figs],
        ]
    )


def _cases(keys) -> str:
    """``"N = 3, 4 and 2 (det X₀ < 0)"``: a depth with both signs once, else with its sign."""
    keys = list(keys)
    both = [d for d in dict.fromkeys(d for d, _ in keys) if (d, 1) in keys and (d, -1) in keys]
    one = [f"{d} ({_sign(s)})" for d, s in keys if d not in both]
    names = both + one
    return "N = " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0])


def _summary(results: dict) -> str:
    """At most two sentences on what the tables do not say (the scale finding), computed from the fits."""
    fits = scale_fits(results)
    falling = {(f["depth"], f["sign"]): f["fit"] for f in fits if f["trend"] == "decays"}
    flat = {(f["depth"], f["sign"]): f["fit"] for f in fits if f["trend"] == "flat"}
    out = []
    if falling:
        lo, hi = min(f["p"] for f in falling.values()), max(f["p"] for f in falling.values())
        out.append(
            f"For {_cases(falling)} σ_min of the limit falls like ε^p as the initialization scale ε shrinks "
            f"(fitted p from {fmt(lo)} to {fmt(hi)}, each 95% interval above 0): "
            "those limits are rank one only "
            "as ε → 0, not at a finite scale (observations, not theorems)."
        )
    if flat:
        starts = [
            c
            for f in results["fractions"]
            if (f["depth"], f["sign"]) in flat
            for c in f.get("rank_one_start_conditioning", [])
        ]
        out.append(
            f"For {_cases(flat)} σ_min does not fall with ε (fitted p "
            f"{', '.join(fmt_fit(f) for f in flat.values())}, 95% interval below {FLAT_EXPONENT:g}): the scale "
            "does not make "
            "those limits rank one"
            + (
                "; the runs counted as σ_min ≤ 10ε there start from nearly singular directions "
                f"(σ_min(D)/σ_max(D) = {', '.join(fmt(c) for c in starts)})."
                if starts
                else "."
            )
        )
    return " ".join(out)


def claims(results: dict) -> list[Claim]:
    """Per depth and sign of det X₀: does σ_min of the limit vanish as ε → 0? The fitted exponent decides."""
    out = []
    for f in scale_fits(results):
        fit = f["fit"]
        verdict = {"decays": "supported", "flat": "contradicted"}.get(f["trend"], "cannot tell")
        n = f["directions"]
        out.append(
            Claim(
                claim=f"N = {f['depth']}, {_sign(f['sign'])}: the limit becomes rank one as ε → 0, "
                "σ_min(limit) ∝ ε^p with p > 0",
                kind="observed",
                measured=f"p = {fmt_fit(fit)} (95% interval; {n} directions × {fit['n'] // max(n, 1)} scales)",
                expected=f"no theorem for p; contradicted if the interval lies below {FLAT_EXPONENT:g} (less than a "
                "factor 2 over three decades of ε)",
                verdict=verdict,
                n=n,
                reference="docs/theory.md §9",
            )
        )
    return out


def summary(results: dict) -> list[dict]:
    """The claims in the older row form (``holds``)."""
    return legacy_summary(claims(results))


__all__ = ["restricted_log_density", "direction", "zero_loss_point", "scale_fits"]
