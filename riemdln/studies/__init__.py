"""The studies of ``riemdln reproduce``: one module per study, run through one sweep runner.

Each study module defines

* ``NAME`` and ``TITLE``;
* ``PARAMS`` — its parameter record, a frozen dataclass deriving from
  :class:`riemdln.studies._params.StudyParams` with ``quick()``, ``full()`` and ``paper()`` (sizes, seeds and
  depths; ``quick`` = the same study, smaller) whose fields declare their type, range and size; overrides are
  checked against them. ``parameters(quick: bool) -> dict`` is its JSON form (``PARAMS.quick().to_json()``);
* ``run(params: dict, executor, progress, previous) -> dict`` — every number of the study, JSON-ready;
  ``previous`` maps the names of studies already run to their results (a study may build on one);
* ``figures(results: dict, outdir: Path) -> list[str]`` — PNG files written with matplotlib (the larger studies
  keep their figures and report text in a module of their own, ``<study>_report.py``);
* ``markdown(results: dict, figures: list[str]) -> str`` — the report section, stating plainly what the
  numbers support and what they do not;
* ``claims(results: dict) -> list[Claim]`` — rows of the report's summary table, each a :class:`Claim` with
  its kind and a verdict computed from ``results`` (a module with only the older ``summary(results)``, rows
  with ``claim``, ``measured``, ``expected`` and ``holds``, is read through :func:`study_claims`);
* ``RECORDS`` (optional, default ``"runs"``) — what the run records are, e.g. ``"operator evaluations"``
  for a study without a solver (the report's solver-health table lists those apart);
* ``RUN_KEYS`` — the keys of ``results`` whose lists hold run records. Every run record carries
  ``status`` (the simulator's :class:`riemdln.Status` name), ``final_loss``, ``target_loss`` (``None`` when
  the run was asked for a time, not a loss) and ``reached_target`` (see :func:`run_record`).

Depths in results are written as numbers, with ``"inf"`` for :math:`N = \\infty`.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import asdict, dataclass
from types import ModuleType

STUDY_NAMES = (
    "operator_convergence",
    "depth_convergence",
    "upstairs_downstairs",
    "menon_2x2",
    "volume_bias",
    "implicit_bias",
    "razin_cohen",
    "deep_completion",
    "achl19",
    "depth_threshold",
    "curvature",
    "geodesics",
    "langevin_check",
    "free_energy",
)

# studies whose results another study reads
REQUIRES = {"volume_bias": ("menon_2x2",)}


#: what kind of statement a summary row makes (a summary row names exactly one)
KINDS = ("theorem", "derived", "certified", "observed", "conjecture")
#: what the data say of a row's claim
VERDICTS = ("supported", "contradicted", "cannot tell", "not tested")


@dataclass(frozen=True)
class Claim:
    """One row of the report's summary: a claim, what kind of statement it is, and what the data say of it.

    ``kind`` is one of :data:`KINDS`: ``theorem`` (proved; ``reference`` says where), ``derived`` (computed by
    SymPy from the definition), ``certified`` (generalized by hand, checked numerically: ``reference`` says at how
    many points and which N), ``observed`` (measured over ``n`` runs or seeds; ``n = 1`` is a single instance),
    ``conjecture`` (attributed in ``reference`` to the project or to the literature). ``verdict`` is one of
    :data:`VERDICTS` and must be computed from the data, never fixed in the code. ``measured`` and ``expected``
    are short texts with the numbers (an observed row gives its spread or interval).

    >>> Claim("a_N > 0", "certified", "min 0.3 over 64 points", "a_N > 0", "supported", n=64).verdict
    'supported'
    """

    claim: str
    kind: str
    measured: str
    expected: str
    verdict: str
    n: int | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Claim.kind must be one of {KINDS}; got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"Claim.verdict must be one of {VERDICTS}; got {self.verdict!r}")
        if self.kind == "observed" and self.n is None:
            raise ValueError("an observed Claim needs n (the number of runs or seeds behind it)")

    def to_json(self, study: str) -> dict:
        """The row as results.json's ``summary`` list holds it (``study`` first)."""
        return {"study": study, **asdict(self)}


def reached_target(status: str, final_loss: float | None, target_loss: float | None) -> bool:
    """Whether a run reached what it was asked for.

    A run asked for a loss (``target_loss`` not ``None``) reached it when it ended without failing
    (status ``EVENT`` or ``FINISHED``) with ``final_loss <= target_loss`` (relative slack 1e-2 for the
    event's root finding). A run asked for a time reached it when it ended ``FINISHED`` or ``EVENT``.
    ``FAILED`` and ``DIVERGED`` never count, nor a non-finite loss.

    >>> reached_target("FINISHED", 2e-7, 1e-8)
    False
    >>> reached_target("EVENT", 1e-8, 1e-8)
    True
    """
    if status not in ("FINISHED", "EVENT"):
        return False
    if target_loss is None:
        return True
    return final_loss is not None and math.isfinite(final_loss) and final_loss <= target_loss * (1 + 1e-2)


def run_record(*, status: str, final_loss: float | None, target_loss: float | None, **fields) -> dict:
    """A run's record: the study's ``fields`` plus ``status``, ``final_loss``, ``target_loss``, ``reached_target``."""
    final = None if final_loss is None else float(final_loss)
    return {
        **fields,
        "status": status,
        "final_loss": final,
        "target_loss": target_loss,
        "reached_target": reached_target(status, final, target_loss),
    }


def spread(values) -> dict:
    """``{"n", "mean", "min", "max", "std"}`` of the finite ``values`` (``None`` entries skipped)."""
    import numpy as np

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if not len(v):
        return {"n": 0, "mean": None, "min": None, "max": None, "std": None}
    return {"n": len(v), "mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()), "std": float(v.std())}


def quartiles(values) -> dict:
    """``{"n", "median", "q1", "q3", "min", "max"}`` of the finite ``values`` (``None`` entries skipped)."""
    import numpy as np

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if not len(v):
        return {"n": 0, "median": None, "q1": None, "q3": None, "min": None, "max": None}
    q1, med, q3 = (float(x) for x in np.percentile(v, [25, 50, 75]))
    return {"n": len(v), "median": med, "q1": q1, "q3": q3, "min": float(v.min()), "max": float(v.max())}


def spans_decades(values) -> bool:
    """Whether the finite ``values`` are all positive and their max/min is at least 10."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    return len(v) > 1 and min(v) > 0 and max(v) >= 10 * min(v)


def fmt_spread(values, digits: int = 3) -> str:
    """A table cell for a spread of values.

    ``mean (min … max, n = k)``; where the values span a decade or more, ``median (quartiles q1 … q3, n = k)``
    (an arithmetic mean of such values is set by the largest); ``value (n = 1)`` for one value.

    >>> fmt_spread([1.0, 2.0, 3.0])
    '2 (1 … 3, n = 3)'
    >>> fmt_spread([1e-6, 1e-4, 1e-2])
    'median 1.00e-04 (quartiles 5.05e-05 … 0.00505, n = 3)'
    """
    s = spread(values)
    if s["n"] == 0:
        return "—"
    if s["n"] == 1:
        return f"{fmt(s['mean'], digits)} (n = 1)"
    if spans_decades(values):
        q = quartiles(values)
        quart = f"{fmt(q['q1'], digits)} … {fmt(q['q3'], digits)}"
        return f"median {fmt(q['median'], digits)} (quartiles {quart}, n = {q['n']})"
    return f"{fmt(s['mean'], digits)} ({fmt(s['min'], digits)} … {fmt(s['max'], digits)}, n = {s['n']})"


def instances(n: int, unit: str = "seeds") -> str:
    """``"single instance"`` for one, else ``"n = k unit"``: how many independent cases a claim rests on."""
    return "single instance" if n == 1 else f"n = {n} {unit}"


def power_fit(x, y, groups=None, level: float = 0.95) -> dict:
    """Least-squares fit of ``log y = p log x + c_g`` (one intercept per group), with an interval for p.

    ``groups`` (optional) labels each point (a direction, a seed): the exponent is common, the prefactors are
    not. The interval is ``p ± t · se`` with the least-squares standard error ``se`` and Student's t quantile at
    ``level`` for the residual degrees of freedom (``n`` points minus the groups minus one); ``lo``/``hi`` are
    ``None`` when there are no degrees of freedom left (an exact fit).

    Returns
    -------
    dict
        ``{"p", "se", "lo", "hi", "n", "groups", "dof", "level"}``.

    Examples
    --------
    >>> f = power_fit([1, 10, 100, 1, 10, 100], [2, 20, 200, 3, 30, 300], groups=[0, 0, 0, 1, 1, 1])
    >>> round(f["p"], 12), f["dof"]
    (1.0, 3)
    """
    import numpy as np
    from scipy import stats

    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    g = np.zeros(lx.size, int) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    cx, cy = lx.copy(), ly.copy()
    for k in np.unique(g):
        cx[g == k] -= lx[g == k].mean()
        cy[g == k] -= ly[g == k].mean()
    sxx = float(cx @ cx)
    p = float(cx @ cy / sxx)
    n_groups = int(np.unique(g).size)
    dof = lx.size - n_groups - 1
    out = {"p": p, "se": None, "lo": None, "hi": None, "n": int(lx.size), "groups": n_groups, "dof": dof}
    out["level"] = level
    if dof > 0:
        resid = cy - p * cx
        se = math.sqrt(float(resid @ resid) / dof / sxx)
        t = float(stats.t.ppf(0.5 + level / 2, dof))
        out.update(se=se, lo=p - t * se, hi=p + t * se)
    return out


def fmt_fit(fit: dict, digits: int = 3) -> str:
    """``p = 1.02 [0.98, 1.06]`` (the interval at the fit's level), or ``p = 1.02 (exact fit, no interval)``."""
    if fit["lo"] is None:
        return f"{fmt(fit['p'], digits)} (no interval: {fit['n']} points)"
    return f"{fmt(fit['p'], digits)} [{fmt(fit['lo'], digits)}, {fmt(fit['hi'], digits)}]"


def legacy_summary(claims: list[Claim]) -> list[dict]:
    """The rows of ``claims`` in the older form ``claim, measured, expected, holds`` (``yes``/``no``/``open``)."""
    holds = {"supported": "yes", "contradicted": "no"}
    return [
        {"claim": c.claim, "measured": c.measured, "expected": c.expected, "holds": holds.get(c.verdict, "open")}
        for c in claims
    ]


def study_claims(name: str, results: dict) -> list[dict]:
    """The summary rows of study ``name`` as results.json holds them (see :meth:`Claim.to_json`).

    From the module's ``claims(results)`` where it has one; else from a legacy ``summary(results)`` (rows with
    ``holds``: ``yes`` → supported, ``no`` → contradicted, anything else → cannot tell; ``kind`` and ``n`` as
    the row gives them, else ``observed`` and ``None``).
    """
    mod = study(name)
    if hasattr(mod, "claims"):
        return [c.to_json(name) for c in mod.claims(results)]
    if not hasattr(mod, "summary"):
        return []
    verdict = {"yes": "supported", "no": "contradicted"}
    return [
        {
            "study": name,
            "claim": row["claim"],
            "kind": row.get("kind", "observed"),
            "measured": row["measured"],
            "expected": row["expected"],
            "verdict": row.get("verdict") or verdict.get(row.get("holds", ""), "cannot tell"),
            "n": row.get("n"),
            "reference": row.get("reference"),
        }
        for row in mod.summary(results)
    ]


def records(module: ModuleType, results: dict) -> list[dict]:
    """Every run record of a study's ``results`` (the lists under ``module.RUN_KEYS``)."""
    out: list[dict] = []
    for key in getattr(module, "RUN_KEYS", ()):
        out.extend(results.get(key, []))
    return out


def md_escape(text: str) -> str:
    """Escape ``|`` (table separators) in a Markdown table cell."""
    return str(text).replace("|", "\\|")


def study(name: str) -> ModuleType:
    """The module of study ``name``."""
    if name not in STUDY_NAMES:
        raise KeyError(name)
    return importlib.import_module(f"riemdln.studies.{name}")


def depth_label(depth: float) -> str:
    return "inf" if math.isinf(depth) else f"{depth:g}"


def depth_value(label) -> float:
    return math.inf if label == "inf" else float(label)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    import numpy as np

    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    return float(np.polyfit(lx, ly, 1)[0])


def fmt(value, digits: int = 3) -> str:
    """A number for a Markdown table."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if value == 0 or (1e-3 <= abs(value) < 1e4):
        return f"{value:.{digits}g}"
    return f"{value:.{digits - 1}e}"


def table(header: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    out = ["| " + " | ".join(md_escape(h) for h in header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        out.append("| " + " | ".join(md_escape(fmt(v)) for v in row) + " |")
    return "\n".join(out)


#: the width of a journal column in inches: figures are drawn at this width (or a multiple), fonts >= 8 pt
PAPER_WIDTH = 3.4
#: the smallest font size (points) at the figure's own width
PAPER_FONT = 8.0
_PAPER_RC = {
    "font.size": PAPER_FONT,
    "axes.titlesize": PAPER_FONT,
    "axes.labelsize": PAPER_FONT,
    "xtick.labelsize": PAPER_FONT,
    "ytick.labelsize": PAPER_FONT,
    "legend.fontsize": PAPER_FONT,
    "figure.titlesize": PAPER_FONT + 1,
    "legend.framealpha": 0.9,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "axes.linewidth": 0.6,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
}


def pyplot():
    """matplotlib.pyplot with the Agg backend (figures are files) and the paper style: fonts of
    :data:`PAPER_FONT` points, meant for figures :data:`PAPER_WIDTH` inches wide."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(_PAPER_RC)  # type: ignore[arg-type]  # matplotlib types its keys as literals
    return plt


def legend_above(fig, ax, ncol: int, **kwargs) -> None:
    """The legend of ``ax``'s labelled artists above the axes of ``fig`` (never over data), in at most ``ncol``
    columns (fewer where it would be wider than the figure), then a tight layout that leaves its height free."""
    handles, labels = ax.get_legend_handles_labels()
    for n in range(max(1, ncol), 0, -1):
        leg = fig.legend(handles, labels, loc="upper center", ncol=n, bbox_to_anchor=(0.5, 1.0), **kwargs)
        fig.canvas.draw()
        box = leg.get_window_extent()
        if box.width <= fig.bbox.width or n == 1:
            break
        leg.remove()
    fig.tight_layout(rect=(0, 0, 1, 1 - box.height / fig.bbox.height - 0.005))


def save_figure(fig, outdir, name: str, dpi: int = 120) -> str:
    """Save ``fig`` as ``outdir/name`` (PNG, written then renamed) and close it; return ``name``."""
    import os
    import tempfile
    from pathlib import Path

    plt = pyplot()
    outdir = Path(outdir)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".png", dir=outdir)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi)
        os.chmod(tmp, 0o644)
        os.replace(tmp, outdir / name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        plt.close(fig)
    return name


def convergence_figure(runs: list[dict], x_key: str, y_key: str, label, ylabel: str, outdir, name: str) -> str:
    """Log-log plot of ``y`` against depth for each run, with a slope −1 guide."""
    import numpy as np

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(PAPER_WIDTH, 2.6))
    for r in runs:
        ax.loglog(r[x_key], r[y_key], "o", ms=3, label=label(r))
    x = np.asarray(runs[0][x_key], float)
    ax.loglog(x, runs[0][y_key][0] * x[0] / x, "k--", lw=0.8, label="slope −1")
    ax.set_xlabel("depth N")
    ax.set_ylabel(ylabel)
    ax.legend(loc="lower left")
    fig.tight_layout()
    return save_figure(fig, outdir, name, dpi=200)
