r"""Study — the Arora–Cohen–Hu–Luo (2019) matrix-completion experiment, with seeds, shipped with the package.

The published setting: a 100×100 rank-5 ground truth with :math:`\|W^*\|_F = 100`, uniformly observed
entries, reconstruction error against the number of observed entries, deep factorizations against
nuclear-norm minimization. Two setups are run, and every number says which one it comes from:

* **flow** — riemdln's normalized end-to-end gradient flow :math:`dX/d\tau = -A_N(X)\nabla E(X)/N` at
  N = 1, 2, 3, 4, ∞ from the *balanced* start :math:`X_0 = 10^{-3} G/\sqrt d` (G standard Gaussian; the
  start of the deep_completion study), asked to reach loss :math:`10^{-8}`;
* **factor_gd** — the paper's own setup: plain gradient descent on the factors
  :math:`W_1, \dots, W_N` (100×100 each) from a small *unbalanced* Gaussian start (entries
  :math:`\mathcal N(0, \alpha^2)`), the learning rate a fixed fraction of its stability limit;

against two nuclear-norm baselines: the exact minimizer (cvxpy, its status checked) and soft-impute
converged by its duality gap.

The grid takes an hour or more on two cores, so ``riemdln reproduce`` does not rerun it: its default mode
loads the shipped ``results/achl19/results.json`` (schema checked, nothing in it evaluated) and reports it
marked as shipped, with the date and the command that made it. ``riemdln reproduce --paper --studies
achl19`` (or ``python -m riemdln.studies.achl19 --out DIR``) runs the grid.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from riemdln._errors import RiemdlnError, RiemdlnValueError
from riemdln.studies import Claim, depth_value, fmt, run_record
from riemdln.studies._params import (
    StudyParams,
    apply_overrides,
    depth_list,
    depth_spec,
    integer,
    ints,
    listing,
    real,
    text,
)

NAME = "achl19"
TITLE = "ACHL19 matrix completion: test error against observed entries, seeded (shipped results)"
RUN_KEYS = ("records",)
METHODS = ("flow", "nuclear_norm_cvxpy", "soft_impute", "factor_gd")
SCHEMA = "riemdln.achl19/1"
#: the shipped results, next to the package in a source checkout
SHIPPED_RELATIVE = "results/achl19/results.json"
SHIPPED = Path(__file__).resolve().parents[2] / SHIPPED_RELATIVE

FLOW_SETUP = "normalized end-to-end gradient flow from the balanced start X0 = 1e-3·G/√d"
GD_SETUP = "gradient descent on the factors from a small unbalanced Gaussian start (the ACHL19 setup)"


_GRID_ONLY = "the grid's parameters take effect with mode 'run' only"


@dataclass(frozen=True)
class Achl19Params(StudyParams):
    """The ACHL19 grid: 6 observation counts × 5 seeds × N = 1, 2, 3, 4, ∞, both baselines, and a factor-GD part.

    ``mode="shipped"`` (quick and full) loads the shipped results from ``path``; ``mode="run"`` (paper) runs the
    grid. The JSON form of a shipped record is ``{"mode", "path"}`` only; of a run record, every grid field.
    """

    mode: str = text("shipped", choices=("shipped", "run"))
    path: str = text(SHIPPED_RELATIVE, doc="the shipped results.json, relative to the source checkout")
    size: int = integer(100, low=2)
    rank: int = integer(5, low=1)
    observed: tuple[int, ...] = ints((1000, 2000, 3000, 4000, 6000, 8000), low=1)
    seeds: tuple[int, ...] = ints((0, 1, 2, 3, 4))
    depths: tuple[float, ...] = depth_list((1, 2, 3, 4, math.inf))
    init_scale: float = real(1e-3, positive=True)
    loss_tol: float = real(1e-8, positive=True)
    t_final: float = real(1e9, positive=True)
    max_steps: int = integer(100_000, low=1)
    wall_seconds: float = real(1800.0, positive=True)
    # rtol 1e-6 rather than the flows' default 1e-8: N = 3, 4000 observed, seed 0 takes 722 right-hand
    # sides instead of 1353 and its test error moves from 2.0508e-4 to 2.0478e-4 (relative 1.5e-3)
    rtol: float = real(1e-6, positive=True)
    atol: float = real(1e-8, positive=True)
    # N = inf needs the default tolerances: at rtol 1e-6 (2000 observed, seed 0) its loss rose on an
    # accepted step (INACCURATE at loss 1.75e-5); at rtol 1e-8 it reaches 1e-8 (test error 1.89e-4)
    rtol_infinite: float = real(1e-8, positive=True)
    atol_infinite: float = real(1e-10, positive=True)
    soft_impute_iter: int = integer(200, low=1)
    soft_impute_final_iter: int = integer(10000, low=1)
    soft_impute_gap_tol: float = real(1e-4, positive=True)
    gd_observed: tuple[int, ...] = ints((2000,), low=1, min_len=0)
    gd_seeds: tuple[int, ...] = ints((0, 1, 2), min_len=0)
    gd_depths: tuple[float, ...] = listing((2.0, 3.0), depth_spec(whole=True, infinite=False), min_len=0)
    gd_init_std: float = real(1e-3, positive=True)
    gd_lr_fraction: float = real(0.5, positive=True)
    gd_max_steps: int = integer(200_000, low=1)

    @classmethod
    def paper(cls) -> Achl19Params:
        """The grid, run (``riemdln reproduce --paper``)."""
        return cls(mode="run")

    def check(self, where: str) -> None:
        if self.mode == "shipped":
            grid = Achl19Params(path=self.path)
            changed = [f.name for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(grid, f.name)]
            if changed:
                raise RiemdlnValueError(f"`{where}.{changed[0]}`: {_GRID_ONLY}; add mode='run' (or use --paper).")

    def to_json(self) -> dict:
        doc = super().to_json()
        if self.mode == "shipped":
            return {"mode": self.mode, "path": self.path}
        del doc["path"]
        return doc


PARAMS = Achl19Params


def parameters(quick: bool) -> dict:
    """Both modes load the shipped results (the grid is ``paper_parameters()``)."""
    return (PARAMS.quick() if quick else PARAMS.full()).to_json()


def paper_parameters() -> dict:
    """The grid: 6 observation counts × 5 seeds × N = 1, 2, 3, 4, ∞, both baselines, and a factor-GD part."""
    return PARAMS.paper().to_json()


# ----------------------------------------------------------------------------------------------- the cells


def _problem(size: int, rank: int, observed: int, seed: int):
    from riemdln import CompletionProblem

    return CompletionProblem.random(size, size, rank, observed, seed=seed)


def _json_depth(depth) -> float | str:
    d = depth_value(depth)
    return "inf" if math.isinf(d) else d


def flow_cell(
    *, size, rank, observed, seed, depth, init_scale, loss_tol, t_final, max_steps, wall_seconds, rtol, atol
) -> dict:
    """One flow run: the normalized end-to-end flow at ``depth`` from the balanced start of deep_completion."""
    from riemdln import end_to_end_flow
    from riemdln.flows import loss_below, time_budget

    problem = _problem(size, rank, observed, seed)
    X0 = init_scale * np.random.default_rng(10_000 + seed).standard_normal((size, size)) / np.sqrt(size)
    start = time.perf_counter()
    res = end_to_end_flow(
        problem,
        X0,
        depth_value(depth),
        t_final,
        normalized=True,
        events=[loss_below(loss_tol), time_budget(wall_seconds)],
        max_steps=max_steps,
        progress=False,
        formulation="matrix",
        rtol=rtol,
        atol=atol,
    )
    wall = time.perf_counter() - start
    head = dict(observed=observed, seed=seed, method="flow", depth=_json_depth(depth))
    return _trajectory_record(res, loss_tol, head, t_end=float(res.t[-1]), wall_seconds=wall)


def _trajectory_record(res, loss_tol: float, head: dict, **tail) -> dict:
    """The record of a flow or descent result ``res``: ``head``, its status and final diagnostics, ``tail``.

    A run stopped by its wall-clock budget is given the status ``TIME_BUDGET`` (it did not reach its loss).
    """
    d = res.diagnostics
    status = "TIME_BUDGET" if len(res.t_events.get("time_budget", [])) else res.status.name
    return run_record(
        status=status,
        final_loss=float(d["loss"][-1]),
        target_loss=loss_tol,
        **head,
        test_error=float(d["test_error"][-1]),
        effective_rank=float(d["effective_rank"][-1]),
        **tail,
        message=res.message,
    )


def soft_impute_cell(*, size, rank, observed, seed, max_iter, final_max_iter, gap_tol) -> dict:
    """Soft-impute (accelerated, path of 20 values), converged when the final value's duality gap <= gap_tol."""
    from riemdln.studies.deep_completion import _baseline

    start = time.perf_counter()
    r = _baseline(size, rank, observed, seed, max_iter, final_max_iter, gap_tol)
    return _baseline_record(r, "soft_impute", time.perf_counter() - start)


def cvxpy_cell(*, size, rank, observed, seed) -> dict:
    """The exact minimum-nuclear-norm interpolant (cvxpy, its status checked)."""
    from riemdln.studies.deep_completion import _exact

    start = time.perf_counter()
    r = _exact(size, rank, observed, seed)
    return _baseline_record(r, "nuclear_norm_cvxpy", time.perf_counter() - start)


def _baseline_record(r: dict, method: str, wall: float) -> dict:
    out = {k: v for k, v in r.items() if k not in ("n_observed", "depth")}
    return {
        "observed": r["n_observed"],
        "seed": r["seed"],
        "method": method,
        "depth": None,
        **out,
        "wall_seconds": wall,
    }


def gd_learning_rate(problem, depth: int, fraction: float) -> float:
    r"""``fraction`` of the stability limit :math:`2/L` of factor gradient descent near the solution.

    At a balanced factorization of :math:`W^*` the top curvature of the factor loss is
    :math:`L = N\sigma_1(W^*)^{2(N-1)/N}` (the loss has unit curvature in each observed entry; the
    factors' Jacobian scales a perturbation of :math:`W_p` by the product of the others).
    """
    s1 = float(np.linalg.norm(problem.ground_truth, 2))
    return fraction * 2.0 / (depth * s1 ** (2.0 * (depth - 1) / depth))


def factor_gd_cell(
    *, size, rank, observed, seed, depth, init_std, lr_fraction, loss_tol, max_steps, wall_seconds
) -> dict:
    """ACHL19's setup: gradient descent on N factors (d×d) from entries N(0, init_std²), unbalanced."""
    from riemdln.flows import factor_descent, loss_below, time_budget

    problem = _problem(size, rank, observed, seed)
    rng = np.random.default_rng(20_000 + seed)
    factors = [init_std * rng.standard_normal((size, size)) for _ in range(depth)]
    lr = gd_learning_rate(problem, depth, lr_fraction)
    start = time.perf_counter()
    res = factor_descent(
        problem,
        factors,
        lr,
        max_steps,
        events=[loss_below(loss_tol), time_budget(wall_seconds)],
        progress=False,
    )
    wall = time.perf_counter() - start
    head = dict(observed=observed, seed=seed, method="factor_gd", depth=float(depth))
    return _trajectory_record(
        res, loss_tol, head, learning_rate=lr, steps=round(float(res.t[-1]) / lr), wall_seconds=wall
    )


# ------------------------------------------------------------------------------------------------ the grid


def tasks(params: dict) -> list[tuple[str, dict]]:
    """Every cell of the grid as ``(cell function name, keyword arguments)``, in the order they are started.

    In tiers, each seed by seed with the costliest cell first: N = 2, 3 (ACHL19's depths) and the exact
    nuclear norm; factor GD; N = 4; N = 1; N = ∞; soft-impute (an approximation of the exact minimizer, and
    costly at few observations). A grid stopped early holds whole seeds of each tier.
    """
    common = {"size": params["size"], "rank": params["rank"]}
    out: list[tuple[float, float, str, dict]] = []
    for k in params["observed"]:
        for s in params["seeds"]:
            for N in params["depths"]:
                kw = dict(
                    common,
                    observed=k,
                    seed=s,
                    depth=str(N),
                    init_scale=params["init_scale"],
                    loss_tol=params["loss_tol"],
                    t_final=params["t_final"],
                    max_steps=params["max_steps"],
                    wall_seconds=params["wall_seconds"],
                )
                d = depth_value(N)
                kw.update(
                    rtol=params["rtol_infinite" if math.isinf(d) else "rtol"],
                    atol=params["atol_infinite" if math.isinf(d) else "atol"],
                )
                tier = {2.0: 0, 3.0: 0, 4.0: 20, 1.0: 30}.get(d, 40)  # ACHL19's depths first, N = inf last
                out.append((tier + s, 8.0 if math.isinf(d) else d, "flow_cell", kw))
            out.append((s, 2.0, "cvxpy_cell", dict(common, observed=k, seed=s)))
            si = dict(
                max_iter=params["soft_impute_iter"],
                final_max_iter=params["soft_impute_final_iter"],
                gap_tol=params["soft_impute_gap_tol"],
            )
            out.append((50 + s, 0.5, "soft_impute_cell", dict(common, observed=k, seed=s, **si)))
    for k in params.get("gd_observed", []):
        for s in params.get("gd_seeds", []):
            for N in params.get("gd_depths", []):
                kw = dict(
                    common,
                    observed=k,
                    seed=s,
                    depth=int(N),
                    init_std=params["gd_init_std"],
                    lr_fraction=params["gd_lr_fraction"],
                    loss_tol=params["loss_tol"],
                    max_steps=params["gd_max_steps"],
                    wall_seconds=params["wall_seconds"],
                )
                out.append((10, 10.0, "factor_gd_cell", kw))  # between the two tiers
    order = sorted(range(len(out)), key=lambda i: (out[i][0], -out[i][1]))  # stable: ties keep the grid's order
    return [(out[i][2], out[i][3]) for i in order]


def call_cell(name: str, kwargs: dict) -> dict:
    """Run the cell function ``name`` of this module (a picklable entry point for the workers)."""
    if name not in ("flow_cell", "cvxpy_cell", "soft_impute_cell", "factor_gd_cell"):
        raise ValueError(f"unknown cell {name!r}")
    return globals()[name](**kwargs)


def versions() -> dict:
    """Python and the versions of the packages that made the numbers."""
    import importlib.metadata
    import platform

    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("riemdln", "numpy", "scipy", "cvxpy", "clarabel", "dask", "distributed"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _document(params: dict, recs: list[dict], command: str, started: str, complete: bool) -> dict:
    return {
        "schema": SCHEMA,
        "command": command,
        "started": started,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "complete": complete,
        "versions": versions(),
        "parameters": params,
        "setups": {"flow": FLOW_SETUP, "factor_gd": GD_SETUP},
        "records": recs,
    }


_CELL_METHOD = {
    "flow_cell": "flow",
    "cvxpy_cell": "nuclear_norm_cvxpy",
    "soft_impute_cell": "soft_impute",
    "factor_gd_cell": "factor_gd",
}


def cell_key(name: str, kw: dict) -> tuple:
    """``(method, observed, seed, depth)`` of a task, as its record writes them."""
    depth = None if name in ("cvxpy_cell", "soft_impute_cell") else _json_depth(kw["depth"])
    return (_CELL_METHOD[name], kw["observed"], kw["seed"], depth)


def run_grid(
    params: dict,
    executor=None,
    *,
    out: Path | None = None,
    log=None,
    command: str = "",
    done: list[dict] | None = None,
    started: str | None = None,
) -> dict:
    """Run every cell (on ``executor`` when given), saving ``out`` atomically after each finished cell.

    ``done``: records of a previous run of the same ``params`` (resumed: their cells are not rerun).
    """
    import concurrent.futures as cf

    from riemdln._io import atomic_write

    todo = tasks(params)
    started = started or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    have = {(r["method"], r["observed"], r["seed"], r["depth"]): r for r in done or []}
    recs: list[dict | None] = [have.get(cell_key(name, kw)) for name, kw in todo]
    t0 = time.perf_counter()

    def save(complete: bool) -> dict:
        doc = _document(params, [r for r in recs if r is not None], command, started, complete)
        if out is not None:
            atomic_write(out, json.dumps(doc, indent=1, allow_nan=False) + "\n")
        return doc

    def note(i: int) -> None:
        r = recs[i]
        if log is not None and r is not None:
            done = sum(x is not None for x in recs)
            print(
                f"[{time.perf_counter() - t0:8.1f} s] {done}/{len(todo)} {r['method']} N={r['depth']} "
                f"obs={r['observed']} seed={r['seed']}: {r['status']} err={fmt(r['test_error'])} "
                f"({r['wall_seconds']:.1f} s)",
                file=log,
                flush=True,
            )

    if executor is None:
        for i, (name, kw) in enumerate(todo):
            if recs[i] is None:
                recs[i] = call_cell(name, kw)
                note(i)
                save(False)
    else:
        futures = {executor.submit(call_cell, name, kw): i for i, (name, kw) in enumerate(todo) if recs[i] is None}
        for fut in cf.as_completed(futures):
            recs[futures[fut]] = fut.result()
            note(futures[fut])
            save(False)
    return save(True)


# ------------------------------------------------------------------------------------- shipped results


_REQUIRED = {
    "observed": (int,),
    "seed": (int,),
    "method": (str,),
    "status": (str,),
    "reached_target": (bool,),
}
_OPTIONAL_REAL = ("test_error", "final_loss", "target_loss", "effective_rank", "wall_seconds")


def _bad(path, what: str) -> RiemdlnError:
    return RiemdlnError(f"shipped ACHL19 results {path}: {what}")


def _check_record(path, k: int, r) -> None:
    if not isinstance(r, dict):
        raise _bad(path, f"records[{k}] is not an object")
    for key, types in _REQUIRED.items():
        v = r.get(key)
        if not isinstance(v, types) or (types == (int,) and isinstance(v, bool)):
            raise _bad(path, f"records[{k}].{key} must be {types[0].__name__}; got {v!r}")
    if r["method"] not in METHODS:
        raise _bad(path, f"records[{k}].method must be one of {METHODS}; got {r['method']!r}")
    d = r.get("depth")
    if r["method"] in ("flow", "factor_gd"):
        if not (d == "inf" or (isinstance(d, int | float) and not isinstance(d, bool) and 1 <= d < math.inf)):
            raise _bad(path, f"records[{k}].depth must be a number >= 1 or 'inf'; got {d!r}")
    elif d is not None:
        raise _bad(path, f"records[{k}].depth must be null for a baseline; got {d!r}")
    for key in _OPTIONAL_REAL:
        v = r.get(key)
        ok = v is None or (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v))
        if not ok:
            raise _bad(path, f"records[{k}].{key} must be a finite number or null; got {v!r}")
    if r["reached_target"] and r.get("test_error") is None:
        raise _bad(path, f"records[{k}] reached its target but has no test_error")


def validate(doc, path="<document>") -> dict:
    """Check a results document's schema (types, methods, depths); return it. Nothing in it is evaluated.

    Raises
    ------
    riemdln.RiemdlnError
        If the document does not have the schema ``riemdln.achl19/1``.
    """
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise _bad(path, f"not a {SCHEMA} document")
    for key in ("command", "date"):
        if not isinstance(doc.get(key), str):
            raise _bad(path, f"`{key}` must be a string")
    if not isinstance(doc.get("versions"), dict) or not isinstance(doc.get("parameters"), dict):
        raise _bad(path, "`versions` and `parameters` must be objects")
    recs = doc.get("records")
    if not isinstance(recs, list) or not recs:
        raise _bad(path, "`records` must be a non-empty list")
    for k, r in enumerate(recs):
        _check_record(path, k, r)
    return doc


def load_shipped(path: str | Path = SHIPPED) -> dict:
    """The shipped results document at ``path``, parsed as JSON and validated (:func:`validate`)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _bad(path, f"unreadable ({type(exc).__name__}: {exc})") from None
    return validate(doc, path)


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else SHIPPED.parents[2] / p


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    """Shipped mode: load and validate the shipped results; run mode: the grid, on ``executor``."""
    if params.get("mode") == "shipped":
        path = _resolve(params["path"])
        try:
            doc = load_shipped(path)
        except RiemdlnError as exc:  # reported in the section, not fatal to the whole report
            return {"source": "missing", "path": params["path"], "error": str(exc), "records": []}
        return shipped_results(doc, params["path"])
    doc = run_grid(params, executor, command="riemdln reproduce --paper --studies achl19")
    meta = {k: v for k, v in doc.items() if k != "records"}
    return {"source": "run", "document": meta, "records": doc["records"]}


def shipped_results(doc: dict, path: str) -> dict:
    """A study result holding a validated shipped document: its records under ``shipped``, none run here."""
    meta = {k: v for k, v in doc.items() if k != "records"}
    return {"source": "shipped", "path": path, "document": meta, "shipped": doc["records"], "records": []}


def grid_records(results: dict) -> list[dict]:
    """The grid's run records: the shipped ones, or those of this run."""
    return results.get("shipped") or results.get("records") or []


# ---------------------------------------------------------------------------------------- statistics


def _methods(recs: list[dict]) -> list[tuple[str, float | str | None]]:
    """(method, depth) pairs in display order: flows by depth, the baselines, then factor GD by depth."""
    rank = {"flow": 0, "nuclear_norm_cvxpy": 1, "soft_impute": 2, "factor_gd": 3}
    pairs = {(r["method"], r["depth"]) for r in recs}
    return sorted(pairs, key=lambda p: (rank[p[0]], depth_value(p[1]) if p[1] is not None else 0.0))


def label(method: str, depth) -> str:
    """A method's name in tables and legends."""
    if method == "flow":
        return f"flow N = {'∞' if depth == 'inf' else f'{depth:g}'}"
    if method == "factor_gd":
        return f"factor GD N = {depth:g}"
    return {"nuclear_norm_cvxpy": "nuclear norm (cvxpy)", "soft_impute": "soft-impute"}[method]


def runs(recs, method: str, depth, observed: int) -> list[dict]:
    return [r for r in recs if r["method"] == method and r["depth"] == depth and r["observed"] == observed]


def quartiles(values) -> dict | None:
    """Median and interquartile range (numpy's linear interpolation) of ``values``; None when empty."""
    v = np.asarray(list(values), float)
    if not len(v):
        return None
    q1, med, q3 = np.percentile(v, [25, 50, 75])
    return {"n": len(v), "median": float(med), "q1": float(q1), "q3": float(q3)}


def cell_stats(recs, method, depth, observed) -> dict:
    """Quartiles of the test error over the runs that reached their target; the counts of runs."""
    rs = runs(recs, method, depth, observed)
    ok = [r["test_error"] for r in rs if r["reached_target"]]
    return {"stats": quartiles(ok), "reached": len(ok), "runs": len(rs), "statuses": sorted({r["status"] for r in rs})}


def paired_ratios(recs, method, depth, ref, ref_depth, observed) -> list[float]:
    """Per seed, test error of (method, depth) / that of the reference, both runs having reached target."""
    a = {r["seed"]: r for r in runs(recs, method, depth, observed) if r["reached_target"]}
    b = {r["seed"]: r for r in runs(recs, ref, ref_depth, observed) if r["reached_target"]}
    return [a[s]["test_error"] / b[s]["test_error"] for s in sorted(a.keys() & b.keys()) if b[s]["test_error"] > 0]


def _side(ratios: list[float]) -> str:
    """'below' when every ratio < 1, 'above' when every ratio > 1, else 'mixed' ('none' without data)."""
    if not ratios:
        return "none"
    if all(x < 1 for x in ratios):
        return "below"
    if all(x > 1 for x in ratios):
        return "above"
    return "mixed"


_VERDICT = {"below": "supported", "above": "contradicted", "mixed": "cannot tell", "none": "not tested"}


def _ratio_text(ratios: list[float]) -> str:
    if not ratios:
        return "no paired seeds"
    q = quartiles(ratios)
    assert q is not None
    return f"median ratio {fmt(q['median'])} (range {fmt(min(ratios))} … {fmt(max(ratios))}, n = {len(ratios)})"


def _depth_vs_nuclear(recs, k: int) -> Claim:
    """At ``k`` observations: do the flows at N >= 2 beat the exact nuclear-norm minimizer, seed by seed?"""
    deep = [d for (m, d) in _methods(recs) if m == "flow" and depth_value(d) >= 2]
    per = {d: paired_ratios(recs, "flow", d, "nuclear_norm_cvxpy", None, k) for d in deep}
    tested = {d: v for d, v in per.items() if v}  # a depth with no paired seed does not count either way
    sides = {_side(v) for v in tested.values()}
    verdict = _VERDICT[sides.pop()] if len(sides) == 1 else "cannot tell"
    n = min((len(v) for v in tested.values()), default=0)
    measured = "; ".join(f"{label('flow', d)}: {_ratio_text(v)}" for d, v in per.items())
    return Claim(
        claim=f"flows at N ≥ 2 (balanced start) reach a lower test error than the exact nuclear-norm minimizer "
        f"at {k} observed entries (100×100 rank 5; ratio flow/nuclear norm per seed)",
        kind="observed",
        measured=measured,
        expected="Arora, Cohen, Hu & Luo 2019: depth ≥ 2 beats nuclear norm at few observations; "
        "the nuclear norm recovers W* exactly once the observations suffice",
        verdict=verdict if n else "not tested",
        n=n,
        reference="Arora, Cohen, Hu & Luo, Implicit regularization in deep matrix factorization, NeurIPS 2019",
    )


def _gd_vs_flow(recs, k: int, depth) -> Claim:
    ratios = paired_ratios(recs, "factor_gd", depth, "flow", depth, k)
    return Claim(
        claim=f"ACHL19's setup (factor GD from an unbalanced Gaussian start) reaches a lower test error than the "
        f"balanced flow, N = {depth:g}, {k} observed (ratio GD/flow per seed)",
        kind="observed",
        measured=_ratio_text(ratios),
        expected="no prediction: the two setups differ in start (balanced vs unbalanced) and in step (flow vs GD)",
        verdict=_VERDICT[_side(ratios)],
        n=len(ratios),
    )


def claims(results: dict) -> list[Claim]:
    """The study's summary rows (typed): depth ≥ 2 against nuclear norm per count; factor GD against the flow."""
    recs = grid_records(results)
    if not recs:
        return []
    counts = sorted({r["observed"] for r in recs if r["method"] == "flow"})
    out = [_depth_vs_nuclear(recs, k) for k in counts]
    for m, d in _methods(recs):
        if m == "factor_gd":
            for k in sorted({r["observed"] for r in recs if r["method"] == m and r["depth"] == d}):
                out.append(_gd_vs_flow(recs, k, d))
    return out


def summary(results: dict) -> list[dict]:
    """:func:`claims` as the report's older rows (``holds``: yes / no / open)."""
    holds = {"supported": "yes", "contradicted": "no"}
    return [
        {
            "claim": c.claim + (" [shipped results]" if results.get("source") == "shipped" else ""),
            "measured": c.measured,
            "expected": c.expected,
            "holds": holds.get(c.verdict, "open"),
            "kind": c.kind,
            "verdict": c.verdict,
            "n": c.n,
        }
        for c in claims(results)
    ]


# ------------------------------------------------------------------------------------ figure and table

_STYLE = {
    ("flow", 1.0): ("#1b9e77", "o"),
    ("flow", 2.0): ("#d95f02", "s"),
    ("flow", 3.0): ("#7570b3", "^"),
    ("flow", 4.0): ("#e7298a", "v"),
    ("flow", "inf"): ("#66a61e", "D"),
    ("nuclear_norm_cvxpy", None): ("black", "*"),
    ("soft_impute", None): ("#777777", "x"),
}

CAPTION = (
    "Relative test error ‖X − W*‖_F/‖W*‖_F against the number of observed entries (100×100, rank 5, "
    "‖W*‖_F = 100). Lines: median over the seeds whose run reached its target (flows: loss 1e-8; baselines: "
    "converged); bands: the interquartile range (25th to 75th percentile) of those runs. Flows: normalized "
    "end-to-end gradient flow from the balanced start X0 = 1e-3·G/√d. Open markers: ACHL19's setup (gradient "
    "descent on the factors from a small unbalanced Gaussian start), one per seed. Runs that missed their "
    "target are not plotted."
)


def figures(results: dict, outdir) -> list[str]:
    from riemdln.studies import pyplot, save_figure

    recs = grid_records(results)
    if not recs:
        return []
    plt = pyplot()
    plt.rcParams.update({"font.size": 8})
    fig, ax = plt.subplots(figsize=(3.4, 3.9))
    for m, d in _methods(recs):
        ks = sorted({r["observed"] for r in recs if r["method"] == m and r["depth"] == d})
        if m == "factor_gd":
            pts = [
                (r["observed"], r["test_error"])
                for r in recs
                if r["method"] == m and r["depth"] == d and r["reached_target"]
            ]
            if pts:
                color = _STYLE.get(("flow", d), ("k", "o"))[0]
                ax.plot(*zip(*pts, strict=True), "o", mfc="none", color=color, ms=6, mew=1.0, label=label(m, d))
            continue
        color, marker = _STYLE.get((m, d), ("k", "."))
        cells = [(k, cell_stats(recs, m, d, k)["stats"]) for k in ks]
        cells = [(k, q) for k, q in cells if q is not None]
        if not cells:
            continue
        x = [k for k, _ in cells]
        ax.plot(x, [q["median"] for _, q in cells], marker=marker, color=color, ms=4, lw=1.0, label=label(m, d))
        ax.fill_between(x, [q["q1"] for _, q in cells], [q["q3"] for _, q in cells], color=color, alpha=0.18, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("observed entries")
    ax.set_ylabel("relative test error")
    ax.tick_params(labelsize=8)
    n_entries = len(ax.get_legend_handles_labels()[0])
    fig.legend(loc="lower center", ncol=2, fontsize=8, frameon=False, handlelength=1.6, columnspacing=1.0)
    fig.tight_layout(rect=(0, 0.02 + 0.055 * math.ceil(n_entries / 2), 1, 1))  # the legend below the axes
    return [save_figure(fig, outdir, f"{NAME}.png", dpi=150)]


def _cell_text(c: dict) -> str:
    q = c["stats"]
    if q is None:
        return "—"
    return f"{fmt(q['median'])} [{fmt(q['q1'])}, {fmt(q['q3'])}]"


def markdown(results: dict, figs: list[str]) -> str:
    from riemdln.studies import table

    if results.get("source") == "missing":
        return (
            f"The shipped results ({results['path']}) could not be loaded: {results['error']}. "
            "Run `python -m riemdln.studies.achl19 --out results/achl19/results.json` to make them."
        )
    recs = grid_records(results)
    doc = results["document"]
    counts = sorted({r["observed"] for r in recs})
    header = ["method", *[str(k) for k in counts]]
    rows = []
    for m, d in _methods(recs):
        row = [label(m, d)]
        for k in counts:
            c = cell_stats(recs, m, d, k)
            row.append(f"{_cell_text(c)} ({c['reached']}/{c['runs']})" if c["runs"] else "")
        rows.append(row)
    missed = [r for r in recs if not r["reached_target"]]
    p = doc["parameters"]
    where = (
        f"**Shipped results**, made on {doc['date']} by `{doc['command']}` (riemdln {doc['versions'].get('riemdln')}, "
        f"numpy {doc['versions'].get('numpy')}, cvxpy {doc['versions'].get('cvxpy')}); loaded from "
        f"`{results['path']}` (schema checked), not rerun by this report."
        if results.get("source") == "shipped"
        else f"Run now ({doc['date']})."
    )
    parts = [
        where,
        setup_text(p),
        "Cells: median [first quartile, third quartile] of the relative test error over the runs that reached their "
        "target (reached/total).",
        table(header, rows),
    ]
    if missed:
        parts.append(
            f"{len(missed)} run(s) missed their target and are not in the medians: "
            + "; ".join(
                f"{label(r['method'], r['depth'])}, {r['observed']} obs, seed {r['seed']}: {r['status']}, "
                f"loss {fmt(r.get('final_loss'))}, test error {fmt(r.get('test_error'))}"
                for r in missed
            )
            + "."
        )
    parts.append(_missing_sentence(p, recs))
    parts.append(_wins_sentence(recs, counts))
    parts += [f"![{CAPTION}]({f})" for f in figs]
    if figs:
        parts.append(f"*Figure.* {CAPTION}")
    return "\n\n".join(parts)


def missing_cells(params: dict, recs: list[dict]) -> list[tuple]:
    """The grid's cells (``cell_key``) that have no record: a grid stopped before it finished."""
    have = {(r["method"], r["observed"], r["seed"], r["depth"]) for r in recs}
    try:
        keys = [cell_key(name, kw) for name, kw in tasks(params)]
    except KeyError:  # parameters of another version: nothing to compare with
        return []
    return [k for k in keys if k not in have]


def setup_text(p: dict) -> str:
    """The grid's setup, from its parameters: which numbers come from which setup."""
    g = p.get
    return (
        f"100×100 rank-5 ground truth, ‖W*‖_F = 100, uniformly observed entries, {len(g('seeds', []))} seeds per "
        f"count. **flow**: {FLOW_SETUP}, N = 1, 2, 3, 4, ∞, asked to reach loss {g('loss_tol', 0):g} within "
        f"{g('max_steps')} steps and {g('wall_seconds', 0):g} s of wall-clock time (integrator rtol "
        f"{g('rtol', 0):g}, atol {g('atol', 0):g}; at N = ∞ rtol {g('rtol_infinite', 0):g}, atol "
        f"{g('atol_infinite', 0):g}). **factor GD**: {GD_SETUP}: N factors of size 100×100 with entries "
        f"N(0, {g('gd_init_std', 0):g}²), learning rate {g('gd_lr_fraction', 0):g} × the stability limit "
        "2/(N σ₁(W*)^(2(N−1)/N)), asked for the same loss within "
        f"{g('gd_max_steps')} steps. Baselines (no setup: they depend on the observations only): the exact "
        "nuclear-norm minimizer (cvxpy, default solver, status checked) and soft-impute (accelerated, converged "
        f"when the relative duality gap at the final regularization is ≤ {g('soft_impute_gap_tol', 0):g})."
    )


def _missing_sentence(params: dict, recs: list[dict]) -> str:
    missing = missing_cells(params, recs)
    if not missing:
        return "Every cell of the grid ran."
    groups: dict[str, list] = {}
    for method, _k, seed, depth in missing:
        groups.setdefault(label(method, depth), []).append(seed)
    text = "; ".join(f"{m}: {len(v)} cells, seeds {', '.join(map(str, sorted(set(v))))}" for m, v in groups.items())
    return (
        f"The grid was stopped before it finished: {len(missing)} of {len(missing) + len(recs)} cells did not run "
        f"({text}); the tables and the figure hold the cells that ran."
    )


def _wins_sentence(recs, counts) -> str:
    """Per count, the depths whose flow beats the exact nuclear norm in every paired seed, and those it beats."""
    parts = []
    for k in counts:
        better: list[str] = []
        worse: list[str] = []
        mixed: list[str] = []
        for m, d in _methods(recs):
            if m == "flow" and depth_value(d) >= 2:
                side = _side(paired_ratios(recs, "flow", d, "nuclear_norm_cvxpy", None, k))
                {"below": better, "above": worse, "mixed": mixed}.get(side, []).append("∞" if d == "inf" else f"{d:g}")
        text = [f"N = {', '.join(v)} {w}" for v, w in ((better, "lower"), (worse, "higher"), (mixed, "mixed")) if v]
        if text:
            parts.append(f"{k}: " + ", ".join(text))
    if not parts:
        return ""
    return (
        "Test error of the balanced-start flows against the exact nuclear norm, paired by seed (lower or higher "
        "in every seed, or mixed): " + "; ".join(parts) + "."
    )


def render(path: Path) -> list[Path]:
    """Write ``achl19.png`` and ``table.md`` (the report's section) next to the results file ``path``."""
    from riemdln._io import atomic_write

    doc = load_shipped(path)
    try:
        rel = str(path.resolve().relative_to(SHIPPED.parents[2]))
    except ValueError:
        rel = str(path)
    res = shipped_results(doc, rel)
    figs = figures(res, path.parent)
    text = f"# {TITLE}\n\n" + markdown(res, figs) + "\n"
    atomic_write(path.parent / "table.md", text)
    return [path.parent / f for f in figs] + [path.parent / "table.md"]


def set_parameters(items: list[str]) -> dict:
    """The grid's parameters with ``KEY=JSON`` overrides (``--set``), each checked by its declared type and range."""
    overrides = {}
    for item in items:
        key, eq, value = item.partition("=")
        try:
            overrides[key] = json.loads(value) if eq else None
        except json.JSONDecodeError:
            raise SystemExit(f"--set {key}: the value must be JSON (e.g. --set seeds=[0,1]); got {value!r}") from None
    try:
        return apply_overrides(PARAMS.paper(), overrides, "--set", modes=[PARAMS.paper()]).to_json()
    except RiemdlnValueError as exc:
        raise SystemExit(f"--set: {exc}") from None


def main(argv=None) -> int:
    """``python -m riemdln.studies.achl19 --out results/achl19/results.json [--workers 2]``: run the grid."""
    import argparse
    import os
    import sys

    ap = argparse.ArgumentParser(prog="python -m riemdln.studies.achl19", description=main.__doc__)
    ap.add_argument("--out", help="the results.json to write (atomically, after every cell)")
    ap.add_argument("--render", metavar="RESULTS", help="write the figure and table.md next to this results.json")
    ap.add_argument("--workers", type=int, default=2, help="Dask LocalCluster workers (0: inline)")
    ap.add_argument("--resume", action="store_true", help="keep the cells already in --out (same parameters)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a grid parameter")
    args = ap.parse_args(argv)
    if args.render:
        render(Path(args.render))
        return 0
    if not args.out:
        ap.error("one of --out or --render is required")
    params = set_parameters(args.set)
    # the module by its name: run as __main__, its functions would be pickled by value for the workers
    from riemdln.studies import achl19 as mod

    command = "python -m riemdln.studies.achl19 " + " ".join(sys.argv[1:] if argv is None else argv)
    resume: dict = {}
    if args.resume and Path(args.out).exists():
        prev = mod.load_shipped(args.out)
        if prev["parameters"] != params:
            raise SystemExit("--resume: the parameters of --out differ from this run's")
        resume = {"done": prev["records"], "started": prev.get("started")}
        command = prev["command"]
    if args.workers <= 0:
        mod.run_grid(params, out=Path(args.out), log=sys.stderr, command=command, **resume)
        return 0
    from distributed import Client, LocalCluster

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0") as lc:
        with Client(lc) as client:
            mod.run_grid(params, client.get_executor(), out=Path(args.out), log=sys.stderr, command=command, **resume)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
