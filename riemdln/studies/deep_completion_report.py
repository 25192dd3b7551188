"""The figures and the report text of the study :mod:`riemdln.studies.deep_completion`, from its computed results."""

from __future__ import annotations

from riemdln.studies import (
    PAPER_WIDTH,
    fmt,
    fmt_spread,
    legend_above,
    pyplot,
    quartiles,
    save_figure,
    table,
)
from riemdln.studies.deep_completion import NAME, _is_flow, _label, _methods, _select, best_method, ordering


def figures(results: dict, outdir) -> list[str]:
    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(PAPER_WIDTH, 4.6), sharex=True)
    ks = results["observed"]
    methods = _methods(results["rows"])
    width = 0.012 * (max(ks) - min(ks) or max(ks))
    for j, m in enumerate(methods):
        style = "o" if _is_flow(m) else "s"
        offset = (j - (len(methods) - 1) / 2) * width  # side by side, so the error bars do not overlap
        for ax, key in zip(axes, ("test_error", "effective_rank"), strict=True):
            qs = [quartiles([r[key] for r in _select(results["rows"], m, k)]) for k in ks]
            xs = [k + offset for k, q in zip(ks, qs, strict=True) if q["n"]]
            med = [q["median"] for q in qs if q["n"]]
            err = [[q["median"] - q["q1"] for q in qs if q["n"]], [q["q3"] - q["median"] for q in qs if q["n"]]]
            line = ax.errorbar(xs, med, yerr=err, fmt=style, ms=4, capsize=2, label=_label(m), color=f"C{j}")
            bad = [
                (r["n_observed"] + offset, r[key])
                for r in results["rows"]
                if r["depth"] == m and not r["reached_target"] and r[key] is not None
            ]
            if bad:
                ax.plot(*zip(*bad, strict=True), "x", color=line.lines[0].get_color(), ms=6)
    axes[0].set_yscale("log")
    axes[0].plot([], [], "kx", label="missed its target")
    axes[0].set_ylabel("test error ‖X − W*‖/‖W*‖")
    axes[1].set_ylabel("effective rank")
    axes[1].set_xlabel("observed entries")
    axes[1].set_xticks(ks)
    legend_above(fig, axes[0], 3)
    return [save_figure(fig, outdir, f"{NAME}.png", dpi=200)]


_CAPTION = (
    "*Test error (relative Frobenius error on all entries) and effective rank (Roy–Vetterli) against the number "
    "of observed entries, one marker per method, slightly offset horizontally: the median over the seeds that "
    "reached their target, error bars from the first to the third quartile (none with one seed); × marks a "
    "run that missed its target (its value where it stopped, not a limit).*"
)


def _cell(rows, m, k, key) -> str:
    runs = _select(rows, m, k, converged_only=False)
    ok = [r[key] for r in runs if r["reached_target"]]
    bad = [r[key] for r in runs if not r["reached_target"]]
    cell = fmt_spread(ok) if ok else "—"
    if bad:
        cell += f"; not converged: {', '.join(fmt(v) for v in bad)}*"
    return cell


def _reached(runs: list[dict]) -> str:
    done = sum(r["reached_target"] for r in runs)
    statuses = sorted({r["status"] for r in runs})
    return f"{done}/{len(runs)} ({', '.join(statuses)})"


def _soft_impute_text(results: dict) -> str:
    si = results.get("soft_impute") or {}
    path = "a path of 20 regularization values down to 1e-6 × the top singular value of the observations"
    if si.get("gap_tol") is not None:
        judged = (
            f"accelerated (Nesterov), {si['max_iter']} iterations per warm-start value, then up to "
            f"{si.get('final_max_iter') or si['max_iter']} at the final value, where it converged when the relative "
            f"duality gap of the regularized problem was ≤ {fmt(si['gap_tol'])}"
        )
    else:
        judged = "converged when the relative change at the final value fell below 1e-9"
    return f"{path}; {judged}; a run stopped at its iteration cap there counts as not converged"


def markdown(results: dict, figs: list[str]) -> str:
    rows_all = results["rows"]
    target = next((r["target_loss"] for r in rows_all if r["target_loss"] is not None), None)
    header = ["method", "observed", "test error", "effective rank", "reached target (statuses)"]
    rows = []
    for m in _methods(rows_all):
        for k in results["observed"]:
            runs = _select(rows_all, m, k, converged_only=False)
            rows.append(
                [
                    _label(m),
                    str(k),
                    _cell(rows_all, m, k, "test_error"),
                    _cell(rows_all, m, k, "effective_rank"),
                    _reached(runs),
                ]
            )
    unconverged = [r for r in rows_all if _is_flow(r["depth"]) and not r["reached_target"]]
    n_seeds = len({r["seed"] for r in rows_all})
    size = results["size"]
    cvx = (
        "the exact minimum-nuclear-norm interpolant (cvxpy; its solver status checked) and "
        if results.get("cvxpy")
        else '(cvxpy is not installed here: `pip install "riemdln[cvxpy]"` adds the exact minimizer) '
    )
    parts = [
        f"{size}×{size} rank-{results['rank']} ground truth with ‖W*‖_F = {size} (= √(mn)), uniformly observed "
        f"entries, initialization scale 1e-3; normalized flows asked to reach loss {fmt(target)}; {n_seeds} seed(s) "
        f"per cell. Baselines: {cvx}soft-impute ({_soft_impute_text(results)}). Cells: mean (min … max, "
        "n = converged runs), or the median and quartiles where the values span a decade or more, over the runs "
        "that reached their target; values of runs that did not are listed "
        "separately and marked *.",
        table(header, rows),
    ]
    if unconverged:
        parts.append(
            f"{len(unconverged)} flow run(s) stopped short of the loss target: "
            + "; ".join(
                f"N = {r['depth']}, {r['n_observed']} obs, seed {r['seed']}: {r['status']} at τ = {fmt(r['t_end'])}, "
                f"loss {fmt(r['final_loss'])}, σ₁ = {fmt(r.get('top_singular_value'))}"
                for r in unconverged
            )
            + ". Their test errors are what the flow had reached when it stopped, not limits."
        )
    parts.append(_ordering_sentence(results))
    parts.append(_best_sentence(results))
    parts += [f"![{NAME}: test error and effective rank against the observed entries]({f})\n\n{_CAPTION}" for f in figs]
    return "\n\n".join(parts)


def _ordering_sentence(results: dict) -> str:
    order = ordering(results)
    parts = []
    for k in results["observed"]:
        means = order["means"][k]
        if not means:
            parts.append(f"{k} obs: no finite depth converged")
            continue
        chain = " > ".join(f"{fmt(v)} (N = {m})" for m, v in means.items())
        parts.append(f"{k} obs: {chain}" + ("" if order["monotone"][k] else " — not monotone"))
    return "Median test error by depth (converged runs only): " + "; ".join(parts) + "."


def _best_sentence(results: dict) -> str:
    parts = []
    for k in results["observed"]:
        best = best_method(results, k)
        if best is not None:
            parts.append(f"{k} observed: {_label(best[0])} ({fmt(best[1])})")
    return ("Lowest median test error (converged runs): " + "; ".join(parts) + ".") if parts else ""
