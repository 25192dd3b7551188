r"""Study 8 — the depth threshold: deeper is better up to a depth, beyond which the top singular value drifts.

On a random rank-r completion problem (``size`` × ``size``; 100×100 is a parameter change), normalized
flows from small initialization at N = 2 … 64 and ∞, at two observation counts and a few seeds: test
error, top singular value, effective rank and the run's status against N. The *threshold depth* of an
instance is the first N of the grid at which the test error exceeds ten times the best test error at
the smaller depths (``None`` when none does). The same on the factors with plain gradient descent at
learning rates c/N (:func:`riemdln.factor_descent`, balanced small start), and the mechanism on one
instance: the singular values against τ.

Observed here, not proved: the threshold, its position, and the reading of the drift as the Razin–Cohen
effect (the best lower-rank fit does not exist during the pause before the next singular value is learned)
are conjectures that the figures make plausible; the tables are what was measured. Every run carries its
status: runs cut at ``max_steps`` (deterministic) or ``t_final`` before reaching the loss target are
marked, and their values are what the flow had reached when it stopped.
"""

from __future__ import annotations

import numpy as np

from riemdln.studies import (
    depth_label,
    depth_value,
    fmt,
    fmt_spread,
    pyplot,
    run_record,
    save_figure,
    spread,
    table,
)

NAME = "depth_threshold"
TITLE = "The depth threshold: test error and top singular value against depth"
RUN_KEYS = ("flows", "descent", "mechanism")
JUMP = 10.0  # the factor that defines the threshold


def parameters(quick: bool) -> dict:
    # 20x20 at N >= 32 takes minutes per run here (see the README); the default grid is 10x10 so that the
    # whole reproduce stays within its budget. size=100, rank=5, observed=[2000, 4000] is the literature's.
    if quick:
        return {
            "size": 8,
            "rank": 2,
            "observed": [32, 44],
            "depths": [2, 4, 16, "inf"],
            "seeds": [0],
            "init_scale": 1e-3,
            "loss_tol": 1e-8,
            "t_final": 1e7,
            "max_steps": 20000,
            "descent_depths": [2, 4, 8],
            "descent_c": [0.05, 0.2],
            "descent_steps": 2000,
            "mechanism_depth": "inf",
            "n_times": 60,
        }
    return {
        "size": 10,
        "rank": 2,
        "observed": [45, 60],
        "depths": [2, 3, 4, 6, 8, 16, 32, 64, "inf"],
        "seeds": [0, 1, 2],
        "init_scale": 1e-3,
        "loss_tol": 1e-8,
        "t_final": 1e7,
        "max_steps": 20000,
        "descent_depths": [2, 3, 4, 8, 16],
        "descent_c": [0.05, 0.2],
        "descent_steps": 10000,
        "mechanism_depth": "inf",
        "n_times": 80,
    }


def paper_parameters() -> dict:
    """The grid of ``riemdln reproduce --paper``: 20×20 rank 2, 120 and 160 observed, 5 seeds, N = 2 … 64, ∞.

    The literature's 100×100 instance is an override of it,
    ``overrides={"depth_threshold": {"size": 100, "rank": 5, "observed": [2000, 4000]}}``; one seed of it is
    measured by ``benchmarks/depth_threshold_100.py``.
    """
    return {
        **parameters(False),
        "size": 20,
        "rank": 2,
        "observed": [120, 160],
        "seeds": [0, 1, 2, 3, 4],
        "max_steps": 200000,
        "descent_steps": 50000,
    }


def _problem(size, rank, n_observed, seed):
    from riemdln import CompletionProblem

    return CompletionProblem.random(size, size, rank, n_observed, seed=seed)


def _init(size, seed, init_scale):
    return init_scale * np.random.default_rng(10_000 + seed).standard_normal((size, size)) / np.sqrt(size)


def _flow(size, rank, n_observed, seed, depth, init_scale, loss_tol, t_final, max_steps, n_times=None) -> dict:
    from riemdln import end_to_end_flow
    from riemdln.flows import loss_below

    problem = _problem(size, rank, n_observed, seed)
    kwargs = {}
    if n_times:
        kwargs["t_eval"] = np.concatenate([[0.0], np.logspace(-1, np.log10(t_final), n_times - 1)])
    res = end_to_end_flow(
        problem,
        _init(size, seed, init_scale),
        depth_value(depth),
        t_final,
        normalized=True,
        events=loss_below(loss_tol),
        max_steps=max_steps,
        progress=False,
        **kwargs,
    )
    d = res.diagnostics
    out = dict(
        n_observed=n_observed,
        seed=seed,
        depth=depth,
        test_error=float(d["test_error"][-1]),
        top_singular_value=float(d["singular_values"][-1][0]),
        effective_rank=float(d["effective_rank"][-1]),
        t_end=float(res.t[-1]),
        message=res.message,
    )
    if n_times:
        out.update(
            t=res.t.tolist(),
            singular_values=d["singular_values"][:, : rank + 2].tolist(),
            loss=d["loss"].tolist(),
            test_errors=d["test_error"].tolist(),
        )
    return run_record(status=res.status.name, final_loss=float(d["loss"][-1]), target_loss=loss_tol, **out)


def _descent(size, rank, n_observed, seed, depth, c, init_scale, loss_tol, steps) -> dict:
    from riemdln import balanced_factors, factor_descent
    from riemdln.flows import loss_below

    problem = _problem(size, rank, n_observed, seed)
    N = int(depth)
    res = factor_descent(
        problem,
        balanced_factors(_init(size, seed, init_scale), N),
        c / N,
        steps,
        events=loss_below(loss_tol),
        progress=False,
    )
    d = res.diagnostics
    return run_record(
        status=res.status.name,
        final_loss=float(d["loss"][-1]),
        target_loss=loss_tol,
        n_observed=n_observed,
        seed=seed,
        depth=depth,
        c=c,
        lr=c / N,
        test_error=float(d["test_error"][-1]),
        top_singular_value=float(d["singular_values"][-1][0]),
        effective_rank=float(d["effective_rank"][-1]),
        message=res.message,
    )


def threshold_depth(depths: list, errors: list, jump: float = JUMP):
    """The first finite depth whose test error exceeds ``jump`` × the best at the smaller depths (or None).

    >>> threshold_depth([2, 3, 4, 8], [0.5, 0.1, 0.05, 3.0])
    8
    >>> threshold_depth([2, 3], [0.5, 0.4]) is None
    True
    """
    best = np.inf
    for N, e in zip(depths, errors, strict=True):
        if e is None:
            continue
        if np.isfinite(best) and e > jump * best:
            return N
        best = min(best, e)
    return None


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.sweep import run_sweep

    common = dict(size=params["size"], rank=params["rank"], init_scale=params["init_scale"])
    flow_tasks = [
        dict(
            n_observed=k,
            seed=s,
            depth=depth_label(depth_value(N)),
            loss_tol=params["loss_tol"],
            t_final=params["t_final"],
            max_steps=params["max_steps"],
            **common,
        )
        for k in params["observed"]
        for s in params["seeds"]
        for N in params["depths"]
    ]
    descent_tasks = [
        dict(
            n_observed=k,
            seed=s,
            depth=str(N),
            c=c,
            loss_tol=params["loss_tol"],
            steps=params["descent_steps"],
            **common,
        )
        for c in params["descent_c"]
        for k in params["observed"]
        for s in params["seeds"]
        for N in params["descent_depths"]
    ]
    flows = run_sweep(_flow, flow_tasks, executor=executor, progress=progress, desc=NAME)
    descent = run_sweep(_descent, descent_tasks, executor=executor, progress=progress, desc=f"{NAME} descent")

    def thresholds(rows, finite_depths, key=None):
        out = []
        for k in params["observed"]:
            for s in params["seeds"]:
                sel = {
                    r["depth"]: r for r in rows if r["n_observed"] == k and r["seed"] == s and (key is None or key(r))
                }
                errs = [sel[d]["test_error"] if d in sel else None for d in finite_depths]
                out.append({"n_observed": k, "seed": s, "threshold": threshold_depth(finite_depths, errs)})
        return out

    finite = [depth_label(depth_value(N)) for N in params["depths"] if N != "inf"]
    flow_thr = thresholds(flows, finite)
    for t in flow_thr:
        t["threshold"] = None if t["threshold"] is None else float(t["threshold"])
    # the mechanism on the first instance (fewest observations) that has a threshold, else the first one
    with_thr = [t for t in flow_thr if t["n_observed"] == params["observed"][0] and t["threshold"] is not None]
    mech_seed = with_thr[0]["seed"] if with_thr else params["seeds"][0]
    mech_task = dict(
        n_observed=params["observed"][0],
        seed=mech_seed,
        depth=params["mechanism_depth"],
        loss_tol=params["loss_tol"],
        t_final=params["t_final"],
        max_steps=params["max_steps"],
        n_times=params["n_times"],
        **common,
    )
    mechanism = run_sweep(_flow, [mech_task], executor=executor, progress=progress, desc=f"{NAME} mechanism")
    descent_thr = {}
    for c in params["descent_c"]:
        th = thresholds(descent, [str(N) for N in params["descent_depths"]], key=lambda r, c=c: r["c"] == c)
        descent_thr[str(c)] = [
            {**t, "threshold": None if t["threshold"] is None else float(t["threshold"])} for t in th
        ]
    return {
        "flows": flows,
        "descent": descent,
        "mechanism": mechanism,
        "thresholds": flow_thr,
        "descent_thresholds": descent_thr,
        "size": params["size"],
        "rank": params["rank"],
        "observed": params["observed"],
        "depths": [depth_label(depth_value(N)) for N in params["depths"]],
        "descent_depths": [str(N) for N in params["descent_depths"]],
        "descent_c": params["descent_c"],
        "loss_tol": params["loss_tol"],
        "max_steps": params["max_steps"],
    }


def _xpos(label: str, depths: list[str]) -> float:
    finite = [depth_value(d) for d in depths if d != "inf"]
    return 2 * max(finite) if label == "inf" else depth_value(label)


def figures(results: dict, outdir) -> list[str]:
    plt = pyplot()
    depths = results["depths"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    keys = (
        ("test_error", "relative test error ‖X − W*‖_F/‖W*‖_F"),
        ("top_singular_value", "σ₁ at the end"),
        ("effective_rank", "effective rank (Roy–Vetterli)"),
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
            ax.set_xlabel("depth N")
            ax.set_ylabel(label)
            if key != "effective_rank":
                ax.set_yscale("log")
    axes[0].plot([], [], "ko", mfc="none", ls="none", label="open: loss target not reached")
    axes[0].legend(fontsize=7)
    fig.suptitle(
        f"{results['size']}×{results['size']} rank {results['rank']}, normalized flows, one line per seed", fontsize=9
    )
    fig.tight_layout()
    first = save_figure(fig, outdir, f"{NAME}.png")

    m = results["mechanism"][0]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    t = np.array(m["t"][1:])
    sv = np.array(m["singular_values"])[1:]
    for j in range(sv.shape[1]):
        axes[0].loglog(t, sv[:, j], label=f"σ{j + 1}")
    axes[0].set_ylabel("singular values of X(τ)")
    axes[0].legend(fontsize=7)
    axes[1].loglog(t, np.array(m["loss"])[1:], label="loss E(X)")
    axes[1].loglog(t, np.array(m["test_errors"])[1:], label="test error")
    axes[1].legend(fontsize=7)
    for ax in axes:
        ax.set_xlabel("τ (normalized time)")
    fig.suptitle(
        f"Mechanism: N = {m['depth']}, {m['n_observed']} observed, seed {m['seed']} ({m['status']})", fontsize=9
    )
    fig.tight_layout()
    return [first, save_figure(fig, outdir, f"{NAME}_mechanism.png")]


def _thr_stats(ths: list[dict], k) -> str:
    v = [t["threshold"] for t in ths if t["n_observed"] == k]
    found = [x for x in v if x is not None]
    txt = ", ".join(depth_label(x) if x is not None else "none" for x in v)
    if found:
        return f"{txt} (median {fmt(float(np.median(found)))}, {len(found)}/{len(v)} instances)"
    return f"{txt} (0/{len(v)} instances)"


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
                    fmt_spread([r["test_error"] for r in rs]),
                    fmt_spread([r["top_singular_value"] for r in rs]),
                    fmt_spread([r["effective_rank"] for r in rs]),
                    f"{sum(r['reached_target'] for r in rs)}/{len(rs)}",
                    ", ".join(sorted({r["status"] for r in rs})),
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
                        fmt_spread([r["test_error"] for r in rs]),
                        fmt_spread([r["top_singular_value"] for r in rs]),
                        f"{sum(r['reached_target'] for r in rs)}/{len(rs)}",
                        ", ".join(sorted({r["status"] for r in rs})),
                    ]
                )
    m = results["mechanism"][0]
    return "\n\n".join(
        [
            f"{results['size']}×{results['size']} rank-{results['rank']} ground truth, init scale 1e-3, normalized "
            f"flows asked for loss {fmt(results['loss_tol'])} within {results['max_steps']} steps. Cells: mean "
            "(min … max, n = seeds) over all runs, converged or not; the *reached* column counts the runs that "
            "reached the loss target, the others stopped at max_steps or t_final with the values shown.",
            table(["observed", "N", "test error", "σ₁", "effective rank", "reached", "statuses"], rows),
            f"Threshold depth (first N with test error > {fmt(JUMP)}× the best at smaller N), per instance:",
            table(["observed", "dynamics", "threshold per seed"], thr_rows),
            f"Gradient descent on the factors ({', '.join(results['descent_depths'])} factors, balanced small start):",
            table(["lr", "observed", "N", "test error", "σ₁", "reached", "statuses"], drows),
            f"Mechanism (second figure): N = {m['depth']}, {m['n_observed']} observed, status {m['status']}, final "
            f"σ₁ {fmt(m['top_singular_value'])}. What is conjecture: that the drift of σ₁ during the pauses is the "
            "Razin–Cohen effect (no best lower-rank fit). On one 100×100 instance (2000 observed; "
            "benchmarks/depth_threshold_100.py) there was no threshold up to N = 32 and ∞.",
            *[f"![{NAME}]({f})" for f in figs],
        ]
    )


def summary(results: dict) -> list[dict]:
    """Is there a threshold depth? Per observation count, over the seeds."""
    rows = []
    for k in results["observed"]:
        ths = [t["threshold"] for t in results["thresholds"] if t["n_observed"] == k]
        found = [x for x in ths if x is not None]
        rs = [r for r in results["flows"] if r["n_observed"] == k]
        reached = sum(r["reached_target"] for r in rs)
        rows.append(
            {
                "claim": f"every instance has a threshold depth ({results['size']}×{results['size']}, {k} observed)",
                "measured": f"threshold found in {len(found)}/{len(ths)} instances"
                + (f", median N = {fmt(float(np.median(found)))}" if found else "")
                + f"; {reached}/{len(rs)} runs reached the loss target",
                "expected": "conjecture (issue 10): deeper is better up to a threshold, then σ₁ drifts",
                "holds": "open" if not found else ("yes" if len(found) == len(ths) else "no"),
            }
        )
    return rows


__all__ = ["threshold_depth", "spread"]
