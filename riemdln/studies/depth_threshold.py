r"""Study depth_threshold: deeper is better up to a depth, beyond which the top singular value drifts.

On a random rank-r completion problem (``size`` × ``size``; 100×100 is a parameter change), normalized
flows from small initialization at N = 2 … 64 and ∞, at two observation counts and a few seeds: test
error, top singular value, effective rank and the run's status against N. The *threshold depth* of an
instance is the first N of the grid at which the test error exceeds ten times the best test error at
the smaller depths, read only from runs that reached the loss target: the depths are walked in order and
the walk stops at the first run that did not (cut short, inaccurate or diverged), so an instance is
"threshold N", "none in the grid" (every run reached the target, no jump) or "not determinable"
(with the depth up to which no jump was seen; :func:`instance_threshold`). The same on the factors with
plain gradient descent at
learning rates c/N (:func:`riemdln.factor_descent`, balanced small start), and the mechanism on one
instance: the singular values against τ.

Observed here, not proved: the threshold, its position, and the reading of the drift as the Razin–Cohen
effect (the best lower-rank fit does not exist during the pause before the next singular value is learned)
are conjectures that the figures make plausible; the tables are what was measured. Every run carries its
status: runs cut at ``max_steps`` (deterministic) or ``t_final`` before reaching the loss target are
marked, and their values are what the flow had reached when it stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from riemdln.studies import (
    Claim,
    depth_label,
    depth_value,
    fmt,
    legacy_summary,
    run_record,
    spread,
)
from riemdln.studies._params import StudyParams, depth, depth_list, integer, ints, real, reals

NAME = "depth_threshold"
TITLE = "The depth threshold: test error and top singular value against depth"
RUN_KEYS = ("flows", "descent", "mechanism")
JUMP = 10.0  # the factor that defines the threshold


@dataclass(frozen=True)
class DepthThresholdParams(StudyParams):
    """The grid of the depth-threshold study.

    20x20 at N >= 32 takes minutes per run here (see the README); the default grid is 10x10 so that the whole
    reproduce stays within its budget. size=100, rank=5, observed=[2000, 4000] is the literature's.
    """

    size: int = integer(10, low=2, doc="the matrices are size × size")
    rank: int = integer(2, low=1)
    observed: tuple[int, ...] = ints((45, 60), low=1)
    depths: tuple[float, ...] = depth_list((2, 3, 4, 6, 8, 16, 32, 64, math.inf))
    seeds: tuple[int, ...] = ints((0, 1, 2))
    init_scale: float = real(1e-3, positive=True)
    loss_tol: float = real(1e-8, positive=True)
    t_final: float = real(1e7, positive=True)
    max_steps: int = integer(20000, low=1)
    descent_depths: tuple[float, ...] = depth_list((2, 3, 4, 8, 16), whole=True, infinite=False)
    descent_c: tuple[float, ...] = reals((0.05, 0.2), positive=True)
    descent_steps: int = integer(10000, low=1)
    mechanism_depth: float = depth(math.inf)
    n_times: int = integer(80, low=2)

    @classmethod
    def quick(cls) -> DepthThresholdParams:
        return cls(size=8, observed=(32, 44), depths=(2.0, 4.0, 16.0, math.inf), seeds=(0,),
                   descent_depths=(2.0, 4.0, 8.0),
                   descent_steps=2000, n_times=60)  # fmt: skip

    @classmethod
    def paper(cls) -> DepthThresholdParams:
        """The grid of ``riemdln reproduce --paper``: 20×20 rank 2, 120 and 160 observed, 5 seeds, N = 2 … 64, ∞.

        The literature's 100×100 instance is an override of it,
        ``overrides={"depth_threshold": {"size": 100, "rank": 5, "observed": [2000, 4000]}}``; one seed of it is
        measured by ``benchmarks/depth_threshold_100.py``.
        """
        return cls(size=20, observed=(120, 160), seeds=(0, 1, 2, 3, 4), max_steps=200000, descent_steps=50000)

    def largest_array(self) -> tuple[float, str, str]:
        return 8.0 * self.size**2, "size", "a size×size float64 matrix"


PARAMS = DepthThresholdParams


def parameters(quick: bool) -> dict:
    return (PARAMS.quick() if quick else PARAMS.full()).to_json()


def paper_parameters() -> dict:
    """The grid of ``riemdln reproduce --paper`` (see :meth:`DepthThresholdParams.paper`)."""
    return PARAMS.paper().to_json()


def _problem(size, rank, n_observed, seed):
    from riemdln import CompletionProblem

    return CompletionProblem.random(size, size, rank, n_observed, seed=seed)


def _init(size, seed, init_scale):
    return init_scale * np.random.default_rng(10_000 + seed).standard_normal((size, size)) / np.sqrt(size)


def _flow(size, rank, n_observed, seed, depth, init_scale, loss_tol, t_final, max_steps, n_times=None) -> dict:
    from riemdln import end_to_end_flow
    from riemdln.flows import loss_below

    problem = _problem(size, rank, n_observed, seed)
    kwargs: dict[str, Any] = {}
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


def category(run: dict) -> str:
    """What happened to a run: ``reached``, ``diverged (step size)``, ``inaccurate`` or ``cut short``.

    ``diverged (step size)`` is gradient descent past its stability limit (status ``DIVERGED``);
    ``inaccurate`` a flow stopped by the loss-rise guard (``INACCURATE``); ``cut short`` a run that ended at
    its step or time budget (``FINISHED``, ``FAILED``) above the loss target.

    >>> category({"reached_target": False, "status": "DIVERGED"})
    'diverged (step size)'
    """
    if run["reached_target"]:
        return "reached"
    return {"DIVERGED": "diverged (step size)", "INACCURATE": "inaccurate"}.get(run["status"], "cut short")


def instance_threshold(depths: list, runs: dict, jump: float = JUMP) -> dict:
    """The threshold depth of one instance, from the runs that reached the loss target only.

    ``runs`` maps depth labels to run records. The depths are walked in order; the walk stops at the first
    depth whose run is missing or did not reach the target (its test error is not a limit, and the jump
    could be there). Returns ``threshold`` (a depth, or None), ``determinable`` (False when the walk stopped
    before a jump), ``checked_up_to`` (the last depth of the walk), ``blocked_by`` ({"depth", "category"} of
    the run that stopped it, or None), ``reached`` and ``runs`` (how many of the instance's runs reached the
    target) and ``verdict`` (a phrase for the report).

    >>> ok = lambda e: {"test_error": e, "reached_target": True, "status": "EVENT"}
    >>> instance_threshold(["2", "4", "8"], {"2": ok(0.1), "4": ok(0.01), "8": ok(1.0)})["threshold"]
    '8'
    >>> cut = {"test_error": 1.0, "reached_target": False, "status": "FINISHED"}
    >>> instance_threshold(["2", "4", "8"], {"2": ok(0.1), "4": cut, "8": ok(5.0)})["verdict"]
    'not determinable: no jump up to N = 2, N = 4 cut short (2 of 3 runs reached the target)'
    """
    errs: list = []
    checked = None
    blocked = None
    for d in depths:
        r = runs.get(d)
        if r is None or not r["reached_target"]:
            blocked = {"depth": d, "category": "missing" if r is None else category(r)}
            break
        errs.append(r["test_error"])
        checked = d
    walked = depths[: len(errs)]
    thr = threshold_depth(walked, errs, jump) if errs else None
    reached = sum(bool(runs[d]["reached_target"]) for d in depths if d in runs)
    n = sum(d in runs for d in depths)
    tally = f"{reached} of {n} runs reached the target"
    if thr is not None:
        verdict = f"N = {thr}"
    elif blocked is None:
        verdict = f"none in the grid (up to N = {checked}; {tally})"
    else:
        upto = f"no jump up to N = {checked}, " if checked is not None else ""
        verdict = f"not determinable: {upto}N = {blocked['depth']} {blocked['category']} ({tally})"
    return {
        "threshold": thr,
        "determinable": thr is not None or blocked is None,
        "checked_up_to": checked,
        "blocked_by": None if thr is not None else blocked,
        "reached": reached,
        "runs": n,
        "verdict": verdict,
    }


def mechanism_choice(flows: list[dict], thresholds: list[dict], observed: list, preferred) -> dict:
    """The instance and depth of the mechanism figure: a run that reached its target, past a threshold.

    The instances with a determined threshold are taken in order (fewest observations first, then seed):
    the first of them whose run at the ``preferred`` depth (at or past its threshold) reached the target
    (status ``EVENT``); if none has, the first of them with such a run at any depth past its threshold,
    at the deepest such depth. Without any such run: the first instance at the ``preferred`` depth
    (``past_threshold`` False; the caption says so).
    """
    order = {k: i for i, k in enumerate(observed)}
    cands = sorted(
        (t for t in thresholds if t["threshold"] is not None), key=lambda t: (order[t["n_observed"]], t["seed"])
    )

    def reached_at(t, depth):
        return any(
            r["n_observed"] == t["n_observed"]
            and r["seed"] == t["seed"]
            and r["depth"] == depth
            and r["reached_target"]
            and r["status"] == "EVENT"
            and depth_value(depth) >= float(t["threshold"])
            for r in flows
        )

    first = next((t for t in cands if reached_at(t, preferred)), None)
    if first is not None:
        return {"n_observed": first["n_observed"], "seed": first["seed"], "depth": preferred, "past_threshold": True}
    for t in cands:
        rs = [
            r
            for r in flows
            if r["n_observed"] == t["n_observed"]
            and r["seed"] == t["seed"]
            and r["reached_target"]
            and r["status"] == "EVENT"
            and depth_value(r["depth"]) >= float(t["threshold"])
        ]
        if not rs:
            continue
        pick = max(rs, key=lambda r: depth_value(r["depth"]))
        return {"n_observed": t["n_observed"], "seed": t["seed"], "depth": pick["depth"], "past_threshold": True}
    return {"n_observed": observed[0], "seed": None, "depth": preferred, "past_threshold": False}


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.studies.sweep import run_sweep

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

    def thresholds(rows, depths, key=None):
        out = []
        for k in params["observed"]:
            for s in params["seeds"]:
                sel = {
                    r["depth"]: r for r in rows if r["n_observed"] == k and r["seed"] == s and (key is None or key(r))
                }
                t = instance_threshold(depths, sel)
                thr = t.pop("threshold")
                out.append({"n_observed": k, "seed": s, "threshold": None if thr is None else float(thr), **t})
        return out

    # the threshold is a finite depth of the grid (N = inf is shown in the tables, not walked)
    finite = [depth_label(depth_value(N)) for N in params["depths"] if N != "inf"]
    flow_thr = thresholds(flows, finite)
    choice = mechanism_choice(flows, flow_thr, params["observed"], params["mechanism_depth"])
    mech_seed = choice["seed"] if choice["seed"] is not None else params["seeds"][0]
    mech_task = dict(
        n_observed=choice["n_observed"],
        seed=mech_seed,
        depth=choice["depth"],
        loss_tol=params["loss_tol"],
        t_final=params["t_final"],
        max_steps=params["max_steps"],
        n_times=params["n_times"],
        **common,
    )
    mechanism = run_sweep(_flow, [mech_task], executor=executor, progress=progress, desc=f"{NAME} mechanism")
    mechanism[0]["past_threshold"] = choice["past_threshold"]
    descent_thr = {}
    for c in params["descent_c"]:
        descent_thr[str(c)] = thresholds(
            descent, [str(N) for N in params["descent_depths"]], key=lambda r, c=c: r["c"] == c
        )
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
        "descent_steps": params["descent_steps"],
    }


CONJECTURE = (
    "conjecture of this project (riemdln): deeper is better up to a threshold depth, beyond which the top "
    "singular value drifts"
)


def claims(results: dict) -> list[Claim]:
    """Is there a threshold depth? Per observation count, over the seeds (determined thresholds only)."""
    rows = []
    for k in results["observed"]:
        ths = [t for t in results["thresholds"] if t["n_observed"] == k]
        found = [t["threshold"] for t in ths if t["threshold"] is not None]
        none = sum(t["threshold"] is None and t["determinable"] for t in ths)
        undet = len(ths) - len(found) - none
        rs = [r for r in results["flows"] if r["n_observed"] == k]
        reached = sum(r["reached_target"] for r in rs)
        if found and len(found) == len(ths):
            verdict = "supported"
        elif none:
            verdict = "contradicted"
        else:
            verdict = "cannot tell"
        measured = f"threshold in {len(found)}/{len(ths)} instances" + (
            f" (median N = {fmt(float(np.median(found)))})" if found else ""
        )
        measured += f", none in the grid in {none}, not determinable in {undet}"
        if not found and undet == len(ths):
            measured = f"no threshold determinable ({reached} of {len(rs)} runs reached the target)"
        else:
            measured += f"; {reached}/{len(rs)} runs reached the loss target"
        rows.append(
            Claim(
                claim=f"every instance has a threshold depth ({results['size']}×{results['size']}, {k} observed)"
                + (" (single instance)" if len(ths) == 1 else ""),
                kind="conjecture",
                measured=measured,
                expected="a threshold in every instance",
                verdict=verdict,
                n=len(ths),
                reference=CONJECTURE,
            )
        )
    return rows


def summary(results: dict) -> list[dict]:
    """The claims in the older row form (``holds``)."""
    return legacy_summary(claims(results))


__all__ = ["threshold_depth", "instance_threshold", "mechanism_choice", "category", "spread"]


def figures(results: dict, outdir) -> list[str]:
    """The study's figures (see :mod:`riemdln.studies.depth_threshold_report`)."""
    from riemdln.studies.depth_threshold_report import figures as draw

    return draw(results, outdir)


def markdown(results: dict, figs: list[str]) -> str:
    """The study's report section (see :mod:`riemdln.studies.depth_threshold_report`)."""
    from riemdln.studies.depth_threshold_report import markdown as write

    return write(results, figs)
