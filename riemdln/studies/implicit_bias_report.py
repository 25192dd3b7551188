"""Figures and report text of the implicit_bias study (computed results in, Markdown and PNG files out)."""

from __future__ import annotations

import numpy as np

from riemdln.studies import PAPER_FONT, PAPER_WIDTH, fmt, pyplot, save_figure, table
from riemdln.studies.implicit_bias import LABELS, NAME, RIVALS

SHORT = {"volume": "V", "nuclear": "NN", "glrl": "GLRL", "frobenius": "MF"}
COLORS = {"nuclear": "C0", "glrl": "C1", "frobenius": "C2"}


def _tested(results: dict) -> list[dict]:
    return [r for r in results["decisions"] if r["tested"] and r["effect"] is not None]


def figures(results: dict, outdir) -> list[str]:
    """A forest plot: per (instance, N) the effect size of each rival with its bootstrap interval."""
    rows = _tested(results)
    if not rows:
        return []
    plt = pyplot()
    keys = list(dict.fromkeys((r["instance"], r["depth"]) for r in rows))
    fig, ax = plt.subplots(figsize=(PAPER_WIDTH, 0.3 * len(keys) + 2.0), layout="constrained")
    offset = {h: (k - 1) * 0.22 for k, h in enumerate(RIVALS)}
    for h in RIVALS:
        sel = [r for r in rows if r["rival"] == h]
        y = np.array([keys.index((r["instance"], r["depth"])) + offset[h] for r in sel])
        e = np.array([r["effect"] for r in sel])
        lo = np.array([r["ci"][0] / r["separation"] for r in sel])
        hi = np.array([r["ci"][1] / r["separation"] for r in sel])
        ax.errorbar(e, y, xerr=[e - lo, hi - e], fmt="o", ms=4, color=COLORS[h], capsize=2, label=f"vs {LABELS[h]}")
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_yticks(range(len(keys)))
    ax.set_yticklabels([f"{i}, N = {d}" for i, d in keys], fontsize=PAPER_FONT)
    ax.set_ylim(len(keys) - 0.5, -0.5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel(
        "effect: median [d(L, V) − d(L, rival)] / d(V, rival)\n(< 0: volume nearer the limits; > 0: rival nearer)",
        fontsize=PAPER_FONT,
    )
    ax.legend(fontsize=PAPER_FONT, loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=1, frameon=False)
    return [save_figure(fig, outdir, f"{NAME}_effects.png", dpi=200)]


def _prediction_rows(results: dict) -> list[list]:
    out = []
    for p in results["predictions"]:
        nn, gl, mf = p["nuclear"], p["glrl"], p["frobenius"]
        vmax = ", ".join(f"{d}: {v['local_maxima']}" for d, v in p["volume"].items())
        rc = p["rank_check"]
        lower = "—" if not rc["lower_rank_tries"] else f"{rc['lower_rank_found']}/{rc['lower_rank_tries']}"
        out.append([
            p["instance"], p["rank"], lower,
            f"{fmt(nn['value'])} (rank {nn['rank']}, face width {fmt(nn['face_width'])}"
            + ("" if nn["unique"] else ", not unique: distances to the face") + ")",
            f"rank {gl['rank']}, " + ("converged" if gl["success"] else "a phase diverges: no prediction")
            + f", ε-sensitivity {fmt(gl['eps_sensitivity'])}",
            fmt(mf["value"]), vmax,
        ])  # fmt: skip
    return out


def _disagreement_rows(results: dict) -> list[list]:
    out = []
    for p in results["predictions"]:
        for d, row in p["separations"].items():
            cells = [f"0 (V in the face; width {fmt(row[h])})" if p["nested"][d][h] else row[h] for h in RIVALS]
            out.append([p["instance"], f"V (N = {d})", *cells])
        dis = results["disagreement"][p["instance"]]
        for a in RIVALS:
            out.append([p["instance"], SHORT[a], *[dis[a][h] if h != a else "—" for h in RIVALS]])
    return out


def _health_rows(results: dict) -> list[list]:
    out = []
    spread = {(s["instance"], s["depth"], s["scale"]): s["spread"] for s in results["spreads"]}
    keys = list(dict.fromkeys((f["instance"], f["depth"], f["scale"]) for f in results["flows"]))
    for key in keys:
        sel = [f for f in results["flows"] if (f["instance"], f["depth"], f["scale"]) == key]
        ok = [f for f in sel if f["reached_target"]]
        ratio = [f["sigma_ratio"] for f in ok]
        out.append([
            key[0], key[1], fmt(key[2]), f"{len(ok)}/{len(sel)}",
            f"{fmt(float(np.median(ratio)))} ({fmt(min(ratio))} … {fmt(max(ratio))})" if ratio else "—",
            spread[key],
            *[_median_distance(ok, h) for h in ("volume", *RIVALS)],
        ])  # fmt: skip
    return out


def _median_distance(flows: list[dict], h: str):
    v = [f["distances"][h] for f in flows if f["distances"].get(h) is not None]
    return float(np.median(v)) if v else None


def _decision_rows(results: dict) -> list[list]:
    out = []
    spread = {(s["instance"], s["depth"], s["scale"]): s["spread"] for s in results["spreads"]}
    for r in results["decisions"]:
        if not r["tested"]:
            out.append([r["instance"], r["depth"], SHORT[r["rival"]], *["—"] * 9, "not tested"])
            continue
        ci = "—" if r["ci"] is None else f"{fmt(r['median_difference'])} [{fmt(r['ci'][0])}, {fmt(r['ci'][1])}]"
        out.append([
            r["instance"], r["depth"], SHORT[r["rival"]],
            f"{r['n']} ({r['excluded']} excl.)", f"{r['volume_nearer']}/{r['n']}",
            fmt(r["p_sign"]), ci, fmt(r["effect"]), fmt(r["separation"]),
            r.get("median_d_volume"), r.get("median_d_rival"),
            spread[(r["instance"], r["depth"], r["scale"])], r["verdict"],
        ])  # fmt: skip
    return out


def _power_sentence(results: dict) -> str:
    """How many of n seeds on one side the corrected sign test needs (computed from n and the level)."""
    from scipy.stats import binomtest

    rows = [r for r in results["decisions"] if r["tested"]]
    if not rows:
        return ""
    n = max(r["n"] for r in rows)
    p = results["params"]
    level = p["alpha"] / len(results["decisions"])
    need = next((k for k in range(n // 2, n + 1) if binomtest(k, n).pvalue < level), None)
    if need is None:
        return f"With {n} seeds no split passes the sign test at {fmt(level)}: the study cannot reach a verdict."
    return f"With {n} seeds the sign test at {fmt(level)} needs at least {need} of {n} on one side."


def verdict_text(results: dict) -> str:
    """What the decisions say, counted per rival (computed from the rows, never fixed)."""
    parts = []
    for h in RIVALS:
        rows = [r for r in results["decisions"] if r["rival"] == h]
        if not rows:
            continue
        count = {v: sum(r.get("verdict") == v for r in rows if r["tested"]) for v in
                 ("volume predicts better", "rival predicts better", "cannot tell")}  # fmt: skip
        untested = sum(not r["tested"] for r in rows)
        coincide = sum(r.get("reason") == "the predictions coincide" for r in rows if r["tested"])
        txt = (
            f"Against {LABELS[h]}: volume predicts better in {count['volume predicts better']} of {len(rows)} "
            f"(instance, N) cells, the rival in {count['rival predicts better']}, cannot tell in {count['cannot tell']}"
        )
        txt += f" ({coincide} of them because the two predictions coincide)" if coincide else ""
        txt += f", not tested in {untested} (no prediction)" if untested else ""
        parts.append(txt + ".")
    return " ".join(parts)


def markdown(results: dict, figs: list[str]) -> str:
    p = results["params"]
    intro = (
        "Does the volume bias predict where small initializations land, better than its rivals? Four hypotheses "
        "make a prediction on each instance: **V** (volume), the argmax on the rank-r zero-loss set {rank X = r, "
        "X_Ω = M_Ω} (r the minimal completion rank) of the log density of the volume that ĝ^N induces on it (at "
        "N = ∞ its normalized limit: ½ log det of the Gram matrix minus (k'/2) log N, k' the number of tangent "
        "directions that rotate the row or column space, which the metric makes ever more expensive); found by BFGS "
        "on the manifold (retraction: minimum-norm Gauss–Newton on the factors) from "
        f"{p['volume_starts']} random points of the set; **NN**, the minimum-nuclear-norm completion (cvxpy, "
        "Clarabel), with the width of its optimal face; **GLRL**, greedy low-rank learning (Li, Luo & Lyu 2021: "
        "from 0, repeated rank-one escapes along the top singular pair of the residual gradient, each followed by "
        f"the depth-2 flow of the rank-k factorization to its limit, ε = {fmt(p['glrl_eps'])}); **MF**, the minimum "
        "Frobenius norm on the rank-r zero-loss set. The instances break the symmetries that force these together "
        "on the 2×2 diagonal problem: unequal observed values, asymmetric patterns, random problems."
    )
    parts = [
        intro,
        "**Predictions, computed before any flow.** 'lower rank found' counts the random starts from which a "
        "completion of rank r − 1 was found (0 supports r as the minimal rank); 'V local maxima' counts distinct "
        "local maxima per N.",
        table(["instance", "r", "lower rank found", "NN: ‖X‖_*", "GLRL", "MF: ‖X‖_F", "V local maxima"],
              _prediction_rows(results)),  # fmt: skip
        "**How far apart the predictions are** (Frobenius distance between the predicted points; a non-unique "
        "prediction counts as the set of its points):",
        table(["instance", "from", "to NN", "to GLRL", "to MF"], _disagreement_rows(results)),
        f"**Flows.** Normalized flows (ĝ^N) from X₀ = ε G/√d (G Gaussian; a balanced start), {p['n_seeds']} seeds "
        f"per instance, N and ε ∈ {{{', '.join(fmt(s) for s in p['scales'])}}}, until the loss is below "
        f"{fmt(p['loss_tol'])}; runs that stop short are excluded (and counted). Spread: the median distance of the "
        "limits to their medoid (seed-to-seed spread). Distances: median over the limits of ‖L − prediction‖_F.",
        table(["instance", "N", "ε", "reached", "s_(r+1)/s_r of the limit", "spread", "to V", "to NN", "to GLRL",
               "to MF"], _health_rows(results)),  # fmt: skip
        f"**Decisions** at the smallest scale ε = {fmt(min(p['scales']))}. Per (instance, N, rival): D = d(L, V) − "
        "d(L, rival) over the seeds; 'V nearer' counts the seeds with D < 0; the exact two-sided sign test on those "
        f"counts is judged at {fmt(p['alpha'])} divided by the number of rows (Bonferroni); the median of D with a "
        "bootstrap 95 % interval; the effect median D / d(V, rival) runs from −1 to +1 by the triangle inequality "
        "(−1: V lies on the way from the rival to every limit, as when the limits sit at V; +1 the other way round). "
        "'Nearer' is relative: the columns d(L, V) and d(L, rival) (medians) say how near either prediction is. "
        "A verdict other than 'cannot tell' needs the test, "
        f"|effect| ≥ {fmt(p['min_effect'])} and the nearer prediction near the limits (its median distance to them "
        f"below d(V, rival)). {_power_sentence(results)}",
        table(["instance", "N", "rival", "limits", "V nearer", "sign p", "median D [95 % CI]", "effect",
               "d(V, rival)", "d(L, V)", "d(L, rival)", "spread", "verdict"], _decision_rows(results)),  # fmt: skip
        "**Verdict.** " + verdict_text(results),
        *[f"![{NAME}: effect size of each (instance, N, rival) with its bootstrap interval]({f})\n\n*Effect sizes: "
          "median of d(L, V) − d(L, rival) divided by d(V, rival), with the bootstrap 95 % interval of the median "
          "(same scaling) as error bars; left of 0 the volume prediction is nearer.*" for f in figs],
    ]  # fmt: skip
    return "\n\n".join(parts)
