r"""Study menon_2x2 — the 2×2 diagonal problem: where do small initializations land?

Observe :math:`X_{11} = X_{22} = 1`; the zero-loss set is :math:`\{[[1, a], [b, 1]]\}` and its rank-one
points are the hyperbola :math:`ab = 1` (docs/theory.md §9). From :math:`X_0 = \varepsilon D` (D a random
unit direction, both signs of :math:`\det D`), the normalized flow is integrated until the loss is
below 1e-14, for N = 1, 2, 3, 4, 8, ∞. Reported: the limits in the :math:`(X_{12}, X_{21})` plane over the
log volume density that :math:`\hat g^N` induces on the zero-loss set, the fraction that reaches rank one
(:math:`\sigma_{\min} \le 10\varepsilon`) by depth and sign of :math:`\det X_0`, and the log-log slope
of :math:`\sigma_{\min}` of the limit against ε.
"""

from __future__ import annotations

import numpy as np

from riemdln.studies import depth_label, depth_value, fmt, loglog_slope, pyplot, run_record, save_figure, table

NAME = "menon_2x2"
RUN_KEYS = ("landing", "slope_runs")
TITLE = "The 2×2 diagonal problem: limits, rank one, and scale"

E12 = np.array([[0.0, 1.0], [0.0, 0.0]])
E21 = E12.T


def parameters(quick: bool) -> dict:
    return {
        "depths": [1, 2, 3, 4, 8, "inf"],
        "n_directions": 4 if quick else 16,
        "scale": 1e-3,
        "slope_depths": [2, 3, 4, "inf"],
        "slope_scales": [1e-1, 1e-2, 1e-3, 1e-4],
        "slope_directions": 2 if quick else 4,
        "seed": 2023,
        "loss_tol": 1e-14,
        "t_final": 1e9,
    }


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
    from riemdln.sweep import run_sweep

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
        "triangles: det X₀ < 0) over the log volume density that ĝ^N induces on the zero-loss set; the white "
        "curve is the rank-one hyperbola X₁₂X₂₁ = 1.*"
    ),
    f"{NAME}_scale.png": (
        f"![{NAME}: the smallest singular value of the limit against the initialization scale ε, log-log, one line "
        "per direction]({path})\n\n*Scale: σ_min of the limit against ε on log-log axes, one colour per depth, "
        "solid for det X₀ > 0 and dashed for det X₀ < 0; a line of slope 1 is σ_min ∝ ε.*"
    ),
}


def figures(results: dict, outdir) -> list[str]:
    plt = pyplot()
    depths = results["depths"]
    fig, axes = plt.subplots(2, 3, figsize=(11, 7.2))
    grid = np.linspace(-2.5, 2.5, 161)
    A, B = np.meshgrid(grid, grid)
    hyper = np.linspace(0.4, 2.5, 100)
    for ax, label in zip(axes.ravel(), depths, strict=False):
        N = depth_value(label)
        dens = restricted_log_density(A, B, N)
        lo, hi = np.nanpercentile(dens, 2), np.nanpercentile(dens, 98)
        if hi - lo < 1e-9:  # N = 1: the Euclidean metric, a constant density
            lo, hi = lo - 1.0, hi + 1.0
        im = ax.pcolormesh(A, B, dens, shading="auto", cmap="viridis", vmin=lo, vmax=hi)
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
                    s=22,
                    c="red" if sign > 0 else "orange",
                    edgecolors="k",
                    linewidths=0.4,
                    label=f"det X₀ {'>' if sign > 0 else '<'} 0",
                )
        ax.set_title(f"N = {label}")
        ax.set_xlim(-2.5, 2.5)
        ax.set_ylim(-2.5, 2.5)
        ax.set_xlabel("X₁₂")
        ax.set_ylabel("X₂₁")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    axes.ravel()[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(r"Limits of the flow on the zero-loss set over the log volume density of $\hat g^N$ (white: rank one)")
    fig.tight_layout()
    first = save_figure(fig, outdir, f"{NAME}_limits.png", dpi=110)

    fig, ax = plt.subplots(figsize=(5, 3.6))
    # one colour per depth, one line style per sign of det X₀: the legend names exactly what the lines show
    colours = {d: f"C{k}" for k, d in enumerate(dict.fromkeys(r["depth"] for r in results["slopes"]))}
    for row in results["slopes"]:
        ax.loglog(
            row["scales"],
            row["sigma_min"],
            "o-" if row["sign"] > 0 else "^--",
            color=colours[row["depth"]],
            ms=3,
            lw=0.8,
            label=f"N = {row['depth']}, det X₀ {'>' if row['sign'] > 0 else '<'} 0" if row["index"] == 0 else None,
        )
    ax.set_xlabel(r"initialization scale $\varepsilon$ ($X_0 = \varepsilon D$)")
    ax.set_ylabel(r"$\sigma_{\min}$ of the limit")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    second = save_figure(fig, outdir, f"{NAME}_scale.png", dpi=120)
    return [first, second]


def markdown(results: dict, figs: list[str]) -> str:
    rows = [
        [
            f["depth"],
            "+" if f["sign"] > 0 else "−",
            f["runs"],
            f"{f['converged']}/{f['runs']}",
            f["rank_one_fraction"],
            f["sigma_min_median"],
        ]
        for f in results["fractions"]
    ]
    by_depth: dict = {}
    for r in results["slopes"]:
        by_depth.setdefault((r["depth"], r["sign"]), []).append(r["slope"])
    slope_rows = [
        [d, "+" if s > 0 else "−", float(np.median(v)), float(min(v)), float(max(v))] for (d, s), v in by_depth.items()
    ]
    return "\n\n".join(
        [
            f"From X₀ = εD with ε = {fmt(results['scale'])} (D a random unit direction), the normalized flow run to "
            "loss < 1e-14. *Rank one* means σ_min(limit) ≤ 10ε.",
            table(["N", "sign det X₀", "runs", "reached loss 1e-14", "fraction rank one", "median σ_min"], rows),
            "Log-log slope of σ_min(limit) against ε (ε = 1e-1 … 1e-4), per direction:",
            table(["N", "sign det X₀", "median slope", "min", "max"], slope_rows),
            _summary(results),
            *[_FIGURE_TEXT.get(f.rsplit("/", 1)[-1], "![{NAME}]({path})").format(NAME=NAME, path=f) for f in figs],
        ]
    )


def _summary(results: dict) -> str:
    """At most two sentences on what the tables do not say (the scale finding), computed from the numbers."""
    slopes: dict = {}
    for r in results["slopes"]:
        slopes.setdefault((r["depth"], r["sign"]), []).append(r["slope"])
    medians = {key: float(np.median(v)) for key, v in slopes.items()}
    falling = {key: m for key, m in medians.items() if m > 0.5}
    flat = {key: m for key, m in medians.items() if m <= 0.5}

    def cases(keys) -> str:  # "N = 3, 4 and 2 (det X₀ < 0)": a depth with both signs once, else with its sign
        keys = list(keys)
        both = [d for d in dict.fromkeys(d for d, _ in keys) if (d, 1) in keys and (d, -1) in keys]
        one = [f"{d} (det X₀ {'>' if s > 0 else '<'} 0)" for d, s in keys if d not in both]
        names = both + one
        return "N = " + (", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0])

    out = []
    if falling:
        lo, hi = min(falling.values()), max(falling.values())
        out.append(
            f"For {cases(falling)} σ_min of the limit falls like ε^p as the initialization scale ε shrinks "
            f"(median p from {fmt(lo)} to {fmt(hi)}): those limits are rank one only as ε → 0, not at a finite "
            "scale (observations, not theorems)."
        )
    if flat:
        starts = [
            c
            for f in results["fractions"]
            if (f["depth"], f["sign"]) in flat
            for c in f.get("rank_one_start_conditioning", [])
        ]
        out.append(
            f"For {cases(flat)} σ_min does not fall with ε (median slope "
            f"{', '.join(fmt(m) for m in flat.values())}): the scale does not make those limits rank one"
            + (
                "; the runs counted as rank one there start from nearly singular directions "
                f"(σ_min(D)/σ_max(D) = {', '.join(fmt(c) for c in starts)})."
                if starts
                else "."
            )
        )
    return " ".join(out)


def summary(results: dict) -> list[dict]:
    """Where the 2×2 diagonal problem's flows land, by depth (observations in docs/theory.md §9)."""
    frac = {(f["depth"], f["sign"]): f for f in results["fractions"]}
    rows = []
    f2 = frac.get(("2", 1))
    if f2:
        rows.append(
            {
                "claim": "N = 2, det X₀ > 0: the limit is not rank one",
                "measured": f"{round(f2['rank_one_fraction'] * f2['runs'])}/{f2['runs']} rank one "
                f"({f2['converged']}/{f2['runs']} reached the loss target)",
                "expected": "0 rank one (docs/theory.md §9, numerical observation)",
                "holds": "yes" if f2["rank_one_fraction"] == 0 and f2["converged"] == f2["runs"] else "no",
            }
        )
    fi = [frac[(d, s)] for (d, s) in frac if d == "inf"]
    if fi:
        n = sum(f["runs"] for f in fi)
        k = sum(round(f["rank_one_fraction"] * f["runs"]) for f in fi)
        c = sum(f["converged"] for f in fi)
        rows.append(
            {
                "claim": "N = ∞ from small starts: the limit is rank one",
                "measured": f"{k}/{n} rank one ({c}/{n} reached the loss target)",
                "expected": "all (docs/theory.md §9; Shin & Yun 2026 for N ≥ 3 generically)",
                "holds": "yes" if k == n and c == n else "no",
            }
        )
    return rows


__all__ = ["restricted_log_density", "direction", "zero_loss_point"]
