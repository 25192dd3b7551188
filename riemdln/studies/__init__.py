"""The studies of ``riemdln reproduce``: one module per study, run through one sweep runner.

Each study module defines

* ``NAME`` and ``TITLE``;
* ``parameters(quick: bool) -> dict`` — sizes, seeds and depths (``quick`` = the same study, smaller);
* ``run(params: dict, executor, progress, previous) -> dict`` — every number of the study, JSON-ready;
  ``previous`` maps the names of studies already run to their results (a study may build on one);
* ``figures(results: dict, outdir: Path) -> list[str]`` — PNG files written with matplotlib;
* ``markdown(results: dict, figures: list[str]) -> str`` — the report section, stating plainly what the
  numbers support and what they do not.

Depths in results are written as numbers, with ``"inf"`` for :math:`N = \\infty`.
"""

from __future__ import annotations

import importlib
import math
from types import ModuleType

STUDY_NAMES = (
    "operator_convergence",
    "depth_convergence",
    "upstairs_downstairs",
    "menon_2x2",
    "volume_bias",
    "razin_cohen",
    "deep_completion",
    "curvature",
    "geodesics",
    "langevin_check",
)

# studies whose results another study reads
REQUIRES = {"volume_bias": ("menon_2x2",)}


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
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        out.append("| " + " | ".join(fmt(v) if not isinstance(v, str) else v for v in row) + " |")
    return "\n".join(out)


def pyplot():
    """matplotlib.pyplot with the Agg backend (figures are files)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


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
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for r in runs:
        ax.loglog(r[x_key], r[y_key], "o-", ms=3, label=label(r))
    x = np.asarray(runs[0][x_key], float)
    ax.loglog(x, runs[0][y_key][0] * x[0] / x, "k--", lw=0.8, label="slope −1")
    ax.set_xlabel("depth N")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, outdir, name)
