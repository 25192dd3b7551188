"""The shipped ACHL19 grid: its schema, the verdicts computed from it, and two of its cells rerun."""

from __future__ import annotations

import copy
import json
import math

import pytest

from riemdln._errors import RiemdlnError
from riemdln.studies import achl19


@pytest.fixture(scope="module")
def shipped() -> dict:
    return achl19.load_shipped()


def test_shipped_grid_holds_the_headline_comparison(shipped):
    """N = 2, 3 and the exact nuclear norm: >= 6 counts from 1000 to 8000, >= 5 seeds each, one record a cell."""
    recs = shipped["records"]
    counts = {r["observed"] for r in recs}
    assert len(counts) >= 6 and min(counts) <= 1000 and max(counts) >= 8000
    for method, depth in (("flow", 2.0), ("flow", 3.0), ("nuclear_norm_cvxpy", None)):
        for k in counts:
            seeds = [r["seed"] for r in recs if (r["method"], r["depth"], r["observed"]) == (method, depth, k)]
            assert len(seeds) == len(set(seeds)) >= 5, (method, depth, k)
    gd = [r for r in recs if r["method"] == "factor_gd"]
    assert len(gd) >= 6 and {r["depth"] for r in gd} >= {2.0, 3.0}
    assert {"command", "date", "versions"} <= set(shipped) and shipped["versions"]["numpy"]


def test_shipped_grid_says_what_did_not_run(shipped):
    """``complete`` is true exactly when every cell of the grid's parameters has its record."""
    missing = achl19.missing_cells(shipped["parameters"], shipped["records"])
    assert shipped["complete"] == (not missing)
    assert len(missing) + len(shipped["records"]) == len(achl19.tasks(shipped["parameters"]))


def test_records_say_whether_they_reached_target(shipped):
    """A flow run reached its target exactly when it stopped on the loss event with loss <= target."""
    for r in shipped["records"]:
        if r["method"] in ("flow", "factor_gd"):
            assert r["reached_target"] == (r["status"] == "EVENT" and r["final_loss"] <= r["target_loss"] * 1.01)


def _doc(recs):
    return {"schema": achl19.SCHEMA, "command": "x", "date": "d", "versions": {}, "parameters": {}, "records": recs}


def _rec(method, depth, k, seed, err, reached=True):
    return {
        "observed": k,
        "seed": seed,
        "method": method,
        "depth": depth,
        "test_error": err,
        "status": "EVENT" if reached else "TIME_BUDGET",
        "reached_target": reached,
    }


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda r: r.update(method="os.system"), "method"),
        (lambda r: r.update(depth="__import__('os')"), "depth"),
        (lambda r: r.update(depth=None), "depth"),
        (lambda r: r.update(seed="0"), "seed"),
        (lambda r: r.update(test_error="1e-3"), "test_error"),
        (lambda r: r.update(reached_target=1), "reached_target"),
    ],
)
def test_validate_refuses_malformed_records(change, match):
    doc = _doc([_rec("flow", 2.0, 1000, 0, 0.1)])
    achl19.validate(copy.deepcopy(doc))
    change(doc["records"][0])
    with pytest.raises(RiemdlnError, match=match):
        achl19.validate(doc)


def test_validate_refuses_other_documents(tmp_path):
    with pytest.raises(RiemdlnError, match="schema|not a"):
        achl19.validate({"records": []})
    bad = tmp_path / "r.json"
    bad.write_text("{not json")
    with pytest.raises(RiemdlnError, match="unreadable"):
        achl19.load_shipped(bad)


def _grid(flow_err, nuc_err, seeds=3):
    recs = []
    for s in range(seeds):
        for d in (2.0, 3.0):
            recs.append(_rec("flow", d, 2000, s, flow_err[s]))
        recs.append(_rec("nuclear_norm_cvxpy", None, 2000, s, nuc_err[s]))
    return {"source": "run", "records": recs, "document": {}}


def test_depth_vs_nuclear_verdict_follows_the_data():
    lo, hi = [1e-4, 2e-4, 3e-4], [1e-2, 2e-2, 3e-2]
    assert achl19.claims(_grid(lo, hi))[0].verdict == "supported"
    assert achl19.claims(_grid(hi, lo))[0].verdict == "contradicted"
    assert achl19.claims(_grid([1e-4, 1e-1, 1e-4], [1e-2] * 3))[0].verdict == "cannot tell"
    row = achl19.claims(_grid(lo, hi))[0]
    assert row.kind == "observed" and row.n == 3 and "0.01" in row.measured  # median ratio 1e-4/1e-2


def test_runs_that_missed_their_target_are_not_in_the_medians():
    recs = [_rec("flow", 3.0, 2000, s, 1e-3) for s in range(3)] + [_rec("flow", 3.0, 2000, 3, 5.0, reached=False)]
    c = achl19.cell_stats(recs, "flow", 3.0, 2000)
    assert c["stats"]["median"] == 1e-3 and c["stats"]["q3"] == 1e-3 and (c["reached"], c["runs"]) == (3, 4)
    # nor in a paired ratio
    ref = [_rec("nuclear_norm_cvxpy", None, 2000, s, 1e-2) for s in range(4)]
    assert achl19.paired_ratios(recs + ref, "flow", 3.0, "nuclear_norm_cvxpy", None, 2000) == [0.1] * 3


def test_shipped_section_renders(shipped, tmp_path):
    res = achl19.run(achl19.parameters(False))
    assert res["source"] == "shipped" and res["records"] == []  # nothing rerun, nothing counted as a run here
    figs = achl19.figures(res, tmp_path)
    text = achl19.markdown(res, figs)
    assert (tmp_path / "achl19.png").stat().st_size > 10_000
    assert "Shipped results" in text and shipped["command"] in text and shipped["date"] in text
    assert "interquartile" in text and "X0 = 1e-3·G/√d" in text and "unbalanced Gaussian" in text
    rows = achl19.summary(res)
    assert rows and all(r["holds"] in ("yes", "no", "open") and r["kind"] == "observed" for r in rows)


def _shipped_cell(shipped, **match):
    (r,) = [r for r in shipped["records"] if all(r[k] == v for k, v in match.items())]
    return r


@pytest.mark.slow  # two 100x100 runs: tens of seconds
def test_two_cells_rerun_match_the_shipped_numbers(shipped):
    """A flow cell and a soft-impute cell, rerun from their parameters, give the shipped test errors.

    Tolerances: the flow's test error to relative 2e-3: the grid integrates finite depths at rtol 1e-6, and
    the test error of the N = 3, 4000-observation cell moves by 1.5e-3 (relative) between rtol 1e-6 and 1e-8,
    which bounds what a different rounding (another BLAS, another step sequence) can change; on the machine
    that made the file the rerun is bit-for-bit. Soft-impute's to relative 1e-3: its stop is decided by a
    duality-gap check every 25 iterations (relative gap <= 1e-4), and rounding can move the stop by one check.
    """
    p = shipped["parameters"]
    common = dict(size=p["size"], rank=p["rank"], observed=8000, seed=0)
    ref = _shipped_cell(shipped, method="flow", depth=2.0, observed=8000, seed=0)
    assert ref["reached_target"]
    got = achl19.flow_cell(
        **common,
        depth="2",
        init_scale=p["init_scale"],
        loss_tol=p["loss_tol"],
        t_final=p["t_final"],
        max_steps=p["max_steps"],
        wall_seconds=3600.0,
        rtol=p["rtol"],
        atol=p["atol"],
    )
    assert got["reached_target"] and got["status"] == ref["status"]
    assert math.isclose(got["test_error"], ref["test_error"], rel_tol=2e-3)
    ref = _shipped_cell(shipped, method="soft_impute", observed=8000, seed=0)
    got = achl19.soft_impute_cell(
        **common,
        max_iter=p["soft_impute_iter"],
        final_max_iter=p["soft_impute_final_iter"],
        gap_tol=p["soft_impute_gap_tol"],
    )
    assert got["reached_target"] == ref["reached_target"]
    assert math.isclose(got["test_error"], ref["test_error"], rel_tol=1e-3)


def test_shipped_file_is_small_and_plain_json():
    text = achl19.SHIPPED.read_text()
    assert len(text) < 400_000
    json.loads(text)  # standard JSON (no NaN/Infinity)
    assert "Infinity" not in text and "NaN" not in text


_TOY = {
    "size": 8,
    "rank": 1,
    "observed": [30, 44],
    "seeds": [0, 1],
    "depths": [1, 2, "inf"],
    "loss_tol": 1e-6,
    "t_final": 1e5,
    "max_steps": 5000,
    "soft_impute_final_iter": 2000,
    "gd_observed": [44],
    "gd_seeds": [0],
    "gd_depths": [2],
    "gd_max_steps": 20000,
}


def test_toy_grid_runs_resumes_and_validates(tmp_path):
    """The grid's machinery at toy size: every cell a record, the document valid, a resume reruns nothing."""
    pytest.importorskip("cvxpy")
    params = {**achl19.paper_parameters(), **_TOY}
    out = tmp_path / "results.json"
    doc = achl19.run_grid(params, out=out, command="toy")
    assert achl19.load_shipped(out)["records"] == doc["records"] and doc["complete"]
    assert len(doc["records"]) == len(achl19.tasks(params)) == 2 * 2 * (3 + 2) + 1
    assert {r["depth"] for r in doc["records"] if r["method"] == "flow"} == {1.0, 2.0, "inf"}
    again = achl19.run_grid(params, command="toy", done=doc["records"][:-1])
    assert again["records"][:-1] == doc["records"][:-1]  # kept, not rerun
    assert len(achl19.claims({"source": "run", "records": doc["records"]})) == 2 + 1
