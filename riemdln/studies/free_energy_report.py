"""The figures and the report text of the study :mod:`riemdln.studies.free_energy`, from its computed results."""

from __future__ import annotations

import numpy as np

from riemdln.studies import (
    PAPER_WIDTH,
    fmt,
    legend_above,
    pyplot,
    save_figure,
    table,
)
from riemdln.studies.free_energy import NAME, RANK_ONE, STALLED, _slope_text


# ---------------------------------------------------------------------------------------------
# figures
def _training_figure(results: dict, outdir) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(PAPER_WIDTH, 5.8), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    depths = sorted({r["depth"] for r in results["training"]})
    for r in results["training"]:
        c = colors[depths.index(r["depth"]) % len(colors)]
        style = "-" if r["free_energy"] else "--"
        label = f"N = {r['depth']}, λ = {int(r['free_energy'])}"
        t = np.asarray(r["t"])
        for ax, key in zip(axes, ("E", "S", "F"), strict=True):
            m, s = np.asarray(r[key]), np.asarray(r[key + "_se"])
            ax.plot(t, m, style, color=c, label=label)
            ax.fill_between(t, m - 2 * s, m + 2 * s, color=c, alpha=0.15, lw=0)
    for ax, name in zip(axes, ("E (loss)", "$S_N$ (renorm.)", "$F = E - S_N/\\beta$"), strict=True):
        ax.set_ylabel(name)
    axes[-1].set_xlabel("τ")
    legend_above(fig, axes[0], 2)
    return save_figure(fig, outdir, f"{NAME}_training.png", dpi=200)


def _equilibrium_figure(results: dict, outdir) -> str:
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(PAPER_WIDTH, 5.2), sharex=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    depths = sorted({r["depth"] for r in results["samplers"]})
    for k, N in enumerate(depths):
        c = colors[k % len(colors)]
        for fe, style, marker, shift in ((False, "--", "o", 1 / 1.06), (True, "-", "s", 1.06)):
            qs = [q for q in results["quadratures"] if q["depth"] == N and q["free_energy"] == fe]
            ss = [s for s in results["samplers"] if s["depth"] == N and s["free_energy"] == fe]
            b = [s["beta"] * shift for s in ss]  # λ = 0 left, λ = 1 right of each β
            axes[0].plot([q["beta"] * shift for q in qs], [q["value"][0] for q in qs], style, marker="x", color=c)
            axes[0].errorbar(
                b, [s["mean"][0] for s in ss], yerr=[2 * s["se"][0] for s in ss], fmt=marker, color=c, ms=4, capsize=2
            )
            axes[1].errorbar(
                b,
                [s["p_rank_one"] for s in ss],
                yerr=[2 * s["p_rank_one_se"] for s in ss],
                fmt=marker + style,
                color=c,
                ms=4,
                capsize=2,
            )
        axes[0].plot([], [], "-", color=c, label=f"N = {N}")
    ratio = r"$\sigma_{\min}/\sigma_{\max}$"
    for ax, name in zip(axes, (f"mean {ratio}", f"P({ratio} < {RANK_ONE:g})"), strict=True):
        ax.set_xscale("log", base=2)
        ax.set_ylabel(name)
    betas = sorted({s["beta"] for s in results["samplers"]})
    axes[-1].set_xlim(betas[0] / 1.5, betas[-1] * 1.5)
    axes[-1].set_xticks(betas, [f"{v:g}" for v in betas])
    axes[-1].minorticks_off()
    axes[-1].set_xlabel("β")
    axes[0].plot([], [], "kx", label="quadrature")
    axes[0].plot([], [], "ko--", label="MALA, λ = 0")
    axes[0].plot([], [], "ks-", label="MALA, λ = 1")
    legend_above(fig, axes[0], 3, columnspacing=0.8, handletextpad=0.4)
    return save_figure(fig, outdir, f"{NAME}_equilibrium.png", dpi=200)


def _limit_figure(results: dict, outdir) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(PAPER_WIDTH, 3.2))
    runs = [r for r in results["beta_limit"][1:] if r["n_chains"] > 1]
    inv = np.array([1.0 / r["beta"] for r in runs])
    for k, t in enumerate(runs[0]["t"]):
        d = np.array([r["distance"][k] for r in runs])
        ax.errorbar(
            inv,
            d,
            yerr=[2 * r["distance_se"][k] for r in runs],
            fmt="o",
            ms=4,
            capsize=2,
            label=f"τ = {t:g} (slope {results['slopes'][k]:.2f})",
        )
    d0 = runs[0]["distance"][-1]
    ax.plot(inv, d0 * inv / inv[0], "k--", lw=0.8, label="slope 1")
    ax.axhline(max(results["floor"]), color="gray", lw=0.8, ls=":", label="step-size floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(inv, [f"{v:.2g}" for v in inv])
    ax.minorticks_off()
    ax.set_xlabel("1/β")
    ax.set_ylabel(r"$\|\bar X_\beta(\tau) - X_{\rm flow}(\tau)\|_F$")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_ylim(top=ax.get_ylim()[1] * 30)  # room for the legend above the data
    fig.tight_layout()
    return save_figure(fig, outdir, f"{NAME}_beta_limit.png", dpi=200)


def figures(results: dict, outdir) -> list[str]:
    return [_training_figure(results, outdir), _equilibrium_figure(results, outdir), _limit_figure(results, outdir)]


# ---------------------------------------------------------------------------------------------
# markdown and summary
_CAPTIONS = {
    f"{NAME}_training.png": "Langevin training on menon-2x2: chain means of E, S_N and F against τ, solid with the "
    "entropic drift (λ = 1), dashed without (λ = 0), one colour per depth; bands: ± 2 standard errors of the chain "
    "mean.",
    f"{NAME}_equilibrium.png": "The Gibbs law of menon-2x2 + (α/2)‖X‖² by β: mean σ_min/σ_max (quadrature: crosses; "
    "MALA: markers) and P(σ_min/σ_max < 0.1) from MALA, one colour per depth; circles and dashed lines λ = 0, "
    "squares and solid lines λ = 1, drawn slightly left and right of each β; error bars ± 2 standard errors "
    "(from the effective sample size).",
    f"{NAME}_beta_limit.png": "β → ∞ (λ = 1): distance between the Langevin mean path and the deterministic flow "
    "at fixed τ against 1/β, with a slope-1 guide and the Euler–Maruyama floor (the same scheme at β = 1e12: "
    "step-size error); error bars ± 2 standard errors of the chain mean.",
}


def _pm(value, se) -> str:
    return f"{fmt(value)} ± {fmt(se)}"


def _training_table(results: dict) -> str:
    rows = []
    for r in results["training"]:
        rows.append(
            [
                r["depth"],
                int(r["free_energy"]),
                _pm(r["E"][0], r["E_se"][0]),
                _pm(r["E"][-1], r["E_se"][-1]),
                _pm(r["S"][0], r["S_se"][0]),
                _pm(r["S"][-1], r["S_se"][-1]),
                _pm(r["F"][0], r["F_se"][0]),
                _pm(r["F"][-1], r["F_se"][-1]),
                _pm(r["p_rank_one"][-1], r["p_rank_one_se"][-1]),
                r["status"],
            ]
        )
    t_end = fmt(results["training"][0]["t"][-1])
    return table(
        [
            "N",
            "λ",
            "E(0)",
            f"E({t_end})",
            "S_N(0)",
            f"S_N({t_end})",
            "F(0)",
            f"F({t_end})",
            f"P(σ_min/σ_max < {RANK_ONE:g}) at τ = {t_end}",
            "status",
        ],
        rows,
    )


def _training_sentences(results: dict) -> str:
    """What the training table shows, computed from it (2 standard errors decide 'lower')."""
    runs = results["training"]
    pairs: dict[int, dict[bool, dict]] = {}
    for r in runs:
        pairs.setdefault(r["depth"], {})[r["free_energy"]] = r
    lower = [
        N
        for N, pr in pairs.items()
        if len(pr) == 2
        and pr[True]["E"][-1] + 2 * pr[True]["E_se"][-1] < pr[False]["E"][-1] - 2 * pr[False]["E_se"][-1]
    ]
    rose = sum(r["S"][-1] > r["S"][0] for r in runs)
    monotone = sum(bool(np.all(np.diff(r["F"]) <= 0)) for r in runs)
    where = f" (N = {', '.join(map(str, lower))})" if lower else ""
    return (
        f"Observed: at τ = {fmt(runs[0]['t'][-1])} the loss with the entropic drift (λ = 1) is lower than without it "
        f"(by more than 2 SE each) at {len(lower)} of {len(pairs)} depths{where}; S_N rose from the small start "
        f"in {rose} of {len(runs)} runs (it grows "
        f"with the scale of X); the chain mean of F decreased at every saved time in {monotone} of {len(runs)} "
        "runs. F is not a Lyapunov function of single paths (the free energy of the law, E[F] minus the "
        "temperature times the law's entropy relative to vol_g, is), so its chain mean need not decrease at "
        "every time."
    )


def _equilibrium_table(results: dict) -> str:
    rows = []
    for s, q in zip(results["samplers"], results["quadratures"], strict=True):
        rows.append(
            [
                s["depth"],
                s["beta"],
                int(s["free_energy"]),
                f"{fmt(q['value'][0], 4)} ({q['status']})",
                _pm(s["mean"][0], s["se"][0]),
                fmt(q["value"][1], 4),
                _pm(s["mean"][1], s["se"][1]),
                _pm(s["p_rank_one"], s["p_rank_one_se"]),
                s["acceptance_rate"],
                s["sampler_ess"],
                f"{s['stalled_chains']}/{s['n_chains']}",
            ]
        )
    return table(
        [
            "N",
            "β",
            "λ",
            "σ_min/σ_max quadrature",
            "σ_min/σ_max MALA",
            "E[E] quadrature",
            "E[E] MALA",
            f"P(σ_min/σ_max < {RANK_ONE:g}) MALA",
            "acceptance",
            "ESS (sampler)",
            "stalled chains",
        ],
        rows,
    )


def _limit_table(results: dict) -> str:
    runs = results["beta_limit"][1:]
    rows = [
        [
            fmt(r["beta"]) if r["n_chains"] > 1 else "1e12 (floor)",
            r["n_chains"],
            *[_pm(d, e) for d, e in zip(r["distance"], r["distance_se"], strict=True)],
        ]
        for r in runs
    ]
    return table(["β", "chains", *[f"distance at τ = {fmt(t)}" for t in runs[0]["t"]]], rows)


def _stalled_sentence(results: dict) -> str:
    bad = [s for s in results["samplers"] if s["stalled_chains"]]
    if not bad:
        return f"No MALA chain stalled (every chain accepted ≥ {STALLED:g} of its moves after burn-in)."
    cases = "; ".join(
        f"N = {s['depth']}, β = {fmt(s['beta'])}, λ = {int(s['free_energy'])}: {s['stalled_chains']} chain(s) "
        f"ending at σ_max = {', '.join(fmt(v) for v in s['stalled_sigma_max'])} (median draw "
        f"{fmt(s['median_sigma_max'])}), E[E] over the moving chains {fmt(s['mean_moving_chains'][1], 4)}"
        for s in bad
    )
    reported = ", ".join(sorted({s["sampler_status"] for s in bad}))
    return (
        f"**Sampler failure found**: some MALA chains stalled — they accepted fewer than {STALLED:g} of their "
        f"moves after burn-in (riemdln.gibbs_sample reported {reported}) — {cases}. Far out, the ridge makes the "
        "gradient in Y steep (E_α grows like α|Y|^(2N)); the sampler's truncated drift is meant to prevent this. "
        "These runs are recorded as not reached; compare the moving chains' E[E] with the quadrature column."
    )


def _volume_bias_sentence(percentiles: dict | None) -> str:
    """The comparison with volume_bias's limits, said only when its percentiles (N ≥ 3) are all above 1/2."""
    deep = {N: v for N, v in (percentiles or {}).items() if N not in ("1", "2") and v is not None}
    if not deep or not all(v > 0.5 for v in deep.values()):
        return ""
    return (
        "The volume_bias study reads the deterministic flow the same way round: its small-initialization limits "
        "on the zero-loss set sit above the median of the ĝ^N density there (median percentile of the limits in "
        "this run: " + ", ".join(f"N = {N}: {fmt(v)}" for N, v in deep.items()) + "), towards the rank-one "
        "hyperbola ab = 1 (where that density is infinite for N ≥ 2). The objects differ — a stationary law at "
        "finite temperature here, the limit of a flow from small initialization there — so the agreement in "
        "direction is an observation, and neither study shows a variational principle."
    )


def _trend_sentences(results: dict) -> list[str]:
    eff = results["entropy_effect"]
    d = [e["d_ratio"] for e in eff]
    sign = "larger" if all(x > 0 for x in d) else "smaller" if all(x < 0 for x in d) else "of mixed sign"
    qs = results["quadratures"]
    key = {(q["depth"], q["beta"], q["free_energy"]): q["value"][0] for q in qs}
    depth_down = all(v > key[(N + 1, b, fe)] for (N, b, fe), v in key.items() if (N + 1, b, fe) in key)
    betas = sorted({b for (_, b, _) in key})
    beta_up = all(v < key[(N, b1, fe)] for (N, b, fe), v in key.items() for b1 in betas if b1 > b)
    return [
        f"Entropy (λ = 1 against λ = 0, quadrature): mean σ_min/σ_max is {sign} with the entropic term, by "
        f"{fmt(min(d))} … {fmt(max(d))} over the {len(d)} (N, β) pairs (quadrature refinement errors ≤ "
        f"{fmt(max(e['error'] for e in eff))})."
        + (
            " So on this problem the fibre volume e^{S_N} ∝ Π a_N(σ_i², σ_j²)^{1/2} pushes the Gibbs law away "
            "from rank one; the reason is visible in the formula (at fixed σ_max, a_N(σ_max², σ_min²) grows with "
            "σ_min, by a factor N from σ_min = 0 to σ_min = σ_max), but that the net effect on the law has this "
            "sign is an observation, not a theorem."
            if sign == "larger"
            else ""
        ),
        "Depth (fixed β, λ): mean σ_min/σ_max "
        + (
            "decreases from each N to N + 1 in every row. At λ = 0 the only depth-dependent factor of the law is "
            "vol_g^N, so this is the volume pulling towards rank one, more strongly as N grows; at λ = 1 the "
            "entropy does not undo it. " + _volume_bias_sentence(results.get("volume_bias"))
            if depth_down
            else "does not decrease with N in every row."
        ),
        "Temperature: "
        + (
            "one β only in this run. "
            if len(betas) < 2
            else "mean σ_min/σ_max "
            + ("increases with β at every (N, λ)" if beta_up else "does not increase with β at every (N, λ)")
            + f" over β = {', '.join(fmt(b) for b in betas)}. "
        )
        + "As β → ∞ the law concentrates at the minimizer of E_α, "
        "(1 + α)⁻¹ I, which is far from rank one, while at small β the ridge, not the data, sets the scale. "
        "Conjecture of this project, not tested here: that these trends survive α → 0 (where the law is not a "
        "probability law at N = 2, nor at N = 3 with λ = 1) and d > 2.",
    ]


def markdown(results: dict, figs: list[str]) -> str:
    slopes = _slope_text(results)
    return "\n\n".join(
        [
            "**Training** (riemdln.langevin, normalized, on menon-2x2 itself, from ε D with ε = 1e-2 and random "
            "unit D; E, the renormalized entropy S_N = ½ Σ log(a_N/N) and F = E − S_N/β averaged over chains, ± "
            "one standard error):",
            _training_table(results),
            _training_sentences(results),
            "**Equilibrium.** The Gibbs law of menon-2x2 itself is not a probability law (E is flat along the "
            "zero-loss plane, where vol_g^N decays like r^{−4+4/N}, times r^{1−1/N} for λ = 1: not integrable "
            "over the plane for N ≤ 2, nor with λ = 1 for N ≤ 3), so this part samples E_α = E + (α/2)‖X‖²_F with "
            f"α = {fmt(results['alpha'])}. Quadrature (riemdln.gibbs_expectation, the oracle, with its status) "
            "against the exact MALA sampler (± one standard error from the effective sample size of each "
            f"statistic); largest deviation {fmt(results['max_z'])} standard errors "
            f"({fmt(results['max_z_without_stalled'])} over the runs without stalled chains). "
            f"P(σ_min/σ_max < {RANK_ONE:g}) is the sampler's alone (an indicator, on which the quadrature "
            "converges slowly).",
            _equilibrium_table(results),
            _stalled_sentence(results),
            *_trend_sentences(results),
            f"**β → ∞** (N = {results['limit_depth']}, λ = 1): distance between the Langevin mean path and "
            "riemdln.end_to_end_flow from the same X₀ at fixed τ (± the standard error of the chain mean; chains "
            "proportional to β). Fitted log-log slopes against 1/β, ± their Monte Carlo error: "
            f"{slopes} (the small-noise expansion gives 1: the Itô and entropic drifts are O(1/β), and the noise "
            "enters the mean at second order). The floor row is the Euler–Maruyama scheme at β = 1e12: its "
            "distance is the step-size error, not temperature.",
            _limit_table(results),
            *[f"![{NAME}]({f})\n\n*{_CAPTIONS.get(f.rsplit('/', 1)[-1], '')}*" for f in figs],
        ]
    )
