"""Figures at paper size: drawn for a 3.4-inch column, every text at least 8 pt, no legend over data.

Each study's ``figures()`` is fed small synthetic results; ``save_figure`` is intercepted so that the open
figure can be inspected before it is written (then it is written as usual).
"""

from __future__ import annotations

import importlib
import importlib.util
import math

import numpy as np
import pytest
from test_verdict_sentences import _completion, _menon, _razin

from riemdln import studies
from riemdln.studies import PAPER_FONT, PAPER_WIDTH

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _check(fig, name: str, problems: list[str]) -> None:
    fig.canvas.draw()
    width = fig.get_size_inches()[0]
    if width > PAPER_WIDTH + 1e-9:
        problems.append(f"{name}: {width:.2f} in wide")
    for text in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text")):
        if text.get_visible() and text.get_text().strip() and text.get_fontsize() < PAPER_FONT - 1e-9:
            problems.append(f"{name}: {text.get_text()!r} at {text.get_fontsize()} pt")
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is None or not ax.get_visible():
            continue
        box = leg.get_window_extent()
        for line in ax.get_lines():
            xy = line.get_xydata()
            if not len(xy) or not line.get_visible():
                continue
            pts = ax.transData.transform(xy[np.all(np.isfinite(xy), axis=1)])
            inside = (box.x0 < pts[:, 0]) & (pts[:, 0] < box.x1) & (box.y0 < pts[:, 1]) & (pts[:, 1] < box.y1)
            if inside.any():
                problems.append(f"{name}: legend over the data of {line.get_label()!r}")
    # the saved image (bbox "tight") must not grow past the column either
    renderer = fig.canvas.get_renderer()
    tight = fig.get_tightbbox(renderer)
    if tight.width > PAPER_WIDTH * 1.03:
        problems.append(f"{name}: {tight.width:.2f} in wide once saved")


@pytest.fixture
def inspected(monkeypatch):
    problems: list[str] = []
    saved: list[str] = []
    original = studies.save_figure

    def spy(fig, outdir, name, dpi=120):
        _check(fig, name, problems)
        saved.append(name)
        return original(fig, outdir, name, dpi=dpi)

    for mod in ("razin_cohen", "deep_completion", "menon_2x2", "langevin_check", "depth_convergence", "geodesics"):
        report = importlib.util.find_spec(f"riemdln.studies.{mod}_report")
        presentation = importlib.import_module(f"riemdln.studies.{mod}_report") if report else None
        for m in (studies.study(mod), presentation):
            if m is not None and hasattr(m, "save_figure"):  # the study module or its presentation module
                monkeypatch.setattr(m, "save_figure", spy)
    monkeypatch.setattr(studies, "save_figure", spy)
    return problems, saved


def _menon_full() -> dict:
    res = _menon({("2", 1): 0.0, ("2", -1): 2.0, ("inf", 1): 1.0, ("inf", -1): 1.0})
    res["depths"] = ["1", "2", "inf"]
    res["landing"] = [
        {"depth": d, "sign": s, "X": [[1.0, a], [1.0 / a, 1.0]]}
        for d in res["depths"]
        for s, a in ((1, 1.1), (-1, -0.9))
    ]
    return res


def _with_rank(res: dict) -> dict:
    return {**res, "rows": [{**r, "effective_rank": 2.0 + k} for k, r in enumerate(res["rows"])]}


def _langevin() -> dict:
    rows = [
        {"dt": dt, "coordinates": c, "error": [0.01 * dt] * 5, "se": [0.003] * 5}
        for dt in (0.04, 0.02, 0.01)
        for c in ("X", "auto")
    ]
    return {"bias": {"depth": 3, "beta": 4.0, "rows": rows}}


def _small_init() -> dict:
    t = [0.0, *np.logspace(0, 3, 9).tolist()]
    flows = []
    for k, depth in enumerate(("4", "16", "inf")):
        X = [(np.eye(2) * (1 + 0.1 * k * math.exp(-s))).tolist() for s in range(len(t))]
        sv = [[1.0 + 0.1 * k, 1e-3] for _ in t]
        flows.append(
            {"depth": depth, "t": t, "X": X, "loss": np.geomspace(1, 1e-8, len(t)).tolist(), "singular_values": sv}
        )
    run = {"seed": 0, "depths": [4.0, 16.0, 64.0], "relative_errors": [0.1, 0.025, 0.006], "order": 1.0}
    return {"small_init_flows": flows, "runs": [run]}


def _geodesics() -> dict:
    pair = {"d": 2, "3": {"status": 0, "ratio": 0.99}, "inf": {"status": 0, "ratio": 0.98}}
    s_flow = np.column_stack([np.geomspace(1e-2, 1, 20), np.geomspace(1e-2, 1e-1, 20)]).tolist()
    runs = [
        {"seed": 0, "depth": d, "ratio": r, "s_flow": s_flow, "s_geodesic": s_flow}
        for d, r in (("1", 1.0), ("inf", 1.2))
    ]
    return {"depth_labels": ["3", "inf"], "pairs": [pair, pair], "flow_runs": runs, "flow_depths": ["1", "inf"]}


@pytest.mark.parametrize(
    "name, results",
    [
        ("razin_cohen", lambda: _razin(0.35)),
        ("deep_completion", lambda: _with_rank(_completion(1e-4, 2e-2))),
        ("menon_2x2", _menon_full),
        ("langevin_check", _langevin),
        ("depth_convergence", _small_init),
        ("geodesics", _geodesics),
    ],
)
def test_study_figures_fit_a_column(inspected, tmp_path, name, results):
    problems, saved = inspected
    names = studies.study(name).figures(results(), tmp_path)
    assert names and saved == names
    assert not problems, "\n".join(problems)
    for f in names:
        assert (tmp_path / f).stat().st_size > 2000
