"""Every run of every study reports what happened; a run short of its target is never counted as converged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riemdln.studies import STUDY_NAMES, reached_target, records, study

FIELDS = ("status", "final_loss", "target_loss", "reached_target")


def test_reached_target_reads_status_and_loss():
    # the deep_completion failure of issue 10: stopped at t_final with loss 2e-7, target 1e-8
    assert not reached_target("FINISHED", 2e-7, 1e-8)
    assert reached_target("EVENT", 1e-8, 1e-8)
    assert not reached_target("FAILED", 1e-12, 1e-8)
    assert not reached_target("DIVERGED", 1e-12, None)
    assert not reached_target("EVENT", math.nan, 1e-8)
    assert reached_target("FINISHED", 5.0, None)  # asked for a time, reached it


def test_a_run_cut_short_is_not_converged_and_is_not_averaged():
    from riemdln.studies import deep_completion as dc

    cut = dc._flow(8, 2, 40, 0, "3", 1e-3, 1e-8, 1e6, 5)  # 5 steps: cannot reach 1e-8 from 1e-3
    assert cut["final_loss"] > 1e-8
    assert cut["reached_target"] is False
    agg = dc.aggregate([cut], "3", 40, "test_error")
    assert agg == {**agg, "n": 0, "runs": 1, "unconverged": 1}
    assert dc.summary({"rows": [cut], "observed": [40], "size": 8})[0]["holds"] == "open"
    md = dc.markdown({"rows": [cut], "observed": [40], "size": 8, "rank": 2}, [])
    assert "not converged" in md and "0/1" in md


def test_depth_threshold_cut_short_run_is_marked():
    from riemdln.studies import depth_threshold as dt

    r = dt._flow(6, 1, 20, 0, "4", 1e-3, 1e-8, 1e6, 5)
    assert r["status"] == "FAILED" and r["reached_target"] is False
    g = dt._descent(6, 1, 20, 0, "3", 0.1, 1e-3, 1e-8, 3)
    assert g["status"] == "FINISHED" and g["reached_target"] is False


def test_threshold_depth_definition():
    from riemdln.studies.depth_threshold import threshold_depth

    assert threshold_depth([2, 4, 8, 16], [1.0, 0.01, 0.05, 0.2]) == 16  # 0.2 > 10 * 0.01
    assert threshold_depth([2, 4, 8], [1.0, 0.5, 4.0]) is None
    assert threshold_depth([2, 4, 8], [None, 0.1, 2.0]) == 8


def test_depth_threshold_paper_grid_is_the_issue_grid():
    """--paper: 20x20 at two counts, >= 5 seeds, N = 2 ... 64 and inf; 100x100 is an accepted override."""
    from riemdln.report import study_parameters

    p = study_parameters("depth_threshold", "paper")
    assert (p["size"], len(p["observed"]), len(p["seeds"])) == (20, 2, 5)
    assert p["depths"][0] == 2 and 64 in p["depths"] and p["depths"][-1] == "inf"
    big = study_parameters("depth_threshold", "paper", {"size": 100, "rank": 5, "observed": [2000, 4000]})
    assert (big["size"], big["rank"], big["seeds"]) == (100, 5, p["seeds"])


@pytest.mark.slow
def test_every_run_of_every_study_has_the_record_fields(tmp_path):
    from riemdln.report import reproduce

    doc = reproduce(tmp_path / "out", quick=True, pdf=False, progress=False, log=lambda m: None)
    for name in STUDY_NAMES:
        mod = study(name)
        recs = records(mod, doc["studies"][name])
        if getattr(mod, "RUN_KEYS", ()):
            assert recs, name
        for r in recs:
            for f in FIELDS:
                assert f in r, (name, f)
            assert r["reached_target"] == reached_target(r["status"], r["final_loss"], r["target_loss"])
        for row in mod.summary(doc["studies"][name]) if hasattr(mod, "summary") else []:
            assert set(row) >= {"claim", "measured", "expected", "holds"}
            assert row["holds"] in ("yes", "no", "open")
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.index("## Summary") < report.index("## 1.")
    assert "\\|X₁₁\\|" in report  # escaped in tables
    html = (tmp_path / "out" / "report.html").read_text()
    assert "data:image/png;base64," in html and "<table>" in html


@pytest.mark.parametrize("a", [0.3, 1.0, -2.5])
def test_hyperbola_length_element_euclidean(a):
    from riemdln.studies.volume_bias import hyperbola_length_element

    # N = 1: the Frobenius length of dX/da = [[0, 1], [-1/a^2, 0]]
    assert hyperbola_length_element(a, 1) == pytest.approx(math.sqrt(1 + a**-4), rel=1e-12)


@pytest.mark.parametrize("N", [2, 3, 8])
@pytest.mark.parametrize("a", [0.3, 1.0, -2.5])
def test_hyperbola_length_element_is_the_limit_of_the_full_rank_metric(N, a):
    """Independent: ĝ^N at full-rank X(a) + ε q₂r₂ᵀ (riemdln.metric), ε → 0, along dX/da."""
    from riemdln import metric
    from riemdln.studies.volume_bias import hyperbola_length_element

    X = np.array([[1.0, a], [1.0 / a, 1.0]])
    Z = np.array([[0.0, 1.0], [-1.0 / a**2, 0.0]])
    Q, _, Rt = np.linalg.svd(X)
    values = [
        math.sqrt(metric(X + eps * np.outer(Q[:, 1], Rt[1]), Z, Z, N, normalized=True)) for eps in (1e-4, 1e-6, 1e-8)
    ]
    expected = hyperbola_length_element(a, N)
    # a_N(s², ε²) → a_N(s², 0) with relative error O(ε^{2/N}): slow at large N
    assert values[-1] == pytest.approx(expected, rel=5 * (1e-8) ** (2 / N) + 1e-9)
    assert abs(values[-1] - expected) <= abs(values[0] - expected) + 1e-15  # converging


def test_hyperbola_length_element_infinite_at_infinite_depth():
    from riemdln.studies.volume_bias import hyperbola_length_element

    assert math.isinf(hyperbola_length_element(0.5, math.inf))
