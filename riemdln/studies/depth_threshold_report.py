"""The figures and the report text of the study :mod:`riemdln.studies.depth_threshold`, from its computed results."""

from __future__ import annotations

import numpy as np

from riemdln.studies import (
    PAPER_WIDTH,
    depth_label,
    depth_value,
    fmt,
    fmt_spread,
    legend_above,
    pyplot,
    save_figure,
    table,
)
from riemdln.studies.depth_threshold import JUMP, NAME, category


def _xpos(label: str, depths: list[str]) -> float:
    finite = [depth_value(d) for d in depths if d != "inf"]
    return 2 * max(finite) if label == "inf" else depth_value(label)


def figures(results: dict, outdir) -> list[str]:
    plt = pyplot()
    depths = results["depths"]
    fig, axes = plt.subplots(3, 1, figsize=(PAPER_WIDTH, 6.6), sharex=True)
    keys = (
        ("test_error", "test error ‖X − W*‖/‖W*‖"),
        ("top_singular_value", "σ₁ at the end"),
        ("effective_rank", "effective rank"),
    )
    for k, marker in zip(results["observed"], ("o", "s", "^"), strict=False):
        for ax, (key, label) in zip(axes, keys, strict=True):
            color = None
            for s in sorted({r["seed"] for r in results["flows"]}):
                rs = [r for r in results["flows"] if r["n_observed"] == k and r["seed"] == s]
                x = [_xpos(r["depth"], depths) for r in rs]
                (line,) = ax.plot(
                    x,
                    [r[key] for r in rs],
                    "-",
                    color=color,
                    lw=0.8,
                    label=f"{k} observed" if s == results["flows"][0]["seed"] else None,
                )
                color = line.get_color()
                ok = [r["reached_target"] for r in rs]
                ax.plot(
                    [a for a, o in zip(x, ok, strict=True) if o],
                    [r[key] for r, o in zip(rs, ok, strict=True) if o],
                    marker,
                    color=color,
                    ms=4,
                    ls="none",
                )
                ax.plot(
                    [a for a, o in zip(x, ok, strict=True) if not o],
                    [r[key] for r, o in zip(rs, ok, strict=True) if not o],
                    marker,
                    mfc="none",
                    color=color,
                    ms=6,
                    ls="none",
                )
            ax.set_xscale("log", base=2)
            ax.set_xticks([_xpos(d, depths) for d in depths], ["∞" if d == "inf" else d for d in depths])
            ax.minorticks_off()
            ax.set_ylabel(label)
            if key != "effective_rank":
                ax.set_yscale("log")
    axes[0].plot([], [], "ko", mfc="none", ls="none", label="open: loss target not reached")
    axes[-1].set_xlabel("depth N")
    legend_above(fig, axes[0], 2)
    first = save_figure(fig, outdir, f"{NAME}.png", dpi=200)

    m = results["mechanism"][0]
    fig, axes = plt.subplots(2, 1, figsize=(PAPER_WIDTH, 4.4), sharex=True)
    t = np.array(m["t"][1:])
    sv = np.array(m["singular_values"])[1:]
    for j in range(sv.shape[1]):
        axes[0].loglog(t, sv[:, j], label=f"σ{j + 1}")
    axes[0].set_ylabel("singular values of X(τ)")
    axes[0].legend(loc="upper left", ncol=2)
    axes[1].loglog(t, np.array(m["loss"])[1:], label="loss E(X)")
    axes[1].loglog(t, np.array(m["test_errors"])[1:], label="test error")
    axes[1].legend(loc="lower left")
    axes[1].set_xlabel("τ (normalized time)")
    fig.tight_layout()
    return [first, save_figure(fig, outdir, f"{NAME}_mechanism.png", dpi=200)]


def _thr_stats(ths: list[dict], k) -> str:
    """The per-seed verdicts at ``k`` observations and their statistics (determined thresholds only)."""
    v = [t for t in ths if t["n_observed"] == k]
    found = [t["threshold"] for t in v if t["threshold"] is not None]
    none = sum(t["threshold"] is None and t["determinable"] for t in v)
    undet = len(v) - len(found) - none
    per = "; ".join(f"seed {t['seed']}: {t.get('verdict', t['threshold'])}" for t in v)
    stats = f"threshold in {len(found)}/{len(v)}"
    if found:
        stats += f" (median N = {fmt(float(np.median(found)))})"
    stats += f", none in the grid in {none}, not determinable in {undet}"
    return f"{per} — {stats}"


def _cell(rs: list[dict], key: str) -> str:
    """The spread (:func:`fmt_spread`) over the runs that reached the target; the others' values listed, marked *."""
    ok = [r[key] for r in rs if r["reached_target"]]
    bad = [r for r in rs if not r["reached_target"]]
    cell = fmt_spread(ok) if ok else "—"
    if bad:
        cell += "; not converged: " + ", ".join(f"{fmt(r[key])}*" for r in bad)
    return cell


def _categories(rs: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in rs:
        counts[category(r)] = counts.get(category(r), 0) + 1
    return ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))


def _descent_budget_sentence(results: dict) -> str:
    """How many descent steps the flows' times to target correspond to (a step at lr = c/N advances τ by c)."""
    dd = set(results["descent_depths"])
    taus = [r["t_end"] for r in results["flows"] if r["reached_target"] and r["depth"] in dd]
    if not taus:
        return "No flow at the descent depths reached the target, so the steps needed are not known."
    cs = [float(c) for c in results["descent_c"]]
    lo, hi = min(taus), max(taus)
    return (
        f"A step at lr = c/N advances normalized time τ by c; the flows at the same depths that reached the "
        f"target did so at τ = {fmt(lo)} … {fmt(hi)}, i.e. {fmt(lo / max(cs))} … {fmt(hi / min(cs))} descent "
        "steps (if descent tracks the flow)."
    )


def mechanism_caption(results: dict) -> str:
    m = results["mechanism"][0]
    if m["reached_target"]:
        state = f"reached the loss target {fmt(m['target_loss'])} ({m['status']}) at τ = {fmt(m['t_end'])}"
    else:
        state = (
            f"did NOT reach the loss target {fmt(m['target_loss'])}: {m['status']} ({category(m)}) at "
            f"τ = {fmt(m['t_end'])}, loss {fmt(m['final_loss'])}; its curves are what the integration gave"
        )
    thr = next(
        (t for t in results["thresholds"] if t["n_observed"] == m["n_observed"] and t["seed"] == m["seed"]), None
    )
    if m.get("past_threshold", False) and thr is not None and thr["threshold"] is not None:
        where = f"on an instance with threshold N = {depth_label(thr['threshold'])}"
    else:
        where = "no instance has a determined threshold with a run past it that reached the target, so this is"
        where += " the first instance, not an example of a threshold"
    return (
        f"N = {m['depth']}, {m['n_observed']} observed, seed {m['seed']} ({where}); the run {state}; "
        f"final σ₁ {fmt(m['top_singular_value'])}, test error {fmt(m['test_error'])}"
    )


def markdown(results: dict, figs: list[str]) -> str:
    flows = results["flows"]
    rows = []
    for k in results["observed"]:
        for d in results["depths"]:
            rs = [r for r in flows if r["n_observed"] == k and r["depth"] == d]
            rows.append(
                [
                    k,
                    d,
                    _cell(rs, "test_error"),
                    _cell(rs, "top_singular_value"),
                    _cell(rs, "effective_rank"),
                    f"{sum(r['reached_target'] for r in rs)}/{len(rs)}",
                    _categories(rs) + " (" + ", ".join(sorted({r["status"] for r in rs})) + ")",
                ]
            )
    thr_rows = [[k, "flow", _thr_stats(results["thresholds"], k)] for k in results["observed"]]
    for c, ths in results["descent_thresholds"].items():
        thr_rows += [[k, f"descent, lr = {c}/N", _thr_stats(ths, k)] for k in results["observed"]]
    drows = []
    for c in results["descent_c"]:
        for k in results["observed"]:
            for d in results["descent_depths"]:
                rs = [r for r in results["descent"] if r["n_observed"] == k and r["depth"] == d and r["c"] == c]
                drows.append(
                    [
                        f"{c}/N",
                        k,
                        d,
                        _cell(rs, "test_error"),
                        _cell(rs, "top_singular_value"),
                        f"{sum(r['reached_target'] for r in rs)}/{len(rs)}",
                        _categories(rs),
                    ]
                )
    desc = results["descent"]
    d_reached = sum(r["reached_target"] for r in desc)
    d_div = sum(category(r) == "diverged (step size)" for r in desc)
    steps = results.get("descent_steps")
    return "\n\n".join(
        [
            f"{results['size']}×{results['size']} rank-{results['rank']} ground truth, init scale 1e-3, normalized "
            f"flows asked for loss {fmt(results['loss_tol'])} within {results['max_steps']} steps. Cells: mean "
            "(min … max, n = runs), or the median and quartiles where the values span a decade or more, over the "
            "runs that reached the loss target; the values of the runs that did not "
            "are listed after them and marked * (what the run had reached when it stopped: cut short at max_steps "
            "or t_final, or stopped by the loss-rise guard, *inaccurate*). The *reached* column counts the runs "
            "that reached the target.",
            table(["observed", "N", "test error", "σ₁", "effective rank", "reached", "what happened"], rows),
            f"Threshold depth per instance: the first finite N with test error > {fmt(JUMP)}× the best at smaller "
            "N, read only from runs that reached the loss target — the depths are walked in order and the walk "
            "stops at the first run that did not, since its test error is not a limit and the jump could be "
            "there (*not determinable*, with the depth up to which no jump was seen). Statistics are over the "
            "determined thresholds only.",
            table(["observed", "dynamics", "threshold per seed"], thr_rows),
            f"Gradient descent on the factors ({', '.join(results['descent_depths'])} factors, balanced small "
            f"start, {steps if steps is not None else 'a fixed number of'} steps, loss target "
            f"{fmt(results['loss_tol'])}): {d_reached} of {len(desc)} runs reached the target and {d_div} "
            "diverged (learning rate past the stability limit as σ₁ grows: *diverged (step size)*); the others "
            "were cut short by the step budget. "
            + _descent_budget_sentence(results)
            + " A descent threshold is given only where the runs up to it reached the target; the table shows "
            "what descent had reached, not its limits.",
            table(["lr", "observed", "N", "test error", "σ₁", "reached", "what happened"], drows),
            f"Mechanism (second figure): {mechanism_caption(results)}. What is conjecture (this project's): "
            "that the drift of σ₁ "
            "during the pauses is the Razin–Cohen effect (no best lower-rank fit). At 100×100 (2000 observed) "
            "one seed was measured with a wall-time budget per run (benchmarks/depth_threshold_100.py; README, "
            '"The depth threshold at the literature\'s size"): which depths reached the loss target there and '
            "which were stopped by the budget is stated in the README; no threshold is reported from it here.",
            *[f"![{NAME}]({f})\n\n*{_caption(results, f)}*" for f in figs],
        ]
    )


def _caption(results: dict, fig: str) -> str:
    if fig.endswith("_mechanism.png"):
        caption = mechanism_caption(results)
        return f"Mechanism: singular values (top) and loss and test error (bottom) against τ; {caption}."
    return (
        f"{results['size']}×{results['size']} rank {results['rank']}, normalized flows: test error, σ₁ and "
        "effective rank at the end of each run against the depth, one line per seed and one colour per "
        "observation count; filled markers reached the loss target, open markers did not."
    )
