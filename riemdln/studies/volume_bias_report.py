"""The figures and the report text of the study :mod:`riemdln.studies.volume_bias`, from its computed results."""

from __future__ import annotations

import numpy as np

from riemdln.studies import PAPER_FONT, PAPER_WIDTH, depth_value, fmt, legend_above, pyplot, save_figure, table
from riemdln.studies.volume_bias import NAME, _beyond_caveats, hyperbola_length_element, where_limits_sit


def _verdict_one(st: dict) -> str:
    head = f"N = {st['depth']}: {st['rank_r']} of {st['flows']} limits rank r"
    if not st["compared"]:
        return head + " — nothing to compare (the test does not apply: the limits are not low rank)."
    high = st["percentile_median"] >= 0.9
    local = (st["percentile_neighbours_median"] or 0.0) >= 0.9
    gap = st["percentile_vs_nuclear_ranking_gap_median"]
    text = (
        f"{head}, {st['compared']} compared; median percentile {fmt(st['percentile_median'])} (lowest "
        f"{fmt(st['percentile_min'])}) among the other zero-loss points of that rank, above the ground truth in "
        f"{fmt(st['fraction_above_truth'])} of cases; among nearby zero-loss points (10 % perturbations) median "
        f"{fmt(st['percentile_neighbours_median'])}. Ranked by nuclear norm instead (small = high), the same points "
        f"give median {fmt(st['nuclear_percentile_median'])} (neighbours "
        f"{fmt(st['nuclear_percentile_neighbours_median'])}). "
    )
    text += _beyond_caveats(st)
    if not high:
        return text + "The proposal fails this test: the limit's induced volume is not high among points of its rank."
    text += "The proposal survives this test: the limit's induced volume is higher than that of the other points"
    text += " and locally maximal." if local else ", but the limit is not a local maximum of it."
    if gap is not None and gap <= 0.05:
        text += (
            " On these points the density ranks as small nuclear norm does (median percentile gap "
            f"{fmt(gap)}), so the test does not tell a volume bias from a bias towards small norm."
        )
    return text


def beyond_verdict(stats: list[dict]) -> str:
    """The sentence the numbers support: does 'the limit sits where the induced volume is high' survive?"""
    return " ".join(_verdict_one(st) for st in stats)


def _beyond_figure(beyond: dict, outdir) -> str | None:
    """Log density against nuclear norm on the rank-r zero-loss sets (relative to W*), limits marked."""
    cells = [c for c in beyond["cells"] if c["limits"]]
    if not cells:
        return None
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(PAPER_WIDTH, 5.6))
    for k, c in enumerate(cells):
        truth = next((p for p in c["points"] if p["kind"] == "truth"), None)
        if truth is None:
            continue
        rel = [
            (p["nuclear_norm"] / truth["nuclear_norm"], p["log_density"] - truth["log_density"]) for p in c["points"]
        ]
        lim = [
            (p["nuclear_norm"] / truth["nuclear_norm"], p["log_density"] - truth["log_density"]) for p in c["limits"]
        ]
        ax.plot(*zip(*rel, strict=True), ".", color="0.6", ms=4, label="random zero-loss points" if k == 0 else None)
        ax.plot(
            *zip(*lim, strict=True),
            "o",
            color=f"C{c['rank'] - 1}",
            mfc="none",
            ms=6,
            label=f"flow limits, rank {c['rank']}" if c is next(x for x in cells if x["rank"] == c["rank"]) else None,
        )
    ax.plot([1], [0], "k*", ms=9, label="ground truth W*")
    ax.set_xlabel(r"$\Vert X\Vert_* \,/\, \Vert W^*\Vert_*$ (nuclear norms)")
    ax.set_ylabel("log density − log density at W*")
    ax.set_title(r"rank-$r$ zero-loss sets, $\hat g^N$-induced volume")
    # the axis spans the limits, the truth and 95 % of the comparison points (far outliers are drawn at the edge)
    xs = [p["nuclear_norm"] / t["nuclear_norm"] for c in cells for t in c["points"] if t["kind"] == "truth"
          for p in c["points"] + c["limits"]]  # fmt: skip
    if xs:
        right = max(1.3, float(np.quantile(xs, 0.95)) * 1.15)
        ax.set_xlim(right=right)
        ys = [p["log_density"] - t["log_density"] for c in cells for t in c["points"] if t["kind"] == "truth"
              for p in c["points"] + c["limits"] if p["nuclear_norm"] / t["nuclear_norm"] <= right]  # fmt: skip
        ax.set_ylim(min(ys) - 0.3, max(ys) + 0.3)
        hidden = len(xs) - len(ys)
        if hidden:
            ax.text(0.02, 0.02, f"{hidden} point(s) beyond\nthe axis", transform=ax.transAxes, ha="left", va="bottom")
    ax.legend(fontsize=PAPER_FONT, loc="upper right")
    comps = [x for c in beyond["cells"] for x in c["comparisons"]]
    bins = np.linspace(0, 1, 11)
    bx.hist([x["percentile"] for x in comps], bins=bins, alpha=0.6, label="among all comparison points")
    bx.hist(
        [x["percentile_neighbours"] for x in comps if x["percentile_neighbours"] is not None],
        bins=bins,
        alpha=0.6,
        label="among nearby zero-loss points",
    )
    bx.set_xlabel("percentile of the flow limit's log density")
    bx.set_ylabel("limits")
    bx.legend(fontsize=PAPER_FONT)
    fig.tight_layout()
    return save_figure(fig, outdir, f"{NAME}_beyond.png", dpi=200)


def _beyond_markdown(beyond: dict) -> list[str]:
    stats = beyond["stats"]
    rows = [
        [
            st["depth"],
            st["instances"],
            f"{st['reached_target']}/{st['flows']}",
            st["rank_r"],
            st["compared"],
            st["projection_failed"],
            st["nuclear_rank_r"],
            st["percentile_median"],
            st["percentile_random_median"],
            st["fraction_above_truth"],
            st["percentile_neighbours_median"],
            st["nuclear_percentile_median"],
        ]
        for st in stats
    ]
    per = [
        [
            f"{c['size']}×{c['size']} r = {c['rank']}, |Ω| = {c['n_observed']}",
            c["seed"],
            c["depth"],
            str(x["init_seed"]),
            x["percentile"],
            x["percentile_other_limits"],
            x["percentile_random"],
            "yes" if x["above"].get("truth") else "no",
            x["percentile_neighbours"],
            x["nuclear_percentile"],
        ]
        for c in beyond["cells"]
        for x in c["comparisons"]
    ]
    dims = sorted({p["dimension"] for c in beyond["cells"] for p in c["points"] if p["dimension"] is not None})
    return [
        "### Beyond 2×2: the rank-r part of the zero-loss set",
        "Random completions (CompletionProblem.random, ground truth W* of rank r, ‖W*‖_F = d) with fewer observations "
        "than the dimension r(2d − r) of the rank-r matrices, so that the rank-r zero-loss set "
        f"{{rank X = r, X_Ω = M_Ω}} is a manifold of positive dimension (here {', '.join(map(str, dims))}). Normalized "
        "flows from init 1e-3 to loss 1e-12; a limit counts as rank r when s_(r+1)/s_r ≤ "
        f"{fmt(beyond['rank_tol'])}, and is then projected onto the rank-r zero-loss set (Levenberg–Marquardt on the "
        "factors, residual ≤ 1e-8 checked; 'projection failed' counts the limits where it did not get there). The "
        "density is ½ log det of the Gram matrix of ĝ^N restricted to a Euclidean-orthonormal basis of the tangent "
        "space "
        "of that set (rank-r tangent space ∩ null space of the observation map): the log of the ratio of the ĝ^N "
        "volume to the Euclidean one, a function on the set. Comparison points, all of the same rank on the same set: "
        "the limits from the other initializations, the nuclear-norm minimizer (soft-impute) when it is rank r, the "
        "ground truth, and random points (projections of W* plus Gaussian noise of rms 0.3 and 1). 'Nearby' points are "
        "projections of the limit plus 10 % noise: a percentile of 1 there would make the limit a local maximum.",
        table(
            [
                "N",
                "instances",
                "flows reached 1e-12",
                "rank-r limits",
                "compared",
                "projection failed",
                "nuclear-min rank r",
                "median percentile",
                "vs random",
                "above W*",
                "vs nearby",
                "nuclear-norm percentile",
            ],
            rows,
        ),
        "Per instance and seed (percentiles: fraction of the comparison points with lower log density):",
        table(
            [
                "instance",
                "problem seed",
                "N",
                "init seed",
                "all",
                "other limits",
                "random",
                "above W*",
                "nearby",
                "by nuclear norm",
            ],
            per,
        )
        if per
        else "(no rank-r limits)",
        "**Verdict.** " + beyond_verdict(stats),
    ]


def figures(results: dict, outdir) -> list[str]:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(PAPER_WIDTH, 3.0))
    grid = np.array(results["hyperbola_grid"])
    pos = grid > 0
    for row in results["hyperbola"]:
        N = depth_value(row["depth"])
        if np.isinf(N):
            continue
        lam = hyperbola_length_element(grid[pos], N) / hyperbola_length_element(grid[pos], 1)
        (line,) = ax.loglog(grid[pos], lam / np.nanmax(lam), lw=1.0, label=f"N = {row['depth']}")
        a = np.abs(np.array(row["limit_a"], float))
        if len(a):
            la = hyperbola_length_element(a, N) / hyperbola_length_element(a, 1) / np.nanmax(lam)
            ax.plot(a, la, "o", color=line.get_color(), ms=5, mfc="none")
    ax.plot([], [], "ko", mfc="none", label="rank-one limits (|a|)")
    ax.set_xlabel("$|a|$ on the rank-one curve\n$X_{11} = X_{22} = 1$, $X_{12} = a$, $X_{21} = 1/a$")
    ax.set_ylabel("$\\hat g^N$ length / Euclidean\nlength (÷ its maximum)")
    legend_above(fig, ax, ncol=3, frameon=False)
    out = [save_figure(fig, outdir, f"{NAME}.png", dpi=200)]
    extra = _beyond_figure(results["beyond"], outdir) if "beyond" in results else None
    return out + ([extra] if extra else [])


def markdown(results: dict, figs: list[str]) -> str:
    table_rows = [
        [
            r["depth"],
            r["runs"],
            r["limit_log_density_median"],
            r["limit_percentile_median"],
            r["fraction_above_frobenius"],
            r["frobenius_log_density"],
            f"{fmt(r['nuclear_segment_log_density_min'])} … {fmt(r['nuclear_segment_log_density_max'])}",
        ]
        for r in results["rows"]
    ]
    deep = [r for r in results["rows"] if r["depth"] not in ("1", "2") and r["limit_percentile_median"] is not None]
    supported = all(r["limit_percentile_median"] > 0.9 for r in deep) if deep else False
    sentences = [
        "Log volume density of ĝ^N restricted to the zero-loss set, at the flow's limits, against "
        f"{results['samples']} "
        f"uniform samples of (a, b) ∈ [−{fmt(results['box'])}, {fmt(results['box'])}]², the Frobenius-minimal "
        "completion (the identity) and the nuclear-norm-minimal segment a = b ∈ (−1, 1).",
        table(
            [
                "N",
                "runs",
                "median log density at limit",
                "median percentile",
                "fraction above Frobenius-min",
                "Frobenius-min",
                "nuclear-min segment",
            ],
            table_rows,
        ),
        "What the numbers support: "
        + (
            "for N ≥ 3 the limits sit in the top decile of the density over the zero-loss set, far above the "
            "Frobenius-minimal completion — a measurable bias towards high volume, which on this set is a bias "
            "towards the rank-one hyperbola, where the density is infinite for N ≥ 2; on this symmetric problem it "
            "cannot be told from a bias towards small nuclear norm (the implicit_bias study makes that test). "
            if supported
            else "the limits are not uniformly in the top decile of the density for N ≥ 3 in this run. "
        )
        + "What they do not support: a variational principle. The density is unbounded near the whole hyperbola "
        "ab = 1 (and at both ends of the nuclear-norm segment), so 'maximal volume' does not single out a limit; "
        "which rank-one point is reached depends on the initialization. At N = 1 the density is constant (no "
        "bias), matching a flow that leaves the unobserved entries where they start.",
        "Sharpened test: within the rank-one set, where the limits of the small-initialization runs actually "
        "land, compare them using the length element that ĝ^N induces on the hyperbola ab = 1 (the metric of "
        "the rank-one stratum restricted to the curve; at N = ∞ it is infinite, moving singular vectors being "
        "infinitely expensive):",
        table(
            ["N", "rank-one limits", "argmax of λ_N/λ_1 (a)", "median percentile of the limits"],
            [
                [
                    r["depth"],
                    r["rank_one_limits"],
                    "— (constant)" if r.get("flat") else r["argmax_a"],
                    float(np.median(r["limit_percentile"])) if r["limit_percentile"] else None,
                ]
                for r in results["hyperbola"]
            ],
        ),
        "λ_N/λ_1 is the ĝ^N length element divided by the Euclidean one (a function on the curve, independent of "
        "its parametrization; λ_N alone is a density in the chart a, maximal at the grid's ends in that chart). "
        "Percentile: the fraction of a log-spaced grid of a ∈ ±[1e-2, 1e2] where λ_N/λ_1 is below its value at the "
        "limit; 0.5 is what limits placed without regard to it would give. " + where_limits_sit(results["hyperbola"]),
        *[f"![{NAME}]({f})" for f in figs if f == f"{NAME}.png"],
    ]
    if "beyond" in results:
        sentences += _beyond_markdown(results["beyond"])
        sentences += [f"![{NAME} beyond 2×2]({f})" for f in figs if f != f"{NAME}.png"]
    return "\n\n".join(sentences)
